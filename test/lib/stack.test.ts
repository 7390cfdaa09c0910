/**
 * CDK assertions for the serverless stack (bundling skipped: `aws:cdk:bundling-stacks: []`), and
 * cdk-nag AwsSolutions with no unacknowledged error.
 */
import { ESTIMATE_SCENARIO } from '../../lambda/cli/cost-estimate';
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import type { Config, ConfigInput } from '../../lambda/core/config/schema';
import { BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';
import { ReleaseVerifierStack } from '../../lib/release-verifier-stack';
import { validateTarget } from '../../lib/constructs/target-build-project';

const IMG = `public.ecr.aws/docker/library/rust@sha256:${'5'.repeat(64)}`;
const FLEET = 'arn:aws:codebuild:eu-west-1:111122223333:fleet/mac:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d';
const none = { scheme: 'none', reason: 'test asset' } as const;

function config(overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.com', project: 'group/app' },
    schedule: 'cron(0 4 ? * TUE *)',
    alerts: { emails: ['ops@example.com'], sms: ['+14155550100'] },
    aws: { resultsRetentionDays: 400, objectLockMode: 'GOVERNANCE', artifactRetentionDays: 14 },
    targets: [
      {
        name: 'linux-x64',
        image: IMG,
        command: 'make release',
        timeoutMinutes: 45,
        env: { CARGO_TERM_COLOR: 'never' },
        artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }],
      },
      {
        name: 'linux-docker',
        image: IMG,
        command: 'make docker',
        privileged: true,
        artifacts: [{ path: 'dist/img.tar', asset: 'img-{version}.tar', signature: none }],
      },
      {
        name: 'windows-x64',
        platform: 'windows',
        image: IMG,
        command: 'make win',
        artifacts: [{ path: 'dist/app.exe', asset: 'app-{version}.exe', signature: none }],
      },
      {
        name: 'macos-arm64',
        platform: 'macos',
        image: 'aws/codebuild/macos-arm-base:15',
        fleetArn: FLEET,
        command: 'make mac',
        artifacts: [{ path: 'dist/app.dmg', asset: 'app-{version}.dmg', signature: none }],
      },
    ],
    ...overrides,
  });
}

function synth(cfg: Config = config(), nag = false) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseVerifierStack(app, 'RV', { config: cfg });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth();
const resources = (type: string) => template.findResources(type);
const projectNamed = (target: string) => Object.values(resources('AWS::CodeBuild::Project')).find((r) => r.Properties.Name === `relverify-rv-${target}`)!;
const logicalIdOf = (type: string, pred: (r: { Properties: Record<string, unknown> }) => boolean) =>
  Object.entries(resources(type)).find(([, r]) => pred(r as never))![0];

