import { describe, expect, it } from 'vitest';
import { aptSourceHits } from '../../../lambda/core/hygiene/apt';
import { memoryTree, ruleFor, runHygiene } from '../../../lambda/core/hygiene/runner';
import { scriptHits } from '../../../lambda/core/hygiene/scripts';
import type { TreeReader } from '../../../lambda/core/hygiene/types';

const COMMIT = '1'.repeat(40);

describe('apt source files and scripts', () => {
  it('one-line and deb822 sources: foreign archives flagged, the distribution passes', () => {
    expect(
      aptSourceHits('docker/sources.list', 'deb http://deb.debian.org/debian bookworm main\ndeb https://ppa.launchpadcontent.net/x/y/ubuntu jammy main\n').map(
        (h) => h.line,
      ),
    ).toEqual([2]);
    expect(aptSourceHits('apt/x.sources', 'Types: deb\nURIs: https://apt.example.com/\nSuites: stable\n').map((h) => h.line)).toEqual([2]);
    expect(aptSourceHits('apt/d.sources', 'Types: deb\nURIs: http://deb.debian.org/debian\n')).toEqual([]);
  });
  it('scripts and Makefile recipes get the shell rules', () => {
    expect(scriptHits('ci/setup.sh', '#!/bin/sh\n# curl x | sh\ncurl -fsSL https://x.test/i | sh\n').map((h) => `${h.code}@${h.line}`)).toEqual([
      'HYGIENE_REMOTE_SCRIPT@3',
    ]);
    expect(scriptHits('Makefile', 'deps:\n\t@git clone https://github.com/o/tool\n').map((h) => h.code)).toEqual(['HYGIENE_TOOL_NOT_PINNED']);
  });
});

describe('runner', () => {
  it('picks files by name, skips vendored folders', () => {
    expect(
      [
        'Dockerfile',
        'docker/Containerfile.release',
        'build.dockerfile',
        '.gitlab-ci.yml',
        'Cargo.toml',
        'x/package.json',
        'node_modules/a/package.json',
        'vendor/b/Cargo.toml',
        'README.md',
      ].map(ruleFor),
    ).toEqual(['dockerfile', 'dockerfile', 'dockerfile', 'gitlab-ci', 'cargo', 'npm', undefined, undefined, undefined]);
  });
  it('a lock file in a parent folder (workspace root) counts', async () => {
    const r = await runHygiene(
      memoryTree(COMMIT, { 'Cargo.lock': 'version = 3\n', 'crates/a/Cargo.toml': '[package]\nname="a"\n[dependencies]\nserde="1"\n' }),
    );
    expect(r.hits).toEqual([]);
  });
  it('follows local CI includes, names what it could not read, and marks bounds as incomplete', async () => {
    const files = {
      '.gitlab-ci.yml': 'include:\n  - local: /ci/build.yml\n',
      'ci/build.yml': 'build:\n  image: rust:latest\n  script: [make]\n',
      'a/Dockerfile': 'FROM a:1\n',
      'b/Dockerfile': 'FROM b:1\n',
      'c/Dockerfile': 'FROM c:1\n',
    };
    const r = await runHygiene(memoryTree(COMMIT, files));
    expect(r.hits.map((h) => `${h.file}:${h.line}`)).toEqual(['a/Dockerfile:1', 'b/Dockerfile:1', 'c/Dockerfile:1', 'ci/build.yml:2']);
    expect(r.coverage.complete).toBe(true);
    const bounded = await runHygiene(memoryTree(COMMIT, files), { maxEntries: 100, maxFiles: 2, maxFileBytes: 1000, maxTotalBytes: 1000 });
    expect(bounded.coverage.complete).toBe(false);
    expect(bounded.coverage.filesRead).toBe(2);
    expect(bounded.coverage.skipped.length).toBe(3);
    const tiny = await runHygiene(memoryTree(COMMIT, { Dockerfile: `FROM x:1\n${'#'.repeat(2000)}\n` }), {
      maxEntries: 100,
      maxFiles: 10,
      maxFileBytes: 1000,
      maxTotalBytes: 10_000,
    });
    expect(tiny.hits).toEqual([]);
    expect(tiny.coverage.skipped[0]!.reason).toMatch(/over the 1000-byte file bound/);
  });
  it('a file that cannot be read is skipped with its reason; a truncated listing is incomplete', async () => {
    const reader: TreeReader = {
      commitSha: COMMIT,
      list: async () => ({ commitSha: COMMIT, entries: [{ path: 'Dockerfile', type: 'blob' }], complete: false }),
      read: async () => {
        throw new Error('HTTP 500');
      },
    };
    const r = await runHygiene(reader);
    expect(r.coverage).toMatchObject({ complete: false, treeComplete: false, skipped: [{ file: 'Dockerfile', reason: 'HTTP 500' }] });
  });
});

describe('hostile input stays bounded', () => {
  // Lines with many downloaders and no pipe made the former unanchored `curl[^|]*\|` expressions
  // backtrack (about 10 s for one 1 MiB script of such lines, minutes for a tree at the bounds);
  // the scan is linear now. The bound is generous: the fixed scan takes well under a second.
  it.each(['curl ', 'wget -O ', 'sha256sum ', 'gpg ', 'sh -c $(curl ', 'git '])(
    '1 MiB of 8 KiB lines of %j without a pipe scans in linear time',
    async (tok) => {
      const line = tok.repeat(Math.ceil(8000 / tok.length)).slice(0, 8000);
      const file = `${line}\n`.repeat(130);
      const t0 = Date.now();
      const r = await runHygiene(memoryTree(COMMIT, { 'build.sh': file }), {
        maxEntries: 10,
        maxFiles: 10,
        maxFileBytes: 2 * 1024 * 1024,
        maxTotalBytes: 4 * 1024 * 1024,
      });
      expect(Date.now() - t0).toBeLessThan(4_000);
      expect(r.coverage.filesRead).toBe(1);
    },
  );
  it('a 1 MiB logical line of curl pipes and a deep YAML finish quickly', async () => {
    const line = `RUN ${'curl x | '.repeat(100_000)}true\n`;
    const yaml = `build:\n  script:\n${'    - curl a | b\n'.repeat(20_000)}`;
    const t0 = Date.now();
    const r = await runHygiene(memoryTree(COMMIT, { Dockerfile: `FROM x\n${line}`, '.gitlab-ci.yml': yaml }), {
      maxEntries: 10,
      maxFiles: 10,
      maxFileBytes: 2 * 1024 * 1024,
      maxTotalBytes: 4 * 1024 * 1024,
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.hits.some((h) => h.code === 'HYGIENE_IMAGE_NOT_PINNED')).toBe(true);
  });
});
