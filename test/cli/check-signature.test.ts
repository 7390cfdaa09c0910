/**
 * `release-verifier check-signature` end to end: the real entry point (bin/release-verifier.mjs)
 * spawned with fixtures made by minisign and gpg, plus a test sigstore deployment. Checks the exit
 * code contract (0 valid, 1 invalid, 2 could not check / usage) and the exact JSON shape.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsAvailable } from '../support/tools';
import { makeSigstoreDeployment } from '../formats/support/sigstore-fixture';
import { gpgGenKey, gpgHome, gpgSign, minisignKeygen, minisignSign, tauriEncode, type GpgHome } from '../formats/support/signing-fixtures';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');

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
/** parses the --json output and checks it has exactly the four contract keys */
function json(r: Run): { valid: boolean; scheme: string | null; signer: string | null; reason: string | null } {
  const lines = r.stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const o = JSON.parse(lines[0]!);
  expect(Object.keys(o)).toEqual(['valid', 'scheme', 'signer', 'reason']);
  return o;
}

let dir: string;
const p = (name: string) => join(dir, name);
const write = (name: string, content: string | Buffer) => {
  writeFileSync(p(name), content);
  return p(name);
};
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-cli-sig-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('check-signature usage', () => {
  it('exits 3 on usage errors, with the JSON shape under --json', async () => {
    const cases = [[], ['--scheme', 'pgp', '--file', 'x'], ['--scheme', 'minisign'], ['--bogus'], ['--scheme', 'minisign', '--file', 'x', '--san', 'y']];
    const runs = await Promise.all(cases.map((args) => cli([...args, '--json'])));
    for (const [i, r] of runs.entries()) {
      expect(r.code, cases[i]!.join(' ')).toBe(3);
      const o = json(r);
      expect(o.valid).toBe(false);
      expect(o.reason).toMatch(/^could not check/);
    }
    const human = await cli(['--scheme', 'minisign']);
    expect(human.code).toBe(3);
    expect(human.stderr).toMatch(/--file is required/);
  });

  it('prints help with exit 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--scheme <minisign\|tauri\|openpgp\|authenticode\|sigstore\|apple>/);
  });
});

describe.skipIf(!toolsAvailable('minisign'))('check-signature minisign / tauri', () => {
  let file: string;
  let pub: string;
  let otherPub: string;
  let sig: string;
  beforeAll(() => {
    const key = minisignKeygen(dir, 'm');
    pub = key.pubPath;
    otherPub = minisignKeygen(dir, 'other').pubPath;
    file = write('app.tar.gz', randomBytes(10_000));
    sig = minisignSign(key, file, { trustedComment: 'release 1.0' });
    write('app.tauri.sig', tauriEncode(readFileSync(sig)));
    write('tauri.pub', tauriEncode(readFileSync(pub)));
  });

  it('exits 0 for a genuine signature (JSON and human output)', async () => {
    const r = await cli(['--scheme', 'minisign', '--file', file, '--signature', sig, '--key', pub, '--json']);
    expect(r.code).toBe(0);
    const o = json(r);
    expect(o).toMatchObject({ valid: true, scheme: 'minisign' });
    // minisign writes the key id in its comment without leading zeros (1 key in 16 has one)
    expect(readFileSync(pub, 'utf8')).toContain(o.signer!.replace(/^0+/, ''));
    const human = await cli(['--scheme', 'minisign', '--file', file, '--key', pub]); // signature found as app.tar.gz.minisig
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^VALID minisign signature by [0-9A-F]{16}/);
    expect(human.stdout.trim().split('\n').length).toBeLessThanOrEqual(2);
  });

  it('exits 1 for a tampered file and for the wrong key', async () => {
    const bytes = readFileSync(file);
    bytes[5]! ^= 1;
    const tampered = write('tampered.tar.gz', bytes);
    const r1 = await cli(['--scheme', 'minisign', '--file', tampered, '--signature', sig, '--key', pub, '--json']);
    expect(r1.code).toBe(1);
    expect(json(r1)).toMatchObject({ valid: false, scheme: 'minisign' });
    const r2 = await cli(['--scheme', 'minisign', '--file', file, '--signature', sig, '--key', otherPub, '--json']);
    expect(r2.code).toBe(1);
    expect(json(r2).valid).toBe(false);
  });

  it('exits 1 for a malformed signature, 2 for an unreadable file or key', async () => {
    const bad = write('bad.minisig', 'untrusted comment: x\nnot base64\n');
    expect((await cli(['--scheme', 'minisign', '--file', file, '--signature', bad, '--key', pub])).code).toBe(1);
    expect((await cli(['--scheme', 'minisign', '--file', p('nope'), '--signature', sig, '--key', pub])).code).toBe(2);
    expect((await cli(['--scheme', 'minisign', '--file', file, '--signature', p('nope.minisig'), '--key', pub])).code).toBe(2);
    const r = await cli(['--scheme', 'minisign', '--file', file, '--signature', sig, '--key', write('bad.pub', 'garbage'), '--json']);
    expect(r.code).toBe(2);
    expect(json(r).reason).toMatch(/could not check/);
  });

  it('verifies Tauri .sig files with the base64 pubkey', async () => {
    const ok = await cli(['--scheme', 'tauri', '--file', file, '--signature', p('app.tauri.sig'), '--key', p('tauri.pub'), '--json']);
    expect(ok.code).toBe(0);
    expect(json(ok)).toMatchObject({ valid: true, scheme: 'tauri' });
    const bytes = readFileSync(file);
    bytes[0]! ^= 1;
    const bad = await cli(['--scheme', 'tauri', '--file', write('t.tar.gz', bytes), '--signature', p('app.tauri.sig'), '--key', p('tauri.pub'), '--json']);
    expect(bad.code).toBe(1);
  });
});

