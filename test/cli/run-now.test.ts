/**
 * `release-verifier run-now` (a launch, and `--dry-run`) and the launcher's dry run behind it (also
 * doctor's): it resolves the release with the real planner and answers what a run would build —
 * with the real S3, CodeBuild and SNS adapters on mocked clients, so that any write, build start or
 * publish would show as a call.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { CodeBuildLauncher } from '../../lambda/adapters/builder/codebuild-launcher';
import { SourceStager } from '../../lambda/adapters/builder/source-stager';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { ForgeError } from '../../lambda/core/errors';
import { dryRun, isDryRun, launch, type LauncherDeps } from '../../lambda/handlers/launcher';
import { windowedRunId } from '../../lambda/core/run/run-id';
import { run as runNow } from '../../lambda/cli/run-now';
import { DirectoryForge, IMAGE, planFor, testConfig } from '../handlers/support';
import { sink } from '../support/sink';

const SHA = 'e'.repeat(40);
const HOUR = 3600_000;
const NOW = new Date('2026-03-02T03:00:00Z');

const s3Client = new S3Client({ region: 'eu-west-1' });
const codebuildClient = new CodeBuildClient({ region: 'eu-west-1' });
const snsClient = new SNSClient({ region: 'eu-west-1' });
const s3 = mockClient(s3Client);
const codebuild = mockClient(codebuildClient);
const sns = mockClient(snsClient);
const cloudformation = new CloudFormationClient({ region: 'eu-west-1' });
const lambda = new LambdaClient({ region: 'eu-west-1' });
const cfn = mockClient(cloudformation);
const lam = mockClient(lambda);

/** A deployed stack whose outputs name the launcher. */
function resetCli() {
  cfn.reset();
  lam.reset();
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'ReleaseVerifier',
        StackStatus: 'CREATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: [
          { OutputKey: 'ResultsBucketName', OutputValue: 'b' },
          { OutputKey: 'LauncherFunctionName', OutputValue: 'rv-launcher' },
        ],
      },
    ],
  });
}

const config = testConfig({
  aws: { stageSource: true },
  targets: [
    {
      name: 'linux-x64',
      image: IMAGE,
      command: 'make',
      artifacts: [{ path: 'out/app-{version}', asset: 'app-{version}-linux', signature: { scheme: 'none', reason: 'test' } }],
    },
    {
      name: 'win-x64',
      platform: 'windows',
      image: IMAGE,
      command: 'make',
      artifacts: [{ path: 'out/app-{version}.exe', asset: 'app-{version}.exe', signature: { scheme: 'none', reason: 'test' } }],
    },
  ],
});
const release = { tag: 'v2.0.0', name: 'Release 2.0', commitSha: SHA, tagCommitSha: SHA, links: [] };

function deps(overrides: Partial<LauncherDeps> = {}): LauncherDeps {
  return {
    config,
    store: new S3Store({ bucket: 'results', client: s3Client }),
    notifier: new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient }),
    forge: async () => new DirectoryForge(release, '/nonexistent', 'https://gitlab.example/g/app.git'),
    builds: new CodeBuildLauncher({ projects: { 'linux-x64': 'p-linux', 'win-x64': 'p-win' }, client: codebuildClient }),
    stageSource: (plan, cloneUrl) =>
      new SourceStager({
        bucket: 'artifacts',
        gitlabUrl: 'https://gitlab.example',
        token: async () => 'glpat-x',
        maxBytes: 1e6,
        timeoutMs: 1000,
        client: s3Client,
      }).stage(plan, cloneUrl),
    formats: async () => (await import('../../lambda/formats/ops')).formatOps,
    runWindowMs: 12 * HOUR,
    now: () => NOW,
    ...overrides,
  };
}

const body = (text: string) => sdkStreamMixin(Readable.from([Buffer.from(text)]));
const notFound = () => new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });

function expectNothingWritten() {
  expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  expect(codebuild).toHaveReceivedCommandTimes(StartBuildCommand, 0);
  expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
}

/** An empty results bucket; builds and publishes would succeed (so that only the assertions stop them). */
function resetAws() {
  s3.reset();
  codebuild.reset();
  sns.reset();
  s3.on(GetObjectCommand).rejects(notFound());
  s3.on(ListObjectsV2Command).resolves({ KeyCount: 0, IsTruncated: false });
}

