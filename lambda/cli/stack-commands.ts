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
export function parseCommand<V>(argv: string[], options: Options, command: { name: string; help: string; out: NodeJS.WritableStream; err: NodeJS.WritableStream }): V | number {
  try {
    const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { ...options, help: { type: 'boolean', short: 'h', default: false } } });
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
export async function invokeLauncher(lambda: LambdaClient, functionName: string, payload: Record<string, unknown>): Promise<{ text: string; functionError?: string }> {
  const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
  return response.FunctionError ? { text, functionError: response.FunctionError } : { text };
}
