/**
 * Authenticode verification against fixtures made here by mingw-w64, openssl and osslsigncode.
 * Every case also runs `osslsigncode verify` and agrees with it — except where the notes demand a
 * stricter verdict than osslsigncode gives (data after the DER inside WIN_CERTIFICATE, a genuine
 * nested signature under an impostor primary, Lifetime Signing); those cases assert both verdicts
 * so the divergence is explicit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuthenticode } from '../../../lambda/formats/authenticode/verify';
import { authenticodeDigestOfFile } from '../../../lambda/formats/pe/authenticode-digest';
import type { SignatureInput } from '../../../lambda/formats/types';
import { toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

type Policy = SignatureInput['policy'];
type AuthenticodePolicy = Extract<Policy, { scheme: 'authenticode' }>;

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS))('Authenticode (osslsigncode fixtures)', () => {
  let dir: string;
  let pki: F.Pki;
  let pe: string;
  let signed: string;
  let signedBytes: Buffer;
  let byFingerprint: AuthenticodePolicy;
  let byCa: AuthenticodePolicy;
  const write = (name: string, bytes: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const verify = (assetPath: string, policy: Policy, extra: { now?: Date; tsa?: boolean } = {}) =>
    verifyAuthenticode({ assetPath, policy, now: extra.now }, extra.tsa ? { tsaTrustAnchors: [pki.ca.cert.pem] } : {});
  const ossl = (file: string) => F.osslVerify(file, pki.ca.cert.crt).ok;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-authenticode-'));
    pki = F.makePki(dir);
    pe = F.buildPe(dir, 'hello', F.HELLO_C);
    signed = F.sign(pe, join(dir, 'signed.exe'), pki.leaf);
    signedBytes = readFileSync(signed);
    byFingerprint = { scheme: 'authenticode', certSha256: [pki.leaf.sha256] };
    byCa = { scheme: 'authenticode', caCertificate: pki.ca.cert.pem, subject: F.SIGNER_SUBJECT_RFC4514 };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the PE reproducibly (same bytes twice)', () => {
    const again = F.buildPe(dir, 'hello-again', F.HELLO_C);
    expect(readFileSync(again).equals(readFileSync(pe))).toBe(true);
  });

  it('computes the digest osslsigncode calculates, for signed and unsigned files (incl. size % 8 ≠ 0)', async () => {
    const out = F.osslVerify(signed, pki.ca.cert.crt).output;
    const theirs = F.osslCalculatedDigest(out);
    expect(theirs).toMatch(/^[0-9a-f]{64}$/);
    expect((await authenticodeDigestOfFile(signed)).toString('hex')).toBe(theirs);
    expect((await authenticodeDigestOfFile(pe)).toString('hex')).toBe(theirs);

    // an unsigned file with an overlay whose size is not a multiple of 8: virtual zero padding
    const odd = write('odd.exe', Buffer.concat([readFileSync(pe), Buffer.from('overlay!!')]));
    expect(readFileSync(odd).length % 8).not.toBe(0);
    const oddSigned = F.sign(odd, join(dir, 'odd-signed.exe'), pki.leaf);
    const oddTheirs = F.osslCalculatedDigest(F.osslVerify(oddSigned, pki.ca.cert.crt).output);
    expect((await authenticodeDigestOfFile(odd)).toString('hex')).toBe(oddTheirs);
    expect((await verify(oddSigned, byFingerprint)).valid).toBe(true);
  });

  it('accepts the genuine signature pinned by certificate fingerprint', async () => {
    const r = await verify(signed, byFingerprint);
    expect(ossl(signed)).toBe(true);
    expect(r).toMatchObject({ valid: true, scheme: 'authenticode', signer: `${F.SIGNER_SUBJECT_RFC4514} (sha256 ${pki.leaf.sha256})` });
    expect(r.details?.pinnedBy).toBe('certificate fingerprint');
  });

  it('accepts the genuine signature pinned by CA + exact subject', async () => {
    const r = await verify(signed, byCa);
    expect(r.valid).toBe(true);
    expect(r.details?.pinnedBy).toBe('CA and subject');
    // the subject comparison is exact (only whitespace after "," is ignored)
    expect((await verify(signed, { ...byCa, subject: 'CN=Test Maintainer, O=Example, C=DE' })).valid).toBe(true);
    const other = await verify(signed, { ...byCa, subject: 'CN=Test Maintainer,O=Example' });
    expect(other).toMatchObject({ valid: false, unpinnedSigner: true });
  });

  // SHA-1 and MD5 are refused as insecure (authenticode-wild.test.ts)
  it.each(['sha384', 'sha512'] as const)('accepts a %s signature (digest algorithm named by the signature)', async (hash) => {
    const f = F.sign(pe, join(dir, `signed-${hash}.exe`), pki.leaf, { hash });
    expect(ossl(f)).toBe(true);
    const r = await verify(f, byFingerprint);
    expect(r.valid).toBe(true);
    expect(r.details?.digestAlgorithm).toBe(hash);
  });

  it('reports an unsigned file as unsigned', async () => {
    expect(ossl(pe)).toBe(false);
    expect(await verify(pe, byFingerprint)).toMatchObject({ valid: false, unsigned: true });
  });

  it('rejects a flipped byte in .text', async () => {
    const f = write('flipped.exe', F.flip(signedBytes, F.sectionRange(signedBytes, '.text').start + 64));
    expect(ossl(f)).toBe(false);
    const r = await verify(f, byFingerprint);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/digest .* differs/);
  });

  it('rejects an impostor certificate with the same subject (and same issuer name) as unpinned', async () => {
    const f = F.sign(pe, join(dir, 'impostor.exe'), pki.impostor);
    expect(ossl(f)).toBe(false);
    expect(await verify(f, byFingerprint)).toMatchObject({ valid: false, unpinnedSigner: true });
    const r = await verify(f, byCa);
    expect(r).toMatchObject({ valid: false, unpinnedSigner: true });
    expect(r.signer).toContain(pki.impostor.sha256);
  });

  it('rejects a valid signer from the pinned CA with another subject, and a wrong-key pin', async () => {
    const f = F.sign(pe, join(dir, 'colleague.exe'), pki.colleague);
    expect(ossl(f)).toBe(true); // a perfectly good signature — just not by the pinned signer
    expect(await verify(f, byCa)).toMatchObject({ valid: false, unpinnedSigner: true });
    expect(await verify(f, byFingerprint)).toMatchObject({ valid: false, unpinnedSigner: true });
    expect(await verify(signed, { scheme: 'authenticode', certSha256: [pki.colleague.sha256] })).toMatchObject({ valid: false, unpinnedSigner: true });
  });

  it('rejects a signer without EKU codeSigning even when pinned', async () => {
    const f = F.sign(pe, join(dir, 'tls.exe'), pki.tls);
    expect(ossl(f)).toBe(false);
    const r = await verify(f, { scheme: 'authenticode', certSha256: [pki.tls.sha256] });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/codeSigning/);
  });

  it('rejects data appended after the certificate table', async () => {
    const f = write('appended.exe', F.appended(signedBytes));
    expect(ossl(f)).toBe(false);
    const r = await verify(f, byFingerprint);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/follow the certificate table/);
  });

  it('rejects data after the DER inside the WIN_CERTIFICATE (MS13-098), which osslsigncode tolerates', async () => {
    const f = write('after-der.exe', F.dataAfterDer(signedBytes));
    expect(ossl(f)).toBe(true); // like Windows without EnableCertPaddingCheck
    const r = await verify(f, byFingerprint);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/MS13-098/);
  });

  it('rejects two WIN_CERTIFICATE entries', async () => {
    const f = write('two.exe', F.twoCertificates(signedBytes));
    expect(ossl(f)).toBe(false);
    const r = await verify(f, byFingerprint);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/more than one certificate entry/);
  });

  it('rejects a truncated file and a truncated signature', async () => {
    for (const [name, bytes] of [
      ['truncated.exe', F.truncated(signedBytes)],
      ['truncated-der.exe', F.truncatedDer(signedBytes)],
    ] as const) {
      const f = write(name, bytes);
      expect(ossl(f)).toBe(false);
      expect((await verify(f, byFingerprint)).valid).toBe(false);
    }
  });

  it('rejects non-DER framing: a SignedData length that no longer covers its SignerInfos', async () => {
    const der = F.signatureDer(signedBytes);
    expect((await verify(write('rewrapped.exe', F.withSignature(signedBytes, der)), byFingerprint)).valid).toBe(true);
    // ContentInfo { OID, [0] { SignedData } }: shrink SignedData's declared length by 256
    const sdLengthAt = der.indexOf(Buffer.from([0xa0, 0x82])) + 4 + 2;
    expect(der[sdLengthAt - 2]).toBe(0x30);
    const edited = Buffer.from(der);
    edited[sdLengthAt] -= 1;
    const f = write('framing.exe', F.withSignature(signedBytes, edited));
    expect(ossl(f)).toBe(false);
    const r = await verify(f, byFingerprint);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/declared|DER/);
  });

  describe('timestamps', () => {
    let oldTs: string;
    let oldPlain: string;
    beforeAll(() => {
      oldTs = F.sign(pe, join(dir, 'old-ts.exe'), pki.oldLeaf, { tsa: { cert: pki.tsa, time: new Date('2020-06-01T00:00:00Z') } });
      oldPlain = F.sign(pe, join(dir, 'old.exe'), pki.oldLeaf);
    });

    it('accepts an expired signer with a trusted timestamp inside its validity', async () => {
      expect(ossl(oldTs)).toBe(true);
      const byCaOld = await verify(oldTs, byCa);
      expect(byCaOld.valid).toBe(true);
      expect(byCaOld.reason).toMatch(/timestamped 2020-06-01T00:00:00.000Z by CN=Test TSA/);
      const byFp = await verify(oldTs, { scheme: 'authenticode', certSha256: [pki.oldLeaf.sha256] }, { tsa: true });
      expect(byFp.valid).toBe(true);
      expect(byFp.details?.judgedAt).toBe('2020-06-01T00:00:00.000Z');
    });

    it('rejects an expired signer without a timestamp', async () => {
      expect(ossl(oldPlain)).toBe(false);
      const r = await verify(oldPlain, byCa);
      expect(r.valid).toBe(false);
      expect(r.unpinnedSigner).toBeFalsy();
      expect(r.reason).toMatch(/not valid/);
      expect((await verify(oldPlain, { scheme: 'authenticode', certSha256: [pki.oldLeaf.sha256] }, { tsa: true })).valid).toBe(false);
    });

    it('judges at input.now when there is no timestamp', async () => {
      expect((await verify(oldPlain, byCa, { now: new Date('2020-06-01T00:00:00Z') })).valid).toBe(true);
      expect((await verify(signed, byFingerprint, { now: new Date('2020-06-01T00:00:00Z') })).valid).toBe(false);
    });

    it('ignores a timestamp from an untrusted TSA (the expired signer stays invalid)', async () => {
      const f = F.sign(pe, join(dir, 'old-fake-ts.exe'), pki.oldLeaf, { tsa: { cert: pki.fakeTsa, time: new Date('2020-06-01T00:00:00Z') } });
      expect(ossl(f)).toBe(false);
      const r = await verify(f, byCa);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/timestamp ignored: TSA not trusted/);
    });

    it('ignores a timestamp outside the signer validity', async () => {
      const f = F.sign(pe, join(dir, 'old-late-ts.exe'), pki.oldLeaf, { tsa: { cert: pki.tsa, time: new Date('2022-06-01T00:00:00Z') } });
      expect(ossl(f)).toBe(false);
      expect((await verify(f, byCa)).valid).toBe(false);
    });

    it('judges a Lifetime Signing certificate at now despite a timestamp (osslsigncode ignores that EKU)', async () => {
      const f = F.sign(pe, join(dir, 'lifetime.exe'), pki.lifetime, { tsa: { cert: pki.tsa, time: new Date('2020-06-01T00:00:00Z') } });
      expect(ossl(f)).toBe(true);
      const r = await verify(f, byCa);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/Lifetime Signing/);
    });
  });

  describe('nested signatures and unsigned attributes', () => {
    it('a genuine nested signature never makes an impostor primary valid (osslsigncode accepts the file)', async () => {
      const imp = F.sign(pe, join(dir, 'imp-primary.exe'), pki.impostor);
      const f = F.sign(imp, join(dir, 'imp-primary-genuine-nested.exe'), pki.leaf, { nest: true });
      expect(ossl(f)).toBe(true);
      const r = await verify(f, byFingerprint);
      expect(r).toMatchObject({ valid: false, unpinnedSigner: true });
      expect(JSON.stringify(r.details?.nestedSignatures)).toContain(pki.leaf.sha256);
    });

    it('a nested signature by an unpinned signer does not make an unpinned primary valid', async () => {
      const col = F.sign(pe, join(dir, 'col-primary.exe'), pki.colleague);
      const f = F.sign(col, join(dir, 'col-primary-imp-nested.exe'), pki.impostor, { nest: true });
      expect(await verify(f, byCa)).toMatchObject({ valid: false, unpinnedSigner: true });
    });

    it('a genuine primary stays valid with a nested signature, which is reported', async () => {
      const f = F.sign(signed, join(dir, 'genuine-nested.exe'), pki.impostor, { nest: true });
      expect(ossl(f)).toBe(true);
      const r = await verify(f, byFingerprint);
      expect(r.valid).toBe(true);
      expect(JSON.stringify(r.details?.nestedSignatures)).toContain(pki.impostor.sha256);
    });

    it('an unauthenticated blob does not affect the verdict and is reported', async () => {
      const f = F.sign(pe, join(dir, 'blob.exe'), pki.leaf, { blob: true });
      expect(ossl(f)).toBe(true);
      const r = await verify(f, byFingerprint);
      expect(r.valid).toBe(true);
      expect(r.details?.unsignedAttributes).toContain('1.3.6.1.4.1.42921.1.2.1');
    });
  });

  it('fails closed on a policy that pins nothing, and throws for an unreadable file', async () => {
    expect((await verify(signed, { scheme: 'authenticode' })).valid).toBe(false);
    expect((await verify(signed, { scheme: 'authenticode', caCertificate: pki.ca.cert.pem })).valid).toBe(false);
    await expect(verify(join(dir, 'missing.exe'), byFingerprint)).rejects.toThrow();
  });

  it('rejects a file that is not a PE', async () => {
    const f = write('not-pe.bin', Buffer.from('MZ but not really a portable executable'.padEnd(200, '.')));
    expect((await verify(f, byFingerprint)).valid).toBe(false);
  });
});
