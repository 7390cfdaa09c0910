import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand, type Build } from '@aws-sdk/client-codebuild';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILD_ENV, launcherVariables, sourceS3UriFor } from '../../../lambda/adapters/builder/codebuild-env';
import { CodeBuildLauncher, idempotencyTokenFor } from '../../../lambda/adapters/builder/codebuild-launcher';
import {
  buildIdFromArn,
  BuildStillRunningError,
  CodeBuildResults,
  ForeignBuildError,
  S3ArtifactSource,
} from '../../../lambda/adapters/builder/codebuild-results';
import type { RunPlan } from '../../../lambda/core/run/plan';
import { startLocalS3, type LocalS3 } from '../../support/s3-local';

const SHA = 'a'.repeat(40);
const IMAGE = `debian@sha256:${'b'.repeat(64)}`;
const RUN = '20260101T000000Z-abcdef';

const plan: RunPlan = {
  schemaVersion: 1,
  runId: RUN,
  createdAt: '2026-01-01T00:00:00.000Z',
  project: { gitlabUrl: 'https://gitlab.example', project: 'g/p' },
  release: { tag: 'v1.2.0', name: 'v1.2.0', commitSha: SHA, tagCommitSha: SHA, links: [] },
  version: '1.2.0',
  targets: [
    {
      name: 'linux-x64',
      image: IMAGE,
      artifacts: [
        {
          path: 'dist/app-1.2.0.tar.gz',
          asset: 'app-1.2.0.tar.gz',
          source: { type: 'release-link' },
          compare: 'auto',
          signature: { scheme: 'none', reason: 'test' },
        },
        {
          path: 'dist/app-1.2.0.zip',
          asset: 'app-1.2.0.zip',
          source: { type: 'release-link' },
          compare: 'auto',
          signature: { scheme: 'none', reason: 'test' },
        },
      ],
    },
  ],
  findings: [],
};

const LAUNCHED = { plan, cloneUrl: 'https://gitlab.example/g/p.git', stagedSource: false };

