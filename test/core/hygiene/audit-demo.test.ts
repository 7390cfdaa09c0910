/**
 * The demo's release commit (demo/repo-hygiene/ over the app): the repository audit finds each of
 * its planted problems at its file:line, read from the real git repository at the release commit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDemoRepo, filesAtCommit, REPO_HYGIENE_FILES } from '../../../demo/demo-release';
import { memoryTree, runHygiene } from '../../../lambda/core/hygiene/runner';
import { toolsAvailable } from '../../support/tools';

const dir = mkdtempSync(join(tmpdir(), 'audit-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!toolsAvailable('git'))('demo release commit', () => {
  it('lists every planted problem with file:line, and nothing in the app itself', async () => {
    const repo = createDemoRepo(join(dir, 'repo'), '1.0.0', REPO_HYGIENE_FILES);
    const r = await runHygiene(memoryTree(repo.commitSha, filesAtCommit(repo.dir, repo.commitSha)));
    expect(r.coverage.complete).toBe(true);
    expect(r.hits.map((h) => `${h.file}:${h.line} ${h.code}`).sort()).toEqual(
      [
        '.gitlab-ci.yml:4 HYGIENE_CI_INCLUDE_NOT_PINNED',
        '.gitlab-ci.yml:7 HYGIENE_IMAGE_NOT_PINNED',
        '.gitlab-ci.yml:18 HYGIENE_CI_PUBLISHES_RELEASE',
        '.gitlab-ci.yml:19 HYGIENE_CI_PUBLISHES_RELEASE',
        'Dockerfile:4 HYGIENE_IMAGE_NOT_PINNED',
        'Dockerfile:5 HYGIENE_APT_SOURCE',
        'Dockerfile:9 HYGIENE_TOOL_NOT_PINNED',
        'Dockerfile:10 HYGIENE_REMOTE_SCRIPT',
        'Dockerfile:11 HYGIENE_UNVERIFIED_DOWNLOAD',
        'Dockerfile:18 HYGIENE_IMAGE_NOT_PINNED',
        'ci/setup-cross.sh:4 HYGIENE_TOOL_NOT_PINNED',
        'ci/setup-cross.sh:5 HYGIENE_UNVERIFIED_DOWNLOAD',
        'desktop/package.json:6 HYGIENE_GIT_DEP_NOT_PINNED',
        'desktop/package.json:1 HYGIENE_LOCKFILE_MISSING',
        'rust-toolchain.toml:2 HYGIENE_TOOLCHAIN_NOT_PINNED',
      ].sort(),
    );
  });
});
