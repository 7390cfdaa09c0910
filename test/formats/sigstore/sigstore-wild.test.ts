/**
 * Sigstore as it exists in the wild (issue 12): real bundles and trusted roots from the
 * sigstore-conformance suite (test/formats/fixtures/sigstore/ORIGIN.md) — Rekor v2 entries and
 * checkpoints with witness cosignatures, trusted-root validity windows, key-based ("managed key")
 * bundles — and tampered variants of them. The expected verdict is the suite's (a case named
 * `*_fail` must not verify); @sigstore/verify's own buffered verdict is computed too, and where we
 * deliberately disagree with it the test names the case and why.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { HashAlgorithm, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignaturePolicySchema } from '../../../lambda/core/config/schema';
import { FormatError } from '../../../lambda/core/errors';
import { exactSanPattern, parseBundle, readTrustedRoot, verifySigstore } from '../../../lambda/formats/sigstore';
import { checkV2Body } from '../../../lambda/formats/sigstore/rekor-v2';
import { makeSigstoreDeployment } from '../support/sigstore-fixture';

const FIXTURES = join(__dirname, '../fixtures', 'sigstore');
const A_TXT = join(FIXTURES, 'conformance', 'a.txt');
const PRODUCTION_ROOT = readFileSync(join(FIXTURES, 'production-trusted_root.json'), 'utf8');
const BEACON =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const GITHUB = 'https://token.actions.githubusercontent.com';

interface Case {
  name: string;
  dir: string;
  bundle: string;
  root: string;
  artifact: string;
  san: string;
  issuer: string;
  key?: string;
  expectValid: boolean;
}

function loadCase(dir: string, name: string): Case {
  const rd = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  return {
    name,
    dir,
    bundle: join(dir, 'bundle.sigstore.json'),
    root: rd('trusted_root.json') ?? PRODUCTION_ROOT,
    artifact: existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : A_TXT,
    san: rd('identity')?.trim() ?? BEACON,
    issuer: rd('issuer')?.trim() ?? GITHUB,
    key: rd('key.pub'),
    expectValid: !name.endsWith('_fail'),
  };
}

const CASES: Case[] = [
  ...readdirSync(join(FIXTURES, 'conformance'))
    .filter((d) => !d.includes('.txt'))
    .map((d) => loadCase(join(FIXTURES, 'conformance', d), d)),
  ...readdirSync(join(FIXTURES, 'conformance-1a8529b')).map((d) => loadCase(join(FIXTURES, 'conformance-1a8529b', d), d)),
];

const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `${prefix}-`));
  tempDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** @sigstore/verify alone, buffered, with the same pins (the key-based cases: the pinned key for the bundle's hint). */
function libraryVerdict(bundleJson: string, rootJson: string, artifact: Buffer, pin: { san: string; issuer: string } | { key: string }): boolean {
  try {
    const b = bundleFromJSON(JSON.parse(bundleJson));
    const hint = b.verificationMaterial.content.$case === 'publicKey' ? b.verificationMaterial.content.publicKey.hint : '';
    const keys =
      'key' in pin ? { [hint]: { rawBytes: createPublicKey(pin.key).export({ format: 'der', type: 'spki' }), keyDetails: 0, validFor: undefined } } : undefined;
    const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(rootJson)), keys as never);
    new Verifier(trust).verify(
      toSignedEntity(b, artifact),
      'key' in pin ? undefined : { subjectAlternativeName: exactSanPattern(pin.san) as unknown as string, extensions: { issuer: pin.issuer } },
    );
    return true;
  } catch {
    return false;
  }
}

const pinOf = (c: { san?: string; issuer?: string; key?: string }) => (c.key ? { key: c.key } : { san: c.san!, issuer: c.issuer! });

const policyFor = (c: { root: string; san?: string; issuer?: string; key?: string }) =>
  (c.key
    ? { scheme: 'sigstore', bundleAsset: '{asset}.sigstore.json', publicKey: c.key, trustedRoot: c.root }
    : { scheme: 'sigstore', bundleAsset: '{asset}.sigstore.json', san: c.san, issuer: c.issuer, trustedRoot: c.root }) as never;

/** Our verdict; a configuration the verifier refuses (FormatError thrown) counts as "not valid" with its reason. */
async function ours(c: {
  bundle: string;
  artifact: string;
  root: string;
  san?: string;
  issuer?: string;
  key?: string;
}): Promise<{ valid: boolean; reason?: string; config?: boolean }> {
  try {
    return await verifySigstore({ assetPath: c.artifact, signaturePath: c.bundle, policy: policyFor(c) });
  } catch (err) {
    expect(err).toBeInstanceOf(FormatError);
    return { valid: false, reason: (err as FormatError).userMessage, config: true };
  }
}

