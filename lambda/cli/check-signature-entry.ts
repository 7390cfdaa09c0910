/**
 * `check-signature` as the CLI starts it (bin/cli.ts). Before the command and its scheme registry
 * load, a large signed PE's Authenticode digest starts hashing in a worker thread (issue 14): that
 * is the longest part of checking a big Windows asset, and it overlaps with loading the rest.
 * A speculative start only: the verification uses it when it checks that same path with that
 * scheme (formats/authenticode/early-digest.ts), and it is stopped when the command ends without.
 */
import { cancelPrefetched, prefetchEarlyDigest } from '../formats/authenticode/early-digest';

/** The last value of `--name VALUE` / `--name=VALUE` before `--`, as parseArgs would take it. */
export function lastFlagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === `--${name}`) value = argv[++i];
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
  }
  return value;
}

export async function run(argv: string[]): Promise<number> {
  const file = lastFlagValue(argv, 'file');
  if (file && lastFlagValue(argv, 'scheme') === 'authenticode') prefetchEarlyDigest(file);
  try {
    const command = await import('./check-signature');
    return await command.run(argv);
  } finally {
    cancelPrefetched();
  }
}
