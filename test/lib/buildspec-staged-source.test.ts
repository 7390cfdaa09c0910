/**
 * The shipped POSIX buildspec's staged-source branch (aws.stageSource), run phase by phase with
 * `sh` as CodeBuild runs it, with `aws s3 cp` stubbed by a script that copies from a local
 * directory. The staged tar is made by the real stager code (isomorphic-git fetch from a loopback
 * `git http-backend`), so the build consumes exactly what the launcher would upload. Real git in
 * the build decides: the right commit passes; a commit not in the staged objects, and a forged
 * object under the planned commit's id, fail PRE_BUILD; nothing is cloned.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPosixBuildspec } from './buildspec-runner';
import { BUILD_ENV, sourceKeyFor, STAGING_DIR } from '../../lambda/adapters/builder/codebuild-env';
import { fetchTagAtCommit, gitHttpClient, writeSourceTar } from '../../lambda/adapters/builder/source-stager';
import { startGitHttpServer, type GitHttpServer } from '../handlers/git-http-backend';
import { git, makeRepo } from '../handlers/support';

const RUN_ID = '20260101T000000Z-abcdef';
const BUCKET = 'artifacts-bucket';

describe('buildspecs/posix.yml with a staged source (RELVERIFY_SOURCE_S3)', () => {
  let work: string;
  let server: GitHttpServer;
  let repo: { dir: string; head: string };
  let older: string;
  let s3root: string;
  let path: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relverify-staged-bs-'));
    repo = await makeRepo({
      'build.sh': 'set -e\nmkdir -p dist\nprintf "%s" "$(cat VERSION)" > "dist/app.bin"\necho "$SOURCE_DATE_EPOCH" > dist/epoch\n',
      VERSION: '1.0.0\n',
    });
    older = repo.head;
    await writeFile(join(repo.dir, 'VERSION'), '3.1.0\n');
    git(repo.dir, 'commit', '--quiet', '-am', 'release 3.1.0');
    git(repo.dir, 'tag', '-a', '-m', 'v3.1.0', 'v3.1.0');
    repo.head = git(repo.dir, 'rev-parse', 'HEAD');
    await mkdir(join(work, 'projects', 'g'), { recursive: true });
    execFileSync('git', ['clone', '--bare', '--quiet', repo.dir, join(work, 'projects', 'g', 'app.git')]);
    server = await startGitHttpServer({ projectRoot: join(work, 'projects') });

    // what the launcher stages, made by the launcher's own code
    const fetched = await fetchTagAtCommit({
      dir: join(work, 'fetch'),
      url: `${server.origin}/g/app.git`,
      tag: 'v3.1.0',
      commit: repo.head,
      http: gitHttpClient({ gitlabOrigin: server.origin, maxBytes: 1 << 26, deadline: Date.now() + 60_000 }),
    });
    s3root = join(work, 's3');
    const key = sourceKeyFor(RUN_ID);
    await mkdir(join(s3root, BUCKET, key, '..'), { recursive: true });
    await writeSourceTar(fetched, 'v3.1.0', join(s3root, BUCKET, key), 1 << 26);

    // `aws s3 cp [--only-show-errors] s3://bucket/key dest`, served from s3root; anything else fails
    const bin = join(work, 'bin');
    await mkdir(bin);
    await writeFile(
      join(bin, 'aws'),
      `#!/bin/sh\nset -eu\n[ "$1" = s3 ] && [ "$2" = cp ] || { echo "stub aws: unexpected $*" >&2; exit 2; }\nshift 2\n[ "$1" = --only-show-errors ] && shift\ncase "$1" in s3://*) ;; *) exit 2 ;; esac\necho "$1" >> "${join(work, 'aws-calls')}"\ncp "${s3root}/\${1#s3://}" "$2"\n`,
    );
    await chmod(join(bin, 'aws'), 0o755);
    path = `${bin}:${process.env.PATH}`;
  });
  afterAll(async () => {
    await server?.close();
    await Promise.all([work, repo?.dir].filter(Boolean).map((d) => rm(d!, { recursive: true, force: true })));
  });

  const env = async (overrides: Record<string, string> = {}) => {
    const root = await mkdtemp(join(work, 'cbsrc-'));
    return {
      CODEBUILD_SRC_DIR: root,
      [BUILD_ENV.runId]: RUN_ID,
      [BUILD_ENV.target]: 'linux-x64',
      [BUILD_ENV.commit]: repo.head,
      [BUILD_ENV.tag]: 'v3.1.0',
      [BUILD_ENV.version]: '3.1.0',
      // a clone would fail: nothing listens there
      [BUILD_ENV.cloneUrl]: 'http://127.0.0.1:9/g/app.git',
      [BUILD_ENV.sourceS3]: `s3://${BUCKET}/${sourceKeyFor(RUN_ID)}`,
      [BUILD_ENV.command]: 'sh build.sh',
      [BUILD_ENV.artifacts]: 'dist/app.bin\ndist/epoch',
      ...overrides,
    };
  };

  it('downloads, verifies the objects, checks out the planned commit, builds from it', async () => {
    const e = await env();
    const r = runPosixBuildspec(e, path);
    expect(r.failedPhase, r.log).toBeUndefined();
    expect(r.log).toContain('staged source fetched by the launcher, objects verified');
    expect(r.log).toContain(`source verified at ${repo.head}`);
    expect(await readFile(join(e.CODEBUILD_SRC_DIR, STAGING_DIR, 'dist/app.bin'), 'utf8')).toBe('3.1.0');
    expect((await readFile(join(e.CODEBUILD_SRC_DIR, STAGING_DIR, 'dist/epoch'), 'utf8')).trim()).toBe(git(repo.dir, 'log', '-1', '--format=%ct', repo.head));
    expect(await readFile(join(work, 'aws-calls'), 'utf8')).toContain(`s3://${BUCKET}/${sourceKeyFor(RUN_ID)}`);
    expect(server.requests.length).toBe(2); // only the stager's own fetch: the build never contacted the git server
  });

  it('fails PRE_BUILD when the planned commit is not the staged one (here: the previous commit)', async () => {
    const e = await env({ [BUILD_ENV.commit]: older });
    const r = runPosixBuildspec(e, path);
    expect(r.failedPhase).toBe('pre_build');
    expect(r.log).toMatch(new RegExp(`the staged source has no commit ${older}`));
    expect(await readdir(join(e.CODEBUILD_SRC_DIR, STAGING_DIR))).toEqual([]);
  });

  it("fails PRE_BUILD when an object under the planned commit's id is forged (git recomputes the id)", async () => {
    // the staged tar, plus a loose object at the planned commit's path holding another commit
    const forgedRoot = join(work, 's3-forged');
    const dir = join(work, 'forged-gitdir');
    await mkdir(dir, { recursive: true });
    execFileSync('tar', ['-xf', join(s3root, BUCKET, sourceKeyFor(RUN_ID)), '-C', dir]);
    const other = execFileSync('git', ['-C', repo.dir, 'cat-file', 'commit', older]);
    const raw = Buffer.concat([Buffer.from(`commit ${other.length}\0`), other]);
    await mkdir(join(dir, 'objects', repo.head.slice(0, 2)), { recursive: true });
    await writeFile(join(dir, 'objects', repo.head.slice(0, 2), repo.head.slice(2)), deflateSync(raw));
    await mkdir(join(forgedRoot, BUCKET, sourceKeyFor(RUN_ID), '..'), { recursive: true });
    execFileSync('tar', ['-cf', join(forgedRoot, BUCKET, sourceKeyFor(RUN_ID)), '-C', dir, '.']);
    // point the stub at the forged copy
    const bin = join(work, 'bin-forged');
    await mkdir(bin, { recursive: true });
    const stub = (await readFile(join(work, 'bin', 'aws'), 'utf8')).replace(s3root, forgedRoot);
    await writeFile(join(bin, 'aws'), stub);
    await chmod(join(bin, 'aws'), 0o755);
    const e = await env();
    const r = runPosixBuildspec(e, `${bin}:${process.env.PATH}`);
    expect(r.failedPhase).toBe('pre_build');
    expect(r.log).toMatch(/hash(-path)? mismatch/i);
    expect(await readdir(join(e.CODEBUILD_SRC_DIR, STAGING_DIR))).toEqual([]);
  });

  it("refuses a staged-source location that is not this run's", async () => {
    const e = await env({ [BUILD_ENV.sourceS3]: `s3://${BUCKET}/sources/20250101T000000Z-other/source.tar` });
    const r = runPosixBuildspec(e, path);
    expect(r.failedPhase).toBe('pre_build');
    expect(r.log).toMatch(/RELVERIFY_SOURCE_S3 must be s3:\/\/<bucket>\/sources\/20260101T000000Z-abcdef\/source.tar/);
  });
});
