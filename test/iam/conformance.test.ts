/**
 * The IAM conformance suite: a whole run (launcher → builds → checker → diff job → summary,
 * attestation, ledger, alert; then the dead-man check) with every AWS request recorded on the
 * real SDK v3 clients and evaluated by @cloud-copilot/iam-simulate against the synthesized
 * template. Every recorded request must be allowed; S3 answers missing keys as it would for
 * each caller's real permissions (403 without s3:ListBucket). A second test removes one grant
 * from the template and shows the same run's requests are then refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeBuildDiffJobs } from '../../lambda/adapters/builder/codebuild-diff-job';
import { CodeBuildLauncher } from '../../lambda/adapters/builder/codebuild-launcher';
import { CodeBuildResults } from '../../lambda/adapters/builder/codebuild-results';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { GitLabTokenReader } from '../../lambda/adapters/secrets';
import { KmsAttestationSigner } from '../../lambda/adapters/signer/kms-signer';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';
import { runKeys } from '../../lambda/core/run/summary';
import type { RunReport } from '../../lambda/core/report';
import { check } from '../../lambda/handlers/checker';
import { deadman } from '../../lambda/handlers/deadman';
import { launch } from '../../lambda/handlers/launcher';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { DirectoryForge, git, makeRepo, stateChangeEvent, testConfig } from '../handlers/support';
import { startGitHttpServer, type GitHttpServer } from '../handlers/git-http-backend';
import { SourceStager } from '../../lambda/adapters/builder/source-stager';
import { ForgeError } from '../../lambda/core/errors';
import type { Config } from '../../lambda/core/config/schema';
import { conformanceConfig } from './fixture';
import { REGION, type CfnTemplate } from './cfn-resolve';
import { describeDenied, StackUnderTest, synthTemplate } from './conformance';
import { RequestRecorder, type RecordedRequest } from './recorder';
import { StandIns } from './stand-ins';

const formats = async () => (await import('../../lambda/formats/ops')).formatOps;
const SHA = 'a'.repeat(40);

interface RunOptions {
  config?: Config;
  /** the forge cannot be reached: the launcher closes the run itself */
  forgeFails?: boolean;
  /** no build state-change event arrives: the dead-man closes the run */
  noEvents?: boolean;
  /** aws.stageSource: the launcher stages the source from this git server */
  git?: { server: GitHttpServer; token: string; head: string };
}

/** One whole run against `stack`; returns what was recorded and the run's summary. */
async function wholeRun(
  stack: StackUnderTest,
  work: string,
  options: RunOptions = {},
): Promise<{ recorded: RecordedRequest[]; summary: RunReport | null; error?: unknown }> {
  const names = stack.names;
  const s3: LocalS3 = await startLocalS3();
  await s3.createBucket(names.resultsBucket);
  await s3.createBucket(names.artifactsBucket);
  const recorder = new RequestRecorder();
  const config = options.config ?? conformanceConfig;
  const assets = await mkdtemp(join(work, 'published-'));
  await writeFile(join(assets, 'alpha-2.0.0.txt'), 'alpha 2.0.0\n');
  await writeFile(join(assets, 'gamma-2.0.0.txt'), 'gamma 2.0.0 (published with a backdoor)\n');
  const commit = options.git?.head ?? SHA;
  const forge = new DirectoryForge(
    { tag: 'v2.0.0', name: 'v2.0.0', commitSha: commit, tagCommitSha: commit, links: [] },
    assets,
    options.git ? `${options.git.server.origin}/g/app.git` : 'https://gitlab.example/g/app.git',
  );
  const aws = new StandIns({
    stack,
    names,
    s3,
    recorder,
    config,
    produce: (target, env) => ({ [`dist/${target}-${env.get(BUILD_ENV.version)}.txt`]: `${target} ${env.get(BUILD_ENV.version)}\n` }),
  });
  const forgeAs = (caller: string) => async () => {
    await new GitLabTokenReader(names.tokenSecretArn, { client: aws.secrets(caller) }).read();
    if (options.forgeFails) throw new ForgeError('unreachable', 'connect ECONNREFUSED gitlab.example:443');
    return forge;
  };
  const stager = options.git
    ? new SourceStager({
        bucket: names.artifactsBucket,
        gitlabUrl: options.git.server.origin,
        token: async () => options.git!.token,
        maxBytes: 64 << 20,
        timeoutMs: 60_000,
        client: aws.s3('launcher'),
        workRoot: work,
      })
    : undefined;
  const store = (caller: string) => new S3Store({ bucket: names.resultsBucket, client: aws.s3(caller) });
  const notifier = (caller: string) => new SnsNotifier({ topicArn: names.topicArn, client: aws.sns(caller) });
  try {
    const now = new Date('2026-03-02T03:00:00Z');
    const launched = await launch(
      { source: 'schedule' },
      {
        config,
        store: store('launcher'),
        notifier: notifier('launcher'),
        forge: forgeAs('launcher'),
        builds: new CodeBuildLauncher({ client: aws.codebuild('launcher'), projects: names.projects }),
        stageSource: stager ? (plan, cloneUrl) => stager.stage(plan, cloneUrl) : undefined,
        formats,
        runWindowMs: 12 * 3600_000,
        workRoot: work,
        now: () => now,
      },
    );
    const expected = options.forgeFails ? [] : config.targets.map((t) => t.name).sort();
    expect(
      launched.started.map((s) => s.target).sort(),
      JSON.stringify({ launched, recorded: recorder.requests.map((r) => [r.caller, r.operation, r.input.Key, r.outcome]) }),
    ).toEqual(expected);
    await aws.settled();
    const checkerCodeBuild = aws.codebuild('checker');
    const checkerS3 = aws.s3('checker');
    const checkerDeps = {
      config,
      store: store('checker'),
      notifier: notifier('checker'),
      results: new CodeBuildResults({
        codebuild: checkerCodeBuild,
        s3: checkerS3,
        projects: Object.fromEntries(Object.entries(names.projects).map(([t, p]) => [p, t])),
        artifactsBucket: names.artifactsBucket,
        recipes: Object.fromEntries(config.targets.map((t) => [t.name, { command: t.command, env: t.env, privileged: t.privileged }])),
      }),
      forge: forgeAs('checker'),
      formats,
      signer: new KmsAttestationSigner({ keyArn: names.attestationKeyArn, client: aws.kms('checker') }),
      diffJobs: new CodeBuildDiffJobs({
        projectName: names.diffProject,
        bucket: names.artifactsBucket,
        region: REGION,
        codebuild: checkerCodeBuild,
        s3: checkerS3,
      }),
      workRoot: work,
      now: () => new Date(now.getTime() + 3600_000),
    };
    if (!options.noEvents) for (const build of [...aws.builds.values()]) await check(stateChangeEvent(build), checkerDeps);
    await aws.settled(); // the diff job
    await deadman({
      config,
      store: store('deadman'),
      notifier: notifier('deadman'),
      staleRunMs: 24 * 3600_000,
      now: () => new Date(now.getTime() + 2 * 86_400_000),
    });
    const summary = JSON.parse(
      (await new S3Store({ bucket: names.resultsBucket, client: s3.client() }).get(runKeys.summary(launched.runId))) ?? 'null',
    ) as RunReport | null;
    return { recorded: recorder.requests, summary };
  } catch (error) {
    return { recorded: recorder.requests, summary: null, error };
  } finally {
    await s3.close();
  }
}