describe('CodeBuildLauncher (StartBuild request shape)', () => {
  const client = new CodeBuildClient({ region: 'eu-west-1' });
  const cb = mockClient(client);
  beforeEach(() => cb.reset());

  it("starts the target's own project with an idempotency token per run+target and only plaintext run variables", async () => {
    cb.on(StartBuildCommand).resolves({ build: { id: 'relverify-x-linux-x64:1111', arn: 'arn:aws:codebuild:eu-west-1:1:build/relverify-x-linux-x64:1111' } });
    const launcher = new CodeBuildLauncher({ client, projects: { 'linux-x64': 'relverify-x-linux-x64' } });
    const started = await launcher.start(plan, 'linux-x64', 'https://gitlab.example/g/p.git');
    expect(started).toEqual({
      target: 'linux-x64',
      projectName: 'relverify-x-linux-x64',
      buildId: 'relverify-x-linux-x64:1111',
      buildArn: 'arn:aws:codebuild:eu-west-1:1:build/relverify-x-linux-x64:1111',
    });
    const input = cb.commandCalls(StartBuildCommand)[0]!.args[0].input;
    expect(input.projectName).toBe('relverify-x-linux-x64');
    expect(input.idempotencyToken).toBe(idempotencyTokenFor(RUN, 'linux-x64'));
    // nothing that could change what runs: no buildspec, image, source, artifacts or privilege overrides
    expect(Object.keys(input).sort()).toEqual(['environmentVariablesOverride', 'idempotencyToken', 'projectName']);
    const env = Object.fromEntries(input.environmentVariablesOverride!.map((v) => [v.name, v]));
    expect(input.environmentVariablesOverride!.every((v) => v.type === 'PLAINTEXT')).toBe(true);
    expect(env[BUILD_ENV.runId]!.value).toBe(RUN);
    expect(env[BUILD_ENV.commit]!.value).toBe(SHA);
    expect(env[BUILD_ENV.artifacts]!.value).toBe('dist/app-1.2.0.tar.gz\ndist/app-1.2.0.zip');
    expect(env[BUILD_ENV.cloneUrl]!.value).toBe('https://gitlab.example/g/p.git');
    expect(JSON.stringify(input)).not.toMatch(/PRIVATE-TOKEN|glpat-|SECRETS_MANAGER|PARAMETER_STORE/);
  });

  it('sets exactly the variables the checker requires of the build record (launcherVariables), with and without a staged source', async () => {
    cb.on(StartBuildCommand).resolves({ build: { id: 'relverify-x-linux-x64:1111' } });
    const launcher = new CodeBuildLauncher({ client, projects: { 'linux-x64': 'relverify-x-linux-x64' } });
    const staged = sourceS3UriFor('artifacts-bucket', RUN);
    await launcher.start(plan, 'linux-x64', 'https://gitlab.example/g/p.git');
    await launcher.start(plan, 'linux-x64', 'https://gitlab.example/g/p.git', { sourceS3: staged });
    const [plain, withSource] = cb
      .commandCalls(StartBuildCommand)
      .map((c) => Object.fromEntries(c.args[0].input.environmentVariablesOverride!.map((v) => [v.name, v.value])));
    expect(plain).toEqual(launcherVariables(plan, 'linux-x64', 'https://gitlab.example/g/p.git'));
    expect(withSource).toEqual(launcherVariables(plan, 'linux-x64', 'https://gitlab.example/g/p.git', staged));
    expect(staged).toBe(`s3://artifacts-bucket/sources/${RUN}/source.tar`);
  });

  it('refuses a target without a deployed project and a target outside the plan', async () => {
    const launcher = new CodeBuildLauncher({ client, projects: {} });
    await expect(launcher.start(plan, 'linux-x64', 'u')).rejects.toThrow(/no CodeBuild project is deployed/);
    await expect(new CodeBuildLauncher({ client, projects: { x: 'p' } }).start(plan, 'x', 'u')).rejects.toThrow(/not in run plan/);
    expect(cb).toHaveReceivedCommandTimes(StartBuildCommand, 0);
  });
});

