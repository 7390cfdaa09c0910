/**
 * `release-verifier run-now --stack NAME [--region R] [--release TAG] [--fresh]`
 *
 * Starts a run of the deployed stack now: finds the launcher function in the stack's outputs
 * (LauncherFunctionName) and invokes it synchronously with the caller's AWS credentials. The
 * launcher answers once the builds are started; the verdict arrives later by SNS (and in the
 * results bucket). Without --fresh, a launch of the same release within the run window joins the
 * run already started instead of building again.
 *
 * Exit codes: 0 launched (or joined), 1 the launcher failed or the run could not be planned,
 * 3 usage error or the stack/function could not be found.
 */
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { errorMessage } from '../core/errors';
import type { LaunchResult } from '../handlers/launcher';
import { neutralise, safeJson } from '../core/text/neutralise';

export const LAUNCHER_OUTPUT = 'LauncherFunctionName';

const HELP = `usage: release-verifier run-now --stack NAME [--region REGION] [--release TAG] [--fresh]
  --stack NAME      the deployed CloudFormation stack (default name of \`cdk deploy\`: ReleaseVerifier)
  --region REGION   its region (default: AWS_REGION / your AWS profile's region)
  --release TAG     verify this release instead of the configured one
  --fresh           start a new run even if this release was launched within the run window
  --function NAME   invoke this launcher function directly (skips the stack lookup)
credentials: the usual AWS SDK chain (AWS_PROFILE, environment, SSO…); needs
cloudformation:DescribeStacks on the stack and lambda:InvokeFunction on the launcher.
exit codes: 0 launched, 1 launch failed, 3 usage error or stack/function not found`;

export interface RunNowClients {
  cloudformation?: CloudFormationClient;
  lambda?: LambdaClient;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

export async function run(argv: string[], clients: RunNowClients = {}): Promise<number> {
  const out = clients.out ?? process.stdout;
  const err = clients.err ?? process.stderr;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        stack: { type: 'string' },
        region: { type: 'string' },
        release: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        function: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    err.write(`release-verifier run-now: ${errorMessage(e)}\n\n${HELP}\n`);
    return 3;
  }
  if (values.help) {
    out.write(HELP + '\n');
    return 0;
  }
  if (!values.stack && !values.function) {
    err.write(`release-verifier run-now: --stack is required\n\n${HELP}\n`);
    return 3;
  }
  const region = values.region;
  const cfn = clients.cloudformation ?? new CloudFormationClient(region ? { region } : {});
  const lambda = clients.lambda ?? new LambdaClient(region ? { region } : {});

  let functionName = values.function;
  if (!functionName) {
    try {
      const described = await cfn.send(new DescribeStacksCommand({ StackName: values.stack }));
      const stack = described.Stacks?.[0];
      functionName = stack?.Outputs?.find((o) => o.OutputKey === LAUNCHER_OUTPUT)?.OutputValue;
      if (!stack) throw new Error(`stack ${values.stack} not found`);
      if (!functionName) {
        err.write(`release-verifier run-now: stack ${values.stack} (${stack.StackStatus}) has no ${LAUNCHER_OUTPUT} output — is it a release-verifier stack, fully deployed?\n`);
        return 3;
      }
    } catch (e) {
      err.write(`release-verifier run-now: cannot read stack ${values.stack}: ${errorMessage(e)}\n`);
      return 3;
    }
  }

  const payload = { source: 'run-now', ...(values.release ? { tag: values.release } : {}), ...(values.fresh ? { fresh: true } : {}) };
  err.write(`invoking ${functionName}${region ? ` in ${region}` : ''} …\n`);
  let response;
  try {
    response = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  } catch (e) {
    const name = (e as { name?: string }).name;
    err.write(`release-verifier run-now: cannot invoke ${functionName}: ${errorMessage(e)}\n`);
    return name === 'ResourceNotFoundException' ? 3 : 1;
  }
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  if (response.FunctionError) {
    let message = text;
    try {
      const parsed = JSON.parse(text) as { errorType?: string; errorMessage?: string };
      message = `${parsed.errorType ?? 'Error'}: ${parsed.errorMessage ?? text}`;
    } catch {
      /* keep the raw text */
    }
    err.write(`release-verifier run-now: the launcher failed: ${neutralise(message)}\n`);
    return 1;
  }
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
