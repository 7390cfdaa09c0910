/**
 * `check-signature --scheme apple --team-id ID | --cert-sha256 HEX` (issue 12), spawned as the
 * installed CLI: exit codes 0 valid / 1 invalid / 3 usage, the JSON contract, the help text.
 * The file is the real Developer ID app of fixtures/apple (ORIGIN.md).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');
const APP = join(__dirname, 'fixtures/apple/DevSignedApp.zip');
const UNIVERSAL = join(__dirname, 'fixtures/apple/yikes-universal_signed');

interface Run { code: number | null; stdout: string; stderr: string }
function cli(args: string[]): Promise<Run> {
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
    expect(d.stdout).toMatch(/not valid now|not Developer ID/);
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
  it('--help names the scheme and its options', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('|apple>');
    expect(r.stdout).toContain('--team-id ID');
    expect(r.stdout).toMatch(/--cert-sha256 HEX\s+authenticode, apple/);
    expect(r.stdout).toContain('notarization ticket');
  });
});
