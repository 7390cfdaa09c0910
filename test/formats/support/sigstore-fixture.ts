/**
 * A test Sigstore "deployment" made at test time with @sigstore/mock's building blocks (no network,
 * no cosign on these machines): an ephemeral Fulcio-like CA with a CT log (embedded SCT), a
 * Rekor-like transparency log (SET + inclusion proof + signed checkpoint), and the trusted root that
 * pins them. `signBlob` then does what `cosign sign-blob --new-bundle-format --bundle` does: an
 * ephemeral P-256 key, a short-lived certificate for (SAN, issuer), an ECDSA-SHA256 signature over
 * the file, a hashedrekord tlog entry, and a v0.3 protobuf bundle.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { initializeCA, initializeCTLog, initializeTLog } from '@sigstore/mock';

type CA = Awaited<ReturnType<typeof initializeCA>>;
type TLog = Awaited<ReturnType<typeof initializeTLog>>;
/** the shape of one Rekor v1 log entry as the mock returns it */
interface RekorEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    signedEntryTimestamp: string;
    inclusionProof: { logIndex: number; rootHash: string; treeSize: number; hashes: string[]; checkpoint: string };
  };
}

const ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const REKOR_URL = 'https://rekor.test.invalid';

export interface SigstoreDeployment {
  /** trusted_root.json pinning this deployment's CA, CT log and transparency log */
  trustedRootJson: string;
  /** `options.loggedPem` records another signer (PEM) in the tlog body, for tampering tests */
  signBlob(artifact: Uint8Array, identity: { san: string; issuer: string }, options?: { loggedPem?: string }): Promise<string>;
  /** `cosign sign-blob --key cosign.key --bundle`-like: a bundle with a public-key hint, no certificate */
  signBlobWithKey(artifact: Uint8Array, key: { privateKey: KeyObject; publicKey: KeyObject }): Promise<string>;
  attest(subjects: Array<{ name: string; sha256: string }>, identity: { san: string; issuer: string }, payloadType?: string): Promise<string>;
}

const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const b64 = (b: ArrayBufferView) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

export async function makeSigstoreDeployment(): Promise<SigstoreDeployment> {
  const ctKeys = ec();
  const caKeys = ec();
  const tlogKeys = ec();
  const ctlog = await initializeCTLog(ctKeys);
  const ca: CA = await initializeCA(caKeys, ctlog);
  const tlog: TLog = await initializeTLog(REKOR_URL, tlogKeys);
  const start = new Date(Date.now() - 3600_000).toISOString();
  const ctPub = ctKeys.publicKey.export({ format: 'der', type: 'spki' });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: REKOR_URL,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(createHash('sha256').update(tlog.publicKey).digest()) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: 'https://fulcio.test.invalid',
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start },
      },
    ],
    ctlogs: [
      {
        baseUrl: 'https://ctfe.test.invalid',
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(ctPub), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [],
  };

  async function certify(identity: { san: string; issuer: string }) {
    const signing = ec();
    const leaf = await ca.issueCertificate({
      publicKey: signing.publicKey.export({ format: 'der', type: 'spki' }),
      subjectAltName: identity.san,
      extensions: [
        { oid: ISSUER_V1, value: identity.issuer, legacy: true },
        { oid: ISSUER_V2, value: identity.issuer },
      ],
    });
    const leafPem = `-----BEGIN CERTIFICATE-----\n${b64(leaf).replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    return { signing, leaf, leafPem };
  }

  async function logEntry(proposed: object, kind: string) {
    const logged = await tlog.log(proposed);
    const entry = Object.values(logged as Record<string, RekorEntry>)[0]!;
    const proof = entry.verification.inclusionProof;
    return {
      logIndex: String(entry.logIndex),
      logId: { keyId: Buffer.from(entry.logID, 'hex').toString('base64') },
      kindVersion: { kind, version: '0.0.1' },
      integratedTime: String(entry.integratedTime),
      inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
      inclusionProof: {
        logIndex: String(proof.logIndex),
        rootHash: Buffer.from(proof.rootHash, 'hex').toString('base64'),
        treeSize: String(proof.treeSize),
        hashes: proof.hashes,
        checkpoint: { envelope: proof.checkpoint },
      },
      canonicalizedBody: entry.body,
    };
  }

  /** A hashedrekord-logged message signature bundle; `material` is the bundle's verification material,
   * `pem` the signer's certificate or public key as the v1 body records it. */
  async function messageBundle(artifact: Uint8Array, privateKey: KeyObject, pem: string, material: object): Promise<string> {
    const digest = createHash('sha256').update(artifact).digest();
    const signature = sign('sha256', artifact, privateKey);
    const spec = {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: b64(signature), publicKey: { content: Buffer.from(pem).toString('base64') } },
    };
    const tlogEntry = await logEntry({ apiVersion: '0.0.1', kind: 'hashedrekord', spec }, 'hashedrekord');
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { ...material, tlogEntries: [tlogEntry], timestampVerificationData: {} },
      messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) }, signature: b64(signature) },
    };
    return JSON.stringify(bundle, null, 2);
  }

  async function signBlob(artifact: Uint8Array, identity: { san: string; issuer: string }, options: { loggedPem?: string } = {}): Promise<string> {
    const { signing, leaf, leafPem } = await certify(identity);
    return messageBundle(artifact, signing.privateKey, options.loggedPem ?? leafPem, { certificate: { rawBytes: b64(leaf) } });
  }

  async function signBlobWithKey(artifact: Uint8Array, key: { privateKey: KeyObject; publicKey: KeyObject }): Promise<string> {
    // cosign's hint: base64 of the SHA-256 of the key's DER (unauthenticated; verifiers use the pinned key)
    const hint = createHash('sha256')
      .update(key.publicKey.export({ format: 'der', type: 'spki' }))
      .digest('base64');
    return messageBundle(artifact, key.privateKey, key.publicKey.export({ format: 'pem', type: 'spki' }).toString(), { publicKey: { hint } });
  }

  /** `cosign attest-blob`-like: a DSSE envelope over an in-toto statement naming the subjects. */
  async function attest(
    subjects: Array<{ name: string; sha256: string }>,
    identity: { san: string; issuer: string },
    payloadType = 'application/vnd.in-toto+json',
  ): Promise<string> {
    const { signing, leaf, leafPem } = await certify(identity);
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: subjects.map((s) => ({ name: s.name, digest: { sha256: s.sha256 } })),
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {},
    };
    const payload = Buffer.from(JSON.stringify(statement));
    const typeBytes = Buffer.from(payloadType);
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${typeBytes.length} `), typeBytes, Buffer.from(` ${payload.length} `), payload]);
    const signature = sign('sha256', pae, signing.privateKey);
    const envelope = { payload: b64(payload), payloadType, signatures: [{ sig: b64(signature), keyid: '' }] };
    const tlogEntry = await logEntry(
      {
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          envelopeHash: { algorithm: 'sha256', value: createHash('sha256').update(JSON.stringify(envelope)).digest('hex') },
          payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
          signatures: [{ signature: b64(signature), verifier: Buffer.from(leafPem).toString('base64') }],
        },
      },
      'dsse',
    );
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { certificate: { rawBytes: b64(leaf) }, tlogEntries: [tlogEntry], timestampVerificationData: {} },
      dsseEnvelope: envelope,
    };
    return JSON.stringify(bundle, null, 2);
  }

  return { trustedRootJson: JSON.stringify(trustedRoot, null, 2), signBlob, signBlobWithKey, attest };
}