/** Cases where @sigstore/verify 3.1.1 alone reaches the other verdict, and why we differ. */
const LIBRARY_DISAGREES: Record<string, string> = {
  'trust-root-tlog-missing-validity-start_fail': 'the library reads a missing validFor.start as the beginning of time; we refuse such a root',
  'rekor2-dsse-happy-path': 'the library (3.1.1) does not know DSSE logged as hashedrekord 0.0.2 (rekor-v2-spec §6.1.4: Hash(PAE)); we check that body',
};
/** Cases refused as a configuration problem (thrown FormatError), with the reason. */
const CONFIG_REFUSED: Record<string, RegExp> = {
  'trust-root-tlog-missing-validity-start_fail': /validFor\.start/,
  'managed-key-wrong-key_fail': /pinned public key unreadable/, // its key.pub is corrupt base64/DER
};

describe('sigstore-conformance bundle-verify cases', () => {
  it('holds the expected corpus (Rekor v2, checkpoints, windows, managed keys)', () => {
    const names = CASES.map((c) => c.name);
    expect(names.length).toBeGreaterThanOrEqual(70);
    for (const n of [
      'rekor2-happy-path',
      'rekor2-checkpoint-cosigned',
      'rekor2-checkpoint-multiple-cosigs',
      'rekor2-checkpoint-origin-not-first',
      'rekor2-dsse-happy-path',
      'rekor2-dsse-v002-happy-path',
      'trust-root-tlog-missing-validity-start_fail',
      'managed-key-happy-path',
    ])
      expect(names).toContain(n);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const r = await ours(c);
    expect(r.valid, r.reason).toBe(c.expectValid);
    if (!c.expectValid) expect(r.reason).toBeTruthy();
    if (CONFIG_REFUSED[c.name]) {
      expect(r.config).toBe(true);
      expect(r.reason).toMatch(CONFIG_REFUSED[c.name]!);
    } else expect(r.config).toBeUndefined();
    const lib = libraryVerdict(readFileSync(c.bundle, 'utf8'), c.root, readFileSync(c.artifact), pinOf(c));
    if (c.name === 'managed-key-wrong-key_fail') return; // the library cannot even read the key: no verdict to compare
    expect(lib, LIBRARY_DISAGREES[c.name] ?? 'the library agrees').toBe(LIBRARY_DISAGREES[c.name] ? !c.expectValid : c.expectValid);
  });

  it('names the Rekor v2 entry in the valid result', async () => {
    const r = await ours(CASES.find((c) => c.name === 'rekor2-happy-path')!);
    expect(r).toMatchObject({ valid: true, reason: expect.stringMatching(/Rekor v2 entry/) });
    const k = await ours(CASES.find((c) => c.name === 'managed-key-happy-path')!);
    expect(k).toMatchObject({ valid: true, signer: expect.stringMatching(/^public key sha256:[0-9a-f]{64}$/) });
  });
});

