/**
 * Usage errors exit 3 in every command (issue 9 item 8): an unknown flag or a flag without its
 * value, through the real entry point (bin/release-verifier.mjs) as a user runs it; `--version`
 * prints package.json's version and exits 0.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandNames } from '../../bin/cli';

const CLI = fileURLToPath(new URL('../../bin/release-verifier.mjs', import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // no AWS or GitLab credentials reach these runs: a usage error must come before any of that
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const CASES: Array<[string, string[]]> = [
  ['no command', []],
  ['unknown command', ['verfy']],
  ['unknown top-level option', ['--bogus']],
  ['verify: unknown flag', ['verify', '--config', 'x.yaml', '--bogus']],
  ['verify: missing value', ['verify', '--config']],
  ['verify: no --config', ['verify']],
  ['check-signature: unknown flag', ['check-signature', '--bogus']],
  ['check-signature: missing value', ['check-signature', '--scheme', 'minisign', '--file']],
  ['compare: unknown flag', ['compare', 'a', 'b', '--bogus']],
  ['compare: missing value', ['compare', 'a', 'b', '--method']],
  ['run-now: unknown flag', ['run-now', '--stack', 'S', '--bogus']],
  ['run-now: missing value', ['run-now', '--stack']],
];

describe.concurrent('usage errors exit 3 in every command', () => {
  it.each(CASES)(
    '%s',
    async (_what, args) => {
      const r = await cli(args);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/usage: release-verifier|unknown|required|expected|must|argument|option/i);
    },
    60_000,
  );
});

describe.concurrent('every command, including ones added later, exits 3 on an unknown flag', () => {
  it.each(commandNames())(
    '%s --no-such-flag',
    async (name) => {
      const r = await cli([name, '--no-such-flag']);
      expect(r.code, r.stderr).toBe(3);
    },
    60_000,
  );
});

describe('--version', () => {
  it('prints the version in package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.stderr).toBe('');
  }, 60_000);
});