function build(overrides: Partial<Build> = {}, env: Record<string, string> = { [BUILD_ENV.runId]: RUN, [BUILD_ENV.target]: 'linux-x64' }): Build {
  return {
    id: 'relverify-x-linux-x64:0f0e0d0c-1111-2222-3333-444455556666',
    arn: 'arn:aws:codebuild:eu-west-1:123456789012:build/relverify-x-linux-x64:0f0e0d0c-1111-2222-3333-444455556666',
    projectName: 'relverify-x-linux-x64',
    buildStatus: 'SUCCEEDED',
    buildComplete: true,
    startTime: new Date('2026-01-01T00:01:00Z'),
    endTime: new Date('2026-01-01T00:11:00Z'),
    environment: {
      type: 'LINUX_CONTAINER',
      image: IMAGE,
      computeType: 'BUILD_GENERAL1_MEDIUM',
      environmentVariables: Object.entries(env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
    },
    artifacts: { location: 'arn:aws:s3:::artifacts-bucket/builds/linux-x64/0f0e0d0c-1111-2222-3333-444455556666/out' },
    logs: { deepLink: 'https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups' },
    ...overrides,
  };
}

describe('CodeBuildResults (BatchGetBuilds → BuildResult)', () => {
  const cbClient = new CodeBuildClient({ region: 'eu-west-1' });
  const cb = mockClient(cbClient);
  const results = new CodeBuildResults({
    codebuild: cbClient,
    projects: { 'relverify-x-linux-x64': 'linux-x64' },
    artifactsBucket: 'artifacts-bucket',
    recipes: {},
  });
  beforeEach(() => cb.reset());

  it("re-reads the build by id (from the event's ARN) and identifies run and target", async () => {
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build()] });
    const rec = await results.read(build().arn!);
    expect(cb).toHaveReceivedCommandWith(BatchGetBuildsCommand, { ids: [build().id!] });
    expect(rec.runId).toBe(RUN);
    expect(rec.target).toBe('linux-x64');
    const r = results.toBuildResult(rec, IMAGE, LAUNCHED);
    expect(r).toMatchObject({ status: 'SUCCEEDED', buildId: build().id, durationMs: 600_000, image: { ref: IMAGE, enforced: true }, checkedOutSha: undefined });
  });

  it("maps terminal statuses and explains failures from the build's own phases", async () => {
    cb.on(BatchGetBuildsCommand).resolves({
      builds: [
        build({
          buildStatus: 'FAILED',
          phases: [
            {
              phaseType: 'PRE_BUILD',
              phaseStatus: 'FAILED',
              contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'Error while executing command: … exit status 1' }],
            },
          ],
        }),
      ],
    });
    const r = results.toBuildResult(await results.read(build().id!), IMAGE, LAUNCHED);
    expect(r.status).toBe('FAILED');
    expect(r.message).toMatch(/phase PRE_BUILD FAILED \(COMMAND_EXECUTION_ERROR/);
    for (const [api, core] of [
      ['TIMED_OUT', 'TIMED_OUT'],
      ['STOPPED', 'STOPPED'],
      ['FAULT', 'FAULT'],
    ] as const) {
      cb.on(BatchGetBuildsCommand).resolves({ builds: [build({ buildStatus: api })] });
      expect(results.toBuildResult(await results.read(build().id!), IMAGE, LAUNCHED).status).toBe(core);
    }
  });

  it('an image other than the planned one is reported as not enforced', async () => {
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build({ environment: { ...build().environment!, image: 'debian:latest' } })] });
    const r = results.toBuildResult(await results.read(build().id!), IMAGE, LAUNCHED);
    expect(r.image).toMatchObject({ enforced: false, note: expect.stringMatching(/debian:latest/) });
  });

  it('refuses foreign builds: unknown project, missing run id, target disagreeing with the project', async () => {
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build({ projectName: 'someone-else' })] });
    await expect(results.read(build().id!)).rejects.toBeInstanceOf(ForeignBuildError);
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build({}, { [BUILD_ENV.target]: 'linux-x64' })] });
    await expect(results.read(build().id!)).rejects.toThrow(/no valid RELVERIFY_RUN_ID/);
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build({}, { [BUILD_ENV.runId]: RUN, [BUILD_ENV.target]: 'windows-x64' })] });
    await expect(results.read(build().id!)).rejects.toThrow(/says it builds "windows-x64"/);
    cb.on(BatchGetBuildsCommand).resolves({ builds: [], buildsNotFound: [build().id!] });
    await expect(results.read(build().id!)).rejects.toBeInstanceOf(ForeignBuildError);
  });

  it('a build still in progress (the event raced the API) is retried, not judged', async () => {
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build({ buildStatus: 'IN_PROGRESS', buildComplete: false })] });
    await expect(results.read(build().id!)).rejects.toBeInstanceOf(BuildStillRunningError);
  });

  it("refuses artifact locations outside the target's own prefix", async () => {
    const dest = join(tmpdir(), 'never-written');
    const limits = { maxBytes: 1 << 20, timeoutMs: 5000 };
    for (const location of [
      'arn:aws:s3:::other-bucket/builds/linux-x64/0f0e0d0c-1111-2222-3333-444455556666/out',
      'arn:aws:s3:::artifacts-bucket/builds/windows-x64/0f0e0d0c-1111-2222-3333-444455556666/out',
      'arn:aws:s3:::artifacts-bucket/builds/linux-x64/../windows-x64/0f0e0d0c-1111-2222-3333-444455556666/out',
      'arn:aws:s3:::artifacts-bucket/builds/linux-x64/another-build/out',
    ]) {
      cb.on(BatchGetBuildsCommand).resolves({ builds: [build({ artifacts: { location } })] });
      const r = results.toBuildResult(await results.read(build().id!), IMAGE, LAUNCHED);
      await expect(r.artifacts.fetch('dist/app-1.2.0.zip', dest, limits)).rejects.toThrow(/outside s3:\/\/artifacts-bucket\/builds\/linux-x64\//);
    }
  });

  it("without a reported location, reads the project's own per-build folder", async () => {
    cb.on(BatchGetBuildsCommand).resolves({ builds: [build({ artifacts: {} })] });
    const r = results.toBuildResult(await results.read(build().id!), IMAGE, LAUNCHED);
    expect((r.artifacts as unknown as { options: { bucket: string; prefix: string } }).options).toMatchObject({
      bucket: 'artifacts-bucket',
      prefix: 'builds/linux-x64/0f0e0d0c-1111-2222-3333-444455556666/out',
    });
  });

  it('parses build ARNs', () => {
    expect(buildIdFromArn('arn:aws:codebuild:eu-west-1:123456789012:build/p:u-u')).toBe('p:u-u');
    expect(buildIdFromArn('p:u')).toBe('p:u');
  });
});

