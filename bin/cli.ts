/**
 * `release-verifier` command line: dispatches to one module per command (lambda/cli/), loaded
 * lazily so that `check-signature` does not pay for the AWS SDK.
 *
 * Exit code 3 is a usage error in every command (unknown command or flag, missing value).
 * `--version` prints the package version and imports nothing else.
 */
import { readFileSync } from 'node:fs';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  verify: { summary: 'rebuild the latest (or --release) GitLab release and compare it with the published assets', load: () => import('../lambda/cli/verify') },
  'check-signature': { summary: "verify one file's signature against a pinned key or certificate", load: () => import('../lambda/cli/check-signature-entry') },
  'verify-attestation': {
    summary: "check a run's signed attestation (DSSE, SLSA VSA) and print its result",
    load: () => import('../lambda/cli/verify-attestation'),
  },
  compare: { summary: 'compare a published artifact with a rebuilt one (signature-transparent)', load: () => import('../lambda/cli/compare') },
  'run-now': { summary: 'start a run of the deployed stack now (AWS)', load: () => import('../lambda/cli/run-now') },
  doctor: {
    summary: 'check a deployed stack, read-only: subscriptions, token, images, fleets, quotas, last run, Object Lock, a dry run',
    load: () => import('../lambda/cli/doctor'),
  },
};

/** The command names (tests run every one of them with a bad flag). */
export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

function usage(): string {
  return [
    'usage: release-verifier <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`),
    '',
    'Run `release-verifier <command> --help` for its options; `release-verifier --version` prints the version.',
  ].join('\n');
}

/** The version in package.json (read, not imported: no JSON import attributes needed on Node 20). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (!name) {
    process.stderr.write(`release-verifier: no command given\n\n${usage()}\n`);
    return 3;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`release-verifier: unknown ${name.startsWith('-') ? 'option' : 'command'} ${JSON.stringify(name)}\n\n${usage()}\n`);
    return 3;
  }
  const mod = await command.load();
  return mod.run(rest);
}
