/**
 * `release-verifier doctor`: every check against aws-sdk-client-mock with the documented request
 * and response shapes of each API, the "all ok" account and each problem case. The launcher's
 * dry-run answer is produced by the real dryRun() (planner, forge stand-in), not written by hand.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { BatchGetFleetsCommand, CodeBuildClient, ListFleetsCommand, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, ECRClient, ImageNotFoundException } from '@aws-sdk/client-ecr';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, GetObjectLockConfigurationCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ListAWSDefaultServiceQuotasCommand, ListServiceQuotasCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import {
  GetSMSSandboxAccountStatusCommand,
  ListSMSSandboxPhoneNumbersCommand,
  ListSubscriptionsByTopicCommand,
  PublishCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import { sdkStreamMixin } from '@smithy/util-stream';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { doctor, run, type DoctorReport } from '../../lambda/cli/doctor';
import { privateEcrImage, quotaLabel } from '../../lambda/cli/doctor/builds';
import { anonymousVisibility, MAX_VISIBILITY_BODY_BYTES } from '../../lambda/cli/doctor/token';
import {
  AWS_CONNECTION_TIMEOUT_MS,
  AWS_REQUEST_TIMEOUT_MS,
  awsClientOptions,
  LAUNCHER_INVOKE_TIMEOUT_MS,
  launcherClientOptions,
} from '../../lambda/cli/stack-commands';
import type { Config } from '../../lambda/core/config/schema';
import type { Store } from '../../lambda/core/ports';
import { dryRun, type DryRunResult } from '../../lambda/handlers/launcher';
import { DirectoryForge, testConfig } from '../handlers/support';
import { sink } from '../support/sink';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const NOW = new Date('2026-03-05T12:00:00Z');
const DIGEST = `sha256:${'d'.repeat(64)}`;
const LINUX_IMAGE = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/builders/rust@${DIGEST}`;
const WIN_IMAGE = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/builders/msvc@${DIGEST}`;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:ReleaseVerifier-AlertsTopic-abc`;
const SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:release-verifier/ReleaseVerifier/gitlab-token-AbCdEf`;
const BUCKET = 'releaseverifier-resultsbucket-1a2b3c';
const TOKEN_VALUE = 'glpat-SECRETVALUE-never-printed';
const FLEET = `arn:aws:codebuild:${REGION}:${ACCOUNT}:fleet/mac-fleet:0f0e0d0c-1111-2222-3333-444455556666`;
const LAST_RUN = '20260302T030000Z-0a1b2c';
const SHA = 'b'.repeat(40);

const OUTPUTS = {
  LauncherFunctionName: 'ReleaseVerifier-LauncherFunction-XyZ',
  ResultsBucketName: BUCKET,
  ArtifactsBucketName: 'releaseverifier-artifactsbucket-4d5e6f',
  DiffJobProjectName: 'relverify-releaseverifier--diffoscope',
  AlertsTopicArn: TOPIC,
  GitLabTokenSecretArn: SECRET,
  DeadLetterQueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/ReleaseVerifier-DeadLetters-abc`,
  AttestationKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`,
};

function configWith(overrides: Parameters<typeof testConfig>[0] = {}): Config {
  return testConfig({
    alerts: { emails: ['ops@example.com'], sms: ['+14155550100'] },
    targets: [
      {
        name: 'linux-x64',
        image: LINUX_IMAGE,
        command: 'make',
        artifacts: [{ path: 'out/app-{version}', asset: 'app-{version}-linux', signature: { scheme: 'none', reason: 'test' } }],
      },
      {
        name: 'win-x64',
        platform: 'windows',
        image: WIN_IMAGE,
        command: 'make',
        artifacts: [{ path: 'out/app-{version}.exe', asset: 'app-{version}.exe', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
    ...overrides,
  });
}

/** A read-only store stand-in for the launcher's dry run: nothing planned yet. */
const emptyStore: Store = {
  get: async () => null,
  list: async () => [],
  put: async () => {
    throw new Error('a dry run must not write');
  },
  locate: (k: string) => `s3://results/${k}`,
} as unknown as Store;

async function dryRunAnswer(config: Config, forgeFails?: string): Promise<DryRunResult> {
  return dryRun(
    { source: 'doctor', dryRun: true },
    {
      config,
      store: emptyStore,
      notifier: {
        notify: async () => {
          throw new Error('a dry run must not alert');
        },
      },
      forge: async () => {
        if (forgeFails) throw new Error(forgeFails);
        return new DirectoryForge(
          { tag: 'v2.0.0', name: 'v2.0.0', commitSha: SHA, tagCommitSha: SHA, links: [] },
          '/nonexistent',
          'https://gitlab.example/g/app.git',
        );
      },
      builds: {
        start: async () => {
          throw new Error('a dry run must not build');
        },
      },
      formats: async () => {
        throw new Error('not needed');
      },
      runWindowMs: 12 * 3600_000,
      now: () => NOW,
    },
  );
}

