/**
 * Authenticode as it exists in the wild (issue 12): legacy PKCS#9 countersignature timestamps
 * (`signtool /t`, osslsigncode `-t` against a loopback Authenticode-protocol TSA), the nested
 * signatures policy (`signatures: primary | any-pinned`) on dual-signed files, and MD5 / SHA-1
 * refused as insecure. Fixtures made here by mingw-w64, openssl (+ faketime) and osslsigncode, and
 * real signed files from signify's test data (fixtures/authenticode/ORIGIN.md). Every verdict is
 * compared with `osslsigncode verify`; where we are deliberately stricter the test says so.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawCertificates } from '../../../lambda/formats/authenticode/pkcs7';
import { verifyAuthenticode } from '../../../lambda/formats/authenticode/verify';
import type { SignatureInput } from '../../../lambda/formats/types';
import { toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

type AuthenticodePolicy = Extract<SignatureInput['policy'], { scheme: 'authenticode' }>;

describe.skipIf(!toolsAvailable(...F.LEGACY_TSA_TOOLS))('Authenticode legacy (PKCS#9) timestamps — osslsigncode -t fixtures', () => {
  let dir: string;
  let pki: F.Pki;
  let pe: string;
  let oldPolicy: AuthenticodePolicy;
  let tsaTime: Date;
  const legacy = async (name: string, signer: F.Cert, tsa: F.Cert, time: Date, opts: F.LegacyTsaOptions & { hash?: F.SignOptions['hash'] } = {}) => {
    const server = await F.startLegacyTsa(dir, tsa, time, opts);
    try {
      const out = await F.signWithLegacyTimestamp(pe, join(dir, name), signer, server.url, { hash: opts.hash, time });
      expect(server.requests).toBe(1);
      return out;
    } finally {
      await server.close();
    }
  };
  const verify = (file: string, policy: AuthenticodePolicy, tsa = true) =>
    verifyAuthenticode({ assetPath: file, policy }, tsa ? { tsaTrustAnchors: [pki.ca.cert.pem] } : {});
  const ossl = (file: string) => F.osslVerify(file, pki.ca.cert.crt);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-authenticode-wild-'));
    pki = F.makePki(dir);
    pe = F.buildPe(dir, 'hello', F.HELLO_C);
    oldPolicy = { scheme: 'authenticode', certSha256: [pki.oldLeaf.sha256] };
    tsaTime = new Date('2020-06-01T12:00:00Z'); // inside oldLeaf's validity (2020)
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('verifies a legacy countersignature and judges a since-expired signer at its signingTime (as osslsigncode does)', async () => {
    const f = await legacy('legacy.exe', pki.oldLeaf, pki.tsa, tsaTime);
    const theirs = ossl(f);
    expect(theirs.output).toMatch(/Countersignatures/);
    expect(theirs.ok).toBe(true);
    const r = await verify(f, oldPolicy);
    expect(r.details?.timestamp).toMatchObject({ kind: 'countersignature', claimedTime: tsaTime.toISOString(), used: true });
    expect(r).toMatchObject({ valid: true });
    expect(r.reason).toMatch(/timestamped 2020-06-01T12:00:00.000Z by CN=Test TSA/);
    // the same file judged without the timestamp (a TSA nobody trusts): the expired signer fails
    const untrusted = await verify(f, oldPolicy, false);
    expect(untrusted.valid).toBe(false);
    expect(untrusted.reason).toMatch(/timestamp ignored: TSA not trusted/);
    expect(F.osslVerify(f, pki.ca.cert.crt, pki.fakeCa.cert.crt).ok).toBe(false);
  });

  it('accepts a SHA-256 countersignature and a signer valid now', async () => {
    const f = await legacy('legacy-sha256.exe', pki.leaf, pki.tsa, new Date(Date.now() - 3_600_000), { hash: 'sha256' });
    expect(ossl(f).ok).toBe(true);
    const r = await verify(f, { scheme: 'authenticode', certSha256: [pki.leaf.sha256] });
    expect(r).toMatchObject({ valid: true });
    expect(r.details?.timestamp).toMatchObject({ kind: 'countersignature', used: true });
  });

  it("ignores a countersignature by an untrusted TSA with the trusted TSA's name (expired signer → invalid, as osslsigncode)", async () => {
    const f = await legacy('legacy-fake-tsa.exe', pki.oldLeaf, pki.fakeTsa, tsaTime);
    expect(ossl(f).ok).toBe(false);
    const r = await verify(f, oldPolicy);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/not valid now \(timestamp ignored: TSA not trusted/);
  });

  it('ignores a countersignature over another signature value (messageDigest mismatch)', async () => {
    const f = await legacy('legacy-other.exe', pki.oldLeaf, pki.tsa, tsaTime, { otherContent: Buffer.from('not the signature value') });
    expect(ossl(f).ok).toBe(false);
    const r = await verify(f, oldPolicy);
    expect(r.valid).toBe(false);
    expect((r.details?.timestamp as { problem?: string } | undefined)?.problem).toMatch(/messageDigest does not match the signature it countersigns/);
  });

  it('ignores a countersignature whose TSA signature was altered', async () => {
    const good = await legacy('legacy-for-flip.exe', pki.oldLeaf, pki.tsa, tsaTime);
    const bytes = readFileSync(good);
    const counter = countersignatureOf(F.signatureDer(bytes));
    const at = bytes.indexOf(counter.signatureValue);
    expect(at).toBeGreaterThan(0);
    const f = join(dir, 'legacy-flipped.exe');
    writeFileSync(f, F.flip(bytes, at + Math.floor(counter.signatureValue.length / 2)));
    expect(ossl(f).ok).toBe(false);
    const r = await verify(f, oldPolicy);
    expect(r.valid).toBe(false);
    expect((r.details?.timestamp as { problem?: string } | undefined)?.problem).toMatch(/countersignature/);
  });

  it('check-signature --tsa-cert (repeatable) trusts the TSA; without it the expired signer is invalid; a non-PEM file is a usage error', async () => {
    const f = await legacy('legacy-cli.exe', pki.oldLeaf, pki.tsa, tsaTime);
    const base = ['--scheme', 'authenticode', '--file', f, '--cert-sha256', pki.oldLeaf.sha256, '--json'];
    const ok = await F.checkSignatureCli([...base, '--tsa-cert', pki.fakeCa.cert.crt, '--tsa-cert', pki.ca.cert.crt]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, reason: expect.stringMatching(/timestamped 2020-06-01T12:00:00.000Z/) });
    const without = await F.checkSignatureCli(base);
    expect(without.code).toBe(1);
    expect(JSON.parse(without.stdout).reason).toMatch(/timestamp ignored: TSA not trusted/);
    const wrongTsa = await F.checkSignatureCli([...base, '--tsa-cert', pki.fakeCa.cert.crt]);
    expect(wrongTsa.code).toBe(1);
    const notPemFile = join(dir, 'not-a-certificate.txt');
    writeFileSync(notPemFile, 'no certificate here\n');
    const notPem = await F.checkSignatureCli([...base, '--tsa-cert', notPemFile]);
    expect(notPem.code).toBeGreaterThanOrEqual(2);
    expect(notPem.stderr).toMatch(/holds no PEM certificate/);
  });

  it('ignores a countersignature by a certificate without EKU timeStamping (stricter than osslsigncode, which does not check it)', async () => {
    const f = await legacy('legacy-not-tsa.exe', pki.oldLeaf, pki.colleague, tsaTime);
    const r = await verify(f, oldPolicy);
    expect(r.valid).toBe(false);
    expect((r.details?.timestamp as { problem?: string } | undefined)?.problem).toBe('TSA certificate lacks EKU timeStamping');
  });
});

/** The countersignature SignerInfo in a signature's unsigned attributes, and its signature value. */
function countersignatureOf(der: Buffer): { signerInfo: pkijs.SignerInfo; signatureValue: Buffer } {
  const ci = pkijs.ContentInfo.fromBER(der);
  const sd = new pkijs.SignedData({ schema: ci.content });
  const attr = sd.signerInfos[0]!.unsignedAttrs!.attributes.find((a) => a.type === '1.2.840.113549.1.9.6')!;
  const signerInfo = new pkijs.SignerInfo({ schema: attr.values[0] as asn1js.BaseBlock });
  return { signerInfo, signatureValue: Buffer.from(signerInfo.signature.valueBlock.valueHexView) };
}

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS))('Authenticode nested signatures policy and insecure digests — osslsigncode fixtures', () => {
  let dir: string;
  let pki: F.Pki;
  let pe: string;
  let dual: string;
  const pin = (c: F.Cert, signatures?: 'primary' | 'any-pinned'): AuthenticodePolicy => ({
    scheme: 'authenticode',
    certSha256: [c.sha256],
    ...(signatures ? { signatures } : {}),
  });
  const verify = (file: string, policy: AuthenticodePolicy) => verifyAuthenticode({ assetPath: file, policy }, { tsaTrustAnchors: [pki.ca.cert.pem] });
  const ossl = (file: string) => F.osslVerify(file, pki.ca.cert.crt).ok;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-authenticode-nested-'));
    pki = F.makePki(dir);
    pe = F.buildPe(dir, 'hello', F.HELLO_C);
    // dual-signed the usual way: SHA-1 primary, SHA-256 nested (osslsigncode -nest)
    const sha1 = F.sign(pe, join(dir, 'sha1.exe'), pki.leaf, { hash: 'sha1' });
    dual = F.sign(sha1, join(dir, 'dual.exe'), pki.leaf, { hash: 'sha256', nest: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a SHA-1 signature with "insecure digest algorithm" (deliberately stricter: osslsigncode and Windows accept SHA-1)', async () => {
    const f = join(dir, 'sha1.exe');
    expect(ossl(f)).toBe(true);
    const r = await verify(f, pin(pki.leaf));
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/^insecure digest algorithm SHA-1/);
    expect(r.reason).not.toMatch(/unsupported/);
  });

  it('refuses an MD5 signature with "insecure digest algorithm", not "unsupported" (osslsigncode accepts it)', async () => {
    const f = F.sign(pe, join(dir, 'md5.exe'), pki.leaf, { hash: 'md5' as F.SignOptions['hash'] });
    expect(ossl(f)).toBe(true);
    const r = await verify(f, pin(pki.leaf, 'any-pinned'));
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/^insecure digest algorithm MD5/);
  });

  it('under "primary" (the default) a dual-signed file is judged by its SHA-1 primary: refused', async () => {
    expect(ossl(dual)).toBe(true);
    for (const policy of [pin(pki.leaf), pin(pki.leaf, 'primary')]) {
      const r = await verify(dual, policy);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/^insecure digest algorithm SHA-1/);
      expect((r.details?.nestedSignatures as Array<{ digestAlgorithm?: string }> | undefined)?.[0]?.digestAlgorithm).toBe('sha256');
    }
  });

  it('under "any-pinned" a dual-signed file is accepted by its SHA-256 nested signature', async () => {
    const r = await verify(dual, pin(pki.leaf, 'any-pinned'));
    expect(r).toMatchObject({ valid: true });
    expect(r.details?.acceptedSignature).toBe('nested signature 1');
    expect(r.details?.digestAlgorithm).toBe('sha256');
    expect(r.reason).toMatch(/^nested signature 1 \(policy signatures: any-pinned\).*primary signature not accepted: insecure digest algorithm SHA-1/);
  });

  it('check-signature --signatures any-pinned accepts the dual-signed file; the default refuses it; a bad value is a usage error', async () => {
    const base = ['--scheme', 'authenticode', '--file', dual, '--cert-sha256', pki.leaf.sha256, '--json'];
    const any = await F.checkSignatureCli([...base, '--signatures', 'any-pinned']);
    expect(any.code).toBe(0);
    expect(JSON.parse(any.stdout).reason).toMatch(/^nested signature 1/);
    const primary = await F.checkSignatureCli(base);
    expect(primary.code).toBe(1);
    expect(JSON.parse(primary.stdout).reason).toMatch(/^insecure digest algorithm SHA-1/);
    const bad = await F.checkSignatureCli([...base, '--signatures', 'all']);
    expect(bad.code).toBeGreaterThanOrEqual(2);
    expect(bad.stderr).toMatch(/signatures/);
  });

  it('under "any-pinned" a nested signature by another signer does not count', async () => {
    const sha1 = F.sign(pe, join(dir, 'sha1-b.exe'), pki.leaf, { hash: 'sha1' });
    const f = F.sign(sha1, join(dir, 'dual-colleague.exe'), pki.colleague, { hash: 'sha256', nest: true });
    const r = await verify(f, pin(pki.leaf, 'any-pinned'));
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/insecure digest algorithm SHA-1.*nested signature 1: signer .*Someone Else.* is not the pinned signer/);
  });

  it('under "any-pinned" a modified file fails every signature', async () => {
    const bytes = readFileSync(dual);
    const f = join(dir, 'dual-flipped.exe');
    writeFileSync(f, F.flip(bytes, F.sectionRange(bytes, '.text').start + 64));
    expect(ossl(f)).toBe(false);
    const r = await verify(f, pin(pki.leaf, 'any-pinned'));
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/nested signature 1: sha256 Authenticode digest of the file .* differs/);
  });

  it('under "primary" a genuine nested signature never stands in for an impostor primary (stricter than osslsigncode); "any-pinned" accepts the pinned nested one (as osslsigncode)', async () => {
    const impostor = F.sign(pe, join(dir, 'impostor.exe'), pki.impostor);
    const f = F.sign(impostor, join(dir, 'impostor-nested.exe'), pki.leaf, { nest: true });
    expect(ossl(f)).toBe(true); // osslsigncode counts any verified signature
    expect(await verify(f, pin(pki.leaf))).toMatchObject({ valid: false, unpinnedSigner: true });
    const any = await verify(f, pin(pki.leaf, 'any-pinned'));
    expect(any).toMatchObject({ valid: true });
    expect(any.details?.acceptedSignature).toBe('nested signature 1');
  });
});