describe('build projects: one per target', () => {
  it('pins the image by digest, has no source, no cache, the configured timeout and the shipped buildspec', () => {
    expect(Object.keys(resources('AWS::CodeBuild::Project'))).toHaveLength(5); // four targets + the diff job (test/cdk/diff-job.test.ts)
    const p = projectNamed('linux-x64').Properties;
    expect(p.Environment.Image).toBe(IMG);
    expect(p.Environment.Type).toBe('LINUX_CONTAINER');
    expect(p.Environment.PrivilegedMode).toBe(false);
    expect(p.Source.Type).toBe('NO_SOURCE');
    expect(p.Cache ?? { Type: 'NO_CACHE' }).toEqual({ Type: 'NO_CACHE' });
    expect(p.TimeoutInMinutes).toBe(45);
    expect(p.EncryptionKey).toBeDefined();
    const buildspec = p.Source.BuildSpec as string;
    expect(buildspec).toContain('rev-parse HEAD');
    expect(buildspec).toContain('if [ "$head" != "$RELVERIFY_COMMIT" ]');
    expect(buildspec).toContain('--detach "$RELVERIFY_COMMIT"');
    expect(buildspec).not.toMatch(/arn:aws:s3|buildspec\.yml/); // inline, not an asset or a repo file
    expect(p.Environment.EnvironmentVariables).toEqual(
      expect.arrayContaining([
        { Name: BUILD_ENV.command, Type: 'PLAINTEXT', Value: 'make release' },
        { Name: 'CARGO_TERM_COLOR', Type: 'PLAINTEXT', Value: 'never' },
      ]),
    );
  });

  it("uploads artifacts to the target's own prefix, one folder per build", () => {
    expect(projectNamed('linux-x64').Properties.Artifacts).toEqual({
      Type: 'S3',
      Location: {
        Ref: logicalIdOf('AWS::S3::Bucket', (r) => !r.Properties.ObjectLockEnabled && JSON.stringify(r.Properties.BucketEncryption).includes('aws:kms')),
      },
      Path: 'builds/linux-x64',
      NamespaceType: 'BUILD_ID',
      Name: 'out',
      Packaging: 'NONE',
      EncryptionDisabled: false,
    });
  });

  it('privileged only when the target asks; Windows and macOS get their environment types', () => {
    expect(projectNamed('linux-docker').Properties.Environment.PrivilegedMode).toBe(true);
    expect(projectNamed('windows-x64').Properties.Environment.Type).toBe('WINDOWS_SERVER_2019_CONTAINER');
    expect(projectNamed('windows-x64').Properties.Source.BuildSpec).toContain('$env:RELVERIFY_COMMIT');
    const mac = projectNamed('macos-arm64').Properties.Environment;
    expect(mac.Type).toBe('MAC_ARM');
    expect(mac.Fleet).toEqual({ FleetArn: FLEET });
    // the curated image the fleet provides, pulled by CodeBuild (no registry credentials)
    expect(mac.Image).toBe('aws/codebuild/macos-arm-base:15');
    expect(mac.ImagePullCredentialsType ?? 'CODEBUILD').toBe('CODEBUILD');
    expect(() => validateTarget({ ...config().targets[3]!, image: IMG })).toThrow(/macOS target runs the image its MAC_ARM fleet provides/);
  });

  it('a private ECR image is pulled with the project role (SERVICE_ROLE), which the boundary allows', () => {
    const ecrImage = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/builders/rust@sha256:${'7'.repeat(64)}`;
    const t = synth(config({ targets: [{ ...config().targets[0]!, image: ecrImage }] as never })).template;
    const p = Object.values(t.findResources('AWS::CodeBuild::Project')).find((r) => r.Properties.Name === 'relverify-rv-linux-x64')!.Properties;
    expect(p.Environment.ImagePullCredentialsType).toBe('SERVICE_ROLE');
    expect(JSON.stringify(p.Environment.Image)).toContain(`builders/rust@sha256:${'7'.repeat(64)}`);
    const boundary = Object.values(t.findResources('AWS::IAM::ManagedPolicy')).find((m) => JSON.stringify(m.Properties).includes('EcrPullTargetImage'))!;
    expect(JSON.stringify(boundary.Properties.PolicyDocument)).toContain('ecr:GetAuthorizationToken');
  });

  it('build role: untrusted-code boundary, writes only its own prefix, nothing of token, results, alerts or other targets', () => {
    const project = projectNamed('linux-x64');
    const roleId = project.Properties.ServiceRole['Fn::GetAtt'][0] as string;
    const role = resources('AWS::IAM::Role')[roleId]!;
    const boundaryId = role.Properties.PermissionsBoundary.Ref as string;
    const boundary = resources('AWS::IAM::ManagedPolicy')[boundaryId]!;
    const boundaryActions = JSON.stringify(boundary.Properties.PolicyDocument);
    expect(boundaryActions).not.toMatch(/secretsmanager|ssm:|sns:|s3:GetObject/);
    const policies = Object.values(resources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId));
    const doc = JSON.stringify(policies.map((p) => p.Properties.PolicyDocument));
    expect(doc).not.toMatch(/secretsmanager|sns:|s3:GetObject|s3:DeleteObject|s3:\*|codebuild:StartBuild|events:PutEvents/);
    const resultsId = logicalIdOf('AWS::S3::Bucket', (r) => r.Properties.ObjectLockEnabled === true);
    expect(doc).not.toContain(resultsId);
    const puts = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s: { Action: string | string[] }) => [s.Action].flat().includes('s3:PutObject'));
    expect(puts).toHaveLength(1);
    expect(JSON.stringify(puts[0].Resource)).toContain('/builds/linux-x64/*');
    expect(JSON.stringify(puts[0].Resource)).not.toMatch(/windows|macos|docker/);
  });

  it('fails synth with clear messages for unpinned images, macOS without a fleet, privileged Windows, reserved env names', () => {
    const base = config().targets[0]!;
    expect(() => validateTarget({ ...base, image: 'rust:1.80' })).toThrow(/target "linux-x64": image "rust:1.80" must be pinned by digest/);
    expect(() => validateTarget({ ...base, platform: 'macos', fleetArn: undefined })).toThrow(
      /macOS builds need a CodeBuild reserved-capacity fleet.*fleetArn/,
    );
    expect(() => validateTarget({ ...base, platform: 'windows', privileged: true })).toThrow(/privileged/);
    expect(() => validateTarget({ ...base, env: { CODEBUILD_X: '1' } })).toThrow(/env.CODEBUILD_X is reserved/);
    expect(() => validateTarget({ ...base, computeType: 'HUGE' })).toThrow(/not a CodeBuild compute type/);
    // and through the stack, even if the schema was bypassed
    const bad = config();
    (bad.targets[0] as { image: string }).image = 'rust:latest';
    expect(() => synth(bad)).toThrow(/must be pinned by digest/);
  });
});

describe('launcher', () => {
  const launcherRole = () => {
    const fnId = logicalIdOf(
      'AWS::Lambda::Function',
      (r) => (r.Properties.Environment as { Variables: Record<string, string> })?.Variables?.RUN_WINDOW_MINUTES !== undefined,
    );
    const fn = resources('AWS::Lambda::Function')[fnId]!;
    return { fnId, fn, roleId: fn.Properties.Role['Fn::GetAtt'][0] as string };
  };

  it('Node.js 22, the config layer, and the resource names it needs', () => {
    const { fn } = launcherRole();
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Architectures).toEqual(['arm64']);
    expect(fn.Properties.Layers).toHaveLength(1);
    expect(fn.Properties.Environment.Variables).toMatchObject({
      RELEASE_VERIFIER_CONFIG_FILE: '/opt/release-verifier/config.json',
      TARGET_PROJECTS: JSON.stringify({
        'linux-x64': 'relverify-rv-linux-x64',
        'linux-docker': 'relverify-rv-linux-docker',
        'windows-x64': 'relverify-rv-windows-x64',
        'macos-arm64': 'relverify-rv-macos-arm64',
      }),
      POWERTOOLS_SERVICE_NAME: 'release-verifier-launcher',
    });
  });

  it('runs on the configured schedule, with retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 4 ? * TUE *)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [launcherRole().fnId, 'Arn'] },
          Input: '{"source":"schedule"}',
          RetryPolicy: { MaximumRetryAttempts: 2 },
          DeadLetterConfig: Match.anyValue(),
        }),
      ],
    });
  });

  it('may start only the target projects, never with a buildspec override', () => {
    const { roleId } = launcherRole();
    const docs = Object.values(resources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const allow = docs.find((s: { Sid?: string }) => s.Sid === 'StartTargetBuilds');
    expect(allow.Effect).toBe('Allow');
    expect(allow.Resource).toHaveLength(4);
    expect(JSON.stringify(allow.Resource)).not.toContain('*');
    // every override CodeBuild has a condition key for is denied (evaluated in test/iam/deny-matrix.test.ts)
    const guard = Object.values(resources('AWS::IAM::ManagedPolicy')).find((p) => JSON.stringify(p.Properties.Roles ?? []).includes(roleId))!;
    const keys = (guard.Properties.PolicyDocument.Statement as { Effect: string; Condition: Record<string, Record<string, unknown>> }[]).map((d) => {
      expect(d.Effect).toBe('Deny');
      return Object.keys(Object.values(d.Condition)[0]!)[0];
    });
    expect(keys).toEqual(
      expect.arrayContaining([
        'codebuild:source.buildspec',
        'codebuild:environment.image',
        'codebuild:environment.privilegedMode',
        'codebuild:source.location',
        'codebuild:environment.type',
        'codebuild:environment.computeType',
        'codebuild:artifacts',
        'codebuild:environment.environmentVariables.name',
      ]),
    );
    expect(JSON.stringify(docs)).not.toMatch(/s3:DeleteObject|codebuild:\*|"s3:\*"/);
    // run records and the ledger, nothing else of the results bucket
    const s3Resources = JSON.stringify(
      docs.filter((d: { Action: string | string[] }) => [d.Action].flat().includes('s3:PutObject')).map((d: { Resource: unknown }) => d.Resource),
    );
    expect(s3Resources).toContain('/runs/*');
    expect(s3Resources).toContain('/ledger/*');
  });
});

describe('checker', () => {
  it('is triggered by any end state of these projects only, with retries and a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.codebuild'],
        'detail-type': ['CodeBuild Build State Change'],
        detail: {
          'project-name': ['relverify-rv-linux-x64', 'relverify-rv-linux-docker', 'relverify-rv-windows-x64', 'relverify-rv-macos-arm64'],
          'build-status': [{ 'anything-but': ['IN_PROGRESS'] }],
        },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 }, DeadLetterConfig: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: Match.anyValue() } });
  });

  it('re-reads builds (BatchGetBuilds on the projects), reads artifacts, large /tmp', () => {
    const fnId = logicalIdOf(
      'AWS::Lambda::Function',
      (r) => (r.Properties.Environment as { Variables: Record<string, string> })?.Variables?.ARTIFACTS_BUCKET !== undefined,
    );
    const fn = resources('AWS::Lambda::Function')[fnId]!;
    expect(fn.Properties.EphemeralStorage).toEqual({ Size: 10240 });
    expect(fn.Properties.Timeout).toBe(900);
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const doc = JSON.stringify(
      Object.values(resources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
        .map((p) => p.Properties.PolicyDocument),
    );
    expect(doc).toContain('codebuild:BatchGetBuilds');
    expect(doc).toContain('/builds/*');
    expect(doc).toContain('secretsmanager:GetSecretValue');
    expect(doc).not.toMatch(/s3:DeleteObject/);
    // StartBuild only for the diff job (test/cdk/diff-job.test.ts), never a target project
    expect(doc).not.toMatch(/"codebuild:StartBuild","Effect":"Allow","Resource":[^}]*Target/);
  });
});

describe('results bucket', () => {
  it('versioned, KMS, public access blocked, TLS only, Object Lock governance with the configured retention', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 400 } } },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    const resultsId = logicalIdOf('AWS::S3::Bucket', (r) => r.Properties.ObjectLockEnabled === true);
    expect(resources('AWS::S3::Bucket')[resultsId]!.DeletionPolicy).toBe('Retain');
    const policy = Object.values(resources('AWS::S3::BucketPolicy')).find((p) => JSON.stringify(p.Properties.Bucket).includes(resultsId))!;
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({ Sid: 'DenyGovernanceBypass', Effect: 'Deny', Action: 's3:BypassGovernanceRetention' }),
      ]),
    );
  });

  it('COMPLIANCE mode when configured (and then no governance-bypass statement)', () => {
    const t = synth(config({ aws: { resultsRetentionDays: 30, objectLockMode: 'COMPLIANCE', artifactRetentionDays: 7 } })).template;
    t.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 30 } } },
    });
    expect(JSON.stringify(t.findResources('AWS::S3::BucketPolicy'))).not.toContain('DenyGovernanceBypass');
  });

  it('the artifacts bucket expires builds after the configured days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 14, Status: 'Enabled' })]) },
    });
  });
});

describe('alerts topic', () => {
  it("KMS-encrypted, SSL-only, email and SMS subscriptions, key and topic usable by this account's CloudWatch alarms only", () => {
    const topicId = Object.keys(resources('AWS::SNS::Topic'))[0]!;
    const topic = resources('AWS::SNS::Topic')[topicId]!;
    const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
    const key = resources('AWS::KMS::Key')[keyId]!;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const fromAlarms = { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: { 'aws:SourceArn': Match.anyValue() } };
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Condition: fromAlarms }),
        ]),
      },
    });
    expect(JSON.stringify(key.Properties.KeyPolicy)).not.toContain('events.amazonaws.com');
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish', Condition: fromAlarms }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'sms', Endpoint: '+14155550100' });
  });
});

describe('alarms', () => {
  const topicRef = () => ({ Ref: Object.keys(resources('AWS::SNS::Topic'))[0] });

  it("dead-man's switch: DaysSinceLastSummary > 8, missing data breaching, within the 7-day look-back limit", () => {
    const alarm = Object.values(resources('AWS::CloudWatch::Alarm')).find((a) => a.Properties.MetricName === 'DaysSinceLastSummary')!.Properties;
    expect(alarm).toMatchObject({
      Namespace: 'ReleaseVerifier',
      Dimensions: [{ Name: 'service', Value: 'release-verifier-deadman' }],
      Threshold: 8,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [topicRef()],
    });
    expect(alarm.Period * alarm.EvaluationPeriods).toBeLessThanOrEqual(7 * 86400);
    // the dead-man Lambda is scheduled more often than the alarm period, and runs once at deploy
    const rate = Object.values(resources('AWS::Events::Rule'))
      .filter((r) => /dead-man/.test(r.Properties.Description))
      .map((r) => r.Properties.ScheduleExpression)
      .find((e) => /^rate/.test(e));
    expect(rate).toBe('rate(3 hours)');
    expect(alarm.Period).toBe(6 * 3600);
    expect(Object.keys(resources('Custom::Trigger'))).toHaveLength(1);
  });

  it('Lambda errors (all four: launcher, checker, dead-man, watch) and DLQ messages alarm to the topic', () => {
    const alarms = Object.values(resources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms.filter((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda')).toHaveLength(4);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && a.Namespace === 'AWS/SQS')).toHaveLength(1);
    for (const a of alarms) expect(a.AlarmActions).toEqual([topicRef()]);
    // the README's monthly estimate prices exactly the alarms the stack has
    expect(alarms).toHaveLength(ESTIMATE_SCENARIO.alarms);
  });
});

describe('access logging and deletion', () => {
  it('both buckets log to a separate SSE-S3 access-log bucket that only S3 logging writes to', () => {
    const logId = logicalIdOf('AWS::S3::Bucket', (r) => JSON.stringify(r.Properties.BucketEncryption ?? {}).includes('AES256'));
    const logged = Object.values(resources('AWS::S3::Bucket')).filter((b) => b.Properties.LoggingConfiguration);
    expect(logged).toHaveLength(2);
    for (const b of logged) expect(b.Properties.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logId });
    const results = Object.values(resources('AWS::S3::Bucket')).find((b) => b.Properties.ObjectLockEnabled === true)!;
    expect(results.Properties.LoggingConfiguration.LogFilePrefix).toBe('results/');
    const policy = Object.values(resources('AWS::S3::BucketPolicy')).find((p) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: logId }))!;
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('logging.s3.amazonaws.com');
  });

  it('deleting the stack retains the evidence and the artifacts (no auto-delete Lambda), removes the rest', () => {
    const json = template.toJSON() as { Resources: Record<string, { Type: string; DeletionPolicy?: string }> };
    const buckets = Object.values(json.Resources).filter((r) => r.Type === 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(3);
    for (const b of buckets) expect(b.DeletionPolicy).toBe('Retain');
    expect(Object.values(json.Resources).filter((r) => r.Type === 'Custom::S3AutoDeleteObjects')).toHaveLength(0);
    const keys = Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::KMS::Key')
      .map((k) => k.DeletionPolicy);
    // results, artifacts and attestation keys are kept (what they encrypt or sign outlives the stack); the alerts key goes
    expect(keys.sort()).toEqual(['Delete', 'Retain', 'Retain', 'Retain']);
  });
});

describe('token secret', () => {
  it('created (placeholder "anonymous") when the config names none; granted to launcher, checker and the watch only', () => {
    const t = synth(config()).template;
    t.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'release-verifier/RV/gitlab-token', SecretString: 'anonymous' });
    const secretId = Object.keys(t.findResources('AWS::SecretsManager::Secret'))[0]!;
    const holders = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'),
    );
    expect(holders).toHaveLength(3); // launcher, checker, watch (test/cdk/watch.test.ts)
    expect(JSON.stringify(holders)).toContain(secretId);
  });

  it('imported by name when the config names one', () => {
    const t = synth(config({ gitlab: { url: 'https://gitlab.com', project: 'group/app', token: { env: 'GITLAB_TOKEN', secretName: 'ops/gitlab' } } })).template;
    expect(Object.keys(t.findResources('AWS::SecretsManager::Secret'))).toHaveLength(0);
    expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).toContain('secret:ops/gitlab-??????');
  });
});

describe('outputs', () => {
  it('names the launcher for run-now, and where reports live', () => {
    for (const o of ['LauncherFunctionName', 'ResultsBucketName', 'AlertsTopicArn', 'GitLabTokenSecretArn'])
      expect(stack.resolve(template.toJSON().Outputs[o])).toBeDefined();
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged error (each acknowledgement carries its reason in code)', () => {
    const { app, stack: s } = synth(config(), true);
    let failure: unknown;
    try {
      app.synth();
    } catch (err) {
      failure = err;
    }
    const errors = Annotations.fromStack(s).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).slice(0, 120)}`)).toEqual([]);
    expect(failure).toBeUndefined();
  });
});
