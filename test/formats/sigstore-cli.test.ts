/**
 * `release-verifier check-signature --scheme sigstore` on real bundles from sigstore-conformance
 * (fixtures/sigstore/ORIGIN.md), spawned through the real entry point: a key-based bundle with
 * `--public-key` (the conformance suite's managed-key case, which cosign-style key signing
 * produced), and a Rekor v2 bundle whose checkpoint carries witness cosignatures.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');
const CONF = join(__dirname, 'fixtures', 'sigstore', 'conformance');
const A_TXT = join(CONF, 'a.txt');
const PROD = join(__dirname, 'fixtures', 'sigstore', 'production-trusted_root.json');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
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

describe('check-signature --scheme sigstore on real bundles', () => {
  let dir: string;
  let otherKey: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-sigstore-cli-'));
    otherKey = join(dir, 'other.pub');
    writeFileSync(otherKey, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--public-key: exit 0 for the pinned key, 1 for another key, 3 with --san besides, 2 for an unreadable key', async () => {
    const managed = join(CONF, 'managed-key-happy-path');
    const base = ['--scheme', 'sigstore', '--file', A_TXT, '--signature', join(managed, 'bundle.sigstore.json'), '--trusted-root', PROD, '--json'];
    const [ok, wrong, both, corrupt] = await Promise.all([
      cli([...base, '--public-key', join(managed, 'key.pub')]),
      cli([...base, '--public-key', otherKey]),
      cli([...base, '--public-key', join(managed, 'key.pub'), '--san', 'x', '--issuer', 'https://x.example']),
      cli([...base, '--public-key', join(CONF, 'managed-key-wrong-key_fail', 'key.pub')]),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, scheme: 'sigstore', signer: expect.stringMatching(/^public key sha256:/) });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).valid).toBe(false);
    expect(both.code).toBe(3);
    // an unusable pin is "could not check" (as an unreadable trusted root is), never "invalid"
    expect(corrupt.code).toBe(2);
    expect(corrupt.stdout + corrupt.stderr).toMatch(/pinned public key unreadable/);
  });

  it('a Rekor v2 bundle with witness cosignatures: exit 0 for its identity, 1 for another', async () => {
    const c = join(CONF, 'rekor2-checkpoint-multiple-cosigs');
    const base = [
      '--scheme',
      'sigstore',
      '--file',
      A_TXT,
      '--signature',
      join(c, 'bundle.sigstore.json'),
      '--trusted-root',
      join(c, 'trusted_root.json'),
      '--issuer',
      'https://token.actions.githubusercontent.com',
      '--json',
    ];
    const beacon =
      'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
    const [ok, other] = await Promise.all([cli([...base, '--san', beacon]), cli([...base, '--san', beacon.replace('main', 'dev')])]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, reason: expect.stringMatching(/Rekor v2 entry/) });
    expect(other.code).toBe(1);
  });

  it('--help names --public-key', async () => {
    const r = await cli(['--help']);
    expect(r.stdout).toMatch(/--public-key FILE {5}sigstore: pinned signing key/);
  });
});
