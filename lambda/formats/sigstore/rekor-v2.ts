/**
 * Rekor v2 entry bodies (apiVersion 0.0.2), checked against the rest of the bundle.
 *
 * Rekor v2 no longer stores the artifact's public material in the v1 shapes: a `hashedrekord`
 * 0.0.2 body is {data: HashOutput, signature: {content, verifier}} and a `dsse` 0.0.2 body is
 * {payloadHash, signatures: [{content, verifier}]}; DSSE envelopes may also be logged as a
 * hashedrekord 0.0.2 whose digest is Hash(PAE(payloadType, payload)) (rekor-v2-spec §6.1.4, what
 * sigstore-python and sigstore-go now write). @sigstore/verify 3.1 checks the signature and the
 * digest of the first two, not the verifier, and fails the third. Here every 0.0.2 body must be
 * exactly the one this bundle implies: same digest algorithm and digest, same signature bytes,
 * and a verifier that is the bundle's own certificate (or the pinned public key) with matching key
 * details — a body from another signer's entry, or one that names another key, is refused.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { HashAlgorithm, PublicKeyDetails } from '@sigstore/protobuf-specs';
import { Entry, type Verifier as V2Verifier } from '@sigstore/protobuf-specs/rekor/v2';
import { FormatError } from '../../base/errors';
import { nonCanonicalFields, unknownFields } from './canonical';

/** The key that signed the bundle, as a v2 verifier must name it. */
export type SigningMaterial = { kind: 'certificate'; der: Buffer; key: KeyObject } | { kind: 'publicKey'; spki: Buffer; key: KeyObject };

/** What the bundle signs, as a v2 body must commit to it. */
export type SignedContent =
  | { kind: 'message'; algorithm: HashAlgorithm; digest: Buffer; signature: Buffer }
  | { kind: 'dsse'; payloadType: string; payload: Buffer; signature: Buffer };

const NODE_HASH: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

/** DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const t = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${t.length} `), t, Buffer.from(` ${payload.length} `), payload]);
}

/** The key details (and the prehash a hashedrekord uses) that go with a signing key. */
function expectedDetails(key: KeyObject): { details: PublicKeyDetails[]; prehash: HashAlgorithm } {
  if (key.asymmetricKeyType === 'ec') {
    switch (key.asymmetricKeyDetails?.namedCurve) {
      case 'prime256v1':
        return { details: [PublicKeyDetails.PKIX_ECDSA_P256_SHA_256], prehash: HashAlgorithm.SHA2_256 };
      case 'secp384r1':
        return { details: [PublicKeyDetails.PKIX_ECDSA_P384_SHA_384], prehash: HashAlgorithm.SHA2_384 };
      case 'secp521r1':
        return { details: [PublicKeyDetails.PKIX_ECDSA_P521_SHA_512], prehash: HashAlgorithm.SHA2_512 };
    }
  }
  if (key.asymmetricKeyType === 'rsa') {
    return {
      details: [PublicKeyDetails.PKIX_RSA_PKCS1V15_2048_SHA256, PublicKeyDetails.PKIX_RSA_PKCS1V15_3072_SHA256, PublicKeyDetails.PKIX_RSA_PKCS1V15_4096_SHA256],
      prehash: HashAlgorithm.SHA2_256,
    };
  }
  if (key.asymmetricKeyType === 'ed25519')
    return { details: [PublicKeyDetails.PKIX_ED25519, PublicKeyDetails.PKIX_ED25519_PH], prehash: HashAlgorithm.SHA2_512 };
  return { details: [], prehash: HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED };
}

function sameVerifier(v: V2Verifier | undefined, m: SigningMaterial): string | undefined {
  if (!v?.verifier) return 'names no verifier';
  if (v.verifier.$case === 'x509Certificate') {
    if (m.kind !== 'certificate' || !Buffer.from(v.verifier.x509Certificate.rawBytes).equals(m.der)) return "names another certificate than the bundle's";
  } else if (v.verifier.$case === 'publicKey') {
    if (m.kind !== 'publicKey' || !Buffer.from(v.verifier.publicKey.rawBytes).equals(m.spki)) return 'names another public key than the pinned one';
  } else return 'names an unknown kind of verifier';
  if (!expectedDetails(m.key).details.includes(v.keyDetails)) return `key details ${PublicKeyDetails[v.keyDetails] ?? v.keyDetails} do not fit the signing key`;
  return undefined;
}