describe('launcher dry run', () => {
  beforeEach(() => {
    resetAws();
    s3.on(PutObjectCommand).resolves({ ETag: '"x"' });
    codebuild.on(StartBuildCommand).resolves({ build: { id: 'p:1' } });
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
  });

  it('answers what the next run would build: release, commit, targets, images, expected assets — and writes, starts, sends nothing', async () => {
    const answer = await dryRun({ source: 'run-now', dryRun: true }, deps());
    expectNothingWritten();
    expect(answer.dryRun).toBe(true);
    expect(answer.error).toBeUndefined();
    expect(answer.release).toMatchObject({ tag: 'v2.0.0', name: 'Release 2.0', commitSha: SHA, tagCommitSha: SHA });
    expect(answer.version).toBe('2.0.0');
    expect(answer.runId).toBe(windowedRunId(NOW, 12 * HOUR, ['https://gitlab.example', 'g/app', 'v2.0.0', SHA, SHA]));
    expect(answer.planExists).toBe(false);
    expect(answer.targets).toEqual([
      {
        name: 'linux-x64',
        image: IMAGE,
        alreadyStarted: false,
        artifacts: [{ asset: 'app-2.0.0-linux', path: 'out/app-2.0.0', source: 'release-link', signature: 'none' }],
      },
      {
        name: 'win-x64',
        image: IMAGE,
        alreadyStarted: false,
        artifacts: [{ asset: 'app-2.0.0.exe', path: 'out/app-2.0.0.exe', source: 'release-link', signature: 'none' }],
      },
    ]);
    // the deployed configuration, for doctor
    expect(answer.config.targets.map((t) => [t.name, t.platform])).toEqual([
      ['linux-x64', 'linux'],
      ['win-x64', 'windows'],
    ]);
    expect(answer.config.alerts.emails).toEqual(['ops@example.com']);
    expect(answer.config.aws.stageSource).toBe(true);
    // the ledger was read (planning judges history against it), nothing else touched
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'results', Key: 'ledger/ledger.json' });
  });

  it('a release that cannot be resolved is answered, not alerted, and nothing is written', async () => {
    const answer = await dryRun({ dryRun: true, tag: 'v9.9.9' }, deps());
    expect(answer.error).toMatch(/release v9\.9\.9 not found/);
    expect(answer.targets).toEqual([]);
    expectNothingWritten();
    const down = await dryRun(
      { dryRun: true },
      deps({
        forge: async () => {
          throw new ForgeError('unreachable', 'connect ECONNREFUSED gitlab.example:443');
        },
      }),
    );
    expect(down.error).toMatch(/ECONNREFUSED/);
    expectNothingWritten();
  });

  it('a run already planned in this window: says so, judges against that plan, marks targets already started', async () => {
    const runId = windowedRunId(NOW, 12 * HOUR, ['https://gitlab.example', 'g/app', 'v2.0.0', SHA, SHA]);
    const plan = planFor(config, runId, SHA);
    s3.on(GetObjectCommand, { Bucket: 'results', Key: `runs/${runId}/plan.json` }).resolves({ Body: body(JSON.stringify(plan)) as never });
    s3.on(ListObjectsV2Command, { Bucket: 'results', Prefix: `runs/${runId}/builds/` }).resolves({
      Contents: [{ Key: `runs/${runId}/builds/linux-x64.json` }],
      IsTruncated: false,
    });
    const answer = await dryRun({ dryRun: true }, deps());
    expect(answer.planExists).toBe(true);
    expect(answer.targets.map((t) => [t.name, t.alreadyStarted])).toEqual([
      ['linux-x64', true],
      ['win-x64', false],
    ]);
    expectNothingWritten();
  });

  it('launch() refuses a dry-run event instead of starting builds; a real launch does write and start (the mocks would see it)', async () => {
    expect(isDryRun({ dryRun: true })).toBe(true);
    // a malformed dry-run flag is still a dry run: it must never launch
    expect(isDryRun({ dryRun: 'true' })).toBe(true);
    expect(isDryRun({ dryRun: false })).toBe(false);
    expect(isDryRun({ source: 'schedule' })).toBe(false);
    await expect(launch({ dryRun: true }, deps())).rejects.toThrow(/dry-run event reached launch/);
    await expect(launch({ dryRun: 'true' }, deps())).rejects.toThrow(/dry-run event reached launch/);
    expectNothingWritten();
    // the control: the same deps, a real launch — the assertions above would catch it
    await launch(
      {},
      deps({
        stageSource: async (plan) =>
          ({
            key: `sources/${plan.runId}/source.tar`,
            uri: `s3://artifacts/sources/${plan.runId}/source.tar`,
            sha256: 'a'.repeat(64),
            size: 1,
            commit: SHA,
          }) as never,
      }),
    );
    expect(s3).toHaveReceivedCommand(PutObjectCommand);
    expect(codebuild).toHaveReceivedCommandTimes(StartBuildCommand, 2);
  });
});