describe('IAM conformance: every request of a whole run is allowed by the synthesized template', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'relverify-iam-'));
    await mkdir(work, { recursive: true });
  });
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  const template = synthTemplate(conformanceConfig);

  it('launcher, target builds, checker, diff job, attestation and dead-man: all allowed', async () => {
    const stack = new StackUnderTest(template);
    const { recorded, summary, error } = await wholeRun(stack, work);
    const result = await stack.check(recorded);
    console.log(`IAM conformance: ${result.checked} IAM requests checked (from ${result.sdkRequests} recorded SDK requests), ${result.denied.length} denied`);
    expect(result.denied, describeDenied(result.denied)).toEqual([]);
    expect(error).toBeUndefined();
    // the run really happened: a mismatch with a diff report and a signed attestation
    expect(summary?.verdict).toBe('MISMATCH');
    // the builds' records match the plan: no BUILD_OVERRIDDEN
    expect(JSON.stringify(summary)).not.toContain('BUILD_OVERRIDDEN');
    expect(summary?.targets.find((t) => t.name === 'alpha')?.verdict).toBe('VERIFIED');
    const callers = new Set(recorded.map((r) => r.caller));
    expect([...callers].sort()).toEqual(['build:alpha', 'build:gamma', 'checker', 'deadman', 'diff', 'launcher']);
    const ops = new Set(recorded.map((r) => `${r.caller} ${r.client}.${r.operation}`));
    for (const op of [
      'launcher S3Client.GetObjectCommand',
      'launcher S3Client.PutObjectCommand',
      'launcher CodeBuildClient.StartBuildCommand',
      'launcher SecretsManagerClient.GetSecretValueCommand',
      'checker CodeBuildClient.BatchGetBuildsCommand',
      'checker CodeBuildClient.StartBuildCommand',
      'checker KMSClient.SignCommand',
      'checker SNSClient.PublishCommand',
      'checker SecretsManagerClient.GetSecretValueCommand',
      'deadman S3Client.ListObjectsV2Command',
      'diff S3Client.GetObjectCommand',
      'diff S3Client.PutObjectCommand',
      'build:alpha S3Client.PutObjectCommand',
    ])
      expect(ops, op).toContain(op);
    // missing keys were read (first ledger read, "already written?") and S3 answered 404, not 403
    expect(recorded.some((r) => r.operation === 'GetObjectCommand' && r.outcome?.ok === false && (r.outcome as { status?: number }).status === 404)).toBe(true);
    expect(recorded.filter((r) => r.outcome?.ok === false && (r.outcome as { status?: number }).status === 403)).toEqual([]);
  });

  it('the paths a normal run does not take: a forge failure (the launcher closes the run) and a stale run (the dead-man closes it)', async () => {
    const stack = new StackUnderTest(template);
    const failed = await wholeRun(stack, work, { forgeFails: true });
    expect(failed.error).toBeUndefined();
    expect(failed.summary?.verdict).toBe('INCOMPLETE');
    const stale = await wholeRun(stack, work, { noEvents: true });
    expect(stale.error).toBeUndefined();
    expect(stale.summary?.verdict).toBe('INCOMPLETE');
    const recorded = [...failed.recorded, ...stale.recorded];
    const ops = new Set(recorded.map((r) => `${r.caller} ${r.client}.${r.operation}`));
    for (const op of [
      'launcher SNSClient.PublishCommand',
      'deadman S3Client.PutObjectCommand',
      'deadman SNSClient.PublishCommand',
      'deadman S3Client.GetObjectCommand',
    ])
      expect(ops, op).toContain(op);
    const result = await stack.check(recorded);
    console.log(`IAM conformance: ${result.checked} IAM requests checked (launcher and dead-man closing runs), ${result.denied.length} denied`);
    expect(result.denied, describeDenied(result.denied)).toEqual([]);
  });

  it('aws.stageSource: the launcher stages the source, each build reads it with its own role', async () => {
    const TOKEN = 'glpat-conformance-token';
    const repo = await makeRepo({ 'build.sh': 'echo build\n' });
    git(repo.dir, 'tag', 'v2.0.0');
    const projects = join(work, 'git-projects');
    await mkdir(join(projects, 'g'), { recursive: true });
    execFileSync('git', ['clone', '--bare', '--quiet', repo.dir, join(projects, 'g', 'app.git')]);
    const server = await startGitHttpServer({ projectRoot: projects, password: TOKEN });
    try {
      const config = testConfig({
        gitlab: { url: server.origin, project: 'g/app' },
        aws: { stageSource: true } as never,
        targets: conformanceConfig.targets as never,
      });
      const stack = new StackUnderTest(synthTemplate(config));
      const run = await wholeRun(stack, work, { config, git: { server, token: TOKEN, head: repo.head } });
      expect(run.error).toBeUndefined();
      const ops = new Set(run.recorded.map((r) => `${r.caller} ${r.client}.${r.operation} ${String(r.input.Key ?? '').split('/')[0]}`));
      for (const op of [
        'launcher S3Client.PutObjectCommand sources',
        'build:alpha S3Client.GetObjectCommand sources',
        'build:gamma S3Client.GetObjectCommand sources',
      ])
        expect(ops, op).toContain(op);
      const result = await stack.check(run.recorded);
      console.log(`IAM conformance: ${result.checked} IAM requests checked (aws.stageSource), ${result.denied.length} denied`);
      expect(result.denied, describeDenied(result.denied)).toEqual([]);
    } finally {
      await server.close();
      await rm(repo.dir, { recursive: true, force: true });
    }
  });

  it('would have caught issue 8 item 4: with ListBucket conditioned on s3:prefix, S3 answers missing keys 403 and the run breaks', async () => {
    const broken = structuredClone(template) as CfnTemplate;
    let conditioned = 0;
    for (const r of Object.values(broken.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      for (const st of (r.Properties!.PolicyDocument as { Statement: { Action: string | string[]; Condition?: unknown }[] }).Statement) {
        if ([st.Action].flat().includes('s3:ListBucket') && !st.Condition) {
          st.Condition = { StringLike: { 's3:prefix': ['runs/*', 'ledger/*', 'deadman/*', 'builds/*'] } };
          conditioned++;
        }
      }
    }
    expect(conditioned).toBeGreaterThanOrEqual(3);
    const { recorded, error } = await wholeRun(new StackUnderTest(broken), work);
    expect(
      recorded.filter((r) => r.outcome?.ok === false && (r.outcome as { status?: number }).status === 403).map((r) => `${r.caller} ${String(r.input.Key)}`),
    ).toContain('launcher ledger/ledger.json');
    expect(error).toBeDefined(); // no build was started
  });

  it("fails when a grant is removed from the template (the checker's BatchGetBuilds)", async () => {
    const broken = structuredClone(template) as CfnTemplate;
    let removed = 0;
    for (const r of Object.values(broken.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] };
      const before = doc.Statement.length;
      doc.Statement = doc.Statement.filter((s) => ![s.Action].flat().includes('codebuild:BatchGetBuilds'));
      removed += before - doc.Statement.length;
    }
    expect(removed).toBe(1);
    const stack = new StackUnderTest(broken);
    const { recorded } = await wholeRun(stack, work);
    const result = await stack.check(recorded);
    expect(result.denied.length).toBeGreaterThan(0);
    expect(result.denied.every((d) => d.request.action === 'codebuild:BatchGetBuilds')).toBe(true);
  });
});
