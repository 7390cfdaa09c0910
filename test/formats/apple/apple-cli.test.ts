/**
 * `check-signature --scheme apple --team-id ID | --cert-sha256 HEX` (issue 12): exit codes 0 valid
 * / 1 invalid / 3 usage, the JSON contract, the help text. Run in-process through the CLI's
 * dispatcher (bin/cli.ts main), with one spawned run of the installed entry point; the file is the
 * real Developer ID app of fixtures/apple (ORIGIN.md).
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../bin/cli';

const APP = join(__dirname, '../fixtures/apple/DevSignedApp.zip');
const UNIVERSAL = join(__dirname, '../fixtures/apple/yikes-universal_signed');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    stdout += String(c);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    stderr += String(c);
    return true;
  });
  try {
    return { code: await main(['check-signature', ...args]), stdout, stderr };
  } finally {
    vi.restoreAllMocks();
  }
}
afterEach(() => vi.restoreAllMocks());

describe('check-signature --scheme apple', () => {
  it('pinned by Team ID: exit 0 with the signer', async () => {
    const r = await cli(['--scheme', 'apple', '--file', APP, '--team-id', 'ZCK58M894E', '--json']);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(Object.keys(o)).toEqual(['valid', 'scheme', 'signer', 'reason']);
    expect(o).toMatchObject({ valid: true, scheme: 'apple' });
    expect(o.signer).toContain('Developer ID Application: Mayur Pawashe (ZCK58M894E)');
  });
  it('pinned by certificate SHA-256 (colons allowed): exit 0; another pin: exit 1', async () => {
    const fp = '60c769956c1ee5bcde737d9d24f7a6fda91319112c37058cf29277a12bb034e2'.match(/../g)!.join(':');
    expect((await cli(['--scheme', 'apple', '--file', APP, '--cert-sha256', fp])).code).toBe(0);
    const r = await cli(['--scheme', 'apple', '--file', APP, '--team-id', 'ABCDE12345']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('is not the pinned signer');
  });
  it('an Apple Development signature: refused by default, --any-apple-identity reaches the (expired) certificate', async () => {
    const d = await cli(['--scheme', 'apple', '--file', UNIVERSAL, '--team-id', '998Z9C32TC']);
    expect(d.code).toBe(1);
    const any = await cli(['--scheme', 'apple', '--file', UNIVERSAL, '--team-id', '998Z9C32TC', '--any-apple-identity']);
    expect(any.code).toBe(1);
    expect(any.stdout).toContain('not valid now');
  });
  it('usage errors: no pin, a bad Team ID, --signature or --team-id with the wrong scheme', async () => {
    expect((await cli(['--scheme', 'apple', '--file', APP])).code).toBe(3);
    const bad = await cli(['--scheme', 'apple', '--file', APP, '--team-id', 'zck58']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('10-character Apple Team ID');
    expect((await cli(['--scheme', 'apple', '--file', APP, '--team-id', 'ZCK58M894E', '--signature', APP])).code).toBe(3);
    expect((await cli(['--scheme', 'minisign', '--file', APP, '--team-id', 'ZCK58M894E'])).code).toBe(3);
  });
  it('--help of the installed entry point names the scheme and its options', () => {
    const out = execFileSync(process.execPath, [resolve(__dirname, '../../../bin/release-verifier.mjs'), 'check-signature', '--help'], { encoding: 'utf8' });
    expect(out).toContain('|apple>');
    expect(out).toContain('--team-id ID');
    expect(out).toMatch(/--cert-sha256 HEX\s+authenticode, apple/);
    expect(out).toContain('notarization ticket');
  });
});