const eq = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

/**
 * Checks tlog entry `i`'s 0.0.2 body. Returns a reason when it does not commit to this bundle;
 * throws FormatError when the body is not a well-formed v2 entry. `dsseAsHashedRekord` tells the
 * caller the entry used the §6.1.4 encoding (the library cannot check that one itself).
 */
export function checkV2Body(
  i: number,
  body: Buffer,
  kindVersion: { kind: string; version: string },
  content: SignedContent,
  material: SigningMaterial,
): { reason?: string; dsseAsHashedRekord?: Buffer } {
  const bad = (m: string) => new FormatError('sigstore', `tlog entry ${i}: Rekor v2 body ${m}`);
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw bad('is not JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('is not a JSON object');
  const o = json as Record<string, unknown>;
  if (o.kind !== kindVersion.kind || o.apiVersion !== kindVersion.version)
    throw bad(`says ${String(o.kind)}/${String(o.apiVersion)}, the entry ${kindVersion.kind}/${kindVersion.version}`);
  let entry: Entry;
  try {
    entry = Entry.fromJSON(json);
  } catch (err) {
    throw bad(`is unreadable (${(err as Error).message})`);
  }
  const encoded = Entry.toJSON(entry);
  const odd = [...unknownFields(json, encoded, 'body'), ...nonCanonicalFields(json, encoded, 'body')];
  if (odd.length) throw bad(`has fields the verifier does not understand or reads differently: ${odd.slice(0, 5).join(', ')}`);
  const spec = entry.spec?.spec;
  const why = (m: string) => ({ reason: `tlog entry ${i}: Rekor v2 ${kindVersion.kind} body ${m}` });
  if (spec?.$case === 'hashedRekordV002' && kindVersion.kind === 'hashedrekord') {
    const { data, signature } = spec.hashedRekordV002;
    const v = sameVerifier(signature?.verifier, material);
    if (v) return why(v);
    if (content.kind === 'message') {
      if (data?.algorithm !== content.algorithm) return why("digest algorithm differs from the bundle's");
      if (!eq(data.digest, content.digest)) return why("digest is not the file's");
      if (!eq(signature?.content, content.signature)) return why("signature differs from the bundle's");
      return {};
    }
    // DSSE logged as a hashedrekord: the digest is Hash(PAE(type, payload)) with the key's prehash.
    const prehash = expectedDetails(material.key).prehash;
    const alg = NODE_HASH[prehash];
    if (!alg || data?.algorithm !== prehash) return why("digest algorithm is not the signing key's prehash");
    const digest = createHash(alg).update(pae(content.payloadType, content.payload)).digest();
    if (!eq(data.digest, digest)) return why("digest is not Hash(PAE(payloadType, payload)) of the bundle's envelope");
    if (!eq(signature?.content, content.signature)) return why("signature differs from the envelope's");
    return { dsseAsHashedRekord: digest };
  }
  if (spec?.$case === 'dsseV002' && kindVersion.kind === 'dsse') {
    if (content.kind !== 'dsse') return why('is for a DSSE envelope, the bundle has a message signature');
    const { payloadHash, signatures } = spec.dsseV002;
    if (signatures.length !== 1) return why(`has ${signatures.length} signatures, expected 1`);
    const v = sameVerifier(signatures[0]!.verifier, material);
    if (v) return why(v);
    if (payloadHash?.algorithm !== HashAlgorithm.SHA2_256 || !eq(payloadHash.digest, createHash('sha256').update(content.payload).digest()))
      return why("payload hash is not the SHA-256 of the envelope's payload");
    if (!eq(signatures[0]!.content, content.signature)) return why("signature differs from the envelope's");
    return {};
  }
  return why(`has an unsupported spec ${spec?.$case ?? '(none)'}`);
}
