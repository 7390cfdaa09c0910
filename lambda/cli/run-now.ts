/**
 * `release-verifier run-now --stack NAME [--region R] [--release TAG] [--fresh] [--dry-run]`
 *
 * Starts a run of the deployed stack now: finds the launcher function in the stack's outputs
 * (LauncherFunctionName) and invokes it synchronously with the caller's AWS credentials. The
 * launcher answers once the builds are started; the verdict arrives later by SNS (and in the
 * results bucket). Without --fresh, a launch of the same release within the run window joins the
 * run already started instead of building again.
 *
 * `--dry-run`: the launcher resolves the release and plans the run as it would, and answers what
 * the run would build (release, commit, targets, images, expected assets) — it writes nothing to
 * S3, starts no build and sends no alert.
 *
 * Exit codes: 0 launched (or joined; dry run: the release resolved), 1 the launcher failed or the
 * run could not be planned, 3 usage error or the stack/function could not be found.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { errorMessage } from '../core/errors';
import type { DryRunResult, LaunchResult } from '../handlers/launcher';
import { neutralise, safeJson } from '../core/text/neutralise';
import { awsClientOptions, invokeLauncher, launcherClientOptions, parseCommand } from './stack-commands';

export const LAUNCHER_OUTPUT = 'LauncherFunctionName';

const HELP = `usage: release-verifier run-now --stack NAME [--region REGION] [--release TAG] [--fresh] [--dry-run]
  --stack NAME      the deployed CloudFormation stack (default name of \`cdk deploy\`: ReleaseVerifier)
  --region REGION   its region (default: AWS_REGION / your AWS profile's region)
  --release TAG     verify this release instead of the configured one
  --fresh           start a new run even if this release was launched within the run window
  --function NAME   invoke this launcher function directly (skips the stack lookup)
  --dry-run         resolve the release and show what the run would build; writes nothing,
                    starts nothing, sends nothing
credentials: the usual AWS SDK chain (AWS_PROFILE, environment, SSO…); needs
cloudformation:DescribeStacks on the stack and lambda:InvokeFunction on the launcher.
exit codes: 0 launched (dry run: release resolved), 1 launch failed or release not resolved,
3 usage error or stack/function not found`;

export interface RunNowClients {
  cloudformation?: CloudFormationClient;
  lambda?: LambdaClient;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

export async function run(argv: string[], clients: RunNowClients = {}): Promise<number> {
  const out = clients.out ?? process.stdout;
  const err = clients.err ?? process.stderr;
  const parsed = parseCommand<{ stack?: string; region?: string; release?: string; fresh: boolean; 'dry-run': boolean; function?: string }>(
    argv,
    {
      stack: { type: 'string' },
      region: { type: 'string' },
      release: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      function: { type: 'string' },
    },
    { name: 'run-now', help: HELP, out, err },
  );
  if (typeof parsed === 'number') return parsed;
  const values = parsed;
  if (!values.stack && !values.function) {
    err.write(`release-verifier run-now: --stack is required\n\n${HELP}\n`);
    return 3;
  }
  const region = values.region;
  const cfn = clients.cloudformation ?? new CloudFormationClient(awsClientOptions(region));
  const lambda = clients.lambda ?? new LambdaClient(launcherClientOptions(region));

  const functionName = values.function || (await launcherOfStack(cfn, values.stack, err));
  if (typeof functionName === 'number') return functionName;

  const dry = values['dry-run'] === true;
  const payload = {
    source: 'run-now',
    ...(values.release ? { tag: values.release } : {}),
    ...(values.fresh ? { fresh: true } : {}),
    ...(dry ? { dryRun: true } : {}),
  };
  err.write(`invoking ${functionName}${region ? ` in ${region}` : ''}${dry ? ' (dry run)' : ''} …\n`);
  let answer: Awaited<ReturnType<typeof invokeLauncher>>;
  try {
    answer = await invokeLauncher(lambda, functionName, payload);
  } catch (e) {
    const name = (e as { name?: string }).name;
    err.write(`release-verifier run-now: cannot invoke ${functionName}: ${errorMessage(e)}\n`);
    return name === 'ResourceNotFoundException' ? 3 : 1;
  }
  const { text } = answer;
  if (answer.functionError) {
    err.write(`release-verifier run-now: the launcher failed: ${neutralise(launcherErrorMessage(text))}\n`);
    return 1;
  }
  if (dry) return reportDryRun(text, out, err);
  return reportLaunch(text, out, err);
}

/** The launcher function's name from the stack's outputs, or the exit code after saying why there is none. */
async function launcherOfStack(cfn: CloudFormationClient, stackName: string | undefined, err: NodeJS.WritableStream): Promise<string | number> {
  try {
    const described = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = described.Stacks?.[0];
    const functionName = stack?.Outputs?.find((o) => o.OutputKey === LAUNCHER_OUTPUT)?.OutputValue;
    if (!stack) throw new Error(`stack ${stackName} not found`);
    if (!functionName) {
      err.write(
        `release-verifier run-now: stack ${stackName} (${stack.StackStatus}) has no ${LAUNCHER_OUTPUT} output — is it a release-verifier stack, fully deployed?\n`,
      );
      return 3;
    }
    return functionName;
  } catch (e) {
    err.write(`release-verifier run-now: cannot read stack ${stackName}: ${errorMessage(e)}\n`);
    return 3;
  }
}

