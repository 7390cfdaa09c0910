/**
 * `release-verifier doctor --stack NAME [--region R] [--config FILE] [--json]`
 *
 * A read-only check of a deployed stack, run by a maintainer with their own credentials right
 * after the first deploy (and any time): stack outputs; alert subscriptions confirmed; the SMS
 * sandbox; the GitLab token secret (never printed); target images by digest; macOS fleets; CodeBuild
 * concurrency quotas; the last completed run; the results bucket's Object Lock; and a dry run of
 * the launcher showing what the next run would build. One line per check — ok, problem or cannot
 * check, with the fix. Nothing is written, started or sent.
 *
 * The deployed configuration comes from the launcher's dry run (what the stack really runs with);
 * `--config FILE` is used when the dry run cannot answer.
 *
 * Exit codes: 0 every check ok, 1 a problem, 2 no problem but something could not be checked,
 * 3 usage error.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { ECRClient } from '@aws-sdk/client-ecr';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { SNSClient } from '@aws-sdk/client-sns';
import { loadConfig } from '../core/config/load';
import { ConfigError, errorMessage } from '../core/errors';
import { neutralise, safeJson } from '../core/text/neutralise';
import { deployedConfig, type DeployedConfig, type DryRunResult } from '../handlers/launcher';
import { cannot, failed, ok, problem, type CheckResult, type CheckStatus, type DoctorContext, type StackFacts } from './doctor/check';
import { smsSandboxChecks, subscriptionChecks } from './doctor/alerts';
import { fleetChecks, imageCheck, quotaCheck } from './doctor/builds';
import { lastRunCheck, objectLockCheck } from './doctor/records';
import { tokenCheck } from './doctor/token';
import { dryRunLines, LAUNCHER_OUTPUT } from './run-now';
import { awsClientOptions, invokeLauncher, launcherClientOptions, parseCommand } from './stack-commands';

/** The outputs the stack defines (lib/release-verifier-stack.ts); doctor needs them all. */
export const REQUIRED_OUTPUTS = [
  'LauncherFunctionName',
  'ResultsBucketName',
  'ArtifactsBucketName',
  'DiffJobProjectName',
  'AlertsTopicArn',
  'GitLabTokenSecretArn',
  'DeadLetterQueueUrl',
  'AttestationKeyArn',
] as const;

const HELP = `usage: release-verifier doctor --stack NAME [--region REGION] [--config FILE] [--json]
  --stack NAME      the deployed CloudFormation stack (default name of \`cdk deploy\`: ReleaseVerifier)
  --region REGION   its region (default: AWS_REGION / your AWS profile's region)
  --config FILE     the configuration you deployed; used only when the launcher's dry run cannot
                    say what the stack runs with
  --json            the checks as JSON on stdout
Read-only: nothing is written, no build is started, no alert is sent. One line per check:
ok, problem or cannot check, with the fix. The AWS actions it needs are listed in the README.
exit codes: 0 all ok, 1 a problem, 2 no problem but something could not be checked, 3 usage error`;