describe.skipIf(!toolsAvailable('gpg', 'gpgconf'))('check-signature openpgp', () => {
  let h: GpgHome;
  let fpr: string;
  let otherFpr: string;
  let file: string;
  beforeAll(() => {
    h = gpgHome(dir, 'gnupg');
    const key = gpgGenKey(h, 'Rel <rel@example.org>', { signingSubkey: true });
    const other = gpgGenKey(h, 'Other <o@example.org>');
    fpr = key.fingerprint;
    otherFpr = other.fingerprint;
    write('key.asc', key.armoredPublic);
    h.gpg(['--yes', '--export', '-o', p('key.gpg'), fpr]);
    file = write('rel.tar.gz', randomBytes(5000));
    gpgSign(h, file, p('rel.tar.gz.asc'), { signer: key.subkeyFingerprint, armor: true });
    gpgSign(h, file, p('other.sig'), { signer: other.fingerprint });
  });
  afterAll(() => h?.close());

  it("exits 0 with the pinned fingerprint, and says so when it pins the key file's own", async () => {
    const r = await cli(['--scheme', 'openpgp', '--file', file, '--key', p('key.asc'), '--fingerprint', fpr, '--json']);
    expect(r.code).toBe(0);
    expect(json(r)).toMatchObject({ valid: true, scheme: 'openpgp', signer: fpr });
    const implicit = await cli(['--scheme', 'openpgp', '--file', file, '--signature', p('rel.tar.gz.asc'), '--key', p('key.asc')]);
    expect(implicit.code).toBe(0);
    expect(implicit.stdout).toMatch(/no --fingerprint given: pinned the primary fingerprint/);
    const binaryKey = await cli(['--scheme', 'openpgp', '--file', file, '--key', p('key.gpg'), '--fingerprint', fpr]);
    expect(binaryKey.code).toBe(0);
  });

  it('exits 1 for a pin that is not the key, and for a signature by another key', async () => {
    const wrongPin = await cli(['--scheme', 'openpgp', '--file', file, '--key', p('key.asc'), '--fingerprint', otherFpr, '--json']);
    expect(wrongPin.code).toBe(1);
    expect(json(wrongPin).valid).toBe(false);
    const otherSig = await cli(['--scheme', 'openpgp', '--file', file, '--signature', p('other.sig'), '--key', p('key.asc'), '--json']);
    expect(otherSig.code).toBe(1);
  });

  it('exits 3 for a malformed fingerprint (usage)', async () => {
    expect((await cli(['--scheme', 'openpgp', '--file', file, '--key', p('key.asc'), '--fingerprint', 'ABCD'])).code).toBe(3);
  });
});

describe('check-signature sigstore', () => {
  const SAN = 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/tags/v2.0.0';
  const ISSUER = 'https://gitlab.com';
  let file: string;
  beforeAll(async () => {
    const d = await makeSigstoreDeployment();
    const bytes = randomBytes(5000);
    file = write('s.tar.gz', bytes);
    write('s.tar.gz.sigstore.json', await d.signBlob(bytes, { san: SAN, issuer: ISSUER }));
    write('trusted_root.json', d.trustedRootJson);
  });

  it('exits 0 for the pinned identity, 1 for another SAN or issuer', async () => {
    const base = ['--scheme', 'sigstore', '--file', file, '--trusted-root', p('trusted_root.json'), '--json'];
    const ok = await cli([...base, '--issuer', ISSUER, '--san', SAN]);
    expect(ok.code).toBe(0);
    expect(json(ok)).toMatchObject({ valid: true, scheme: 'sigstore', signer: `${SAN} (issuer ${ISSUER})` });
    const wrongSan = await cli([...base, '--issuer', ISSUER, '--san', SAN.replace('v2.0.0', 'v2.0')]);
    expect(wrongSan.code).toBe(1);
    const wrongIssuer = await cli([...base, '--issuer', 'https://gitlab.example.com', '--san', SAN]);
    expect(wrongIssuer.code).toBe(1);
  });

  it('exits 3 (usage) when the trusted root is not given', async () => {
    expect((await cli(['--scheme', 'sigstore', '--file', file, '--issuer', ISSUER, '--san', SAN])).code).toBe(3);
  });
});