describe('Rekor v2 checkpoints, edited', () => {
  let dir: string;
  const happy = () => CASES.find((c) => c.name === 'rekor2-happy-path')!;
  const cosigned = () => CASES.find((c) => c.name === 'rekor2-checkpoint-multiple-cosigs')!;
  beforeAll(() => {
    dir = tempDir('rv-sigstore-wild');
  });

  /** the case's bundle with its first checkpoint rewritten by `edit` */
  function variant(c: Case, name: string, edit: (envelope: string) => string) {
    const b = JSON.parse(readFileSync(c.bundle, 'utf8'));
    const cp = b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint;
    cp.envelope = edit(cp.envelope);
    const p = join(dir, `${name}.json`);
    writeFileSync(p, JSON.stringify(b));
    return { ...c, bundle: p, json: JSON.stringify(b) };
  }
  const lines = (env: string) => env.split('\n');
  const logLine = (env: string) => lines(env).find((l) => l.startsWith('\u2014 log2025-alpha1.rekor.sigstage.dev '))!;

  it('ignores a witness cosignature from an unknown key, wherever it stands', async () => {
    const witness = `\u2014 witness.example/w9 ${randomBytes(72).toString('base64')}`;
    for (const [name, edit] of [
      ['appended', (e: string) => `${e}${witness}\n`],
      ['prepended', (e: string) => e.replace('\n\n', `\n\n${witness}\n`)],
    ] as const) {
      const v = variant(happy(), `witness-${name}`, edit);
      expect(libraryVerdict(v.json, v.root, readFileSync(v.artifact), pinOf(v))).toBe(true);
      expect((await ours(v)).valid, name).toBe(true);
    }
  });

  it("refuses a checkpoint left with witness cosignatures only (the log's own signature removed)", async () => {
    const c = cosigned();
    const v = variant(c, 'only-witnesses', (e) =>
      lines(e)
        .filter((l) => !l.startsWith('\u2014 log2025-alpha1.'))
        .join('\n'),
    );
    expect(lines(v.json).length).toBeGreaterThan(0);
    expect(libraryVerdict(v.json, v.root, readFileSync(v.artifact), pinOf(v))).toBe(false);
    const r = await ours(v);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/no signature from the log log2025-alpha1\.rekor\.sigstage\.dev/);
  });

  it("refuses a second line with the log's name and key hint whose signature does not verify (deliberate: the library accepts any one good line)", async () => {
    const v = variant(happy(), 'forged-log-line', (e) => {
      const genuine = logLine(e);
      const bytes = Buffer.from(genuine.split(' ')[2]!, 'base64');
      const forged = Buffer.concat([bytes.subarray(0, 4), randomBytes(bytes.length - 4)]);
      return `${e}\u2014 log2025-alpha1.rekor.sigstage.dev ${forged.toString('base64')}\n`;
    });
    expect(libraryVerdict(v.json, v.root, readFileSync(v.artifact), pinOf(v))).toBe(true);
    const r = await ours(v);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/signature of the log .* does not verify/);
  });

  it("refuses a flipped byte in the log's signature, a witness line with broken base64, and an edited tree size", async () => {
    const flip = variant(happy(), 'flipped-sig', (e) => {
      const genuine = logLine(e);
      const bytes = Buffer.from(genuine.split(' ')[2]!, 'base64');
      bytes[bytes.length - 1]! ^= 1;
      return e.replace(genuine, `\u2014 log2025-alpha1.rekor.sigstage.dev ${bytes.toString('base64')}`);
    });
    expect(libraryVerdict(flip.json, flip.root, readFileSync(flip.artifact), pinOf(flip))).toBe(false);
    expect((await ours(flip)).reason).toMatch(/does not verify/);
    const broken = variant(happy(), 'broken-witness', (e) => `${e}\u2014 witness.example/w1 AAAA*AAAAAAA\n`);
    expect((await ours(broken)).reason).toMatch(/malformed signature line/);
    const size = variant(happy(), 'size', (e) => e.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`));
    expect((await ours(size)).valid).toBe(false);
  });
});

describe('trusted root validity windows', () => {
  // rekor2-happy-path: TSA genTime 2025-06-12T12:02:20Z, log log2025-alpha1 (validFor from 2025-04-16)
  const base = () => CASES.find((c) => c.name === 'rekor2-happy-path')!;
  const rootWith = (edit: (r: any) => void) => {
    const r = JSON.parse(base().root);
    edit(r);
    return JSON.stringify(r);
  };
  const v2Log = (r: any) => r.tlogs.find((t: any) => t.baseUrl.includes('log2025-alpha1'));

  it("refuses the checkpoint when the log key's window ends before, or starts after, the signing time (deliberate: the library never checks a checkpoint key's window)", async () => {
    for (const [name, edit] of [
      ['ended', (r: any) => (v2Log(r).publicKey.validFor.end = '2025-06-01T00:00:00Z')],
      ['not yet started', (r: any) => (v2Log(r).publicKey.validFor.start = '2025-07-01T00:00:00Z')],
    ] as const) {
      const root = rootWith(edit);
      expect(libraryVerdict(readFileSync(base().bundle, 'utf8'), root, readFileSync(base().artifact), pinOf(base())), name).toBe(true);
      const r = await ours({ ...base(), root });
      expect(r.valid, name).toBe(false);
      expect(r.reason, name).toMatch(/log key of log2025-alpha1\.rekor\.sigstage\.dev is not valid at 2025-06-12T12:02:20/);
    }
    // the window's end is inclusive
    const root = rootWith((r) => (v2Log(r).publicKey.validFor.end = '2025-06-12T12:02:20Z'));
    expect((await ours({ ...base(), root })).valid).toBe(true);
  });

  it("refuses a signature outside the CA's, the TSA's or the CT log's window (the library agrees)", async () => {
    for (const [name, edit] of [
      [
        'CA',
        (r: any) =>
          r.certificateAuthorities.forEach((c: any) => {
            c.validFor.end = '2025-06-01T00:00:00Z';
          }),
      ],
      [
        'TSA',
        (r: any) =>
          r.timestampAuthorities.forEach((c: any) => {
            c.validFor.end = '2025-06-01T00:00:00Z';
          }),
      ],
      [
        'CT log',
        (r: any) =>
          r.ctlogs.forEach((c: any) => {
            c.publicKey.validFor.end = '2025-06-01T00:00:00Z';
          }),
      ],
    ] as const) {
      const root = rootWith(edit);
      expect(libraryVerdict(readFileSync(base().bundle, 'utf8'), root, readFileSync(base().artifact), pinOf(base())), name).toBe(false);
      expect((await ours({ ...base(), root })).valid, name).toBe(false);
    }
  });

  it('refuses a root whose tlog, CT log, CA or TSA lacks validFor.start (a configuration error)', async () => {
    for (const [name, edit] of [
      ['tlog', (r: any) => delete r.tlogs[0].publicKey.validFor.start],
      ['ctlog', (r: any) => delete r.ctlogs[0].publicKey.validFor],
      ['CA', (r: any) => delete r.certificateAuthorities[0].validFor.start],
      ['TSA', (r: any) => delete r.timestampAuthorities[0].validFor],
    ] as const) {
      const root = rootWith(edit);
      expect(() => readTrustedRoot(root), name).toThrow(FormatError);
      expect(() => readTrustedRoot(root), name).toThrow(/validFor\.start/);
      await expect(
        verifySigstore({ assetPath: base().artifact, signaturePath: base().bundle, policy: policyFor({ ...base(), root }) }),
        name,
      ).rejects.toBeInstanceOf(FormatError);
    }
    // the production and staging roots as shipped are fine
    expect(readTrustedRoot(PRODUCTION_ROOT).tlogs.map((t) => t.name)).toEqual(['rekor.sigstore.dev', 'log2025-1.rekor.sigstore.dev']);
    expect(readTrustedRoot(readFileSync(join(FIXTURES, 'staging-trusted_root.json'), 'utf8')).tlogs.length).toBe(4);
  });
});

describe('key-based bundles (pinned public key)', () => {
  let dir: string;
  let deployment: Awaited<ReturnType<typeof makeSigstoreDeployment>>;
  const signer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = (k: typeof signer) => k.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  let file: string;
  let artifact: Buffer;
  let bundle: string;
  let bundleJson: string;
  beforeAll(async () => {
    dir = tempDir('rv-sigstore-key');
    deployment = await makeSigstoreDeployment();
    artifact = randomBytes(300_000);
    file = join(dir, 'app.tar.gz');
    writeFileSync(file, artifact);
    bundleJson = await deployment.signBlobWithKey(artifact, signer);
    bundle = join(dir, 'app.tar.gz.sigstore.json');
    writeFileSync(bundle, bundleJson);
  });

  it('accepts a bundle made with the pinned P-256 key (the library agrees) and refuses it for another key', async () => {
    const c = { bundle, artifact: file, root: deployment.trustedRootJson };
    expect(libraryVerdict(bundleJson, c.root, artifact, { key: pem(signer) })).toBe(true);
    const r = await ours({ ...c, key: pem(signer) });
    expect(r).toMatchObject({ valid: true });
    expect(libraryVerdict(bundleJson, c.root, artifact, { key: pem(other) })).toBe(false);
    expect((await ours({ ...c, key: pem(other) })).valid).toBe(false);
  });

  it('refuses a flipped file byte, and a real cosign key-based bundle checked against another key', async () => {
    const bytes = Buffer.from(artifact);
    bytes[1000]! ^= 1;
    const tampered = join(dir, 'tampered.tar.gz');
    writeFileSync(tampered, bytes);
    expect((await ours({ bundle, artifact: tampered, root: deployment.trustedRootJson, key: pem(signer) })).valid).toBe(false);
    const real = CASES.find((c) => c.name === 'managed-key-happy-path')!;
    expect(libraryVerdict(readFileSync(real.bundle, 'utf8'), real.root, readFileSync(real.artifact), { key: pem(other) })).toBe(false);
    expect((await ours({ ...real, key: pem(other) })).valid).toBe(false);
  });

  it('never lets one kind of pin stand in for the other', async () => {
    const byIdentity = await ours({ bundle, artifact: file, root: deployment.trustedRootJson, san: 'https://x.example/ci', issuer: 'https://x.example' });
    expect(byIdentity).toMatchObject({ valid: false, reason: expect.stringMatching(/bare public key/) });
    const certBundle = join(dir, 'cert.sigstore.json');
    writeFileSync(certBundle, await deployment.signBlob(artifact, { san: 'https://x.example/ci', issuer: 'https://x.example' }));
    const byKey = await ours({ bundle: certBundle, artifact: file, root: deployment.trustedRootJson, key: pem(signer) });
    expect(byKey).toMatchObject({ valid: false, reason: expect.stringMatching(/policy pins a public key/) });
  });

  it('config: exactly one of issuer + san or publicKey / publicKeyFile', () => {
    const base = { scheme: 'sigstore', trustedRoot: '{}' };
    expect(SignaturePolicySchema.safeParse({ ...base, publicKey: pem(signer) }).success).toBe(true);
    expect(SignaturePolicySchema.safeParse({ ...base, publicKeyFile: 'cosign.pub' }).success).toBe(true);
    expect(SignaturePolicySchema.safeParse({ ...base, issuer: 'https://gitlab.com', san: 'x' }).success).toBe(true);
    for (const bad of [
      {},
      { issuer: 'https://gitlab.com' },
      { san: 'x' },
      { issuer: 'https://gitlab.com', san: 'x', publicKey: pem(signer) },
      { san: 'x', publicKeyFile: 'k.pub' },
    ]) {
      expect(SignaturePolicySchema.safeParse({ ...base, ...bad }).success, JSON.stringify(Object.keys(bad))).toBe(false);
    }
  });

  it('refuses a pinned key that is not one PEM public key (a configuration error)', async () => {
    for (const key of [
      'not a key',
      pem(signer).replace('PUBLIC KEY', 'PRIVATE KEY'),
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    ]) {
      await expect(
        verifySigstore({ assetPath: file, signaturePath: bundle, policy: policyFor({ root: deployment.trustedRootJson, key }) }),
      ).rejects.toBeInstanceOf(FormatError);
    }
  });
});

describe('malformed bundles end in a FormatError with a reason', () => {
  let dir: string;
  let message: any;
  let dsse: any;
  let v2: any;
  let root: string;
  let file: string;
  beforeAll(async () => {
    dir = tempDir('rv-sigstore-malformed');
    const d = await makeSigstoreDeployment();
    root = d.trustedRootJson;
    const artifact = randomBytes(1000);
    file = join(dir, 'a.bin');
    writeFileSync(file, artifact);
    message = JSON.parse(await d.signBlob(artifact, { san: 'https://x.example/ci', issuer: 'https://x.example' }));
    dsse = JSON.parse(await d.attest([{ name: 'a.bin', sha256: '00'.repeat(32) }], { san: 'https://x.example/ci', issuer: 'https://x.example' }));
    v2 = JSON.parse(readFileSync(CASES.find((c) => c.name === 'rekor2-happy-path')!.bundle, 'utf8'));
  });

  const b64 = (s: string) => Buffer.from(s).toString('base64');
  type Edit = [string, 'message' | 'dsse' | 'v2', (b: any) => unknown];
  const tlog = (b: any) => b.verificationMaterial.tlogEntries[0];
  const EDITS: Edit[] = [
    ['top level is an array', 'message', () => []],
    ['top level is a string', 'message', () => 'bundle'],
    ['top level is null', 'message', () => null],
    ['mediaType missing', 'message', (b) => void delete b.mediaType],
    ['mediaType a number', 'message', (b) => void (b.mediaType = 3)],
    ['verificationMaterial missing', 'message', (b) => void delete b.verificationMaterial],
    ['verificationMaterial null', 'message', (b) => void (b.verificationMaterial = null)],
    ['verificationMaterial a string', 'message', (b) => void (b.verificationMaterial = 'x')],
    ['verificationMaterial an array', 'message', (b) => void (b.verificationMaterial = [])],
    ['certificate null (no material left)', 'message', (b) => void (b.verificationMaterial.certificate = null)],
    ['certificate a string', 'message', (b) => void (b.verificationMaterial.certificate = 'MIIB')],
    ['certificate rawBytes missing', 'message', (b) => void (b.verificationMaterial.certificate = {})],
    ['certificate rawBytes a number', 'message', (b) => void (b.verificationMaterial.certificate.rawBytes = 5)],
    ['certificate and publicKey both', 'message', (b) => void (b.verificationMaterial.publicKey = { hint: 'x' })],
    [
      'x509CertificateChain certificates a string',
      'message',
      (b) => {
        b.verificationMaterial.x509CertificateChain = { certificates: 'x' };
        delete b.verificationMaterial.certificate;
      },
    ],
    [
      'x509CertificateChain certificates [null]',
      'message',
      (b) => {
        b.verificationMaterial.x509CertificateChain = { certificates: [null] };
        delete b.verificationMaterial.certificate;
      },
    ],
    [
      'publicKey hint a number',
      'message',
      (b) => {
        b.verificationMaterial.publicKey = { hint: 7 };
        delete b.verificationMaterial.certificate;
      },
    ],
    ['tlogEntries a string', 'message', (b) => void (b.verificationMaterial.tlogEntries = 'x')],
    ['tlogEntries an object', 'message', (b) => void (b.verificationMaterial.tlogEntries = {})],
    ['tlogEntries [null]', 'message', (b) => void (b.verificationMaterial.tlogEntries = [null])],
    ['tlogEntries [5]', 'message', (b) => void (b.verificationMaterial.tlogEntries = [5])],
    ['logIndex missing', 'message', (b) => void delete tlog(b).logIndex],
    ['logIndex not a number', 'message', (b) => void (tlog(b).logIndex = 'abc')],
    ['logIndex a fraction', 'message', (b) => void (tlog(b).logIndex = 1.5)],
    ['logId missing', 'message', (b) => void delete tlog(b).logId],
    ['logId a string', 'message', (b) => void (tlog(b).logId = 'x')],
    ['logId keyId a number', 'message', (b) => void (tlog(b).logId.keyId = 5)],
    ['kindVersion missing', 'message', (b) => void delete tlog(b).kindVersion],
    ['kindVersion null', 'message', (b) => void (tlog(b).kindVersion = null)],
    ['kindVersion kind a number', 'message', (b) => void (tlog(b).kindVersion.kind = 5)],
    ['kindVersion version missing', 'message', (b) => void delete tlog(b).kindVersion.version],
    ['kindVersion unknown kind', 'message', (b) => void (tlog(b).kindVersion.kind = 'rekord')],
    ['kindVersion unknown version', 'message', (b) => void (tlog(b).kindVersion.version = '9.9.9')],
    ['integratedTime not a number', 'message', (b) => void (tlog(b).integratedTime = 'soon')],
    ['integratedTime an object', 'message', (b) => void (tlog(b).integratedTime = {})],
    ['canonicalizedBody missing', 'message', (b) => void delete tlog(b).canonicalizedBody],
    ['canonicalizedBody a number', 'message', (b) => void (tlog(b).canonicalizedBody = 5)],
    ['canonicalizedBody not JSON', 'message', (b) => void (tlog(b).canonicalizedBody = b64('not json'))],
    ['canonicalizedBody an array', 'message', (b) => void (tlog(b).canonicalizedBody = b64('[]'))],
    ['canonicalizedBody without spec', 'message', (b) => void (tlog(b).canonicalizedBody = b64('{"apiVersion":"0.0.1","kind":"hashedrekord"}'))],
    [
      'canonicalizedBody spec without signature',
      'message',
      (b) => void (tlog(b).canonicalizedBody = b64('{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{}}}')),
    ],
    ['canonicalizedBody of another kind', 'message', (b) => void (tlog(b).canonicalizedBody = b64('{"apiVersion":"0.0.1","kind":"dsse","spec":{}}'))],
    ['inclusionPromise a string', 'message', (b) => void (tlog(b).inclusionPromise = 'x')],
    ['inclusionPromise SET a number', 'message', (b) => void (tlog(b).inclusionPromise.signedEntryTimestamp = 5)],
    ['inclusionProof a string', 'message', (b) => void (tlog(b).inclusionProof = 'x')],
    ['inclusionProof without checkpoint', 'message', (b) => void delete tlog(b).inclusionProof.checkpoint],
    ['checkpoint a string', 'message', (b) => void (tlog(b).inclusionProof.checkpoint = 'x')],
    ['checkpoint envelope a number', 'message', (b) => void (tlog(b).inclusionProof.checkpoint.envelope = 5)],
    [
      'checkpoint envelope without a blank line',
      'message',
      (b) => void (tlog(b).inclusionProof.checkpoint.envelope = tlog(b).inclusionProof.checkpoint.envelope.replace('\n\n', '\n')),
    ],
    [
      'checkpoint envelope without its final newline',
      'message',
      (b) => void (tlog(b).inclusionProof.checkpoint.envelope = tlog(b).inclusionProof.checkpoint.envelope.trimEnd()),
    ],
    [
      'checkpoint tree size not a number',
      'message',
      (b) => void (tlog(b).inclusionProof.checkpoint.envelope = tlog(b).inclusionProof.checkpoint.envelope.replace(/\n\d+\n/, '\nlots\n')),
    ],
    ['inclusionProof hashes a string', 'message', (b) => void (tlog(b).inclusionProof.hashes = 'x')],
    ['inclusionProof hashes [5]', 'message', (b) => void (tlog(b).inclusionProof.hashes = [5])],
    ['inclusionProof treeSize not a number', 'message', (b) => void (tlog(b).inclusionProof.treeSize = 'big')],
    ['inclusionProof rootHash a number', 'message', (b) => void (tlog(b).inclusionProof.rootHash = 7)],
    ['timestampVerificationData a string', 'message', (b) => void (b.verificationMaterial.timestampVerificationData = 'x')],
    ['rfc3161Timestamps a string', 'message', (b) => void (b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: 'x' })],
    [
      'rfc3161Timestamps signedTimestamp a number',
      'message',
      (b) => void (b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: 5 }] }),
    ],
    [
      'rfc3161Timestamps signedTimestamp not DER',
      'message',
      (b) => void (b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: 'AAAA' }] }),
    ],
    ['messageSignature null (no content left)', 'message', (b) => void (b.messageSignature = null)],
    ['messageSignature a string', 'message', (b) => void (b.messageSignature = 'x')],
    ['messageSignature signature missing', 'message', (b) => void delete b.messageSignature.signature],
    ['messageSignature signature a number', 'message', (b) => void (b.messageSignature.signature = 5)],
    ['messageDigest missing', 'message', (b) => void delete b.messageSignature.messageDigest],
    ['messageDigest a string', 'message', (b) => void (b.messageSignature.messageDigest = 'x')],
    ['messageDigest digest a number', 'message', (b) => void (b.messageSignature.messageDigest.digest = 5)],
    ['messageDigest algorithm a number', 'message', (b) => void (b.messageSignature.messageDigest.algorithm = 5)],
    ['messageSignature and dsseEnvelope both', 'message', (b) => void (b.dsseEnvelope = { payload: 'e30=', payloadType: 'x', signatures: [{ sig: 'AA==' }] })],
    ['dsseEnvelope payload missing', 'dsse', (b) => void delete b.dsseEnvelope.payload],
    ['dsseEnvelope payloadType a number', 'dsse', (b) => void (b.dsseEnvelope.payloadType = 5)],
    ['dsseEnvelope signatures a string', 'dsse', (b) => void (b.dsseEnvelope.signatures = 'x')],
    ['dsseEnvelope signatures empty', 'dsse', (b) => void (b.dsseEnvelope.signatures = [])],
    ['dsseEnvelope signatures [{}]', 'dsse', (b) => void (b.dsseEnvelope.signatures = [{}])],
    ['dsseEnvelope sig a number', 'dsse', (b) => void (b.dsseEnvelope.signatures[0].sig = 5)],
    ['Rekor v2 body not JSON', 'v2', (b) => void (tlog(b).canonicalizedBody = b64('{'))],
    ['Rekor v2 body without spec', 'v2', (b) => void (tlog(b).canonicalizedBody = b64('{"apiVersion":"0.0.2","kind":"hashedrekord"}'))],
  ];

  it(`holds ${EDITS.length} structurally broken bundles`, () => {
    expect(EDITS.length).toBeGreaterThanOrEqual(50);
  });

  it.each(EDITS.map(([name, from, edit]) => [name, from, edit] as const))('%s (%s)', async (name, from, edit) => {
    const b = structuredClone(from === 'message' ? message : from === 'dsse' ? dsse : v2);
    const ret = edit(b);
    const json = JSON.stringify(ret === undefined ? b : ret);
    let thrown: unknown;
    try {
      parseBundle(Buffer.from(json));
    } catch (err) {
      thrown = err;
    }
    expect(thrown, name).toBeInstanceOf(FormatError);
    const reason = (thrown as FormatError).userMessage;
    expect(reason.length).toBeGreaterThan(10);
    expect(reason).not.toMatch(/Cannot read|is not a function|is not iterable|of undefined|of null/);
    const p = join(dir, 'm.json');
    writeFileSync(p, json);
    const r = await verifySigstore({
      assetPath: file,
      signaturePath: p,
      policy: policyFor({ root, san: 'https://x.example/ci', issuer: 'https://x.example' }),
    });
    expect(r).toMatchObject({ valid: false, reason });
  });
});

describe("Rekor v1 bodies name the bundle's signer", () => {
  it('refuses an entry the log signed for another key with the same signature bytes (deliberate: the library compares only signature and digest)', async () => {
    const d = await makeSigstoreDeployment();
    const dir = tempDir('rv-sigstore-v1-signer');
    const artifact = randomBytes(2000);
    const file = join(dir, 'a.bin');
    writeFileSync(file, artifact);
    const identity = { san: 'https://x.example/ci', issuer: 'https://x.example' };
    const otherPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const forged = await d.signBlob(artifact, identity, { loggedPem: otherPem });
    const bundle = join(dir, 'forged.json');
    writeFileSync(bundle, forged);
    expect(libraryVerdict(forged, d.trustedRootJson, artifact, identity)).toBe(true);
    const r = await ours({ bundle, artifact: file, root: d.trustedRootJson, ...identity });
    expect(r).toMatchObject({ valid: false, reason: expect.stringMatching(/body names another signer than the bundle's certificate/) });
    // the same bundle logged with its own certificate verifies
    const genuine = join(dir, 'genuine.json');
    writeFileSync(genuine, await d.signBlob(artifact, identity));
    expect((await ours({ bundle: genuine, artifact: file, root: d.trustedRootJson, ...identity })).valid).toBe(true);
  });
});

describe('Rekor v2 bodies against the bundle (checkV2Body on real entries)', () => {
  const load = (name: string) => JSON.parse(readFileSync(CASES.find((c) => c.name === name)!.bundle, 'utf8'));
  const bodyOf = (b: any) => JSON.parse(Buffer.from(b.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64').toString());
  const materialOf = (b: any) => {
    const der = Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
    return { kind: 'certificate' as const, der, key: new X509Certificate(der).publicKey };
  };
  const message = (b: any) => ({
    kind: 'message' as const,
    algorithm: HashAlgorithm.SHA2_256,
    digest: Buffer.from(b.messageSignature.messageDigest.digest, 'base64'),
    signature: Buffer.from(b.messageSignature.signature, 'base64'),
  });
  const dsseOf = (b: any) => ({
    kind: 'dsse' as const,
    payloadType: b.dsseEnvelope.payloadType,
    payload: Buffer.from(b.dsseEnvelope.payload, 'base64'),
    signature: Buffer.from(b.dsseEnvelope.signatures[0].sig, 'base64'),
  });
  const check = (body: unknown, kv: { kind: string; version: string }, content: any, material: any) =>
    checkV2Body(0, Buffer.from(JSON.stringify(body)), kv, content, material);
  const HR = { kind: 'hashedrekord', version: '0.0.2' };

  it('accepts the genuine hashedrekord 0.0.2 and DSSE-as-hashedrekord bodies, and the dsse 0.0.2 one', () => {
    const m = load('rekor2-happy-path');
    expect(check(bodyOf(m), HR, message(m), materialOf(m))).toEqual({});
    const d = load('rekor2-dsse-happy-path');
    expect(check(bodyOf(d), HR, dsseOf(d), materialOf(d)).dsseAsHashedRekord).toBeInstanceOf(Buffer);
    const v = load('rekor2-dsse-v002-happy-path');
    expect(check(bodyOf(v), { kind: 'dsse', version: '0.0.2' }, dsseOf(v), materialOf(v))).toEqual({});
  });

  it('refuses a body naming another certificate, key details that do not fit, another digest or algorithm, another signature', () => {
    const m = load('rekor2-happy-path');
    const other = load('happy-path-v0.3');
    const variants: Array<[string, (body: any) => void, RegExp]> = [
      [
        'another certificate',
        (b) => (b.spec.hashedRekordV002.signature.verifier.x509Certificate.rawBytes = other.verificationMaterial.certificate.rawBytes),
        /another certificate/,
      ],
      [
        'a public key instead',
        (b) =>
          (b.spec.hashedRekordV002.signature.verifier = {
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            publicKey: { rawBytes: b.spec.hashedRekordV002.signature.verifier.x509Certificate.rawBytes },
          }),
        /another public key/,
      ],
      ['P-384 key details', (b) => (b.spec.hashedRekordV002.signature.verifier.keyDetails = 'PKIX_ECDSA_P384_SHA_384'), /key details/],
      ['another digest', (b) => (b.spec.hashedRekordV002.data.digest = Buffer.alloc(32, 7).toString('base64')), /digest is not the file's/],
      ['another algorithm', (b) => (b.spec.hashedRekordV002.data.algorithm = 'SHA2_384'), /digest algorithm/],
      ['another signature', (b) => (b.spec.hashedRekordV002.signature.content = Buffer.alloc(70, 1).toString('base64')), /signature differs/],
    ];
    for (const [name, edit, reason] of variants) {
      const body = bodyOf(m);
      edit(body);
      expect(check(body, HR, message(m), materialOf(m)).reason, name).toMatch(reason);
    }
    // the DSSE envelope's body checked as if it were a message signature, and the reverse
    const d = load('rekor2-dsse-happy-path');
    expect(check(bodyOf(d), HR, message(m), materialOf(d)).reason).toBeTruthy();
    expect(check(bodyOf(m), HR, dsseOf(d), materialOf(m)).reason).toMatch(/Hash\(PAE/);
  });

  it('throws FormatError for a body with unknown fields, a kind that disagrees, or no spec', () => {
    const m = load('rekor2-happy-path');
    const extra = bodyOf(m);
    extra.spec.hashedRekordV002.note = 'unsigned claim';
    expect(() => check(extra, HR, message(m), materialOf(m))).toThrow(FormatError);
    expect(() => check(bodyOf(m), { kind: 'dsse', version: '0.0.2' }, message(m), materialOf(m))).toThrow(/says hashedrekord\/0\.0\.2/);
    expect(check({ kind: 'hashedrekord', apiVersion: '0.0.2', spec: {} }, HR, message(m), materialOf(m)).reason).toMatch(/unsupported spec/);
  });
});