const cloudformation = new CloudFormationClient({ region: REGION });
const lambda = new LambdaClient({ region: REGION });
const sns = new SNSClient({ region: REGION });
const secrets = new SecretsManagerClient({ region: REGION });
const ecr = new ECRClient({ region: REGION });
const codebuild = new CodeBuildClient({ region: REGION });
const quotas = new ServiceQuotasClient({ region: REGION });
const s3 = new S3Client({ region: REGION });
const m = {
  cfn: mockClient(cloudformation),
  lambda: mockClient(lambda),
  sns: mockClient(sns),
  secrets: mockClient(secrets),
  ecr: mockClient(ecr),
  codebuild: mockClient(codebuild),
  quotas: mockClient(quotas),
  s3: mockClient(s3),
};
const ecrRegions: string[] = [];
let fetchCalls: string[] = [];
let gitlabAnswer = 200;
const fakeFetch = (async (url: string | URL) => {
  fetchCalls.push(String(url));
  return new Response(JSON.stringify(gitlabAnswer === 200 ? { id: 1, visibility: 'public' } : { message: '404 Project Not Found' }), {
    status: gitlabAnswer,
    headers: { 'content-type': 'application/json' },
  });
}) as typeof fetch;
const clients = () => ({
  cloudformation,
  lambda,
  sns,
  secrets,
  ecr: (r: string) => {
    ecrRegions.push(r);
    return ecr;
  },
  codebuild,
  quotas,
  s3,
  fetch: fakeFetch,
  now: () => NOW,
});

const body = (text: string) => sdkStreamMixin(Readable.from([Buffer.from(text)]));
const invokeAnswer = (answer: unknown) => ({ StatusCode: 200, ExecutedVersion: '$LATEST', Payload: new TextEncoder().encode(JSON.stringify(answer)) as never });
const summary = (verdict: string, finishedAt: string) =>
  JSON.stringify({ schemaVersion: 1, runId: LAST_RUN, verdict, finishedAt, startedAt: finishedAt, release: { tag: 'v2.0.0' }, targets: [], findings: [] });

