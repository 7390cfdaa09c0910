/**
 * What the commands that talk to a deployed stack (`run-now`, `doctor`) share: argument parsing
 * with the CLI's usage contract (a usage error exits 3, `--help` prints and exits 0) and a
 * synchronous invocation of the launcher.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { errorMessage } from '../core/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv` strictly (no positionals). Returns the values, or the exit code when the command
 * is done: 3 after a usage error (message and help on `err`), 0 after `--help` (help on `out`).
 */
export function parseCommand<V>(
  argv: string[],
  options: Options,
  command: { name: string; help: string; out: NodeJS.WritableStream; err: NodeJS.WritableStream },
): V | number {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
    });
    if (values.help) {
      command.out.write(command.help + '\n');
      return 0;
    }
    return values as V;
  } catch (e) {
    command.err.write(`release-verifier ${command.name}: ${errorMessage(e)}\n\n${command.help}\n`);
    return 3;
  }
}

/** The launcher's synchronous answer: its payload text, and the function error if it failed. */
export async function invokeLauncher(
  lambda: LambdaClient,
  functionName: string,
  payload: Record<string, unknown>,
): Promise<{ text: string; functionError?: string }> {
  const response = await lambda.send(
    new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
  );
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  return response.FunctionError ? { text, functionError: response.FunctionError } : { text };
}

/** Bounds on every AWS call the stack commands make: the SDK's defaults wait on a silent
 * endpoint with no deadline at all (no connection or request timeout). */
export const AWS_CONNECTION_TIMEOUT_MS = 10_000;
export const AWS_REQUEST_TIMEOUT_MS = 30_000;
/** a synchronous launcher invoke lasts as long as the launcher may (15 minutes: lib/release-verifier-stack.ts) */
export const LAUNCHER_INVOKE_TIMEOUT_MS = 16 * 60_000;

/**
 * Options for an AWS SDK v3 client of the CLI: region (if given), connection and request
 * timeouts, and a bounded number of attempts. The launcher's client is not retried (`attempts: 1`):
 * a retried synchronous invoke would start the launcher a second time.
 */
export function awsClientOptions(region?: string, opts: { requestTimeoutMs?: number; attempts?: number } = {}) {
  return {
    ...(region ? { region } : {}),
    maxAttempts: opts.attempts ?? 3,
    // throwOnRequestTimeout: without it this SDK only logs a warning when requestTimeout passes
    requestHandler: {
      connectionTimeout: AWS_CONNECTION_TIMEOUT_MS,
      requestTimeout: opts.requestTimeoutMs ?? AWS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
}

/** The client options for the launcher's synchronous invoke (doctor's dry run, run-now). */
export const launcherClientOptions = (region?: string) => awsClientOptions(region, { requestTimeoutMs: LAUNCHER_INVOKE_TIMEOUT_MS, attempts: 1 });
