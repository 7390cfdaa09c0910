import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBuilder } from '../../../lambda/adapters/builder/local-builder';
import { parseConfig } from '../../../lambda/core/config/load';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } })
    .toString()
    .trim();

let repo: string;
let first: string;
let second: string;
const builder = new LocalBuilder({ docker: 'never', maxTimeoutMs: 3000 });
const limits = { maxBytes: 1 << 20, timeoutMs: 5000 };

function target(command: string) {
  return parseConfig({
    version: 1,
    gitlab: { project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: `debian@sha256:${'a'.repeat(64)}`,
        command,
        env: { APP_FLAVOUR: 'plain' },
        artifacts: [{ path: 'out/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  }).targets[0]!;
}

const request = (command: string, commitSha = first) => ({ runId: 'r1', target: target(command), cloneUrl: repo, commitSha, tag: 'v1.0.0', version: '1.0.0' });

beforeAll(() => {
  repo = mkdtempSync(join(tmpdir(), 'lb-repo-'));
  git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'VERSION'), 'one\n');
  git(repo, 'add', '.');
  git(repo, 'commit', '-qm', 'one');
  first = git(repo, 'rev-parse', 'HEAD');
  writeFileSync(join(repo, 'VERSION'), 'two\n');
  git(repo, 'commit', '-qam', 'two');
  second = git(repo, 'rev-parse', 'HEAD');
  process.env.GITLAB_TOKEN = 'glpat-must-not-leak';
  process.env.AWS_SECRET_ACCESS_KEY = 'host-credential-must-not-leak';
});
afterAll(async () => {
  delete process.env.GITLAB_TOKEN;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  await builder.dispose();
});

async function fetchText(result: Awaited<ReturnType<LocalBuilder['run']>>, path: string) {
  const dest = join(mkdtempSync(join(tmpdir(), 'lb-out-')), 'f');
  const got = await result.artifacts.fetch(path, dest, limits);
  return got && readFileSync(got.path, 'utf8');
}

describe('LocalBuilder', () => {
  it('builds the exact commit asked for, not the branch head', async () => {
    const r = await builder.run(request('mkdir -p out && cp VERSION out/app'));
    expect(r.status).toBe('SUCCEEDED');
    expect(r.checkedOutSha).toBe(first);
    expect(await fetchText(r, 'out/app')).toBe('one\n');
    const r2 = await builder.run(request('mkdir -p out && cp VERSION out/app', second));
    expect(await fetchText(r2, 'out/app')).toBe('two\n');
  });

  it('gives the build a minimal environment: no token, no host credentials, a fixed SOURCE_DATE_EPOCH', async () => {
    const r = await builder.run(request('mkdir -p out && env > out/app'));
    const env = (await fetchText(r, 'out/app'))!;
    expect(env).not.toContain('glpat-must-not-leak');
    expect(env).not.toContain('host-credential-must-not-leak');
    expect(env).toMatch(/^SOURCE_DATE_EPOCH=\d+$/m);
    expect(env).toMatch(/^RELVERIFY_COMMIT=[0-9a-f]{40}$/m);
    expect(env).toMatch(/^APP_FLAVOUR=plain$/m);
  });

  it('says the image was not enforced when no Docker engine runs the build', async () => {
    const r = await builder.run(request('true'));
    expect(r.image).toMatchObject({ enforced: false, note: expect.stringMatching(/no Docker engine/) });
  });

  it('reports a failing build with the tail of its log', async () => {
    const r = await builder.run(request('echo compiling; echo "error: missing semicolon" >&2; exit 3'));
    expect(r.status).toBe('FAILED');
    expect(r.message).toMatch(/exited with 3/);
    expect(r.logTail).toContain('error: missing semicolon');
  });

  it('kills a build that exceeds its timeout, including its children', async () => {
    const t0 = Date.now();
    const r = await builder.run(request('sleep 30 & sleep 30; echo never'));
    expect(r.status).toBe('TIMED_OUT');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('does not start when the commit does not exist', async () => {
    const r = await builder.run(request('true', 'f'.repeat(40)));
    expect(r.status).toBe('NOT_STARTED');
    expect(r.message).toMatch(/source checkout failed/);
  });

  it('returns null for an artifact the build did not produce', async () => {
    const r = await builder.run(request('true'));
    expect(await r.artifacts.fetch('out/app', join(mkdtempSync(join(tmpdir(), 'x-')), 'f'), limits)).toBeNull();
  });

  it('refuses artifact paths that escape the build output', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'lb-outside-'));
    writeFileSync(join(outside, 'secret'), 'host file');
    const r = await builder.run(request(`mkdir -p out && ln -s ${join(outside, 'secret')} out/app && mkdir -p out/dir`));
    const dest = join(mkdtempSync(join(tmpdir(), 'x-')), 'f');
    await expect(r.artifacts.fetch('out/app', dest, limits)).rejects.toThrow(/outside the build output/);
    await expect(r.artifacts.fetch('../x', dest, limits)).rejects.toThrow(/stay inside/);
    await expect(r.artifacts.fetch('/etc/passwd', dest, limits)).rejects.toThrow(/relative/);
    await expect(r.artifacts.fetch('out/dir', dest, limits)).rejects.toThrow(/not a regular file/);
  });

  it('bounds the size of an artifact it copies', async () => {
    const r = await builder.run(request('mkdir -p out && head -c 4096 /dev/zero > out/app'));
    await expect(r.artifacts.fetch('out/app', join(mkdtempSync(join(tmpdir(), 'x-')), 'f'), { maxBytes: 1000, timeoutMs: 5000 })).rejects.toThrow();
  });

  /**
   * No Docker engine runs here or in CI, so the `docker run` path is tested up to its boundary: a
   * stand-in `docker` on PATH records the arguments and its own environment, then runs the command
   * the way the container would (in the mounted checkout, with only the `-e` variables).
   */
  it('runs the build inside the digest-pinned image with `docker run --rm`, passing only the build environment', async () => {
    const stubDir = mkdtempSync(join(tmpdir(), 'docker-stub-'));
    const record = join(stubDir, 'record');
    writeFileSync(
      join(stubDir, 'docker'),
      `#!/bin/sh
{ printf '%s\n' "$@"; echo '--- env'; env; } > "${record}"
src=""; set -- "$@"; envs=""
while [ $# -gt 0 ]; do
  case "$1" in
    -v) src="\${2%%:/src}"; shift 2;;
    -e) envs="$envs $2"; shift 2;;
    sh) shift; [ "$1" = "-c" ] && shift; cd "$src" && exec env -i PATH="/usr/bin:/bin:/usr/local/bin" $envs sh -c "$1";;
    *) shift;;
  esac
done
exit 99
`,
      { mode: 0o755 },
    );
    const dockerBuilder = new LocalBuilder({ docker: 'always', path: `${stubDir}:${process.env.PATH}` });
    try {
      const r = await dockerBuilder.run(request('mkdir -p out && env > out/app'));
      expect(r.status).toBe('SUCCEEDED');
      expect(r.image).toEqual({ ref: `debian@sha256:${'a'.repeat(64)}`, enforced: true, note: undefined });
      const [args, dockerEnv] = readFileSync(record, 'utf8').split('--- env\n');
      const argv = args!.trim().split('\n');
      expect(argv.slice(0, 2)).toEqual(['run', '--rm']);
      expect(argv).toContain(`debian@sha256:${'a'.repeat(64)}`);
      expect(argv[argv.indexOf('-w') + 1]).toBe('/src');
      expect(argv[argv.indexOf('-v') + 1]).toMatch(/\/src:\/src$/);
      const passed = argv
        .filter((_, i) => argv[i - 1] === '-e')
        .map((e) => e.split('=')[0])
        .sort();
      expect(passed).toEqual([
        'APP_FLAVOUR',
        'HOME',
        'LANG',
        'RELVERIFY_COMMIT',
        'RELVERIFY_TAG',
        'RELVERIFY_TARGET',
        'RELVERIFY_VERSION',
        'SOURCE_DATE_EPOCH',
      ]);
      expect(dockerEnv).not.toContain('glpat-must-not-leak');
      expect(dockerEnv).not.toContain('host-credential-must-not-leak');
      const env = (await fetchText(r, 'out/app'))!;
      expect(env).toMatch(/^RELVERIFY_COMMIT=[0-9a-f]{40}$/m);
      expect(env).not.toContain('glpat-must-not-leak');
    } finally {
      await dockerBuilder.dispose();
    }
  });
});