/** An account where everything is as it should be (documented response shapes of each API). */
async function healthyAccount(config = configWith()) {
  for (const c of Object.values(m)) c.reset();
  ecrRegions.length = 0;
  fetchCalls = [];
  gitlabAnswer = 200;
  m.cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'ReleaseVerifier',
        StackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/ReleaseVerifier/x`,
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date('2026-03-01T00:00:00Z'),
        Outputs: Object.entries(OUTPUTS).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  m.lambda.on(InvokeCommand).resolves(invokeAnswer(await dryRunAnswer(config)));
  m.sns.on(ListSubscriptionsByTopicCommand).resolves({
    Subscriptions: [
      { SubscriptionArn: `${TOPIC}:2f1e0d9c-aaaa-bbbb-cccc-000000000001`, Owner: ACCOUNT, Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: TOPIC },
      { SubscriptionArn: `${TOPIC}:2f1e0d9c-aaaa-bbbb-cccc-000000000002`, Owner: ACCOUNT, Protocol: 'sms', Endpoint: '+14155550100', TopicArn: TOPIC },
    ],
  });
  m.sns.on(GetSMSSandboxAccountStatusCommand).resolves({ IsInSandbox: true });
  m.sns.on(ListSMSSandboxPhoneNumbersCommand).resolves({ PhoneNumbers: [{ PhoneNumber: '+14155550100', Status: 'Verified' }] });
  m.secrets
    .on(DescribeSecretCommand)
    .resolves({ ARN: SECRET, Name: 'release-verifier/ReleaseVerifier/gitlab-token', LastChangedDate: new Date('2026-03-01T10:00:00Z') });
  m.secrets.on(GetSecretValueCommand).resolves({
    ARN: SECRET,
    Name: 'release-verifier/ReleaseVerifier/gitlab-token',
    VersionId: 'v1',
    SecretString: TOKEN_VALUE,
    VersionStages: ['AWSCURRENT'],
    CreatedDate: new Date(),
  });
  m.ecr.on(DescribeImagesCommand).callsFake((input: { repositoryName: string; imageIds: { imageDigest: string }[] }) => ({
    imageDetails: [
      {
        registryId: ACCOUNT,
        repositoryName: input.repositoryName,
        imageDigest: input.imageIds[0]!.imageDigest,
        imageTags: ['1.80'],
        imageSizeInBytes: 123456789,
        imagePushedAt: new Date('2026-02-01T00:00:00Z'),
        imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      },
    ],
  }));
  m.codebuild.on(BatchGetFleetsCommand).resolves({ fleets: [], fleetsNotFound: [] });
  m.quotas.on(ListServiceQuotasCommand).resolves({
    Quotas: [
      {
        ServiceCode: 'codebuild',
        ServiceName: 'AWS CodeBuild',
        QuotaArn: `arn:aws:servicequotas:${REGION}:${ACCOUNT}:codebuild/L-2DC20C30`,
        QuotaCode: 'L-2DC20C30',
        QuotaName: 'Concurrently running builds for Linux/Medium environment',
        Value: 5,
        Unit: 'None',
        Adjustable: true,
        GlobalQuota: false,
      },
    ],
  });
  m.quotas.on(ListAWSDefaultServiceQuotasCommand).resolves({
    Quotas: [
      {
        ServiceCode: 'codebuild',
        QuotaCode: 'L-2DC20C30',
        QuotaName: 'Concurrently running builds for Linux/Medium environment',
        Value: 1,
        Unit: 'None',
        Adjustable: true,
      },
      {
        ServiceCode: 'codebuild',
        QuotaCode: 'L-WINMED00',
        QuotaName: 'Concurrently running builds for Windows Server 2019/Medium environment',
        Value: 1,
        Unit: 'None',
        Adjustable: true,
      },
      { ServiceCode: 'codebuild', QuotaCode: 'L-75822022', QuotaName: 'Concurrently running builds', Value: 60, Unit: 'None', Adjustable: true },
    ],
  });
  m.s3.on(ListObjectsV2Command).resolves({
    Name: BUCKET,
    Prefix: 'runs/',
    Delimiter: '/',
    KeyCount: 2,
    IsTruncated: false,
    CommonPrefixes: [{ Prefix: `runs/${LAST_RUN}/` }, { Prefix: 'runs/20260223T030000Z-ffffff/' }],
  });
  m.s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
  m.s3
    .on(GetObjectCommand, { Bucket: BUCKET, Key: `runs/${LAST_RUN}/summary.json` })
    .callsFake(() => ({ Body: body(summary('VERIFIED', '2026-03-02T04:00:00Z')) as never, ContentLength: 200 }));
  m.s3
    .on(GetObjectLockConfigurationCommand)
    .resolves({ ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } } } });
}

async function runDoctor(args: string[] = ['--stack', 'ReleaseVerifier', '--region', REGION]) {
  const out = sink();
  const err = sink();
  const code = await run(args, { ...clients(), out: out.stream, err: err.stream });
  return { code, out: out.text(), err: err.text() };
}

const byId = (r: DoctorReport, id: string) => r.checks.find((c) => c.id === id);

function expectReadOnly() {
  expect(m.s3).toHaveReceivedCommandTimes(PutObjectCommand, 0);
  expect(m.codebuild).toHaveReceivedCommandTimes(StartBuildCommand, 0);
  expect(m.sns).toHaveReceivedCommandTimes(PublishCommand, 0);
}

describe('release-verifier doctor', () => {
  beforeEach(() => healthyAccount());

  it('all ok: one ok line per check, exit 0, read-only, the secret never printed, the requests as the APIs take them', async () => {
    const { code, out } = await runDoctor();
    expect(out).not.toMatch(/PROBLEM|CANNOT CHECK/);
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    for (const id of [
      'stack',
      'subscription:email:ops@example.com',
      'subscription:sms:+14155550100',
      'sms-sandbox:+14155550100',
      'token-secret',
      'image:linux-x64',
      'image:win-x64',
      'codebuild-quota',
      'last-run',
      'object-lock',
      'dry-run',
    ]) {
      expect(
        lines.some((l) => l.startsWith(`ok            ${id}: `)),
        id,
      ).toBe(true);
    }
    expect(out).toContain('run 20260302T030000Z-0a1b2c (release v2.0.0): VERIFIED, finished 3 days ago');
    expect(out).toContain(`Object Lock GOVERNANCE, 365 days, as configured`);
    expect(out).toContain('CodeBuild concurrent builds: linux/medium: 1 of 5; windows server 2019/medium: 1 of 1; account: 2 of 60');
    expect(out).toMatch(/dry-run: dry run: nothing was written or started\. A run now would verify release v2\.0\.0 at commit b{40}/);
    expect(out).toContain(`linux-x64: image ${LINUX_IMAGE}`);
    expect(out).not.toContain(TOKEN_VALUE);
    expectReadOnly();
    // request shapes
    expect(m.cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'ReleaseVerifier' });
    const invoke = m.lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(invoke).toMatchObject({ FunctionName: OUTPUTS.LauncherFunctionName, InvocationType: 'RequestResponse' });
    expect(JSON.parse(new TextDecoder().decode(invoke.Payload as Uint8Array))).toEqual({ source: 'doctor', dryRun: true });
    expect(m.sns).toHaveReceivedCommandWith(ListSubscriptionsByTopicCommand, { TopicArn: TOPIC });
    expect(m.secrets).toHaveReceivedCommandWith(DescribeSecretCommand, { SecretId: SECRET });
    expect(m.secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET });
    expect(m.ecr).toHaveReceivedCommandWith(DescribeImagesCommand, {
      registryId: ACCOUNT,
      repositoryName: 'builders/rust',
      imageIds: [{ imageDigest: DIGEST }],
    });
    expect(ecrRegions).toEqual([REGION, REGION]);
    expect(m.quotas).toHaveReceivedCommandWith(ListServiceQuotasCommand, { ServiceCode: 'codebuild' });
    expect(m.s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: BUCKET, Prefix: 'runs/', Delimiter: '/' });
    expect(m.s3).toHaveReceivedCommandWith(GetObjectLockConfigurationCommand, { Bucket: BUCKET });
    expect(fetchCalls).toEqual([]); // a token is stored: GitLab is not asked
  });

  it('--json: the same checks as data, statuses spelled "ok" / "problem" / "cannot check"', async () => {
    m.ecr
      .on(DescribeImagesCommand)
      .rejects(new ImageNotFoundException({ message: `The image with imageId {imageDigest:'${DIGEST}'} does not exist within the repository`, $metadata: {} }));
    const { code, out } = await runDoctor(['--stack', 'ReleaseVerifier', '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(out) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(new Set(report.checks.map((c) => c.status))).toEqual(new Set(['ok', 'problem']));
    expect(byId(report, 'image:linux-x64')).toMatchObject({ status: 'problem', fix: expect.stringMatching(/push the image/) });
    expect(report.dryRun?.release?.tag).toBe('v2.0.0');
    expect(out).not.toContain(TOKEN_VALUE);
  });

  const problemCases: { name: string; arrange: () => void | Promise<void>; id: string; detail: RegExp; fix: RegExp }[] = [
    {
      name: 'an email subscription pending confirmation',
      arrange: () =>
        void m.sns.on(ListSubscriptionsByTopicCommand).resolves({
          Subscriptions: [
            { SubscriptionArn: 'PendingConfirmation', Owner: ACCOUNT, Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: TOPIC },
            { SubscriptionArn: `${TOPIC}:x`, Protocol: 'sms', Endpoint: '+14155550100', TopicArn: TOPIC },
          ],
        }),
      id: 'subscription:email:ops@example.com',
      detail: /pending confirmation/,
      fix: /Subscription Confirmation.*ops@example\.com/,
    },
    {
      name: 'a configured number not subscribed',
      arrange: () =>
        void m.sns
          .on(ListSubscriptionsByTopicCommand)
          .resolves({ Subscriptions: [{ SubscriptionArn: `${TOPIC}:x`, Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: TOPIC }] }),
      id: 'subscription:sms:+14155550100',
      detail: /configured .* but not subscribed/,
      fix: /cdk deploy/,
    },
    {
      name: 'an SMS number pending verification in the sandbox',
      arrange: () => void m.sns.on(ListSMSSandboxPhoneNumbersCommand).resolves({ PhoneNumbers: [{ PhoneNumber: '+14155550100', Status: 'Pending' }] }),
      id: 'sms-sandbox:+14155550100',
      detail: /in the SMS sandbox and \+14155550100 is pending verification/,
      fix: /verify-sms-sandbox-phone-number --phone-number \+14155550100/,
    },
    {
      name: 'an SMS number the sandbox does not know',
      arrange: () => void m.sns.on(ListSMSSandboxPhoneNumbersCommand).resolves({ PhoneNumbers: [] }),
      id: 'sms-sandbox:+14155550100',
      detail: /not a sandbox destination/,
      fix: /create-sms-sandbox-phone-number --phone-number \+14155550100/,
    },
    {
      name: 'the placeholder token for a project GitLab does not show anonymously',
      arrange: () => {
        m.secrets.on(GetSecretValueCommand).resolves({ ARN: SECRET, SecretString: 'anonymous' });
        gitlabAnswer = 404;
      },
      id: 'token-secret',
      detail: /placeholder but g\/app is not public \(GitLab answers an anonymous caller 404\)/,
      fix: /put-secret-value --secret-id arn:aws:secretsmanager/,
    },
    {
      name: 'a token secret that does not exist',
      arrange: () =>
        void m.secrets
          .on(DescribeSecretCommand)
          .rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} })),
      id: 'token-secret',
      detail: /does not exist/,
      fix: /store the token/,
    },
    {
      name: 'a token secret scheduled for deletion',
      arrange: () => void m.secrets.on(DescribeSecretCommand).resolves({ ARN: SECRET, Name: 'n', DeletedDate: new Date('2026-03-04T00:00:00Z') }),
      id: 'token-secret',
      detail: /scheduled for deletion/,
      fix: /restore-secret/,
    },
    {
      name: 'an image digest missing from ECR',
      arrange: () =>
        void m.ecr
          .on(DescribeImagesCommand)
          .rejects(new ImageNotFoundException({ message: 'The image with imageId does not exist within the repository', $metadata: {} })),
      id: 'image:linux-x64',
      detail: /no image sha256:d{64} in builders\/rust/,
      fix: /describe-images --repository-name builders\/rust/,
    },
    {
      name: 'a concurrency quota below the targets that build at once',
      arrange: () =>
        void m.quotas.on(ListServiceQuotasCommand).resolves({
          Quotas: [
            {
              ServiceCode: 'codebuild',
              QuotaCode: 'L-WINMED00',
              QuotaName: 'Concurrently running builds for Windows Server 2019/Medium environment',
              Value: 0,
            },
          ],
        }),
      id: 'codebuild-quota',
      detail: /Windows Server 2019\/Medium environment is 0 \(L-WINMED00\) but 1 targets build there at once: win-x64/,
      fix: /request an increase/,
    },
    {
      name: 'the last completed run did not verify',
      arrange: () =>
        void m.s3
          .on(GetObjectCommand, { Bucket: BUCKET, Key: `runs/${LAST_RUN}/summary.json` })
          .callsFake(() => ({ Body: body(summary('MISMATCH', '2026-03-02T04:00:00Z')) as never })),
      id: 'last-run',
      detail: /MISMATCH, finished 3 days ago — the last completed run did not verify/,
      fix: new RegExp(`s3://${BUCKET}/runs/${LAST_RUN}/report.html`),
    },
    {
      name: 'the last completed run is too old',
      arrange: () =>
        void m.s3
          .on(GetObjectCommand, { Bucket: BUCKET, Key: `runs/${LAST_RUN}/summary.json` })
          .callsFake(() => ({ Body: body(summary('VERIFIED', '2026-02-20T04:00:00Z')) as never })),
      id: 'last-run',
      detail: /finished 13 days ago — more than 8 days/,
      fix: /run-now --stack ReleaseVerifier/,
    },
    {
      name: 'Object Lock not as configured',
      arrange: () =>
        void m.s3
          .on(GetObjectLockConfigurationCommand)
          .resolves({ ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } } }),
      id: 'object-lock',
      detail: /GOVERNANCE, 30 days, configured GOVERNANCE, 365 days/,
      fix: /cdk deploy/,
    },
    {
      name: 'no Object Lock at all',
      arrange: () =>
        void m.s3.on(GetObjectLockConfigurationCommand).rejects(
          Object.assign(new Error('Object Lock configuration does not exist for this bucket'), {
            name: 'ObjectLockConfigurationNotFoundError',
            $metadata: { httpStatusCode: 404 },
          }),
        ),
      id: 'object-lock',
      detail: /has no Object Lock/,
      fix: /new bucket/,
    },
    {
      name: 'a dry run that cannot resolve the release',
      arrange: async () => void m.lambda.on(InvokeCommand).resolves(invokeAnswer(await dryRunAnswer(configWith(), 'GitLab answered 401 Unauthorized'))),
      id: 'dry-run',
      detail: /could not be resolved .* GitLab answered 401 Unauthorized/,
      fix: /token, project, network/,
    },
    {
      name: 'a launcher that fails',
      arrange: () =>
        void m.lambda.on(InvokeCommand).resolves({
          StatusCode: 200,
          FunctionError: 'Unhandled',
          Payload: new TextEncoder().encode(JSON.stringify({ errorType: 'Error', errorMessage: 'ENOENT /opt/release-verifier/config.json' })) as never,
        }),
      id: 'dry-run',
      detail: /the launcher failed the dry run: .*ENOENT/,
      fix: /CloudWatch Logs/,
    },
    {
      name: 'a stack without its outputs',
      arrange: () =>
        void m.cfn.on(DescribeStacksCommand).resolves({
          Stacks: [
            {
              StackName: 'ReleaseVerifier',
              StackStatus: 'UPDATE_ROLLBACK_COMPLETE',
              CreationTime: new Date(),
              Outputs: [{ OutputKey: 'LauncherFunctionName', OutputValue: OUTPUTS.LauncherFunctionName }],
            },
          ],
        }),
      id: 'stack',
      detail: /lacks the outputs ResultsBucketName, ArtifactsBucketName/,
      fix: /cdk deploy/,
    },
  ];

  for (const c of problemCases) {
    it(`problem: ${c.name}`, async () => {
      await c.arrange();
      const report = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
      const check = byId(report, c.id);
      expect(check, JSON.stringify(report.checks, null, 1)).toBeDefined();
      expect(check!.status).toBe('problem');
      expect(check!.detail).toMatch(c.detail);
      expect(check!.fix).toMatch(c.fix);
      expect(report.ok).toBe(false);
      expectReadOnly();
      const { code, out } = await runDoctor();
      expect(code).toBe(1);
      expect(out).toMatch(new RegExp(`^PROBLEM {7}${c.id.replace(/[+.]/g, '\\$&')}: .* — fix: `, 'm'));
    });
  }

  it('a fleet that is not ACTIVE, a fleet that does not exist, a macOS image doctor cannot check', async () => {
    const config = configWith({
      targets: [
        {
          name: 'mac-arm64',
          platform: 'macos',
          image: 'aws/codebuild/macos-arm-base:15',
          fleetArn: FLEET,
          command: 'make',
          artifacts: [{ path: 'out/a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }],
        },
        {
          name: 'mac-x',
          platform: 'macos',
          image: 'aws/codebuild/macos-arm-base:15',
          fleetArn: `${FLEET}-gone`,
          command: 'make',
          artifacts: [{ path: 'out/b', asset: 'b', signature: { scheme: 'none', reason: 'test' } }],
        },
      ],
    });
    await healthyAccount(config);
    m.codebuild.on(BatchGetFleetsCommand).resolves({
      fleets: [
        {
          arn: FLEET,
          name: 'mac-fleet',
          id: 'mac-fleet:0f0e',
          created: new Date(),
          lastModified: new Date(),
          status: { statusCode: 'PENDING_DELETION', context: 'ACTION_REQUIRED', message: 'deleting' },
          baseCapacity: 1,
          environmentType: 'MAC_ARM',
          computeType: 'BUILD_GENERAL1_MEDIUM',
        },
      ],
      fleetsNotFound: [`${FLEET}-gone`],
    });
    m.codebuild.on(ListFleetsCommand).resolves({ fleets: [FLEET] });
    const report = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(m.codebuild).toHaveReceivedCommandWith(BatchGetFleetsCommand, { names: [FLEET, `${FLEET}-gone`] });
    expect(byId(report, 'fleet:mac-x')!.fix).toContain(`fleets in this region: ${FLEET}`);
    expect(byId(report, 'fleet:mac-arm64')).toMatchObject({ status: 'problem', detail: expect.stringMatching(/PENDING_DELETION .*not ACTIVE/) });
    expect(byId(report, 'fleet:mac-x')).toMatchObject({ status: 'problem', detail: expect.stringMatching(/does not exist/) });
    expect(byId(report, 'image:mac-arm64')).toMatchObject({ status: 'cannot check', detail: expect.stringMatching(/curated image .* no digest/) });
    expect(byId(report, 'codebuild-quota')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/reserved fleet/) });
    expect(m.ecr).toHaveReceivedCommandTimes(DescribeImagesCommand, 0);

    m.codebuild.on(BatchGetFleetsCommand).resolves({
      fleets: [
        { arn: FLEET, name: 'mac-fleet', status: { statusCode: 'ACTIVE' }, baseCapacity: 1, environmentType: 'MAC_ARM', computeType: 'BUILD_GENERAL1_MEDIUM' },
        {
          arn: `${FLEET}-gone`,
          name: 'linux-fleet',
          status: { statusCode: 'ACTIVE' },
          baseCapacity: 2,
          environmentType: 'LINUX_CONTAINER',
          computeType: 'BUILD_GENERAL1_SMALL',
        },
      ],
    });
    const again = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(byId(again, 'fleet:mac-arm64')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/ACTIVE \(MAC_ARM/) });
    expect(byId(again, 'fleet:mac-x')).toMatchObject({ status: 'problem', detail: expect.stringMatching(/LINUX_CONTAINER, not MAC_ARM/) });
  });

  it('cannot check (exit 2): a public-registry image, and an action the credentials lack — never ok', async () => {
    const config = configWith({
      targets: [
        {
          name: 'linux-x64',
          image: `rust@${DIGEST}`,
          command: 'make',
          artifacts: [{ path: 'out/a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }],
        },
      ],
    });
    await healthyAccount(config);
    let { code, out } = await runDoctor();
    expect(out).toMatch(/^CANNOT CHECK {2}image:linux-x64: .*public registry \(Docker Hub\).* — fix: pull it once/m);
    expect(out).not.toMatch(/PROBLEM/);
    expect(code).toBe(2);
    m.secrets.on(GetSecretValueCommand).rejects(
      Object.assign(new Error(`User: arn:aws:iam::${ACCOUNT}:user/maint is not authorized to perform: secretsmanager:GetSecretValue`), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    ({ code, out } = await runDoctor());
    expect(out).toMatch(/^CANNOT CHECK {2}token-secret: .*access denied .* — fix: allow secretsmanager:GetSecretValue/m);
    expect(code).toBe(2);
  });

  it('an SMS subscription SNS shows without "+" is the configured number; no credentials is "cannot check" with how to sign in', async () => {
    m.sns.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [
        { SubscriptionArn: `${TOPIC}:1`, Protocol: 'email', Endpoint: 'OPS@example.com', TopicArn: TOPIC },
        { SubscriptionArn: `${TOPIC}:2`, Protocol: 'sms', Endpoint: '14155550100', TopicArn: TOPIC },
      ],
    });
    const report = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(report.checks.filter((c) => c.id.startsWith('subscription')).map((c) => c.status)).toEqual(['ok', 'ok']);
    m.cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }));
    const { code, out } = await runDoctor();
    expect(code).toBe(2);
    expect(out).toMatch(/^CANNOT CHECK {2}stack: .*no usable AWS credentials .* — fix: sign in: AWS_PROFILE=/m);
  });

  it('an answer a check does not expect is "cannot check" for that check, the others stand', async () => {
    m.s3.on(GetObjectLockConfigurationCommand).resolves(null as never);
    m.quotas.on(ListServiceQuotasCommand).callsFake(() => {
      throw new TypeError('boom');
    });
    const report = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(byId(report, 'object-lock')!.status).not.toBe('ok');
    expect(byId(report, 'codebuild-quota')!.status).toBe('cannot check');
    expect(byId(report, 'last-run')!.status).toBe('ok');
  });

  it('the placeholder token of a public project is fine; GitLab is asked anonymously about that project only', async () => {
    m.secrets.on(GetSecretValueCommand).resolves({ ARN: SECRET, SecretString: 'anonymous' });
    const report = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(byId(report, 'token-secret')).toMatchObject({ status: 'ok', detail: expect.stringMatching(/placeholder: g\/app is public/) });
    expect(fetchCalls).toEqual(['https://gitlab.example/api/v4/projects/g%2Fapp']);
  });

  it('the first deploy: no run yet is "cannot check" with the way to start one', async () => {
    m.s3.on(ListObjectsV2Command).resolves({ Name: BUCKET, Prefix: 'runs/', KeyCount: 0, IsTruncated: false });
    const report = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(byId(report, 'last-run')).toMatchObject({
      status: 'cannot check',
      detail: expect.stringMatching(/no run yet/),
      fix: expect.stringMatching(/run-now --stack ReleaseVerifier/),
    });
  });

  const work = mkdtemp(join(tmpdir(), 'relverify-doctor-'));
  afterAll(async () => rm(await work, { recursive: true, force: true }));

  it('without a dry-run answer the configuration comes from --config; without either, config-dependent checks cannot check', async () => {
    m.lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } }));
    const bare = await doctor({ stack: 'ReleaseVerifier', region: REGION }, clients());
    expect(byId(bare, 'dry-run')!.status).toBe('cannot check');
    expect(byId(bare, 'images')).toMatchObject({ status: 'cannot check', fix: expect.stringMatching(/--config FILE/) });
    expect(byId(bare, 'object-lock')!.status).toBe('cannot check');
    const file = join(await work, 'rv.json');
    const config = configWith();
    await writeFile(file, JSON.stringify({ version: 1, gitlab: config.gitlab, alerts: config.alerts, targets: config.targets }));
    const withFile = await doctor({ stack: 'ReleaseVerifier', region: REGION, configFile: file }, clients());
    expect(byId(withFile, 'image:linux-x64')!.status).toBe('ok');
    expect(byId(withFile, 'object-lock')!.status).toBe('ok');
  });

  it('a stack that does not exist: one problem, nothing else asked; usage errors exit 3', async () => {
    m.cfn
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id Nope does not exist'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } }));
    const { code, out } = await runDoctor(['--stack', 'Nope']);
    expect(code).toBe(1);
    expect(out).toMatch(/^PROBLEM {7}stack: stack Nope does not exist in this region — fix: deploy it/m);
    expect(m.lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    expect((await runDoctor([])).code).toBe(3);
    expect((await runDoctor(['--stack'])).code).toBe(3);
    expect((await runDoctor(['--stack', 'X', '--bogus'])).code).toBe(3);
  });

  it('recognises private ECR references and the quota label of a target', () => {
    expect(privateEcrImage(LINUX_IMAGE)).toEqual({ registryId: ACCOUNT, region: REGION, repositoryName: 'builders/rust', imageDigest: DIGEST });
    expect(privateEcrImage(`${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn/x:1.0@${DIGEST}`)).toMatchObject({ region: 'cn-north-1', repositoryName: 'x' });
    expect(privateEcrImage(`public.ecr.aws/docker/library/rust@${DIGEST}`)).toBeNull();
    expect(privateEcrImage(`ghcr.io/${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/x@${DIGEST}`)).toBeNull();
    expect(quotaLabel({ name: 'a', platform: 'linux', image: 'x' })).toBe('linux/medium');
    expect(quotaLabel({ name: 'a', platform: 'linux', image: 'x', computeType: 'BUILD_GENERAL1_2XLARGE' })).toBe('linux/2xlarge');
    expect(quotaLabel({ name: 'a', platform: 'windows', image: 'x', computeType: 'BUILD_GENERAL1_LARGE' })).toBe('windows server 2019/large');
  });
});

