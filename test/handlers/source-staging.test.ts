/**
 * aws.stageSource end to end on the launcher side: the real SourceStager fetches the release tag
 * over git smart-HTTP (real `git http-backend` on loopback, demanding the token like a private
 * GitLab project), verifies the commit, stages the git directory in S3 (s3rver); StartBuild
 * (aws-sdk-client-mock) receives RELVERIFY_SOURCE_S3 and never the token; the staged object holds
 * the commit (real git fsck/checkout) and no credential. Failures to stage start no build.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sourceKeyFor, BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';
import { CodeBuildLauncher } from '../../lambda/adapters/builder/codebuild-launcher';
import { SourceStager, sourceRecordKey } from '../../lambda/adapters/builder/source-stager';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { launch, type LauncherDeps } from '../../lambda/handlers/launcher';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { startGitHttpServer, type GitHttpServer } from './git-http-backend';
import { DirectoryForge, git, IMAGE, makeRepo, testConfig } from './support';

const TOKEN = 'glpat-PrivateProjectToken-123';
const TOKEN_B64 = Buffer.from(`oauth2:${TOKEN}`).toString('base64');
const formats = async () => (await import('../../lambda/formats/ops')).formatOps;

const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);
const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });
const cbClient = new CodeBuildClient({ region: 'eu-west-1' });
const cb = mockClient(cbClient);

let s3: LocalS3;
let work: string;
let server: GitHttpServer;
let repo: { dir: string; head: string };
let first: string;
let bucketCounter = 0;

beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'relverify-staging-'));
  repo = await makeRepo({ 'build.sh': 'echo build\n', 'src/main.c': 'int main(void){return 0;}\n' });
  first = repo.head;
  // the release: an annotated tag on a second commit (depth 1 must still peel it)
  await writeFile(join(repo.dir, 'VERSION'), '2.0.0\n');
  git(repo.dir, 'add', 'VERSION');
  git(repo.dir, 'commit', '--quiet', '-m', 'release 2.0.0');
  git(repo.dir, 'tag', '-a', '-m', 'v2.0.0', 'v2.0.0');
  repo.head = git(repo.dir, 'rev-parse', 'HEAD');
  const projects = join(work, 'projects');
  await mkdir(join(projects, 'g'), { recursive: true });
  execFileSync('git', ['clone', '--bare', '--quiet', repo.dir, join(projects, 'g', 'app.git')]);
  server = await startGitHttpServer({ projectRoot: projects, password: TOKEN });
});
afterAll(async () => {
  await server?.close();
  await s3?.close();
  await Promise.all([work, repo?.dir].filter(Boolean).map((d) => rm(d!, { recursive: true, force: true })));
});
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  cb.reset();
  cb.on(StartBuildCommand).callsFake(async (input: { projectName: string }) => ({
    build: { id: `${input.projectName}:b-1`, arn: `arn:aws:codebuild:eu-west-1:123456789012:build/${input.projectName}:b-1` },
  }));
  server.requests.length = 0;
});

async function setup(options: { gitlabUrl?: string; cloneUrl?: string; commit?: string } = {}) {
  const n = ++bucketCounter;
  const results = `results-staging-${n}`;
  const artifacts = `artifacts-staging-${n}`;
  await s3.createBucket(results);
  await s3.createBucket(artifacts);
  const gitlabUrl = options.gitlabUrl ?? server.origin;
  const config = testConfig({
    gitlab: { url: gitlabUrl, project: 'g/app' },
    aws: { stageSource: true },
    targets: [
      {
        name: 'linux',
        image: IMAGE,
        command: 'sh build.sh',
        artifacts: [{ path: 'out/app', asset: 'app-{version}', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  });
  const commit = options.commit ?? repo.head;
  const assets = join(work, `assets-${n}`);
  await mkdir(assets);
  const forge = new DirectoryForge(
    { tag: 'v2.0.0', name: 'v2.0.0', commitSha: commit, tagCommitSha: commit, links: [] },
    assets,
    options.cloneUrl ?? `${server.origin}/g/app.git`,
  );
  const stager = new SourceStager({
    bucket: artifacts,
    gitlabUrl,
    token: async () => TOKEN,
    maxBytes: 64 * 1024 * 1024,
    timeoutMs: 60_000,
    client: s3.client(),
    workRoot: work,
  });
  const store = new S3Store({ bucket: results, client: s3.conditionalClient() });
  const deps: LauncherDeps = {
    config,
    store,
    notifier,
    forge: async () => forge,
    builds: new CodeBuildLauncher({ projects: { linux: 'relverify-rv-linux' }, client: cbClient }),
    stageSource: (plan, cloneUrl) => stager.stage(plan, cloneUrl),
    formats,
    runWindowMs: 12 * 3600_000,
    workRoot: work,
    now: () => new Date('2026-03-02T03:00:00Z'),
  };
  return { deps, store, artifacts };
}

const startBuildEnv = () =>
  cb.commandCalls(StartBuildCommand).map((c) => Object.fromEntries((c.args[0].input.environmentVariablesOverride ?? []).map((v) => [v.name!, v.value!])));

describe('launcher with aws.stageSource', () => {
  it('stages the source at the commit with the token (to the GitLab origin only); StartBuild gets the location, never the token', async () => {
    const { deps, store, artifacts } = await setup();
    const r = await launch({}, deps);
    expect(r.notStarted).toEqual([]);
    expect(r.started.map((s) => s.target)).toEqual(['linux']);

    // the token went to the git endpoint, as HTTP Basic, on every request
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(server.requests.map((q) => q.headers.authorization)).toEqual(server.requests.map(() => `Basic ${TOKEN_B64}`));

    // StartBuild: the S3 location, the commit; no token anywhere in the request
    const [env] = startBuildEnv();
    const key = sourceKeyFor(r.runId);
    expect(env![BUILD_ENV.sourceS3]).toBe(`s3://${artifacts}/${key}`);
    expect(env![BUILD_ENV.commit]).toBe(repo.head);
    const request = JSON.stringify(cb.commandCalls(StartBuildCommand).map((c) => c.args[0].input));
    expect(request).not.toContain(TOKEN);
    expect(request).not.toContain(TOKEN_B64);

    // the staged object: no credential; real git verifies its objects and checks out the commit
    const body = Buffer.from(await (await s3.client().send(new GetObjectCommand({ Bucket: artifacts, Key: key }))).Body!.transformToByteArray());
    expect(body.includes(TOKEN)).toBe(false);
    expect(body.includes(TOKEN_B64)).toBe(false);
    const out = await mkdtemp(join(work, 'extract-'));
    await writeFile(join(out, 'source.tar'), body);
    const tree = join(out, 'src');
    await mkdir(join(tree, '.git'), { recursive: true });
    execFileSync('tar', ['-xf', join(out, 'source.tar'), '-C', join(tree, '.git')]);
    const entries = execFileSync('tar', ['-tf', join(out, 'source.tar')])
      .toString()
      .split('\n')
      .filter(Boolean);
    expect(entries.filter((e) => !/^(objects\/|refs\/)/.test(e)).sort()).toEqual(['HEAD', 'config', 'shallow']);
    const stagedConfig = await readFile(join(tree, '.git', 'config'), 'utf8');
    expect(stagedConfig).not.toMatch(/url|remote|credential|extraheader|127\.0\.0\.1/i);
    execFileSync('git', ['-C', tree, 'fsck', '--full', '--no-dangling', '--no-progress'], { stdio: 'pipe' });
    execFileSync('git', ['-C', tree, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', repo.head], { stdio: 'pipe' });
    expect(git(tree, 'rev-parse', 'HEAD')).toBe(repo.head);
    expect(git(tree, 'describe', '--tags')).toBe('v2.0.0');
    expect(await readFile(join(tree, 'VERSION'), 'utf8')).toBe('2.0.0\n');
    // depth 1: the parent commit is not there
    expect(() => git(tree, 'cat-file', '-e', first)).toThrow();

    // the launcher's record of it, next to the plan
    const record = JSON.parse((await store.get(sourceRecordKey(r.runId)))!.toString()) as { key: string; commit: string; sha256: string; size: number };
    expect(record).toMatchObject({ key, commit: repo.head, size: body.length });
    expect(record.sha256).toBe(
      execFileSync('sha256sum', [join(out, 'source.tar')])
        .toString()
        .split(' ')[0],
    );
  });

  it('a clone URL on another origin gets no token (and a private project then cannot be staged): no build starts', async () => {
    // same server, other origin: "localhost" is not the configured GitLab origin 127.0.0.1
    const { deps } = await setup({ cloneUrl: `${server.origin.replace('127.0.0.1', 'localhost')}/g/app.git` });
    const r = await launch({}, deps);
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
    expect(cb.commandCalls(StartBuildCommand)).toHaveLength(0);
    expect(r.notStarted).toEqual([
      { target: 'linux', reason: expect.stringMatching(/source could not be staged: .*HTTP 401.*not on the GitLab origin, so no token was sent/) },
    ]);
  });

  it('a redirect is not followed (the token stays on the origin it was meant for)', async () => {
    const elsewhere = await startGitHttpServer({ projectRoot: join(work, 'projects') });
    const redirecting = await startGitHttpServer({ projectRoot: join(work, 'projects'), redirectTo: elsewhere.origin });
    try {
      const { deps } = await setup({ gitlabUrl: redirecting.origin, cloneUrl: `${redirecting.origin}/g/app.git` });
      const r = await launch({}, deps);
      expect(redirecting.requests).toHaveLength(1);
      expect(elsewhere.requests).toHaveLength(0);
      expect(cb.commandCalls(StartBuildCommand)).toHaveLength(0);
      expect(r.notStarted[0]?.reason).toMatch(/redirect \(HTTP 302\); redirects are not followed/);
    } finally {
      await redirecting.close();
      await elsewhere.close();
    }
  });

  it('a tag that does not peel to the planned commit stages nothing and starts no build', async () => {
    const { deps, artifacts } = await setup({ commit: first });
    const r = await launch({}, deps);
    expect(cb.commandCalls(StartBuildCommand)).toHaveLength(0);
    expect(r.notStarted[0]?.reason).toMatch(new RegExp(`tag v2.0.0 fetched over git peels to ${repo.head}, but the run plan names ${first}`));
    await expect(s3.client().send(new GetObjectCommand({ Bucket: artifacts, Key: sourceKeyFor(r.runId) }))).rejects.toThrow();
  });
});
