/**
 * Sigstore bundles (cosign sign-blob --bundle, protobuf bundle format), verified offline against a
 * pinned trusted root and either a pinned identity (keyless: Fulcio certificate, issuer + SAN) or a
 * pinned public key (key-based: `cosign sign-blob --key … --bundle`), with @sigstore/verify 3.1
 * (v4 needs Node 22) doing the cryptography and this module what it does not:
 *
 * - Identity: the issuer is compared exactly; @sigstore/verify matches the SAN with an UNANCHORED
 *   regex (String.match), so the configured SAN is escaped and anchored, and then compared exactly
 *   once more against the verified signer.
 * - Key-based bundles carry an unauthenticated key hint: the pinned key is the signing key, the
 *   hint is ignored. A policy never accepts the other kind of bundle (a pinned key never stands in
 *   for a certificate, an identity never for a bare key).
 * - The legacy cosign format {base64Signature, cert, rekorBundle} is refused with a clear reason.
 * - Trusted roots: every log, CA and TSA needs a `validFor.start`; windows are honoured also for the
 *   checkpoint's log key (see sigstore/trusted-root, sigstore/checkpoint).
 * - Rekor v2: checkpoints may carry witness cosignatures (ignored, the log's own is required), and
 *   0.0.2 bodies are checked against the bundle (sigstore/rekor-v2).
 * - Malformed bundles end in a FormatError with a reason (shape checks before the library runs).
 * - Artifact-sized data is streamed: @sigstore/verify's message-signature content wants the whole
 *   artifact as one Buffer, so we give it an equivalent content object backed by a streaming
 *   digest and a streaming crypto.Verify over the same bytes (one pass, constant memory).
 * - DSSE bundles (in-toto attestations) sign a statement, not the file: the file is bound by its
 *   SHA-256 appearing among the statement's subjects.
 */
import { createHash, createVerify, timingSafeEqual, X509Certificate, type KeyObject, type Verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  BUNDLE_V01_MEDIA_TYPE,
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  bundleFromJSON,
  type Bundle,
} from '@sigstore/bundle';
import { Bundle as BundleMessage, HashAlgorithm } from '@sigstore/protobuf-specs';
import { toSignedEntity, Verifier, type KeyFinderFunc, type SignedEntity, type Signer } from '@sigstore/verify';
import * as pkijs from 'pkijs';
import { FormatError } from '../base/errors';
import { parseStrictDerSequence } from './der';
import { readBoundedFile } from './bounded-read';
import { nonCanonicalFields, unknownFields } from './sigstore/canonical';
import { checkCheckpoint, parseCheckpoint } from './sigstore/checkpoint';
import { parseSigstorePublicKey, type PinnedPublicKey } from './sigstore/public-key';
import { checkV1Signer } from './sigstore/rekor-v1';
import { checkV2Body, type SignedContent, type SigningMaterial } from './sigstore/rekor-v2';
import { readTrustedRoot, type PinnedLog, type PinnedTrust } from './sigstore/trusted-root';
import type { SignatureInput, SignatureResult } from './types';

export { parseTrustedRoot, readTrustedRoot } from './sigstore/trusted-root';
export { parseSigstorePublicKey } from './sigstore/public-key';

export const MAX_BUNDLE_BYTES = 1024 * 1024;
const MEDIA_TYPES = new Set([BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE]);
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const MAX_DSSE_SUBJECTS = 10_000;
const MAX_TLOG_ENTRIES = 16;
const MAX_TIMESTAMPS = 16;
/** entry kinds and versions the verifier knows how to bind to the bundle */
const KNOWN_KINDS: Record<string, string[]> = { hashedrekord: ['0.0.1', '0.0.2'], dsse: ['0.0.1', '0.0.2'], intoto: ['0.0.1', '0.0.2'] };

type SignatureContent = SignedEntity['signature'];

/** Node hash names for the bundle's message digest algorithm (as @sigstore/verify maps them). */
const NODE_HASH: Partial<Record<HashAlgorithm, string>> = {
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
  [HashAlgorithm.SHA3_256]: 'sha3-256',
  [HashAlgorithm.SHA3_384]: 'sha3-384',
};

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** The exact-match policy expressed as the anchored, escaped RegExp @sigstore/verify expects. */
export function exactSanPattern(san: string): RegExp {
  return new RegExp(`^${escapeRegExp(san)}$`);
}