describe('bounded calls (review finding): the anonymous visibility lookup and the AWS clients', () => {
  it('a GitLab that accepts and never answers (and ignores the signal) is "unknown" on time', async () => {
    const hanging = (() => new Promise<Response>(() => undefined)) as unknown as typeof fetch;
    const t0 = Date.now();
    const v = await anonymousVisibility('https://gitlab.example', 'g/app', hanging, 300);
    expect(v).toEqual({ unknown: expect.stringMatching(/did not answer within/) });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('a 200 with an endless body is "unknown", read only up to the bound', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled += 64 * 1024;
        c.enqueue(new Uint8Array(64 * 1024).fill(0x20));
      },
    });
    const big = (async () => new Response(endless, { status: 200 })) as typeof fetch;
    const v = await anonymousVisibility('https://gitlab.example', 'g/app', big, 10_000);
    expect(v).toEqual({ unknown: expect.stringMatching(/larger than/) });
    expect(pulled).toBeLessThan(MAX_VISIBILITY_BODY_BYTES + 4 * 64 * 1024);
    // a normal answer still reads as before
    const small = (async () => new Response(JSON.stringify({ visibility: 'private' }), { status: 200 })) as typeof fetch;
    expect(await anonymousVisibility('https://gitlab.example', 'g/app', small)).toEqual({ public: false, status: 200 });
  });

  it('the SDK clients get connection/request timeouts and bounded attempts: a silent endpoint fails, it does not hang', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const opts = awsClientOptions(REGION, { requestTimeoutMs: 400, attempts: 1 });
      expect(opts).toMatchObject({
        region: REGION,
        maxAttempts: 1,
        requestHandler: { connectionTimeout: AWS_CONNECTION_TIMEOUT_MS, requestTimeout: 400, throwOnRequestTimeout: true },
      });
      expect(awsClientOptions()).toMatchObject({ maxAttempts: 3, requestHandler: { requestTimeout: AWS_REQUEST_TIMEOUT_MS } });
      expect(launcherClientOptions(REGION)).toMatchObject({ maxAttempts: 1, requestHandler: { requestTimeout: LAUNCHER_INVOKE_TIMEOUT_MS } });
      const client = new CloudFormationClient({
        ...opts,
        endpoint: `http://127.0.0.1:${port}`,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
      });
      const t0 = Date.now();
      await expect(client.send(new DescribeStacksCommand({ StackName: 'x' }))).rejects.toThrow(/timeout|timed out/i);
      expect(Date.now() - t0).toBeLessThan(5_000);
      client.destroy();
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  }, 20_000);
});