/** "errorType: errorMessage" from the launcher's error answer, or the raw text when it is not that JSON. */
function launcherErrorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errorType?: string; errorMessage?: string };
    return `${parsed.errorType ?? 'Error'}: ${parsed.errorMessage ?? text}`;
  } catch {
    return text;
  }
}

/** What a real launch answered: the JSON on stdout, the started builds on stderr. */
function reportLaunch(text: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  let result: LaunchResult;
  try {
    result = JSON.parse(text) as LaunchResult;
  } catch {
    err.write(`release-verifier run-now: unexpected launcher answer: ${neutralise(text.slice(0, 500))}\n`);
    return 1;
  }
  out.write(safeJson(result, 2) + '\n');
  if (result.failedVerdict) {
    err.write(`run ${result.runId} could not be planned (${result.failedVerdict}); the alert explains why\n`);
    return 1;
  }
  const lines = [
    `run ${result.runId}${result.release ? ` — release ${result.release}` : ''}${result.planCreated ? '' : ' (joined the run already planned in this window; --fresh starts a new one)'}`,
    ...result.started.map((s) => `  started ${s.target}: ${s.buildId}`),
    ...result.alreadyStarted.map((t) => `  already started ${t}`),
    ...result.notStarted.map((n) => `  NOT started ${n.target}: ${n.reason}`),
    'the verdict arrives by SNS when the last build has been checked; records: s3://<ResultsBucketName>/runs/' + result.runId + '/',
  ];
  // release tags and reasons come from the forge: neutralised
  err.write(lines.map(neutralise).join('\n') + '\n');
  return 0;
}

/** What the dry run answered: the JSON on stdout, a readable plan on stderr. */
function reportDryRun(text: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  let answer: DryRunResult;
  try {
    answer = JSON.parse(text) as DryRunResult;
    if (answer?.dryRun !== true) throw new Error('not a dry-run answer');
  } catch {
    // a launcher that does not know dry runs would have launched: say so loudly
    err.write(
      `release-verifier run-now: the launcher did not answer a dry run (is the stack older than this CLI? redeploy): ${neutralise(text.slice(0, 500))}\n`,
    );
    return 1;
  }
  out.write(safeJson(answer, 2) + '\n');
  err.write(dryRunLines(answer).map(neutralise).join('\n') + '\n');
  return answer.error ? 1 : 0;
}

/** A dry-run answer as lines for a human (doctor prints them too). */
export function dryRunLines(answer: DryRunResult): string[] {
  if (answer.error) return [`dry run: the release could not be resolved — a run now would send an INCOMPLETE alert: ${answer.error}`];
  const r = answer.release;
  const lines = [
    `dry run: nothing was written or started. A run now would verify release ${r?.tag ?? '?'}${r?.name && r.name !== r.tag ? ` (${r.name})` : ''} at commit ${r?.commitSha ?? '?'}${r && r.tagCommitSha !== r.commitSha ? ` (the tag points to ${r.tagCommitSha})` : ''}`,
    answer.planExists
      ? `  run ${answer.runId} is already planned in this window: a launch now joins it (--fresh starts a new one)`
      : `  run id ${answer.runId ?? '(new, --fresh)'}`,
  ];
  for (const t of answer.targets) {
    lines.push(`  ${t.name}: image ${t.image}${t.alreadyStarted ? ' (already started in this run)' : ''}`);
    for (const a of t.artifacts) lines.push(`    ${a.path} → asset ${a.asset} (${a.source}, signature ${a.signature})`);
  }
  for (const f of answer.findings) lines.push(`  [${f.level}] ${f.code}: ${f.message}`);
  return lines;
}