describe('S3ArtifactSource against s3rver', () => {
  let s3: LocalS3;
  let dir: string;
  const prefix = 'builds/linux-x64/0f0e/out';
  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('artifacts-bucket');
    dir = await mkdtemp(join(tmpdir(), 'relverify-art-'));
    const c = s3.client();
    await c.send(new PutObjectCommand({ Bucket: 'artifacts-bucket', Key: `${prefix}/dist/app.bin`, Body: Buffer.alloc(300_000, 7) }));
    await c.send(new PutObjectCommand({ Bucket: 'artifacts-bucket', Key: 'builds/windows-x64/1/out/secret.bin', Body: 'other target' }));
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams an artifact to disk and digests it', async () => {
    const src = new S3ArtifactSource({ client: s3.client(), bucket: 'artifacts-bucket', prefix });
    const got = await src.fetch('dist/app.bin', join(dir, 'a'), { maxBytes: 1 << 20, timeoutMs: 10_000 });
    const expected = createHash('sha256').update(Buffer.alloc(300_000, 7)).digest('hex');
    expect(got).toEqual({ path: join(dir, 'a'), sha256: expected, size: 300_000 });
    expect((await readFile(join(dir, 'a'))).length).toBe(300_000);
  });

  it('missing artifact → null', async () => {
    const src = new S3ArtifactSource({ client: s3.client(), bucket: 'artifacts-bucket', prefix });
    expect(await src.fetch('dist/nothing.bin', join(dir, 'b'), { maxBytes: 1 << 20, timeoutMs: 10_000 })).toBeNull();
  });

  it('over the size bound → refused, no file left behind', async () => {
    const src = new S3ArtifactSource({ client: s3.client(), bucket: 'artifacts-bucket', prefix });
    await expect(src.fetch('dist/app.bin', join(dir, 'c'), { maxBytes: 1000, timeoutMs: 10_000 })).rejects.toThrow(/over the limit|exceeds/);
    await expect(readFile(join(dir, 'c'))).rejects.toThrow();
  });

  it('refuses path tricks that would leave the prefix', async () => {
    const src = new S3ArtifactSource({ client: s3.client(), bucket: 'artifacts-bucket', prefix });
    for (const p of ['../../../windows-x64/1/out/secret.bin', '/etc/passwd', 'dist//app.bin', 'dist/./app.bin', 'dist\\app.bin', '']) {
      await expect(src.fetch(p, join(dir, 'd'), { maxBytes: 1 << 20, timeoutMs: 10_000 })).rejects.toThrow(/must be relative and stay inside/);
    }
  });
});
