/**
 * The run's in-toto statement and its DSSE encoding: what the statement says about a report, that
 * its bytes are canonical, the PAE against the DSSE spec's own example, a signature over the PAE
 * with a real P-256 key, and the CLI run writing the unsigned statement next to its summary — once.
 */
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';
import {
  attestationKeys,
  dsseEnvelope,
  dssePae,
  IN_TOTO_PAYLOAD_TYPE,
  signedAttestation,
  stableJson,
  statementBytes,
  verificationStatement,
  VERIFICATION_PREDICATE_TYPE,
  type AttestationSigner,
} from '../../lambda/core/attestation';
import { parseConfig } from '../../lambda/core/config/load';
import { finding } from '../../lambda/core/findings';
import type { RunReport } from '../../lambda/core/report';
import { runVerification } from '../../lambda/core/run/in-process';
import { runKeys } from '../../lambda/core/run/summary';
import { oneAssetBuilder, oneAssetForge, oneReleaseOf } from '../support/one-asset-ports';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const COMMIT = 'c'.repeat(40);
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function report(): RunReport {
  return {
    schemaVersion: 1,
    runId: '20260302T000000Z-abcdef',
    startedAt: '2026-03-02T03:00:00.000Z',
    finishedAt: '2026-03-02T03:20:00.000Z',
    verdict: 'MISMATCH',
    project: { gitlabUrl: 'https://gitlab.example', project: 'g/app' },
    release: { tag: 'v1.0.0', name: 'v1.0.0', commitSha: COMMIT, webUrl: 'https://gitlab.example/g/app/-/releases/v1.0.0' },
    mode: 'aws',
    findings: [finding('HISTORY_BASELINE', 'first run')],
    targets: [
      {
        name: 'linux',
        verdict: 'MISMATCH',
        artifacts: [
          {
            path: 'dist/app.tar.gz',
            asset: 'app.tar.gz',
            verdict: 'MISMATCH',
            published: { sha256: A, size: 10, url: 'https://gitlab.example/x' },
            rebuilt: { sha256: B, size: 11 },
            comparison: { method: 'archive', match: false, differences: [{ where: 'entry bin/app' }] },
            signature: { scheme: 'minisign', valid: true, signer: 'key id 0123', signatureAsset: 'app.tar.gz.minisig' },
            findings: [finding('ARTIFACT_MISMATCH', 'bin/app differs', { target: 'linux', artifact: 'app.tar.gz', evidence: { where: 'bin/app' } })],
          },
        ],
        findings: [],
      },
      {
        name: 'web',
        verdict: 'INCOMPLETE',
        artifacts: [
          // the same asset again (listed by two targets): one subject
          {
            path: 'dist/app.tar.gz',
            asset: 'app.tar.gz',
            verdict: 'VERIFIED',
            published: { sha256: A, size: 10 },
            rebuilt: { sha256: A, size: 10 },
            findings: [],
          },
          // never downloaded: no published digest, no subject
          {
            path: 'dist/web.zip',
            asset: 'web.zip',
            verdict: 'INCOMPLETE',
            findings: [finding('ASSET_MISSING', 'web.zip is not a link', { target: 'web', artifact: 'web.zip' })],
          },
        ],
        findings: [],
      },
    ],
  };
}

/** The same object with every key inserted in reverse order. */
function reversedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversedKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reversedKeys(x)]),
    );
  return v;
}

describe('verificationStatement', () => {
  it('is an in-toto Statement v1: one subject per published asset digest, the predicate of what was seen', () => {
    const s = verificationStatement(report()) as Record<string, any>;
    expect(s._type).toBe('https://in-toto.io/Statement/v1');
    expect(s.predicateType).toBe(VERIFICATION_PREDICATE_TYPE);
    expect(s.subject).toEqual([{ name: 'app.tar.gz', digest: { sha256: A } }]);
    expect(s.predicate).toMatchObject({
      verdict: 'MISMATCH',
      runId: '20260302T000000Z-abcdef',
      project: { gitlabUrl: 'https://gitlab.example', project: 'g/app' },
      release: { tag: 'v1.0.0', commit: COMMIT },
      startedAt: '2026-03-02T03:00:00.000Z',
      finishedAt: '2026-03-02T03:20:00.000Z',
    });
    expect(s.predicate.assets).toEqual([
      {
        target: 'linux',
        asset: 'app.tar.gz',
        verdict: 'MISMATCH',
        publishedSha256: A,
        rebuiltSha256: B,
        comparison: { method: 'archive', match: false },
        signature: { scheme: 'minisign', valid: true, signer: 'key id 0123' },
      },
      { target: 'web', asset: 'app.tar.gz', verdict: 'VERIFIED', publishedSha256: A, rebuiltSha256: A, comparison: undefined, signature: undefined },
      {
        target: 'web',
        asset: 'web.zip',
        verdict: 'INCOMPLETE',
        publishedSha256: undefined,
        rebuiltSha256: undefined,
        comparison: undefined,
        signature: undefined,
      },
    ]);
    // codes and where, run-level first; no free text, no evidence
    expect(s.predicate.findings).toEqual([
      { code: 'HISTORY_BASELINE', level: 'NOTICE', target: undefined, artifact: undefined },
      { code: 'ARTIFACT_MISMATCH', level: 'MISMATCH', target: 'linux', artifact: 'app.tar.gz' },
      { code: 'ASSET_MISSING', level: 'INCOMPLETE', target: 'web', artifact: 'web.zip' },
    ]);
  });

  it('a run without a release has no subjects and release null', () => {
    const r = { ...report(), release: null, targets: [], verdict: 'INCOMPLETE' as const };
    const s = JSON.parse(statementBytes(r).toString('utf8'));
    expect(s.subject).toEqual([]);
    expect(s.predicate.release).toBeNull();
  });

  it('has canonical bytes: sorted keys, no whitespace, the same whatever the key order of the report', () => {
    const bytes = statementBytes(report());
    expect(statementBytes(reversedKeys(report()) as RunReport).equals(bytes)).toBe(true);
    const text = bytes.toString('utf8');
    expect(text).toBe(JSON.stringify(JSON.parse(text))); // no whitespace between tokens
    expect(
      text.startsWith(
        '{"_type":"https://in-toto.io/Statement/v1","predicate":{"assets":[{"asset":"app.tar.gz","comparison":{"match":false,"method":"archive"}',
      ),
    ).toBe(true);
    // undefined fields are left out, and the bytes parse back to the statement
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(verificationStatement(report()))));
    // a different report gives different bytes
    expect(statementBytes({ ...report(), verdict: 'VERIFIED' }).equals(bytes)).toBe(false);
  });

  it('stableJson refuses what JSON cannot say exactly', () => {
    expect(stableJson({ b: 1, a: [true, null, 'x\u2028"'], c: undefined })).toBe('{"a":[true,null,"x\u2028\\""],"b":1}');
    expect(() => stableJson({ n: Number.NaN })).toThrow(/no JSON form/);
    expect(() => stableJson([undefined])).toThrow(/undefined in an array/);
    expect(() => stableJson({ n: 1n })).toThrow(/bigint/);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => stableJson(deep)).toThrow(/nested too deeply/);
  });
});