const malformed = (m: string) => new FormatError('sigstore', m);

/** Parses a bundle (JSON bytes), refusing the legacy cosign format. Throws FormatError. */
export function parseBundle(bytes: Uint8Array): Bundle {
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new FormatError('sigstore', 'bundle is not JSON', { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw malformed('bundle is not a JSON object');
  const o = obj as Record<string, unknown>;
  if (!('mediaType' in o) && ('base64Signature' in o || 'rekorBundle' in o || 'cert' in o)) {
    throw malformed(
      'legacy cosign bundle format ({base64Signature, cert, rekorBundle}) is not supported: sign with `cosign sign-blob --new-bundle-format --bundle …` (the protobuf bundle)',
    );
  }
  if (typeof o.mediaType !== 'string' || !MEDIA_TYPES.has(o.mediaType)) {
    throw malformed(`unknown bundle mediaType ${JSON.stringify(o.mediaType)?.slice(0, 100)}`);
  }
  assertJsonShape(o);
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(obj);
  } catch (err) {
    const fields = (err as { fields?: unknown }).fields;
    throw new FormatError(
      'sigstore',
      `invalid bundle: ${(err as Error).message}${Array.isArray(fields) && fields.length ? ` (${fields.slice(0, 5).join(', ')})` : ''}`,
      { cause: err },
    );
  }
  // The protobuf JSON mapping silently drops fields it does not know, and decodes base64 leniently
  // (skipping stray characters). Data the verifier ignores has no place in a signature file: refuse
  // it (fail closed), rather than verify something other than what the file says.
  const unknown = unknownFields(obj, BundleMessage.toJSON(bundle), 'bundle');
  if (unknown.length) throw malformed(`bundle has fields the verifier does not understand: ${unknown.slice(0, 5).join(', ')}`);
  const uncanonical = nonCanonicalFields(obj, BundleMessage.toJSON(bundle), 'bundle');
  if (uncanonical.length) throw malformed(`bundle is not in canonical form at ${uncanonical.slice(0, 5).join(', ')} (e.g. non-canonical base64)`);
  checkCertificates(bundle);
  checkTimestamps(bundle);
  checkTlogEntries(bundle);
  return bundle;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON type checks below, each naming the field it refuses. */
const shape = {
  need(cond: boolean, path: string, what: string): void {
    if (!cond) throw malformed(`malformed bundle: ${path} ${what}`);
  },
  str: (v: unknown, path: string) => shape.need(typeof v === 'string', path, 'must be a string'),
  optStr: (v: unknown, path: string) => v === undefined || shape.str(v, path),
  obj(v: unknown, path: string): Json {
    shape.need(isObject(v), path, v === undefined ? 'is missing' : 'must be an object');
    return v as Json;
  },
  arr(v: unknown, path: string, max: number): unknown[] {
    shape.need(Array.isArray(v), path, v === undefined ? 'is missing' : 'must be an array');
    shape.need((v as unknown[]).length <= max, path, `has more than ${max} items`);
    return v as unknown[];
  },
  int: (v: unknown, path: string) => shape.need((typeof v === 'string' && /^-?\d{1,20}$/.test(v)) || Number.isSafeInteger(v), path, 'must be an integer'),
};

/**
 * JSON types of the fields the protobuf mapping and the verifier read: the generated decoder
 * throws TypeErrors (or silently coerces) on wrong types, and a missing nested message surfaces as
 * "cannot read properties of undefined" deep inside the library. Each problem is named here.
 */
function assertJsonShape(o: Json): void {
  const vm = shape.obj(o.verificationMaterial, 'verificationMaterial');
  assertKeyMaterialShape(vm);
  const entries = vm.tlogEntries === undefined ? [] : shape.arr(vm.tlogEntries, 'verificationMaterial.tlogEntries', MAX_TLOG_ENTRIES);
  entries.forEach(assertTlogEntryShape);
  if (vm.timestampVerificationData !== undefined) assertTimestampDataShape(vm.timestampVerificationData);
  assertContentShape(o);
}

/** Exactly one of certificate, x509CertificateChain or publicKey, each with its fields. */
function assertKeyMaterialShape(vm: Json): void {
  const { need, str, optStr, obj, arr } = shape;
  const materials = ['certificate', 'x509CertificateChain', 'publicKey'].filter((k) => vm[k] !== undefined && vm[k] !== null);
  need(
    materials.length === 1,
    'verificationMaterial',
    materials.length ? `has ${materials.join(' and ')}, expected one` : 'has no certificate, x509CertificateChain or publicKey',
  );
  if (materials[0] === 'certificate') str(obj(vm.certificate, 'verificationMaterial.certificate').rawBytes, 'verificationMaterial.certificate.rawBytes');
  if (materials[0] === 'x509CertificateChain') {
    const certs = arr(
      obj(vm.x509CertificateChain, 'verificationMaterial.x509CertificateChain').certificates,
      'verificationMaterial.x509CertificateChain.certificates',
      10,
    );
    certs.forEach((c, i) => {
      str(
        obj(c, `verificationMaterial.x509CertificateChain.certificates[${i}]`).rawBytes,
        `verificationMaterial.x509CertificateChain.certificates[${i}].rawBytes`,
      );
    });
  }
  if (materials[0] === 'publicKey') optStr(obj(vm.publicKey, 'verificationMaterial.publicKey').hint, 'verificationMaterial.publicKey.hint');
}

function assertTlogEntryShape(e: unknown, i: number): void {
  const { str, obj, arr, int } = shape;
  const p = `verificationMaterial.tlogEntries[${i}]`;
  const entry = obj(e, p);
  int(entry.logIndex, `${p}.logIndex`);
  str(obj(entry.logId, `${p}.logId`).keyId, `${p}.logId.keyId`);
  const kv = obj(entry.kindVersion, `${p}.kindVersion`);
  str(kv.kind, `${p}.kindVersion.kind`);
  str(kv.version, `${p}.kindVersion.version`);
  if (entry.integratedTime !== undefined) int(entry.integratedTime, `${p}.integratedTime`);
  str(entry.canonicalizedBody, `${p}.canonicalizedBody`);
  if (entry.inclusionPromise !== undefined)
    str(obj(entry.inclusionPromise, `${p}.inclusionPromise`).signedEntryTimestamp, `${p}.inclusionPromise.signedEntryTimestamp`);
  if (entry.inclusionProof !== undefined) {
    const proof = obj(entry.inclusionProof, `${p}.inclusionProof`);
    int(proof.logIndex, `${p}.inclusionProof.logIndex`);
    int(proof.treeSize, `${p}.inclusionProof.treeSize`);
    str(proof.rootHash, `${p}.inclusionProof.rootHash`);
    arr(proof.hashes ?? [], `${p}.inclusionProof.hashes`, 64).forEach((h, j) => {
      str(h, `${p}.inclusionProof.hashes[${j}]`);
    });
    str(obj(proof.checkpoint, `${p}.inclusionProof.checkpoint`).envelope, `${p}.inclusionProof.checkpoint.envelope`);
  }
}

function assertTimestampDataShape(v: unknown): void {
  const { str, obj, arr } = shape;
  const tvd = obj(v, 'verificationMaterial.timestampVerificationData');
  const ts =
    tvd.rfc3161Timestamps === undefined ? [] : arr(tvd.rfc3161Timestamps, 'verificationMaterial.timestampVerificationData.rfc3161Timestamps', MAX_TIMESTAMPS);
  ts.forEach((t, i) => {
    str(
      obj(t, `verificationMaterial.timestampVerificationData.rfc3161Timestamps[${i}]`).signedTimestamp,
      `verificationMaterial.timestampVerificationData.rfc3161Timestamps[${i}].signedTimestamp`,
    );
  });
}

/** Exactly one of messageSignature or dsseEnvelope, each with its fields. */
function assertContentShape(o: Json): void {
  const { need, str, optStr, obj, arr } = shape;
  const contents = ['messageSignature', 'dsseEnvelope'].filter((k) => o[k] !== undefined && o[k] !== null);
  need(contents.length === 1, 'bundle', contents.length ? 'has both messageSignature and dsseEnvelope' : 'has neither messageSignature nor dsseEnvelope');
  if (contents[0] === 'messageSignature') {
    const ms = obj(o.messageSignature, 'messageSignature');
    str(ms.signature, 'messageSignature.signature');
    const md = obj(ms.messageDigest, 'messageSignature.messageDigest');
    str(md.digest, 'messageSignature.messageDigest.digest');
    optStr(md.algorithm, 'messageSignature.messageDigest.algorithm');
  } else {
    const env = obj(o.dsseEnvelope, 'dsseEnvelope');
    str(env.payload, 'dsseEnvelope.payload');
    str(env.payloadType, 'dsseEnvelope.payloadType');
    arr(env.signatures, 'dsseEnvelope.signatures', 16).forEach((s, i) => {
      const sig = obj(s, `dsseEnvelope.signatures[${i}]`);
      str(sig.sig, `dsseEnvelope.signatures[${i}].sig`);
      optStr(sig.keyid, `dsseEnvelope.signatures[${i}].keyid`);
    });
  }
}

/** Certificates must be exactly one strict-DER X.509 SEQUENCE: a lenient parser would otherwise
 * accept edited framing around the signed TBS part. */
function checkCertificates(bundle: Bundle): void {
  const vm = bundle.verificationMaterial.content;
  const certs = vm.$case === 'certificate' ? [vm.certificate] : vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates : [];
  certs.forEach((c, i) => {
    const fail = (m: string) => new FormatError('sigstore', `certificate ${i}: ${m}`);
    const seq = parseStrictDerSequence(c.rawBytes, fail);
    try {
      new pkijs.Certificate({ schema: seq });
    } catch (err) {
      throw fail(`not an X.509 certificate (${(err as Error).message})`);
    }
  });
}

/** RFC 3161 tokens are DER CMS SignedData: strict DER, so the library's parser never sees edited framing. */
function checkTimestamps(bundle: Bundle): void {
  for (const [i, t] of (bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? []).entries()) {
    parseStrictDerSequence(t.signedTimestamp, (m) => new FormatError('sigstore', `RFC 3161 timestamp ${i}: ${m}`));
  }
}

/**
 * Each tlog entry: a kind/version we can bind, a body that is a JSON object naming the same
 * kind/version, and (when there is an inclusion proof) a well-formed checkpoint whose tree size and
 * root hash are the proof's own copies — @sigstore/verify checks the proof against the signed
 * checkpoint and ignores those copies, so they must agree (no unverified claims in the bundle).
 */
function checkTlogEntries(bundle: Bundle): void {
  for (const [i, entry] of bundle.verificationMaterial.tlogEntries.entries()) {
    const { kind, version } = entry.kindVersion!;
    if (!KNOWN_KINDS[kind]?.includes(version))
      throw malformed(`tlog entry ${i}: unsupported entry kind ${JSON.stringify(kind).slice(0, 40)} version ${JSON.stringify(version).slice(0, 20)}`);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8'));
    } catch {
      throw malformed(`tlog entry ${i}: canonicalizedBody is not JSON`);
    }
    if (!isObject(body) || body.kind !== kind || body.apiVersion !== version || !isObject(body.spec)) {
      throw malformed(`tlog entry ${i}: canonicalizedBody is not a ${kind} ${version} entry`);
    }
    if (!isRekorV2(kind, version)) assertV1BodyShape(i, kind, body.spec);
    const proof = entry.inclusionProof;
    if (!proof) continue;
    if (!proof.checkpoint) throw malformed(`tlog entry ${i}: inclusion proof without a checkpoint`);
    const cp = parseCheckpoint(proof.checkpoint.envelope, i);
    if (cp.size !== String(proof.treeSize) || !cp.rootHash.equals(Buffer.from(proof.rootHash))) {
      throw malformed(`tlog entry ${i}: inclusion proof rootHash/treeSize disagree with its checkpoint`);
    }
  }
}

/** Rekor v2 writes hashedrekord and dsse 0.0.2 (intoto 0.0.2 is a Rekor v1 type). */
function isRekorV2(kind: string, version: string): boolean {
  return version === '0.0.2' && (kind === 'hashedrekord' || kind === 'dsse');
}

/** The Rekor v1 body fields @sigstore/verify dereferences without looking. */
function assertV1BodyShape(i: number, kind: string, spec: Json): void {
  const ok =
    kind === 'hashedrekord'
      ? isObject(spec.signature) && isObject(spec.data) && (spec.data.hash === undefined || isObject(spec.data.hash))
      : kind === 'dsse'
        ? Array.isArray(spec.signatures) &&
          spec.signatures.every((s) => isObject(s) && typeof s.signature === 'string') &&
          (spec.payloadHash === undefined || isObject(spec.payloadHash))
        : isObject(spec.content) &&
          (spec.content.hash === undefined || isObject(spec.content.hash)) &&
          (spec.content.payloadHash === undefined || isObject(spec.content.payloadHash)) &&
          (spec.content.envelope === undefined || isObject(spec.content.envelope));
  if (!ok) throw malformed(`tlog entry ${i}: canonicalizedBody is missing fields of a Rekor v1 ${kind} entry`);
}

function bufferEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A message-signature content equivalent to @sigstore/verify's MessageSignatureContent, but fed by
 * a stream: `verifySignature` uses a crypto.Verify that has already seen every byte of the file.
 */
class StreamedMessageSignatureContent implements SignatureContent {
  private verified?: boolean;
  constructor(
    readonly signature: Buffer,
    private readonly declaredDigest: Buffer,
    private readonly actualDigest: Buffer,
    private readonly verifier: Verify,
  ) {}
  compareSignature(signature: Buffer): boolean {
    return bufferEqual(signature, this.signature);
  }
  compareDigest(digest: Buffer): boolean {
    // the tlog entry's digest must be the file's, and the bundle's declared one too
    return bufferEqual(digest, this.actualDigest) && bufferEqual(this.declaredDigest, this.actualDigest);
  }
  verifySignature(key: KeyObject): boolean {
    // crypto.Verify is single-use; Verifier calls this once, cache for safety.
    if (this.verified === undefined) {
      try {
        this.verified = this.verifier.verify(key, this.signature);
      } catch {
        this.verified = false; // e.g. an Ed25519 key: no streaming Verify for pure EdDSA
      }
    }
    return this.verified;
  }
}

/** The library's DSSE content, also accepting the one digest our own check found for a Rekor v2
 * hashedrekord-over-DSSE entry (Hash(PAE)), which @sigstore/verify 3.1 does not know. */
function dsseContent(inner: SignatureContent, paeDigests: Buffer[]): SignatureContent {
  return {
    signature: inner.signature,
    compareSignature: (s) => inner.compareSignature(s),
    compareDigest: (d) => inner.compareDigest(d) || paeDigests.some((p) => bufferEqual(p, d)),
    verifySignature: (k) => inner.verifySignature(k),
  };
}

async function streamFile(path: string, sinks: Array<{ update(b: Buffer): unknown }>): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) for (const s of sinks) s.update(chunk as Buffer);
}

