/**
 * `check-signature --cleartext` (review finding): a VALID answer for a cleartext-signed file with
 * text outside the signed block says that text is not covered — a warning on stderr and
 * `unsignedTextOutsideBlock: true` with --json — because `sha256sum -c` would read those lines too.
 * The file is signed by gpg --clearsign, and gpg itself agrees the signature is good.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpgGenKey, gpgHome, type GpgHome } from '../formats/support/signing-fixtures';
import { status, toolsAvailable } from '../support/tools';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, [BIN, 'check-signature', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe.skipIf(!toolsAvailable('gpg', 'gpgconf'))('check-signature --cleartext: text outside the signed block', () => {
  let dir: string;
  let h: GpgHome;
  let fpr: string;
  let clean: string;
  let padded: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-cleartext-'));
    h = gpgHome(dir, 'gnupg');
    const key = gpgGenKey(h, 'Rel <rel@example.org>');
    fpr = key.fingerprint;
    writeFileSync(join(dir, 'key.asc'), key.armoredPublic);
    writeFileSync(join(dir, 'SHA256SUMS'), `${'a'.repeat(64)}  app.tar.gz\n`);
    h.gpg(['--yes', '--clearsign', '--local-user', `${fpr}!`, '-o', join(dir, 'SHA256SUMS.asc'), join(dir, 'SHA256SUMS')]);
    clean = join(dir, 'SHA256SUMS.asc');
    const signed = readFileSync(clean, 'utf8');
    padded = join(dir, 'padded.asc');
    writeFileSync(padded, `${'b'.repeat(64)}  evil.tar.gz\n\n${signed}${'c'.repeat(64)}  app.tar.gz\n`);
  });
  afterAll(() => {
    h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gpg calls both files good (the outside lines are not signed, and gpg does not say so either)', () => {
    expect(status('gpg', ['--batch', '--verify', clean], { env: h.env })).toBe(0);
    expect(status('gpg', ['--batch', '--verify', padded], { env: h.env })).toBe(0);
  });

  it('warns on stderr and in the JSON when lines lie outside the block; says nothing for a clean file', async () => {
    const args = (file: string, ...more: string[]) => [
      '--scheme',
      'openpgp',
      '--cleartext',
      '--file',
      file,
      '--key',
      join(dir, 'key.asc'),
      '--fingerprint',
      fpr,
      ...more,
    ];
    const plain = await cli(args(padded));
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^VALID openpgp/);
    expect(plain.stderr).toMatch(/WARNING — 2 non-blank line\(s\) outside the signed block are NOT covered/);
    const asJson = await cli(args(padded, '--json'));
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout.trim())).toMatchObject({ valid: true, scheme: 'openpgp', unsignedTextOutsideBlock: true });
    const ok = await cli(args(clean, '--json'));
    expect(ok.code, ok.stderr).toBe(0);
    expect(Object.keys(JSON.parse(ok.stdout.trim()))).toEqual(['valid', 'scheme', 'signer', 'reason']);
    expect(ok.stderr).not.toMatch(/outside the signed block/);
  }, 60_000);
});