describe('Authenticode on real signed files (signify test data, fixtures/authenticode/ORIGIN.md)', () => {
  const fixture = (name: string) => join(__dirname, '../fixtures', 'authenticode', name);
  const vkdCa = () => readFileSync(fixture('kdbazis.dll.crt'), 'utf8');
  /**
   * A certificate carried anywhere in the file's signature (outer set, nested signatures, RFC 3161
   * tokens), by subject CN, as PEM of its original DER (the tests say why they trust it).
   */
  const certFromFile = (file: string, cn: string): string => {
    const found: Uint8Array[] = [];
    const walk = (contentInfoDer: Uint8Array, depth: number) => {
      const ci = pkijs.ContentInfo.fromBER(contentInfoDer);
      const sd = new pkijs.SignedData({ schema: ci.content });
      rawCertificates(ci.content, sd).forEach((der, i) => {
        const c = sd.certificates?.[i];
        if (c instanceof pkijs.Certificate && c.subject.typesAndValues.some((t) => t.type === '2.5.4.3' && t.value.valueBlock.value === cn)) found.push(der);
      });
      if (depth > 2) return;
      for (const si of sd.signerInfos)
        for (const a of si.unsignedAttrs?.attributes ?? [])
          if (a.type === '1.3.6.1.4.1.311.2.4.1' || a.type === '1.3.6.1.4.1.311.3.3.1')
            for (const v of a.values) walk((v as asn1js.BaseBlock).valueBeforeDecodeView, depth + 1);
    };
    walk(F.signatureDer(readFileSync(fixture(file))), 0);
    expect(found.length, `${cn} in ${file}`).toBeGreaterThan(0);
    const b64 = Buffer.from(found[0]!).toString('base64');
    return `-----BEGIN CERTIFICATE-----\n${b64.replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;
  };

  it("kdbazis.dll: SHA-256, legacy DigiCert countersignature verified against Node's root store; Lifetime Signing keeps judging at now (osslsigncode: Succeeded)", async () => {
    const policy: AuthenticodePolicy = { scheme: 'authenticode', caCertificate: vkdCa(), subject: 'CN=VirtualKD-Redux SPC' };
    const r = await verifyAuthenticode({ assetPath: fixture('kdbazis.dll'), policy });
    expect(r).toMatchObject({ valid: true });
    expect(r.details?.timestamp).toEqual(expect.objectContaining({ kind: 'countersignature', claimedTime: '2021-03-22T00:35:22.000Z', problem: undefined }));
    expect(String((r.details?.timestamp as { tsa?: string } | undefined)?.tsa)).toMatch(/^CN=DigiCert Timestamp 2021/);
    expect(r.details?.lifetimeSigning).toBe(true);
    if (toolsAvailable('osslsigncode')) {
      const { spawnSync } = await import('node:child_process');
      const o = spawnSync(
        'osslsigncode',
        ['verify', '-ignore-cdp', '-CAfile', fixture('kdbazis.dll.crt'), '-TSA-CAfile', '/etc/ssl/certs/ca-certificates.crt', '-in', fixture('kdbazis.dll')],
        { encoding: 'utf8' },
      );
      expect(o.status).toBe(0);
    }
    // after the signer certificate expires (2039) Lifetime Signing makes it invalid despite the timestamp
    const later = await verifyAuthenticode({ assetPath: fixture('kdbazis.dll'), policy, now: new Date('2045-01-01T00:00:00Z') });
    expect(later.valid).toBe(false);
    expect(later.reason).toMatch(/Lifetime Signing EKU/);
  });

  it('kdbazis.dll: an altered countersignature is ignored (a flipped byte in its RSA signature)', async () => {
    const bytes = readFileSync(fixture('kdbazis.dll'));
    const counter = countersignatureOf(F.signatureDer(bytes));
    const at = bytes.indexOf(counter.signatureValue);
    expect(at).toBeGreaterThan(0);
    const d = mkdtempSync(join(tmpdir(), 'rv-kdbazis-'));
    try {
      const f = join(d, 'kdbazis.dll');
      writeFileSync(f, F.flip(bytes, at + 100));
      const r = await verifyAuthenticode({ assetPath: f, policy: { scheme: 'authenticode', caCertificate: vkdCa(), subject: 'CN=VirtualKD-Redux SPC' } });
      expect(r.valid).toBe(true); // the primary is intact and valid now; only the timestamp is lost
      expect((r.details?.timestamp as { problem?: string } | undefined)?.problem).toBe('countersignature signature does not verify');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('pciide.sys (2009): SHA-1 signature refused as insecure; its legacy SHA-1/RSA countersignature itself verifies at 2009-07-14T01:45:55Z', async () => {
    const r = await verifyAuthenticode({
      assetPath: fixture('pciide.sys'),
      policy: { scheme: 'authenticode', certSha256: ['8ec73b38c260be08ffc75908bbf83bfd4e9626ce0e478b1a3aab26888c461ae1'] },
    });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/^insecure digest algorithm SHA-1/);
    // the countersignature on its own, trusting "Microsoft Time-Stamp PCA" (carried in the file;
    // Microsoft's roots are not in Node's store): osslsigncode prints the same time
    const { parseAuthenticodePkcs7 } = await import('../../../lambda/formats/authenticode/pkcs7');
    const { readTimestamp } = await import('../../../lambda/formats/authenticode/timestamp');
    const { parsePemCertificates } = await import('../../../lambda/formats/authenticode/certs');
    const p7 = parseAuthenticodePkcs7(F.signatureDer(readFileSync(fixture('pciide.sys'))));
    const anchors = parsePemCertificates(certFromFile('pciide.sys', 'Microsoft Time-Stamp PCA'));
    const ts = await readTimestamp(p7, anchors, new Date());
    expect(ts).toMatchObject({ kind: 'countersignature', claimedTime: '2009-07-14T01:45:55.000Z' });
    expect(ts.problem).toBeUndefined();
    expect(ts.genTime?.toISOString()).toBe('2009-07-14T01:45:55.000Z');
    expect(await readTimestamp(p7, [], new Date())).toMatchObject({ problem: expect.stringMatching(/^TSA not trusted/) });
  });

  it('sigcheck.exe (dual-signed, signers expired 2018): "primary" refuses the SHA-1 primary; "any-pinned" accepts the SHA-256 nested signature at its RFC 3161 time', async () => {
    const nestedSigner = '2839f2027bfb2a6ad7f70a3f38dfd7d4ab244892e18829b21070a9b542ae7ade';
    const tsaAnchor = certFromFile('sigcheck.exe', 'Microsoft Time-Stamp PCA 2010');
    const run = (signatures: 'primary' | 'any-pinned') =>
      verifyAuthenticode(
        { assetPath: fixture('sigcheck.exe'), policy: { scheme: 'authenticode', certSha256: [nestedSigner], signatures } },
        { tsaTrustAnchors: [tsaAnchor] },
      );
    const primary = await run('primary');
    expect(primary.valid).toBe(false);
    expect(primary.reason).toMatch(/^insecure digest algorithm SHA-1/);
    const any = await run('any-pinned');
    expect(any).toMatchObject({ valid: true });
    expect(any.details?.acceptedSignature).toBe('nested signature 1');
    expect(any.reason).toMatch(/timestamped 2017-/);
    // without a trusted TSA the expired nested signer fails too
    const noTsa = await verifyAuthenticode({
      assetPath: fixture('sigcheck.exe'),
      policy: { scheme: 'authenticode', certSha256: [nestedSigner], signatures: 'any-pinned' },
    });
    expect(noTsa.valid).toBe(false);
  });
});