function describeSigner(signer: Signer | undefined): string | undefined {
  const san = signer?.identity?.subjectAlternativeName;
  const issuer = signer?.identity?.extensions?.issuer;
  if (!san && !issuer) return undefined;
  return `${san ?? '?'} (issuer ${issuer ?? '?'})`;
}

/** Checks the artifact's SHA-256 is among an in-toto statement's subjects. */
function statementCoversDigest(payload: Buffer, sha256Hex: string): { ok: boolean; why?: string; predicateType?: string } {
  let st: unknown;
  try {
    st = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, why: 'DSSE payload is not JSON' };
  }
  const subjects = (st as { subject?: unknown } | null)?.subject;
  if (!Array.isArray(subjects) || subjects.length === 0 || subjects.length > MAX_DSSE_SUBJECTS)
    return { ok: false, why: 'in-toto statement has no usable subject list' };
  const predicateType = typeof (st as { predicateType?: unknown }).predicateType === 'string' ? (st as { predicateType: string }).predicateType : undefined;
  const hit = subjects.some(
    (s) =>
      typeof s === 'object' &&
      s !== null &&
      typeof (s as { digest?: { sha256?: unknown } }).digest?.sha256 === 'string' &&
      (s as { digest: { sha256: string } }).digest.sha256.toLowerCase() === sha256Hex,
  );
  return hit ? { ok: true, predicateType } : { ok: false, why: "the file's SHA-256 is not among the in-toto statement subjects", predicateType };
}

