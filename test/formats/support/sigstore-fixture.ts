/**
 * A test Sigstore "deployment" made at test time with @sigstore/mock's building blocks (no network,
 * no cosign on these machines): an ephemeral Fulcio-like CA with a CT log (embedded SCT), a
 * Rekor-like transparency log (SET + inclusion proof + signed checkpoint), and the trusted root that
 * pins them. `signBlob` then does what `cosign sign-blob --new-bundle-format --bundle` does: an
 * ephemeral P-256 key, a short-lived certificate for (SAN, issuer), an ECDSA-SHA256 signature over
 * the file, a hashedrekord tlog entry, and a v0.3 protobuf bundle.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { initializeCA, initializeCTLog, initializeTLog } from '@sigstore/mock';

type CA = Awaited<ReturnType<typeof initializeCA>>;
type TLog = Awaited<ReturnType<typeof initializeTLog>>;
/** the shape of one Rekor v1 log entry as the mock returns it */
interface RekorEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: { signedEntryTimestamp: string; inclusionProof: { logIndex: number; rootHash: string; treeSize: number; hashes: string[]; checkpoint: string } };
}

const ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const REKOR_URL = 'https://rekor.test.invalid';

export interface SigstoreDeployment {
  /** trusted_root.json pinning this deployment's CA, CT log and transparency log */
  trustedRootJson: string;
  signBlob(artifact: Uint8Array, identity: { san: string; issuer: string }): Promise<string>;
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

  async function signBlob(artifact: Uint8Array, identity: { san: string; issuer: string }): Promise<string> {
    const signing = ec();
    const leaf = await ca.issueCertificate({
      publicKey: signing.publicKey.export({ format: 'der', type: 'spki' }),
      subjectAltName: identity.san,
      extensions: [
        { oid: ISSUER_V1, value: identity.issuer, legacy: true },
        { oid: ISSUER_V2, value: identity.issuer },
      ],
    });
    const digest = createHash('sha256').update(artifact).digest();
    const signature = sign('sha256', artifact, signing.privateKey);
    const leafPem = `-----BEGIN CERTIFICATE-----\n${b64(leaf).replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const proposed = {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        signature: { content: b64(signature), publicKey: { content: Buffer.from(leafPem).toString('base64') } },
      },
    };
    const logged = await tlog.log(proposed);
    const entry = Object.values(logged as Record<string, RekorEntry>)[0]!;
    const proof = entry.verification.inclusionProof;
    const bundle = {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: {
        certificate: { rawBytes: b64(leaf) },
        tlogEntries: [
          {
            logIndex: String(entry.logIndex),
            logId: { keyId: Buffer.from(entry.logID, 'hex').toString('base64') },
            kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
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
          },
        ],
        timestampVerificationData: {},
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
        signature: b64(signature),
      },
    };
    return JSON.stringify(bundle, null, 2);
  }

  return { trustedRootJson: JSON.stringify(trustedRoot, null, 2), signBlob };
}
