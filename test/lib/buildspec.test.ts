/**
 * The shipped POSIX buildspec, executed phase by phase with `sh` the way CodeBuild runs it
 * (CODEBUILD_SRC_DIR, CODEBUILD_BUILD_SUCCEEDING, the launcher's RELVERIFY_* variables) against a
 * git repository made at test time: clone at the commit, HEAD verified, command run, only the
 * declared regular files staged for upload.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildspecObject } from '../../lib/buildspec';
import { runPosixBuildspec } from './buildspec-runner';
import { BUILD_ENV, STAGING_DIR } from '../../lambda/adapters/builder/codebuild-env';
import { git, makeRepo } from '../handlers/support';

type Spec = { phases: Record<string, { commands: string[] }>; artifacts: { 'base-directory': string; files: string[] } };

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name), `${prefix}${e.name}/`)));
    else out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

describe('buildspecs/posix.yml', () => {
  let repo: { dir: string; head: string };
  let older: string;
  const cleanup: string[] = [];
  beforeAll(async () => {
    repo = await makeRepo({
      'build.sh':
        'set -e\nmkdir -p dist\nprintf "%s" "$RELVERIFY_VERSION" > "dist/app-$RELVERIFY_VERSION.bin"\necho "$SOURCE_DATE_EPOCH" > dist/epoch\nln -sf /etc/passwd dist/link.bin\n',
    });
    older = repo.head;
    // a second commit, so checking out the first one is a real checkout
    git(repo.dir, 'commit', '--quiet', '--allow-empty', '-m', 'later');
    cleanup.push(repo.dir);
  });
  afterAll(async () => Promise.all(cleanup.map((d) => rm(d, { recursive: true, force: true }))));

  const env = async (overrides: Record<string, string> = {}) => {
    const root = await mkdtemp(join(tmpdir(), 'relverify-cbsrc-'));
    cleanup.push(root);
    return {
      CODEBUILD_SRC_DIR: root,
      [BUILD_ENV.runId]: '20260101T000000Z-abcdef',
      [BUILD_ENV.target]: 'linux-x64',
      [BUILD_ENV.commit]: older,
      [BUILD_ENV.tag]: 'v3.1.0',
      [BUILD_ENV.version]: '3.1.0',
      [BUILD_ENV.cloneUrl]: repo.dir,
      [BUILD_ENV.command]: 'sh build.sh',
      [BUILD_ENV.artifacts]: 'dist/app-3.1.0.bin\ndist/epoch\ndist/link.bin\ndist/missing.bin\n../escape',
      ...overrides,
    };
  };

  it("clones at the launcher's commit, verifies HEAD, builds, stages only declared regular files", async () => {
    const r = runPosixBuildspec(await env());
    expect(r.failedPhase, r.log).toBeUndefined();
    expect(r.log).toContain(`source verified at ${older}`);
    const staged = join(r.srcDir, STAGING_DIR);
    expect(await listFiles(staged)).toEqual(['dist/app-3.1.0.bin', 'dist/epoch']);
    expect(await readFile(join(staged, 'dist/app-3.1.0.bin'), 'utf8')).toBe('3.1.0');
    // SOURCE_DATE_EPOCH is the commit's time, as the local builder sets it
    expect((await readFile(join(staged, 'dist/epoch'), 'utf8')).trim()).toBe(git(repo.dir, 'log', '-1', '--format=%ct', older));
    expect(r.log).toMatch(/artifact dist\/link.bin was not produced \(or is not a regular file\)/);
    expect(r.log).toMatch(/refusing artifact path '..\/escape'/);
    const buildspec = buildspecObject('posix') as unknown as Spec;
    expect(buildspec.artifacts).toEqual({ 'base-directory': STAGING_DIR, files: ['**/*'] });
  });

  it('fails in PRE_BUILD when the commit does not exist, and stages nothing', async () => {
    const r = runPosixBuildspec(await env({ [BUILD_ENV.commit]: 'f'.repeat(40) }));
    expect(r.failedPhase).toBe('pre_build');
    expect(await listFiles(join(r.srcDir, STAGING_DIR))).toEqual([]);
    expect(r.log).toMatch(/no artifacts staged/);
  });

  it('refuses an abbreviated or malformed commit', async () => {
    for (const commit of [older.slice(0, 12), 'HEAD', `${older}; rm -rf /`]) {
      const r = runPosixBuildspec(await env({ [BUILD_ENV.commit]: commit }));
      expect(r.failedPhase).toBe('pre_build');
      expect(r.log).toMatch(/must be a full lower-case commit SHA/);
    }
  });

  it('a failing build command fails the BUILD phase and stages nothing', async () => {
    const r = runPosixBuildspec(await env({ [BUILD_ENV.command]: 'sh build.sh && exit 3' }));
    expect(r.failedPhase).toBe('build');
    expect(await listFiles(join(r.srcDir, STAGING_DIR))).toEqual([]);
  });

  it('a symlink escaping the source is never staged', async () => {
    const e = await env({ [BUILD_ENV.command]: 'mkdir -p dist && ln -s /etc/hostname dist/app-3.1.0.bin', [BUILD_ENV.artifacts]: 'dist/app-3.1.0.bin' });
    const r = runPosixBuildspec(e);
    expect(r.failedPhase).toBeUndefined();
    expect(await listFiles(join(r.srcDir, STAGING_DIR))).toEqual([]);
  });
});
