/**
 * `release-verifier` command line: dispatches to one module per command (lambda/cli/), loaded
 * lazily so that `check-signature` does not pay for the AWS SDK.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  verify: { summary: 'rebuild the latest (or --release) GitLab release and compare it with the published assets', load: () => import('../lambda/cli/verify') },
  'check-signature': { summary: 'verify one file\'s signature against a pinned key or certificate', load: () => import('../lambda/cli/check-signature') },
  compare: { summary: 'compare a published artifact with a rebuilt one (signature-transparent)', load: () => import('../lambda/cli/compare') },
  'run-now': { summary: 'start a run of the deployed stack now (AWS)', load: () => import('../lambda/cli/run-now') },
};

function usage(): string {
  return [
    'usage: release-verifier <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(16)} ${c.summary}`),
    '',
    'Run `release-verifier <command> --help` for its options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 3;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`release-verifier: unknown command "${name}"\n\n${usage()}\n`);
    return 3;
  }
  const mod = await command.load();
  return mod.run(rest);
}
