import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../lambda/core/errors';
import { exactSanPattern, verifySigstore } from '../../lambda/formats/sigstore';
import { verifySignature } from '../../lambda/formats/signature';
import { makeSigstoreDeployment, type SigstoreDeployment } from './support/sigstore-fixture';

const SAN = 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/tags/v1.2.3';
const ISSUER = 'https://gitlab.com';

/**
 * The library's own (buffered) verification path as the reference verdict: the same pinned trust
 * and identity, the whole artifact handed to @sigstore/verify's MessageSignatureContent.
 */
function referenceVerdict(trustedRootJson: string, bundleJson: string, artifact: Buffer, san: string, issuer: string): boolean {
  try {
    const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(trustedRootJson)));
    new Verifier(trust).verify(toSignedEntity(bundleFromJSON(JSON.parse(bundleJson)), artifact), {
      subjectAlternativeName: exactSanPattern(san) as unknown as string,
      extensions: { issuer },
    });
    return true;
  } catch {
    return false;
  }
}

describe('sigstore bundles', () => {
  let dir: string;
  let deployment: SigstoreDeployment;
  let otherDeployment: SigstoreDeployment;
  let artifact: Buffer;
  let file: string;
  let bundleJson: string;
  let bundlePath: string;

  const write = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const policy = (over: Partial<{ san: string; issuer: string; trustedRoot: string }> = {}) => ({
    scheme: 'sigstore' as const,
    bundleAsset: '{asset}.sigstore.json',
    san: SAN,
    issuer: ISSUER,
    trustedRoot: deployment.trustedRootJson,
    ...over,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rv-sigstore-'));
    deployment = await makeSigstoreDeployment();
    otherDeployment = await makeSigstoreDeployment();
    artifact = randomBytes(2 * 1024 * 1024 + 3);
    file = write('app-1.2.3.tar.gz', artifact);
    bundleJson = await deployment.signBlob(artifact, { san: SAN, issuer: ISSUER });
    bundlePath = write('app-1.2.3.tar.gz.sigstore.json', bundleJson);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts the genuine bundle for the pinned identity and trusted root (the library's buffered path agrees)", async () => {
    expect(referenceVerdict(deployment.trustedRootJson, bundleJson, artifact, SAN, ISSUER)).toBe(true);
    const r = await verifySigstore({ assetPath: file, signaturePath: bundlePath, policy: policy() });
    expect(r).toMatchObject({ valid: true, scheme: 'sigstore' });
    expect(r.signer).toBe(`${SAN} (issuer ${ISSUER})`);
  });

  it('rejects a wrong SAN, including a prefix of the real one (anchored) and a regex-looking one (escaped)', async () => {
    for (const san of [
      'https://gitlab.com/acme/other//.gitlab-ci.yml@refs/tags/v1.2.3',
      'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/tags/v1.2',
      'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/tags/v1.2.',
      '.*',
    ]) {
      expect(referenceVerdict(deployment.trustedRootJson, bundleJson, artifact, san, ISSUER)).toBe(false);
      const r = await verifySigstore({ assetPath: file, signaturePath: bundlePath, policy: policy({ san }) });
      expect(r).toMatchObject({ valid: false, unpinnedSigner: true });
    }
  });

  it('rejects a wrong issuer', async () => {
    const issuer = 'https://token.actions.githubusercontent.com';
    expect(referenceVerdict(deployment.trustedRootJson, bundleJson, artifact, SAN, issuer)).toBe(false);
    const r = await verifySigstore({ assetPath: file, signaturePath: bundlePath, policy: policy({ issuer }) });
    expect(r).toMatchObject({ valid: false, unpinnedSigner: true });
  });

  it('rejects a flipped artifact byte', async () => {
    const bytes = Buffer.from(artifact);
    bytes[bytes.length >> 1]! ^= 0x04;
    const tampered = write('tampered.tar.gz', bytes);
    expect(referenceVerdict(deployment.trustedRootJson, bundleJson, bytes, SAN, ISSUER)).toBe(false);
    const r = await verifySigstore({ assetPath: tampered, signaturePath: bundlePath, policy: policy() });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/digest/);
  });

  it('rejects a bundle whose declared digest was rewritten to match a tampered artifact', async () => {
    const bytes = Buffer.from(artifact);
    bytes[0]! ^= 0x01;
    const tampered = write('tampered2.tar.gz', bytes);
    const b = JSON.parse(bundleJson);
    b.messageSignature.messageDigest.digest = (await import('node:crypto')).createHash('sha256').update(bytes).digest('base64');
    const forged = JSON.stringify(b);
    expect(referenceVerdict(deployment.trustedRootJson, forged, bytes, SAN, ISSUER)).toBe(false);
    const r = await verifySigstore({ assetPath: tampered, signaturePath: write('forged.json', forged), policy: policy() });
    expect(r.valid).toBe(false);
  });

  it('rejects a bundle checked against another trusted root', async () => {
    expect(referenceVerdict(otherDeployment.trustedRootJson, bundleJson, artifact, SAN, ISSUER)).toBe(false);
    const r = await verifySigstore({ assetPath: file, signaturePath: bundlePath, policy: policy({ trustedRoot: otherDeployment.trustedRootJson }) });
    expect(r.valid).toBe(false);
  });

  it('rejects a bundle signed for the same identity by another deployment (impostor CA)', async () => {
    const impostor = await otherDeployment.signBlob(artifact, { san: SAN, issuer: ISSUER });
    expect(referenceVerdict(deployment.trustedRootJson, impostor, artifact, SAN, ISSUER)).toBe(false);
    const r = await verifySigstore({ assetPath: file, signaturePath: write('impostor.json', impostor), policy: policy() });
    expect(r.valid).toBe(false);
  });

  it('rejects a tampered signature and a truncated bundle', async () => {
    const b = JSON.parse(bundleJson);
    const sig = Buffer.from(b.messageSignature.signature, 'base64');
    sig[sig.length - 1]! ^= 0x01;
    b.messageSignature.signature = sig.toString('base64');
    const r1 = await verifySigstore({ assetPath: file, signaturePath: write('badsig.json', JSON.stringify(b)), policy: policy() });
    expect(r1.valid).toBe(false);
    for (const len of [0, 10, bundleJson.length >> 1, bundleJson.length - 2]) {
      const r = await verifySigstore({ assetPath: file, signaturePath: write(`cut${len}.json`, bundleJson.slice(0, len)), policy: policy() });
      expect(r.valid).toBe(false);
    }
  });

  // Each of these verified with @sigstore/verify alone (found by `npm run fuzz`): the library decodes
  // base64 leniently, parses certificates leniently, and skips checkpoint signatures of unknown keys.
  it('rejects edits the library tolerates: stray base64 characters, a certificate with edited DER framing, a malformed checkpoint signature line', async () => {
    const variants: [string, (b: any) => void][] = [
      [
        'stray character in base64',
        (b) => (b.verificationMaterial.certificate.rawBytes = b.verificationMaterial.certificate.rawBytes.replace(/^(.{20})/, '$1!')),
      ],
      [
        'certificate outer tag edited',
        (b) => {
          const raw = Buffer.from(b.verificationMaterial.certificate.rawBytes, 'base64');
          raw[0] = 0x34;
          b.verificationMaterial.certificate.rawBytes = raw.toString('base64');
        },
      ],
      [
        'checkpoint signature line with a stray base64 character',
        (b) => (b.verificationMaterial.tlogEntries[0].inclusionProof.checkpoint.envelope += '\u2014 other.example AAAAAAAA!AAAAAAAAAAAAAAA\n'),
      ],
    ];
    for (const [name, edit] of variants) {
      const b = JSON.parse(bundleJson);
      edit(b);
      const r = await verifySigstore({
        assetPath: file,
        signaturePath: write(`strict-${name.replace(/\W+/g, '-')}.json`, JSON.stringify(b)),
        policy: policy(),
      });
      expect(r.valid, name).toBe(false);
      expect(r.reason, name).toMatch(/canonical|certificate 0|signature line/);
    }
  });

  it('refuses the legacy cosign bundle format with a clear reason', async () => {
    const b = JSON.parse(bundleJson);
    const legacy = {
      base64Signature: b.messageSignature.signature,
      cert: b.verificationMaterial.certificate.rawBytes,
      rekorBundle: { SignedEntryTimestamp: 'x', Payload: {} },
    };
    const r = await verifySigstore({ assetPath: file, signaturePath: write('legacy.json', JSON.stringify(legacy)), policy: policy() });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/legacy cosign bundle format/);
  });

  it('rejects an unknown bundle media type', async () => {
    const b = JSON.parse(bundleJson);
    b.mediaType = 'application/vnd.dev.sigstore.bundle.v9+json';
    const r = await verifySigstore({ assetPath: file, signaturePath: write('mt.json', JSON.stringify(b)), policy: policy() });
    expect(r).toMatchObject({ valid: false });
  });

  it('treats an unusable trusted root as a configuration error', async () => {
    await expect(verifySigstore({ assetPath: file, signaturePath: bundlePath, policy: policy({ trustedRoot: '{"tlogs": []}' }) })).rejects.toBeInstanceOf(
      FormatError,
    );
  });

  it('throws for an unreadable artifact ("could not check")', async () => {
    await expect(verifySigstore({ assetPath: join(dir, 'missing'), signaturePath: bundlePath, policy: policy() })).rejects.toThrow(/ENOENT/);
  });

  it("accepts a DSSE in-toto attestation naming the file's SHA-256, and nothing else", async () => {
    const sha = (await import('node:crypto')).createHash('sha256').update(artifact).digest('hex');
    const good = await deployment.attest(
      [
        { name: 'other', sha256: 'ab'.repeat(32) },
        { name: 'app-1.2.3.tar.gz', sha256: sha },
      ],
      { san: SAN, issuer: ISSUER },
    );
    expect(referenceVerdict(deployment.trustedRootJson, good, artifact, SAN, ISSUER)).toBe(true); // envelope, tlog, identity
    const r = await verifySigstore({ assetPath: file, signaturePath: write('att.json', good), policy: policy() });
    expect(r).toMatchObject({ valid: true });
    expect(r.reason).toMatch(/in-toto statement/);
    // a genuine attestation for other subjects does not cover this file
    const other = await deployment.attest([{ name: 'app-1.2.3.tar.gz', sha256: 'cd'.repeat(32) }], { san: SAN, issuer: ISSUER });
    expect((await verifySigstore({ assetPath: file, signaturePath: write('att-other.json', other), policy: policy() })).valid).toBe(false);
    // a DSSE envelope that is not an in-toto statement
    const notInToto = await deployment.attest([{ name: 'x', sha256: sha }], { san: SAN, issuer: ISSUER }, 'application/json');
    expect((await verifySigstore({ assetPath: file, signaturePath: write('att-json.json', notInToto), policy: policy() })).valid).toBe(false);
    // the wrong identity
    expect((await verifySigstore({ assetPath: file, signaturePath: write('att2.json', good), policy: policy({ san: SAN + 'x' }) })).valid).toBe(false);
    // a flipped payload byte (subject list edited after signing)
    const b = JSON.parse(good);
    const payload = Buffer.from(b.dsseEnvelope.payload, 'base64');
    payload[payload.indexOf('app-1.2.3')]! ^= 0x01;
    b.dsseEnvelope.payload = payload.toString('base64');
    expect((await verifySigstore({ assetPath: file, signaturePath: write('att3.json', JSON.stringify(b)), policy: policy() })).valid).toBe(false);
  });

  it('is reachable through the dispatcher', async () => {
    expect(readFileSync(bundlePath, 'utf8')).toBe(bundleJson);
    const r = await verifySignature({ assetPath: file, signaturePath: bundlePath, policy: policy() });
    expect(r).toMatchObject({ valid: true, scheme: 'sigstore' });
  });
});