describe('release-verifier run-now --dry-run', () => {
  beforeEach(() => {
    resetCli();
    resetAws();
  });

  it('asks the launcher for a dry run and prints what the run would build', async () => {
    // the launcher's real answer, as the Lambda would return it
    const answer = await dryRun({ dryRun: true }, deps());
    lam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(answer)) as never });
    const out = sink();
    const err = sink();
    expect(await runNow(['--stack', 'ReleaseVerifier', '--dry-run', '--release', 'v2.0.0'], { cloudformation, lambda, out: out.stream, err: err.stream })).toBe(
      0,
    );
    const input = lam.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({ source: 'run-now', tag: 'v2.0.0', dryRun: true });
    expect(JSON.parse(out.text())).toEqual(answer);
    expect(err.text()).toMatch(/nothing was written or started\. A run now would verify release v2\.0\.0 \(Release 2\.0\) at commit e{40}/);
    expect(err.text()).toContain(`linux-x64: image ${IMAGE}`);
    expect(err.text()).toContain('out/app-2.0.0.exe → asset app-2.0.0.exe (release-link, signature none)');
  });

  it('exits 1 when the release cannot be resolved, or when the launcher answers with a launch instead', async () => {
    lam.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify({ dryRun: true, targets: [], findings: [], config: {}, error: 'GitLab answered 401' })) as never,
    });
    const err = sink();
    expect(await runNow(['--stack', 'ReleaseVerifier', '--dry-run'], { cloudformation, lambda, out: sink().stream, err: err.stream })).toBe(1);
    expect(err.text()).toMatch(/could not be resolved .* GitLab answered 401/);
    lam.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify({ runId: 'r', planCreated: true, started: [], alreadyStarted: [], notStarted: [] })) as never,
    });
    const err2 = sink();
    expect(await runNow(['--stack', 'ReleaseVerifier', '--dry-run'], { cloudformation, lambda, out: sink().stream, err: err2.stream })).toBe(1);
    expect(err2.text()).toMatch(/did not answer a dry run/);
  });
});

describe('release-verifier run-now', () => {
  beforeEach(() => resetCli());
  const launched = {
    runId: '20260302T000000Z-abcdef',
    release: 'v1.0.0',
    planCreated: true,
    started: [{ target: 'linux-x64', buildId: 'p:1' }],
    alreadyStarted: [],
    notStarted: [],
  };

  it('finds the launcher in the stack outputs and invokes it synchronously with the options', async () => {
    lam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(launched)) as never });
    const out = sink();
    const err = sink();
    const code = await runNow(['--stack', 'ReleaseVerifier', '--release', 'v1.0.0', '--fresh'], { cloudformation, lambda, out: out.stream, err: err.stream });
    expect(code).toBe(0);
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'ReleaseVerifier' });
    const input = lam.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(input.FunctionName).toBe('rv-launcher');
    expect(input.InvocationType).toBe('RequestResponse');
    expect(JSON.parse(new TextDecoder().decode(input.Payload as Uint8Array))).toEqual({ source: 'run-now', tag: 'v1.0.0', fresh: true });
    expect(JSON.parse(out.text()).runId).toBe(launched.runId);
    expect(err.text()).toMatch(/started linux-x64: p:1/);
  });

  it('a launcher error or an unplannable run exits 1', async () => {
    lam.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode(JSON.stringify({ errorType: 'AccessDenied', errorMessage: 'no' })) as never,
    });
    const err = sink();
    expect(await runNow(['--stack', 'ReleaseVerifier'], { cloudformation, lambda, out: sink().stream, err: err.stream })).toBe(1);
    expect(err.text()).toMatch(/the launcher failed: AccessDenied: no/);
    lam
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ ...launched, started: [], failedVerdict: 'INCOMPLETE' })) as never });
    expect(await runNow(['--stack', 'ReleaseVerifier'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(1);
  });

  it('usage errors and missing stacks/outputs exit 3 without invoking anything', async () => {
    expect(await runNow([], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(3);
    expect(await runNow(['--stack'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(3);
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError' }));
    const err = sink();
    expect(await runNow(['--stack', 'Nope'], { cloudformation, lambda, out: sink().stream, err: err.stream })).toBe(3);
    expect(err.text()).toMatch(/does not exist/);
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [{ StackName: 'Other', StackStatus: 'CREATE_COMPLETE', CreationTime: new Date(), Outputs: [] }] });
    expect(await runNow(['--stack', 'Other'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(3);
    expect(lam).toHaveReceivedCommandTimes(InvokeCommand, 0);
  });

  it('--function skips the stack lookup', async () => {
    lam.on(InvokeCommand).resolves({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(launched)) as never });
    expect(await runNow(['--function', 'fn-x', '--region', 'eu-west-1'], { cloudformation, lambda, out: sink().stream, err: sink().stream })).toBe(0);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 0);
    expect(lam).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: 'fn-x' });
  });
});