describe('DSSE', () => {
  it('PAE: the DSSE spec example, and lengths in bytes (not characters)', () => {
    expect(dssePae('http://example.com/HelloWorld', Buffer.from('hello world')).toString('latin1')).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
    const pae = dssePae(IN_TOTO_PAYLOAD_TYPE, Buffer.from('é', 'utf8'));
    expect(pae.toString('utf8')).toBe('DSSEv1 28 application/vnd.in-toto+json 2 é');
  });

  it('a signed envelope verifies over the PAE with a real P-256 key, and not after any change', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer: AttestationSigner = { keyId: 'test-key', sign: async (pae) => sign('sha256', pae, { key: privateKey, dsaEncoding: 'der' }) };
    const env = await signedAttestation(report(), signer);
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(env.signatures).toHaveLength(1);
    expect(env.signatures[0]!.keyid).toBe('test-key');
    const payload = Buffer.from(env.payload, 'base64');
    expect(payload.equals(statementBytes(report()))).toBe(true);
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    const ok = (p: Buffer, type = env.payloadType) => verify('sha256', dssePae(type, p), { key: publicKey, dsaEncoding: 'der' }, sig);
    expect(ok(payload)).toBe(true);
    expect(ok(Buffer.from(payload.toString('utf8').replace('"MISMATCH"', '"VERIFIED"')))).toBe(false);
    expect(ok(payload, 'application/json')).toBe(false);
    // the bare payload is not what was signed
    expect(verify('sha256', payload, { key: publicKey, dsaEncoding: 'der' }, sig)).toBe(false);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(verify('sha256', dssePae(env.payloadType, payload), { key: other, dsaEncoding: 'der' }, sig)).toBe(false);

    expect(dsseEnvelope(Buffer.from('hi'), [{ keyid: 'k', sig: Buffer.from([1, 2, 3]) }])).toEqual({
      payload: 'aGk=',
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ keyid: 'k', sig: 'AQID' }],
    });
    await expect(signedAttestation(report(), { keyId: 'k', sign: async () => new Uint8Array() })).rejects.toThrow(/empty signature/);
  });
});

describe('CLI run records', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const cfg = parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.example', project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: `debian@sha256:${'d'.repeat(64)}`,
        command: 'make',
        artifacts: [{ path: 'out/app-{version}', asset: 'app-{version}', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  });
  const release = oneReleaseOf(COMMIT);
  const bytes = 'the app 1.0.0\n';
  const forge = oneAssetForge(release, bytes);
  const builder = oneAssetBuilder(COMMIT, bytes);

  it('writes the unsigned statement next to summary.json, only in the run that wrote the summary', async () => {
    const root = mkdtempSync(join(tmpdir(), 'relverify-attest-'));
    dirs.push(root);
    const store = new DirectoryStore(root);
    const formats = (await import('../../lambda/formats/ops')).formatOps;
    const ports = { forge, builder, store, formats, notifier: { notify: async () => {} } };
    const runId = '20260302T030000Z-abcdef';
    const first = await runVerification(cfg, ports, { runId, now: new Date('2026-03-02T03:00:00Z') });
    expect(first.report.verdict).toBe('VERIFIED');
    const file = join(root, attestationKeys.statement(runId));
    expect(file).toBe(join(root, 'runs', runId, 'attestation.intoto.json'));
    const written = readFileSync(file);
    const summary = JSON.parse(readFileSync(join(root, runKeys.summary(runId)), 'utf8')) as RunReport;
    expect(written.equals(statementBytes(summary))).toBe(true);
    expect(JSON.parse(written.toString('utf8'))).toMatchObject({
      subject: [{ name: 'app-1.0.0', digest: { sha256: sha(bytes) } }],
      predicate: { verdict: 'VERIFIED', runId },
    });

    // a second run with the same id joins the first (its plan, its target reports, its summary, as a
    // re-invoked Lambda does): it loses the summary write, so it writes no statement either (the
    // first one removed here to see that; write-once alone would keep it anyway), and reports the run's record
    await rm(file);
    const second = await runVerification(cfg, ports, { runId, now: new Date('2026-03-02T05:00:00Z') });
    expect(second.report).toEqual(summary);
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(join(root, runKeys.summary(runId)), 'utf8')).toBe(JSON.stringify(summary, null, 2));
  });
});