/** The signing times the library will verify: TSA tokens' genTime, and integrated times backed by a SET. */
function signingTimes(entity: SignedEntity): Date[] {
  return entity.timestamps
    .map((t) =>
      t.$case === 'timestamp-authority'
        ? t.timestamp.signingTime
        : t.tlogEntry.inclusionPromise
          ? new Date(Number(t.tlogEntry.integratedTime) * 1000)
          : undefined,
    )
    .filter((d): d is Date => d instanceof Date);
}

function findLog(trust: PinnedTrust, keyId: Uint8Array): PinnedLog | undefined {
  const id = Buffer.from(keyId);
  return trust.tlogs.find((l) => l.logId.equals(id) || l.checkpointKeyId.equals(id));
}

type Outcome = SignatureResult;

/** What the one pass over the file computes besides its SHA-256: a message signature's declared digest and a Verify over the same bytes. */
interface OnePass {
  declared?: { alg: string; hash: ReturnType<typeof createHash>; digest: Buffer };
  verifyObj?: Verify;
}

/** The one pass's sinks for this bundle, or why the bundle cannot be checked that way. */
function onePassPlan(bundle: Bundle, pinnedKey: PinnedPublicKey | undefined): OnePass | { problem: string } {
  if (bundle.content.$case !== 'messageSignature') return {};
  const ms = bundle.content.messageSignature;
  const alg =
    NODE_HASH[ms.messageDigest?.algorithm ?? HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED] ??
    (ms.messageDigest?.algorithm === HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED ? 'sha256' : undefined);
  if (!alg || !ms.messageDigest) return { problem: 'unsupported message digest algorithm in the bundle' };
  if (pinnedKey?.key.asymmetricKeyType === 'ed25519')
    return { problem: 'message signatures with an Ed25519 key sign the whole file (no prehash): not supported, the file would have to be held in memory' };
  let verifyObj: Verify;
  try {
    verifyObj = createVerify(alg);
  } catch {
    return { problem: `digest algorithm ${alg} unavailable` };
  }
  return { declared: { alg, hash: createHash(alg), digest: Buffer.from(ms.messageDigest.digest) }, verifyObj };
}

