/**
 * The watch in the stack (lib/constructs/watch-schedule.ts): its own small Lambda on `watch.schedule`,
 * a least-privilege role (token, two exact result keys, invoke the launcher, publish), a DLQ and an
 * Errors alarm like the other functions, cdk-nag clean; absent when `watch.enabled` is false.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import type { Config, ConfigInput } from '../../lambda/core/config/schema';
import { ReleaseVerifierStack } from '../../lib/release-verifier-stack';

const IMG = `public.ecr.aws/docker/library/rust@sha256:${'5'.repeat(64)}`;

function config(overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.com', project: 'group/app' },
    alerts: { emails: ['ops@example.com'] },
    targets: [
      {
        name: 'linux-x64',
        image: IMG,
        command: 'make release',
        artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: { scheme: 'none', reason: 'test asset' } }],
      },
    ],
    ...overrides,
  });
}

function synth(cfg: Config, nag = false) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseVerifierStack(app, 'RV', { config: cfg });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, any> };
const byService = (t: Template, service: string) =>
  Object.entries(t.findResources('AWS::Lambda::Function')).find(
    ([, r]) => (r as Resource).Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service,
  );

describe('watch: the stack', () => {
  const { stack, template } = synth(config());
  const [watchId, watchFn] = byService(template, 'release-verifier-watch')!;
  const [launcherId] = byService(template, 'release-verifier-launcher')!;
  const roleId = (watchFn as Resource).Properties.Role['Fn::GetAtt'][0] as string;
  const statements = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify((p as Resource).Properties.Roles).includes(roleId))
    .flatMap((p) => (p as Resource).Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[]);
  const resolved = (v: unknown) => JSON.stringify(stack.resolve(v));

  it('a small, short Lambda that knows the launcher, the bucket, the topic and the token', () => {
    const p = (watchFn as Resource).Properties;
    expect(p.MemorySize).toBe(256);
    expect(p.Timeout).toBe(120);
    expect(p.Environment.Variables.LAUNCHER_FUNCTION_NAME).toEqual({ Ref: launcherId });
    for (const v of ['RESULTS_BUCKET', 'ALERTS_TOPIC_ARN', 'GITLAB_TOKEN_SECRET', 'STALE_RUN_MINUTES']) expect(p.Environment.Variables[v], v).toBeDefined();
  });

  it('runs on the default schedule, rate(1 hour), with retries and the dead-letter queue; the weekly schedule stays', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
    const watchRule = rules.filter((r) => JSON.stringify(r.Properties.Targets ?? []).includes(watchId));
    expect(watchRule).toHaveLength(1);
    expect(watchRule[0]!.Properties.ScheduleExpression).toBe('rate(1 hour)');
    expect(watchRule[0]!.Properties.Targets[0].RetryPolicy).toEqual({ MaximumRetryAttempts: 2 });
    expect(watchRule[0]!.Properties.Targets[0].DeadLetterConfig).toBeDefined();
    expect(rules.some((r) => r.Properties.ScheduleExpression === 'cron(0 3 ? * MON *)' && JSON.stringify(r.Properties.Targets).includes(launcherId))).toBe(
      true,
    );
    const invokeConfigs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')) as Resource[];
    expect(invokeConfigs.some((c) => JSON.stringify(c.Properties.FunctionName).includes(watchId) && c.Properties.DestinationConfig?.OnFailure)).toBe(true);
  });

  it('least privilege: exactly these actions, the two result keys by name, the launcher unqualified, no CodeBuild', () => {
    const of = (action: string) =>
      statements
        .filter((s) => [s.Action].flat().includes(action))
        .map((s) => resolved(s.Resource))
        .join(' ');
    const actions = [...new Set(statements.flatMap((s) => [s.Action].flat()))].sort();
    expect(actions, JSON.stringify(actions)).toEqual(
      [
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'lambda:InvokeFunction',
        's3:GetObject',
        's3:ListBucket',
        's3:PutObject',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'sns:Publish',
        // the on-failure destination (Lambda sends a failed check's event to the dead-letter queue as the function)
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ].sort(),
    );
    expect(of('sqs:SendMessage')).toContain('DeadLetters');
    expect(of('s3:GetObject')).toContain('/runs/index.json');
    expect(of('s3:GetObject')).toContain('/watch/state.json');
    expect(of('s3:GetObject')).not.toMatch(/\*/);
    expect(of('s3:PutObject')).toContain('/watch/state.json');
    expect(of('s3:PutObject')).not.toMatch(/runs\/|ledger\/|\*/);
    expect(of('lambda:InvokeFunction')).toContain(launcherId);
    expect(of('lambda:InvokeFunction')).not.toContain(':*');
    expect(statements.every((s) => !s.Condition)).toBe(true);
  });

  it('an Errors alarm to the alerts topic, like the other functions', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    expect(
      alarms.some(
        (a) => a.Properties.MetricName === 'Errors' && JSON.stringify(a.Properties.Dimensions).includes(watchId) && a.Properties.AlarmActions?.length === 1,
      ),
    ).toBe(true);
  });

  it('watch.schedule is honoured; watch.enabled: false deploys no watch at all', () => {
    const half = synth(config({ watch: { schedule: 'rate(30 minutes)' } as never })).template;
    const [halfId] = byService(half, 'release-verifier-watch')!;
    const rule = (Object.values(half.findResources('AWS::Events::Rule')) as Resource[]).find((r) => JSON.stringify(r.Properties.Targets).includes(halfId))!;
    expect(rule.Properties.ScheduleExpression).toBe('rate(30 minutes)');
    const off = synth(config({ watch: { enabled: false } as never })).template;
    expect(byService(off, 'release-verifier-watch')).toBeUndefined();
    expect(Object.keys(off.toJSON().Resources).filter((id) => id.startsWith('Watch'))).toEqual([]);
  });

  it('rejects a schedule that is not an EventBridge expression (strict like the rest)', () => {
    expect(() => config({ watch: { schedule: 'hourly' } as never })).toThrow(/EventBridge expression/);
    expect(() => config({ watch: { every: 'rate(1 hour)' } as never })).toThrow(/every/);
  });

  it('cdk-nag AwsSolutions: no unacknowledged error with the watch', () => {
    const { app, stack: s } = synth(config(), true);
    app.synth();
    const errors = Annotations.fromStack(s).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).slice(0, 120)}`)).toEqual([]);
  });
});