export interface DoctorClients {
  cloudformation?: CloudFormationClient;
  lambda?: LambdaClient;
  sns?: SNSClient;
  secrets?: SecretsManagerClient;
  /** ECR client for an image's region */
  ecr?: (region: string) => ECRClient;
  codebuild?: CodeBuildClient;
  quotas?: ServiceQuotasClient;
  s3?: S3Client;
  fetch?: typeof fetch;
  now?: () => Date;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

export interface DoctorReport {
  stack: string;
  region?: string;
  ok: boolean;
  checks: CheckResult[];
  /** the launcher's dry-run answer (what the next run would build), when it answered */
  dryRun?: DryRunResult;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok          ', problem: 'PROBLEM     ', 'cannot check': 'CANNOT CHECK' };

async function describeStack(cfn: CloudFormationClient, name: string): Promise<{ facts?: StackFacts; check: CheckResult }> {
  try {
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    if (!stack) return { check: problem('stack', `stack ${name} not found`, 'deploy it (npx cdk deploy), or pass --region / --stack') };
    const outputs: Record<string, string> = {};
    for (const o of stack.Outputs ?? []) if (o.OutputKey && o.OutputValue !== undefined) outputs[o.OutputKey] = o.OutputValue;
    const facts: StackFacts = { name, status: stack.StackStatus ?? 'UNKNOWN', outputs };
    const missing = REQUIRED_OUTPUTS.filter((k) => !outputs[k]);
    if (missing.length)
      return {
        facts,
        check: problem(
          'stack',
          `stack ${name} (${facts.status}) lacks the outputs ${missing.join(', ')}`,
          'is it a release-verifier stack, fully deployed with this version? npx cdk deploy',
        ),
      };
    if (!/_COMPLETE$/.test(facts.status) || /ROLLBACK|DELETE/.test(facts.status)) {
      return {
        facts,
        check: problem(
          'stack',
          `stack ${name} is ${facts.status}`,
          'finish or fix the deployment (npx cdk deploy); see the stack events in the CloudFormation console',
        ),
      };
    }
    return { facts, check: ok('stack', `stack ${name} (${facts.status}): all ${REQUIRED_OUTPUTS.length} outputs present`) };
  } catch (err) {
    if (/does not exist/i.test(errorMessage(err)))
      return { check: problem('stack', `stack ${name} does not exist in this region`, 'deploy it (npx cdk deploy), or pass --region') };
    return { check: failed('stack', `describing stack ${name}`, 'cloudformation:DescribeStacks', err) };
  }
}

async function launcherDryRun(lambda: LambdaClient, stack: StackFacts): Promise<{ answer?: DryRunResult; check: CheckResult }> {
  const id = 'dry-run';
  const fn = stack.outputs[LAUNCHER_OUTPUT];
  if (!fn) return { check: cannot(id, `the stack has no ${LAUNCHER_OUTPUT} output`, 'redeploy the stack (cdk deploy)') };
  let text: string;
  try {
    const answer = await invokeLauncher(lambda, fn, { source: 'doctor', dryRun: true });
    text = answer.text;
    if (answer.functionError) {
      return {
        check: problem(
          id,
          `the launcher failed the dry run: ${text.slice(0, 500)}`,
          "read the launcher's log group in CloudWatch Logs; redeploy if its configuration layer is missing",
        ),
      };
    }
  } catch (err) {
    return { check: failed(id, `invoking ${fn} for a dry run`, 'lambda:InvokeFunction on the launcher', err) };
  }
  let answer: DryRunResult;
  try {
    answer = JSON.parse(text) as DryRunResult;
    if (answer?.dryRun !== true) throw new Error('not a dry-run answer');
  } catch {
    return {
      check: problem(
        id,
        `the launcher did not answer a dry run (a stack older than this CLI?): ${text.slice(0, 300)}`,
        'redeploy the stack with this version (npx cdk deploy)',
      ),
    };
  }
  if (answer.error)
    return {
      answer,
      check: problem(
        id,
        `the release could not be resolved — a run now would send an INCOMPLETE alert: ${answer.error}`,
        'fix what the message says (token, project, network), then run doctor again',
      ),
    };
  const lines = dryRunLines(answer);
  return { answer, check: ok(id, lines.join('\n')) };
}

export async function doctor(options: { stack: string; region?: string; configFile?: string }, clients: DoctorClients = {}): Promise<DoctorReport> {
  const region = options.region;
  // connection/request timeouts and bounded attempts on every client (stack-commands.ts)
  const base = awsClientOptions(region);
  const cfn = clients.cloudformation ?? new CloudFormationClient(base);
  const checks: CheckResult[] = [];
  const { facts, check } = await describeStack(cfn, options.stack);
  checks.push(check);
  if (!facts) {
    checks.push(cannot('others', 'nothing else can be checked without the stack', check.fix ?? 'fix the stack line first'));
    return { stack: options.stack, region, ok: false, checks };
  }

  const dry = await launcherDryRun(clients.lambda ?? new LambdaClient(launcherClientOptions(region)), facts);
  let config: DeployedConfig | null = dry.answer?.config ?? null;
  let configSource = "the launcher's dry run";
  if (!config && options.configFile) {
    try {
      config = deployedConfig(loadConfig(options.configFile));
      configSource = `${options.configFile} (the launcher did not answer)`;
    } catch (err) {
      configSource = `the launcher did not answer and ${options.configFile} is invalid: ${err instanceof ConfigError ? err.userMessage : errorMessage(err)}`;
    }
  } else if (!config) {
    configSource = 'the launcher did not answer the dry run and no --config was given';
  }
  const ctx: DoctorContext = { stack: facts, region, config, configSource, now: (clients.now ?? (() => new Date()))() };

  const sns = clients.sns ?? new SNSClient(base);
  const ecrClients = new Map<string, ECRClient>();
  const ecrFor = clients.ecr ?? ((r: string) => ecrClients.get(r) ?? ecrClients.set(r, new ECRClient(awsClientOptions(r))).get(r)!);
  const s3 = clients.s3 ?? new S3Client(base);
  // a check that fails unexpectedly is "cannot check", never a crash that hides the other lines
  const guard = (id: string, work: () => Promise<CheckResult | CheckResult[]>) =>
    work().then(
      (r) => (Array.isArray(r) ? r : [r]),
      (err: unknown) => [cannot(id, `the check failed: ${errorMessage(err)}`, 'report this; the other lines stand')],
    );
  const groups = await Promise.all([
    guard('subscriptions', () => subscriptionChecks(sns, ctx)),
    guard('sms-sandbox', () => smsSandboxChecks(sns, ctx)),
    guard('token-secret', () => tokenCheck(clients.secrets ?? new SecretsManagerClient(base), ctx, clients.fetch)),
    guard('images', async () =>
      config
        ? Promise.all(config.targets.map((t) => imageCheck(ecrFor, t)))
        : cannot('images', `the targets are unknown (${configSource})`, 'fix the launcher dry run, or pass --config FILE'),
    ),
    guard('fleets', () => fleetChecks(clients.codebuild ?? new CodeBuildClient(base), ctx)),
    guard('codebuild-quota', () => quotaCheck(clients.quotas ?? new ServiceQuotasClient(base), ctx)),
    guard('last-run', () => lastRunCheck(s3, ctx)),
    guard('object-lock', () => objectLockCheck(s3, ctx)),
  ]);
  checks.push(...groups.flat(), dry.check);
  return { stack: options.stack, region, ok: checks.every((c) => c.status === 'ok'), checks, ...(dry.answer ? { dryRun: dry.answer } : {}) };
}

export function exitCodeOf(report: DoctorReport): number {
  if (report.checks.some((c) => c.status === 'problem')) return 1;
  if (report.checks.some((c) => c.status === 'cannot check')) return 2;
  return 0;
}

/** One line per check (a dry run's plan continues on indented lines); text from AWS and the forge neutralised. */
export function renderLines(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    const [first, ...rest] = c.detail.split('\n').map(neutralise);
    lines.push(`${LABEL[c.status]}  ${c.id}: ${first}${c.fix ? ` — fix: ${neutralise(c.fix)}` : ''}`);
    for (const r of rest) lines.push(`              ${r}`);
  }
  const counts = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push('', `${report.checks.length} checks: ${counts('ok')} ok, ${counts('problem')} problem(s), ${counts('cannot check')} cannot check`);
  return lines.join('\n') + '\n';
}

export async function run(argv: string[], clients: DoctorClients = {}): Promise<number> {
  const out = clients.out ?? process.stdout;
  const err = clients.err ?? process.stderr;
  const parsed = parseCommand<{ stack?: string; region?: string; config?: string; json: boolean }>(
    argv,
    { stack: { type: 'string' }, region: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean', default: false } },
    { name: 'doctor', help: HELP, out, err },
  );
  if (typeof parsed === 'number') return parsed;
  const values = parsed;
  if (!values.stack) {
    err.write(`release-verifier doctor: --stack is required\n\n${HELP}\n`);
    return 3;
  }
  const report = await doctor({ stack: values.stack, region: values.region, configFile: values.config }, clients);
  out.write(values.json ? safeJson(report, 2) + '\n' : renderLines(report));
  return exitCodeOf(report);
}