/**
 * One pass over the file (issue 14): its SHA-256 (the tlog and DSSE binding) and, for a message
 * signature, the declared digest and the Verify object, fed the same bytes. A declared SHA-256 is
 * the file's SHA-256, hashed once.
 */
async function digestAsset(path: string, pass: OnePass): Promise<{ fileSha256: Buffer; declaredActual?: Buffer }> {
  const sha256 = createHash('sha256');
  const declaredIsSha256 = pass.declared?.alg === 'sha256';
  const sinks: Array<{ update(b: Buffer): unknown }> = [sha256];
  if (pass.declared && !declaredIsSha256) sinks.push(pass.declared.hash);
  if (pass.verifyObj) sinks.push(pass.verifyObj);
  await streamFile(path, sinks);
  const fileSha256 = sha256.digest();
  if (!pass.declared) return { fileSha256 };
  return { fileSha256, declaredActual: declaredIsSha256 ? fileSha256 : pass.declared.hash.digest() };
}

/** The key that signed: the pinned public key, or the bundle's Fulcio leaf certificate. */
function signingMaterial(vm: Bundle['verificationMaterial']['content'], pinnedKey: PinnedPublicKey | undefined): SigningMaterial {
  if (pinnedKey) return { kind: 'publicKey', spki: pinnedKey.spki, key: pinnedKey.key };
  const leaf =
    vm.$case === 'certificate' ? vm.certificate.rawBytes : vm.$case === 'x509CertificateChain' ? vm.x509CertificateChain.certificates[0]?.rawBytes : undefined;
  return { kind: 'certificate', der: Buffer.from(leaf!), key: new X509Certificate(Buffer.from(leaf!)).publicKey };
}

