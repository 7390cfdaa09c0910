/**
 * `release-verifier verify-attestation`: VSA and detailed envelopes whose signatures `openssl dgst
 * -sha256 -sign` made over the DSSE PAE (a P-256 key from `openssl ecparam`), checked by the command
 * and by openssl itself (`dgst -verify` over the PAE, `pkeyutl -verify` over its SHA-256) — the two
 * must agree on the genuine envelope and on every tampered one (payload, signature, another key).
 * The KMS path: GetPublicKey behind aws-sdk-client-mock answering the key's real DER SPKI.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetPublicKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  dsseEnvelope,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  LEGACY_VERIFICATION_PREDICATE_TYPE,
  stableJson,
  statementBytes,
  VERIFICATION_PREDICATE_TYPE,
  type DsseEnvelope,
} from '../../lambda/core/attestation';
import { run } from '../../lambda/cli/verify-attestation';
import type { RunReport } from '../../lambda/core/report';
import { policyRef, VSA_PREDICATE_TYPE, vsaBytes } from '../../lambda/core/vsa';
import { run as tool, status, toolsAvailable } from '../support/tools';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const A = 'a'.repeat(64);
const kms = mockClient(KMSClient);

function report(verdict: RunReport['verdict']): RunReport {
  return {
    schemaVersion: 1,
    runId: '20260302T000000Z-abcdef',
    startedAt: '2026-03-02T03:00:00.000Z',
    finishedAt: '2026-03-02T03:20:00.000Z',
    verdict,
    project: { gitlabUrl: 'https://gitlab.example', project: 'g/app' },
    release: { tag: 'v1.0.0', commitSha: 'c'.repeat(40), webUrl: 'https://gitlab.example/g/app/-/releases/v1.0.0' },
    mode: 'aws',
    findings: [],
    targets: [
      {
        name: 'linux',
        verdict,
        findings: [],
        artifacts: [{ path: 'dist/app.tar.gz', asset: 'app.tar.gz', verdict, published: { sha256: A, size: 10 }, findings: [] }],
      },
    ],
  };
}

const hasOpenssl = toolsAvailable('openssl');
let dir: string;
let n = 0;

/** The envelope of `payload`, its signature made by openssl over the PAE (DER ECDSA, as KMS returns it). */
function opensslEnvelope(payload: Buffer, key = 'key.pem'): DsseEnvelope {
  const pae = join(dir, `pae-${++n}.bin`);
  writeFileSync(pae, dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
  tool('openssl', ['dgst', '-sha256', '-sign', join(dir, key), '-out', `${pae}.sig`, pae]);
  return dsseEnvelope(payload, [{ keyid: KEY_ARN, sig: readFileSync(`${pae}.sig`) }]);
}

/** openssl's own verdict on an envelope (both ways: the PAE, and its digest with pkeyutl). */
function opensslVerdict(envelope: DsseEnvelope, pub = 'pub.pem'): boolean {
  const base = join(dir, `check-${++n}`);
  const pae = dssePae(envelope.payloadType, Buffer.from(envelope.payload, 'base64'));
  writeFileSync(`${base}.pae`, pae);
  writeFileSync(`${base}.dgst`, createHash('sha256').update(pae).digest());
  writeFileSync(`${base}.sig`, Buffer.from(envelope.signatures[0]!.sig, 'base64'));
  const dgst = status('openssl', ['dgst', '-sha256', '-verify', join(dir, pub), '-signature', `${base}.sig`, `${base}.pae`]) === 0;
  const pkeyutl = status('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, pub), '-in', `${base}.dgst`, '-sigfile', `${base}.sig`]) === 0;
  expect(pkeyutl, 'openssl dgst and pkeyutl agree').toBe(dgst);
  return dgst;
}

function write(envelope: DsseEnvelope | string): string {
  const p = join(dir, `envelope-${++n}.json`);
  writeFileSync(p, typeof envelope === 'string' ? envelope : JSON.stringify(envelope, null, 2));
  return p;
}

/** Runs the command in-process (the KMS mock reaches it), capturing stdout. */
async function cli(...args: string[]): Promise<{ code: number; out: string; json?: Record<string, unknown> }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await run(args);
    const out = chunks.join('');
    return { code, out, json: args.includes('--json') && out.trim() ? (JSON.parse(out) as Record<string, unknown>) : undefined };
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
}

function tamperedPayload(envelope: DsseEnvelope): DsseEnvelope {
  const text = Buffer.from(envelope.payload, 'base64').toString('utf8').replace('"FAILED"', '"PASSED"').replace('"PASSED"', '"PASSEd"');
  return { ...envelope, payload: Buffer.from(text).toString('base64') };
}

function tamperedSignature(envelope: DsseEnvelope): DsseEnvelope {
  const sig = Buffer.from(envelope.signatures[0]!.sig, 'base64');
  sig[sig.length - 3]! ^= 0x01; // inside s: still DER, no longer the signature
  return { ...envelope, signatures: [{ keyid: KEY_ARN, sig: sig.toString('base64') }] };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'relverify-verify-attestation-'));
  if (!hasOpenssl) return;
  for (const [key, pub] of [
    ['key.pem', 'pub.pem'],
    ['other.pem', 'other-pub.pem'],
  ]) {
    tool('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, key!)]);
    tool('openssl', ['ec', '-in', join(dir, key!), '-pubout', '-out', join(dir, pub!)]);
  }
  tool('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'ed.pem')]);
  tool('openssl', ['pkey', '-in', join(dir, 'ed.pem'), '-pubout', '-out', join(dir, 'ed-pub.pem')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => kms.reset());

const POLICY = policyRef({ version: 1, targets: [] }, 'file:///etc/release-verifier.yaml');

describe.skipIf(!hasOpenssl)('verify-attestation', () => {
  it('a PASSED VSA signed over the PAE: valid for the command and for openssl, exit 0, subjects printed', async () => {
    const envelope = opensslEnvelope(vsaBytes(report('VERIFIED'), POLICY));
    expect(opensslVerdict(envelope)).toBe(true);
    const r = await cli('--envelope', write(envelope), '--public-key', join(dir, 'pub.pem'), '--json');
    expect(r.code).toBe(0);
    expect(r.json).toEqual({
      valid: true,
      passed: true,
      predicateType: VSA_PREDICATE_TYPE,
      result: 'PASSED',
      subjects: [{ name: 'app.tar.gz', sha256: A }],
      keyid: KEY_ARN,
      reason: null,
    });
    const text = await cli('--envelope', write(envelope), '--public-key', join(dir, 'pub.pem'));
    expect(text.out).toContain('signature: valid');
    expect(text.out).toContain(`result:    PASSED`);
    expect(text.out).toContain(`${A}  app.tar.gz`);
  });

  it('a FAILED VSA (MISMATCH run) is a valid signature and exit 1', async () => {
    const envelope = opensslEnvelope(vsaBytes(report('MISMATCH'), POLICY));
    expect(opensslVerdict(envelope)).toBe(true);
    const r = await cli('--envelope', write(envelope), '--public-key', join(dir, 'pub.pem'), '--json');
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ valid: true, passed: false, result: 'FAILED', reason: 'the statement records FAILED' });
  });

  it('tampered payload, tampered signature, another key: invalid for openssl and for the command (exit 1)', async () => {
    const genuine = opensslEnvelope(vsaBytes(report('MISMATCH'), POLICY));
    const cases: [string, DsseEnvelope, string][] = [
      ['payload', tamperedPayload(genuine), 'pub.pem'],
      ['signature', tamperedSignature(genuine), 'pub.pem'],
      ['key', genuine, 'other-pub.pem'],
      ['payload type', { ...genuine, payloadType: 'application/json' }, 'pub.pem'],
    ];
    for (const [what, envelope, pub] of cases) {
      expect(opensslVerdict(envelope, pub), what).toBe(false);
      const r = await cli('--envelope', write(envelope), '--public-key', join(dir, pub), '--json');
      expect(r.code, what).toBe(1);
      expect(r.json, what).toMatchObject({ valid: false, passed: false, result: null });
    }
  });

  it('the detailed predicate: its verdict is the result; the old placeholder type is still read', async () => {
    const verified = opensslEnvelope(statementBytes(report('VERIFIED')));
    expect(await cli('--envelope', write(verified), '--public-key', join(dir, 'pub.pem'), '--json')).toMatchObject({
      code: 0,
      json: { predicateType: VERIFICATION_PREDICATE_TYPE, result: 'VERIFIED', passed: true },
    });
    const legacy = JSON.parse(statementBytes(report('TAMPERED')).toString()) as Record<string, unknown>;
    legacy.predicateType = LEGACY_VERIFICATION_PREDICATE_TYPE;
    const old = opensslEnvelope(Buffer.from(stableJson(legacy)));
    expect(await cli('--envelope', write(old), '--public-key', join(dir, 'pub.pem'), '--json')).toMatchObject({
      code: 1,
      json: { valid: true, predicateType: LEGACY_VERIFICATION_PREDICATE_TYPE, result: 'TAMPERED', passed: false },
    });
    const other = JSON.parse(vsaBytes(report('VERIFIED'), POLICY).toString()) as Record<string, unknown>;
    other.predicateType = 'https://example.com/other/v1';
    const unknown = opensslEnvelope(Buffer.from(stableJson(other)));
    expect(await cli('--envelope', write(unknown), '--public-key', join(dir, 'pub.pem'), '--json')).toMatchObject({
      code: 1,
      json: { valid: true, passed: false, result: null },
    });
  });

  it('malformed envelopes are invalid (1); an unreadable file or a key of another kind cannot be checked (2); usage errors are 3', async () => {
    const good = opensslEnvelope(vsaBytes(report('VERIFIED'), POLICY));
    const pub = join(dir, 'pub.pem');
    for (const bad of [
      'not json',
      '[]',
      JSON.stringify({ ...good, signatures: [] }),
      JSON.stringify({ ...good, payload: '%%%' }),
      JSON.stringify({ ...good, signatures: [{ sig: 'AAAA' }] }),
    ]) {
      expect((await cli('--envelope', write(bad), '--public-key', pub)).code, bad.slice(0, 40)).toBe(1);
    }
    expect((await cli('--envelope', join(dir, 'missing.json'), '--public-key', pub)).code).toBe(2);
    expect((await cli('--envelope', write(good), '--public-key', join(dir, 'ed-pub.pem'))).code).toBe(2);
    expect((await cli('--envelope', write(good), '--public-key', join(dir, 'missing.pem'))).code).toBe(2);
    expect((await cli('--envelope', write(good))).code).toBe(3);
    expect((await cli('--envelope', write(good), '--public-key', pub, '--kms-key-arn', KEY_ARN)).code).toBe(3);
    expect((await cli('--envelope', write(good), '--kms-key-arn', 'alias/attest')).code).toBe(3);
    expect((await cli('--public-key', pub)).code).toBe(3);
  });

  it('--kms-key-arn: the public key from KMS GetPublicKey (the real SDK client behind the mock)', async () => {
    // what GetPublicKey returns: the DER SubjectPublicKeyInfo (binary stdout, not through the text helper)
    const der = (pub: string) => spawnSync('openssl', ['pkey', '-pubin', '-in', join(dir, pub), '-outform', 'DER']).stdout;
    const answer = (pub: string) => ({
      KeyId: KEY_ARN,
      PublicKey: new Uint8Array(der(pub)),
      KeySpec: 'ECC_NIST_P256' as const,
      KeyUsage: 'SIGN_VERIFY' as const,
      SigningAlgorithms: ['ECDSA_SHA_256' as const],
    });
    const envelope = write(opensslEnvelope(vsaBytes(report('VERIFIED'), POLICY)));
    kms.on(GetPublicKeyCommand, { KeyId: KEY_ARN }).resolves(answer('pub.pem'));
    expect(await cli('--envelope', envelope, '--kms-key-arn', KEY_ARN, '--json')).toMatchObject({ code: 0, json: { valid: true, passed: true } });
    expect(kms.commandCalls(GetPublicKeyCommand)).toHaveLength(1);

    kms.reset();
    kms.on(GetPublicKeyCommand).resolves(answer('other-pub.pem'));
    expect((await cli('--envelope', envelope, '--kms-key-arn', KEY_ARN)).code).toBe(1);

    kms.reset();
    kms.on(GetPublicKeyCommand).resolves({ ...answer('pub.pem'), KeySpec: 'RSA_2048', SigningAlgorithms: ['RSASSA_PSS_SHA_256'] });
    expect((await cli('--envelope', envelope, '--kms-key-arn', KEY_ARN)).code).toBe(2);

    kms.reset();
    kms.on(GetPublicKeyCommand).rejects(Object.assign(new Error('User is not authorized to perform: kms:GetPublicKey'), { name: 'AccessDeniedException' }));
    const denied = await cli('--envelope', envelope, '--kms-key-arn', KEY_ARN, '--json');
    expect(denied.code).toBe(2);
    expect(String(denied.json?.reason)).toMatch(/not authorized/);
  });

  it('the installed command: exit codes through bin/release-verifier.mjs', () => {
    const envelope = write(opensslEnvelope(vsaBytes(report('VERIFIED'), POLICY)));
    const ok = spawnSync(process.execPath, [BIN, 'verify-attestation', '--envelope', envelope, '--public-key', join(dir, 'pub.pem')], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('result:    PASSED');
    const other = spawnSync(process.execPath, [BIN, 'verify-attestation', '--envelope', envelope, '--public-key', join(dir, 'other-pub.pem')], {
      encoding: 'utf8',
    });
    expect(other.status).toBe(1);
    expect(other.stdout).toContain('signature: INVALID');
  });
});