export async function verifySigstore(input: SignatureInput): Promise<SignatureResult> {
  const { policy } = input;
  if (policy.scheme !== 'sigstore') throw new FormatError('sigstore', `policy scheme is ${policy.scheme}, not sigstore`);
  const scheme = 'sigstore' as const;
  const invalid = (reason: string, extra: Partial<Outcome> = {}): Outcome => ({ valid: false, scheme, reason, ...extra });
  if (!policy.trustedRoot) return invalid('no pinned trusted root in the policy');
  const pinnedKeyText = (policy as { publicKey?: string }).publicKey;
  const identity = policy.san !== undefined && policy.issuer !== undefined ? { san: policy.san, issuer: policy.issuer } : undefined;
  if (!pinnedKeyText === !identity) return invalid('the policy must pin either issuer + san or a publicKey (exactly one of the two)');
  const trust = readTrustedRoot(policy.trustedRoot); // FormatError: a configuration problem
  const pinnedKey: PinnedPublicKey | undefined = pinnedKeyText ? parseSigstorePublicKey(pinnedKeyText) : undefined;
  if (!input.signaturePath) return invalid('no bundle file');
  const read = await readBoundedFile(input.signaturePath, MAX_BUNDLE_BYTES);
  if ('tooLarge' in read) return invalid(`bundle is larger than ${MAX_BUNDLE_BYTES} bytes`);

  let bundle: Bundle;
  try {
    bundle = parseBundle(read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return invalid(err.userMessage);
    throw err;
  }
  const vm = bundle.verificationMaterial.content;
  if (vm.$case === 'publicKey' && !pinnedKey)
    return invalid('bundle is signed with a bare public key, not a Fulcio certificate: pin the key (publicKey) to verify it; there is no identity to pin');
  if (vm.$case !== 'publicKey' && pinnedKey)
    return invalid('bundle is signed with a Fulcio certificate, but the policy pins a public key (pin issuer + san for keyless bundles)');

  const pass = onePassPlan(bundle, pinnedKey);
  if ('problem' in pass) return invalid(pass.problem);
  const { fileSha256, declaredActual } = await digestAsset(input.assetPath, pass); // I/O errors propagate: "could not check"
  const { declared, verifyObj } = pass;
  const notes: string[] = [];

  try {
    let entity: SignedEntity;
    try {
      entity = toSignedEntity(bundle);
    } catch (err) {
      return invalid(`malformed bundle: certificate or timestamp unreadable (${(err as Error).message})`);
    }
    let signed: SignedContent;
    if (bundle.content.$case === 'messageSignature') {
      const actual = declaredActual!;
      if (!bufferEqual(declared!.digest, actual))
        return invalid("the bundle's message digest is not the file's digest (file modified or bundle for another file)");
      const ms = bundle.content.messageSignature;
      entity.signature = new StreamedMessageSignatureContent(Buffer.from(ms.signature), declared!.digest, actual, verifyObj!);
      signed = { kind: 'message', algorithm: ms.messageDigest!.algorithm, digest: declared!.digest, signature: Buffer.from(ms.signature) };
    } else {
      const env = bundle.content.dsseEnvelope;
      if (env.signatures.length !== 1) return invalid(`DSSE envelope has ${env.signatures.length} signatures, expected exactly 1`);
      if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return invalid(`DSSE payload type ${env.payloadType.slice(0, 100)} is not an in-toto statement`);
      const covers = statementCoversDigest(Buffer.from(env.payload), fileSha256.toString('hex'));
      if (!covers.ok) return invalid(covers.why!);
      notes.push(`in-toto statement${covers.predicateType ? ` (${covers.predicateType.slice(0, 200)})` : ''}`);
      signed = { kind: 'dsse', payloadType: env.payloadType, payload: Buffer.from(env.payload), signature: Buffer.from(env.signatures[0]!.sig) };
    }
    const material = signingMaterial(vm, pinnedKey);

    // Our own checks of every tlog entry, before the library's: the pinned log, its checkpoint
    // (witness lines dropped, validity window), and Rekor v2 bodies.
    if (checkEntriesAgainstTrust(entity, trust, material, signed)) notes.push('Rekor v2 entry');

    return verifyWithLibrary(entity, trust, pinnedKey, identity, notes, fileSha256);
  } catch (err) {
    if (err instanceof Refusal) return invalid(err.message);
    if (err instanceof FormatError) return invalid(err.userMessage);
    const e = err as { code?: string; message?: string; name?: string };
    if (!e.code) return invalid(`malformed bundle: the verifier could not read it (${e.name ?? 'Error'}: ${String(e.message ?? err).slice(0, 200)})`);
    const unpinned = e.code === 'UNTRUSTED_SIGNER_ERROR';
    return invalid(`${e.code}: ${e.message ?? String(err)}`, unpinned ? { unpinnedSigner: true } : {});
  }
}

/**
 * Our own checks of every tlog entry, before the library's (throws Refusal): the pinned log, its
 * checkpoint (witness lines dropped, validity window), and Rekor v2 bodies. Rewrites the entity's
 * entries and signature for the library; returns whether a Rekor v2 entry was seen.
 */
function checkEntriesAgainstTrust(entity: SignedEntity, trust: PinnedTrust, material: SigningMaterial, signed: SignedContent): boolean {
  const times = signingTimes(entity);
  const paeDigests: Buffer[] = [];
  let v2 = false;
  entity.tlogEntries = entity.tlogEntries.map((entry, i) => {
    const log = findLog(trust, entry.logId!.keyId);
    if (!log) throw new Refusal(`tlog entry ${i}: from a transparency log the trusted root does not pin`);
    let out = entry;
    if (entry.inclusionProof?.checkpoint) {
      const r = checkCheckpoint(entry.inclusionProof.checkpoint.envelope, i, log, times);
      if ('reason' in r) throw new Refusal(r.reason);
      out = { ...entry, inclusionProof: { ...entry.inclusionProof, checkpoint: { envelope: r.envelope } } };
    }
    if (!isRekorV2(entry.kindVersion!.kind, entry.kindVersion!.version)) {
      const body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8')) as { spec: Json }; // shape-checked in parseBundle
      const r = checkV1Signer(i, entry.kindVersion!.kind, body.spec, material);
      if (r) throw new Refusal(r);
    } else {
      v2 = true;
      const r = checkV2Body(i, Buffer.from(entry.canonicalizedBody), entry.kindVersion!, signed, material);
      if (r.reason) throw new Refusal(r.reason);
      if (r.dsseAsHashedRekord) paeDigests.push(r.dsseAsHashedRekord);
    }
    return out;
  });
  if (paeDigests.length) entity.signature = dsseContent(entity.signature, paeDigests);
  return v2;
}

/** The library's verification against the pinned trust, then our exact match of the pinned identity. */
function verifyWithLibrary(
  entity: SignedEntity,
  trust: PinnedTrust,
  pinnedKey: PinnedPublicKey | undefined,
  identity: { san: string; issuer: string } | undefined,
  notes: string[],
  fileSha256: Buffer,
): Outcome {
  const scheme = 'sigstore' as const;
  const keys: KeyFinderFunc | undefined = pinnedKey ? () => ({ publicKey: pinnedKey.key, validFor: () => true }) : undefined;
  const verifier = new Verifier(trust.material(keys));
  if (pinnedKey) {
    verifier.verify(entity);
    return {
      valid: true,
      scheme,
      signer: `public key sha256:${pinnedKey.sha256}`,
      reason: notes.join('; ') || undefined,
      details: { sha256: fileSha256.toString('hex') },
    };
  }
  const signer = verifier.verify(entity, {
    subjectAlternativeName: exactSanPattern(identity!.san) as unknown as string,
    extensions: { issuer: identity!.issuer },
  });
  const san = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  // Belt and braces: the library matched a pattern; we require equality.
  if (san !== identity!.san || issuer !== identity!.issuer) {
    return invalidOutcome(`signed by ${describeSigner(signer)}, not the pinned ${identity!.san} (issuer ${identity!.issuer})`, {
      signer: describeSigner(signer),
      unpinnedSigner: true,
    });
  }
  return { valid: true, scheme, signer: describeSigner(signer), reason: notes.join('; ') || undefined, details: { sha256: fileSha256.toString('hex') } };
}

function invalidOutcome(reason: string, extra: Partial<Outcome> = {}): Outcome {
  return { valid: false, scheme: 'sigstore', reason, ...extra };
}

/** A verdict reached by our own checks (not an error). */
class Refusal extends Error {}
