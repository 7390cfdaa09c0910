/**
 * Sigstore bundles (cosign sign-blob --bundle, protobuf bundle format), verified offline against a
 * pinned trusted root and a pinned identity (@sigstore/verify 3.1 — v4 needs Node 22).
 *
 * - Identity: the issuer is compared exactly; @sigstore/verify matches the SAN with an UNANCHORED
 *   regex (String.match), so the configured SAN is escaped and anchored, and then compared exactly
 *   once more against the verified signer.
 * - Only keyless (Fulcio certificate) bundles: a bare public-key bundle has no identity to pin.
 * - The legacy cosign format {base64Signature, cert, rekorBundle} is refused with a clear reason.
 * - Artifact-sized data is streamed: @sigstore/verify's message-signature content wants the whole
 *   artifact as one Buffer, so we give it an equivalent content object backed by a streaming
 *   digest and a streaming crypto.Verify over the same bytes (one pass, constant memory).
 * - DSSE bundles (in-toto attestations) sign a statement, not the file: the file is bound by its
 *   SHA-256 appearing among the statement's subjects.
 */
import { createHash, createVerify, timingSafeEqual, type KeyObject, type Verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  BUNDLE_V01_MEDIA_TYPE,
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  bundleFromJSON,
  type Bundle,
} from '@sigstore/bundle';
import { Bundle as BundleMessage, HashAlgorithm, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type SignedEntity, type Signer } from '@sigstore/verify';
import * as pkijs from 'pkijs';
import { FormatError } from '../core/errors';
import { parseStrictDerSequence } from './der';
import { readBoundedFile } from './bounded-read';
import type { SignatureInput, SignatureResult } from './types';

export const MAX_BUNDLE_BYTES = 1024 * 1024;
const MEDIA_TYPES = new Set([BUNDLE_V01_MEDIA_TYPE, BUNDLE_V02_MEDIA_TYPE, BUNDLE_V03_LEGACY_MEDIA_TYPE, BUNDLE_V03_MEDIA_TYPE]);
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const MAX_DSSE_SUBJECTS = 10_000;

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

/** Parses the pinned trusted_root.json. Throws FormatError (a configuration problem). */
export function parseTrustedRoot(json: string): ReturnType<typeof toTrustMaterial> {
  try {
    const obj: unknown = JSON.parse(json);
    if (typeof obj !== 'object' || obj === null || !String((obj as { mediaType?: unknown }).mediaType ?? '').startsWith('application/vnd.dev.sigstore.trustedroot')) {
      throw new Error('not a sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json…)');
    }
    return toTrustMaterial(TrustedRoot.fromJSON(obj));
  } catch (err) {
    throw new FormatError('sigstore', `trusted root unreadable: ${(err as Error).message}`, { cause: err });
  }
}

/** Parses a bundle (JSON bytes), refusing the legacy cosign format. Throws FormatError. */
export function parseBundle(bytes: Uint8Array): Bundle {
  let obj: unknown;
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new FormatError('sigstore', 'bundle is not JSON', { cause: err });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new FormatError('sigstore', 'bundle is not a JSON object');
  const o = obj as Record<string, unknown>;
  if (!('mediaType' in o) && ('base64Signature' in o || 'rekorBundle' in o || 'cert' in o)) {
    throw new FormatError('sigstore', 'legacy cosign bundle format ({base64Signature, cert, rekorBundle}) is not supported: sign with `cosign sign-blob --new-bundle-format --bundle …` (the protobuf bundle)');
  }
  if (typeof o.mediaType !== 'string' || !MEDIA_TYPES.has(o.mediaType)) {
    throw new FormatError('sigstore', `unknown bundle mediaType ${JSON.stringify(o.mediaType)}`);
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(obj);
  } catch (err) {
    throw new FormatError('sigstore', `invalid bundle: ${(err as Error).message}`, { cause: err });
  }
  // The protobuf JSON mapping silently drops fields it does not know, and decodes base64 leniently
  // (skipping stray characters). Data the verifier ignores has no place in a signature file: refuse
  // it (fail closed), rather than verify something other than what the file says.
  const unknown = unknownFields(obj, BundleMessage.toJSON(bundle), 'bundle');
  if (unknown.length) throw new FormatError('sigstore', `bundle has fields the verifier does not understand: ${unknown.slice(0, 5).join(', ')}`);
  const uncanonical = nonCanonicalFields(obj, BundleMessage.toJSON(bundle), 'bundle');
  if (uncanonical.length) throw new FormatError('sigstore', `bundle is not in canonical form at ${uncanonical.slice(0, 5).join(', ')} (e.g. non-canonical base64)`);
  checkCertificates(bundle);
  checkInclusionProofs(bundle);
  return bundle;
}

function canonicalNoteSignature(line: string): boolean {
  const m = /^\u2014 (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
  return !!m && m[2]!.length % 4 === 0 && Buffer.from(m[2]!, 'base64').toString('base64') === m[2];
}

function isEmptyValue(v: unknown): boolean {
  return v === null || v === '' || v === 0 || v === '0' || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
}

/** Paths of keys present (with a non-default value) in `input` but absent from its decoded form. */
function unknownFields(input: unknown, decoded: unknown, path: string, depth = 0): string[] {
  if (depth > 32) return [`${path} (nested too deep)`];
  if (Array.isArray(input)) {
    if (!Array.isArray(decoded)) return isEmptyValue(input) ? [] : [path];
    return input.flatMap((v, i) => unknownFields(v, decoded[i], `${path}[${i}]`, depth + 1));
  }
  if (typeof input !== 'object' || input === null) return [];
  const d = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<string, unknown>;
  return Object.entries(input as Record<string, unknown>).flatMap(([k, v]) =>
    k in d ? unknownFields(v, d[k], `${path}.${k}`, depth + 1) : isEmptyValue(v) ? [] : [`${path}.${k}`],
  );
}

/** Same value, allowing only the number/numeric-string variance of protobuf's int64 JSON mapping. */
function sameScalar(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'number' || typeof a === 'string') && (typeof b === 'number' || typeof b === 'string')) return /^-?\d+$/.test(String(a)) && String(a) === String(b);
  return false;
}

/** Paths where the input's value differs from its decoded-then-re-encoded form (known fields only). */
function nonCanonicalFields(input: unknown, decoded: unknown, path: string, depth = 0): string[] {
  if (depth > 32) return [`${path} (nested too deep)`];
  if (Array.isArray(input)) {
    if (!Array.isArray(decoded)) return isEmptyValue(input) ? [] : [path];
    if (input.length !== decoded.length) return [path];
    return input.flatMap((v, i) => nonCanonicalFields(v, decoded[i], `${path}[${i}]`, depth + 1));
  }
  if (typeof input === 'object' && input !== null) {
    const d = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<string, unknown>;
    return Object.entries(input as Record<string, unknown>).flatMap(([k, v]) => (k in d ? nonCanonicalFields(v, d[k], `${path}.${k}`, depth + 1) : []));
  }
  if (decoded === undefined) return isEmptyValue(input) ? [] : [path];
  return sameScalar(input, decoded) ? [] : [path];
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

/**
 * @sigstore/verify checks an inclusion proof against its signed checkpoint and ignores the proof's
 * own rootHash/treeSize copies; require them to agree, so the bundle carries no unverified claims.
 */
function checkInclusionProofs(bundle: Bundle): void {
  for (const [i, entry] of bundle.verificationMaterial.tlogEntries.entries()) {
    const proof = entry.inclusionProof;
    if (!proof?.checkpoint) continue;
    const lines = proof.checkpoint.envelope.split('\n');
    const size = lines[1];
    const root = lines[2] !== undefined ? Buffer.from(lines[2], 'base64') : undefined;
    if (size === undefined || root === undefined || size !== String(proof.treeSize) || !root.equals(Buffer.from(proof.rootHash))) {
      throw new FormatError('sigstore', `tlog entry ${i}: inclusion proof rootHash/treeSize disagree with its checkpoint`);
    }
    // Signed-note signature lines ("— <name> <base64>"): the library decodes base64 leniently
    // (skipping stray characters); accept only the canonical spelling.
    const blank = lines.indexOf('');
    const sigLines = lines.slice(blank + 1).filter((l, j, all) => !(l === '' && j === all.length - 1));
    if (blank < 0 || sigLines.length === 0 || !sigLines.every(canonicalNoteSignature)) {
      throw new FormatError('sigstore', `tlog entry ${i}: malformed checkpoint signature line`);
    }
    // Signed-note verifiers skip signature lines from keys they do not know; a checkpoint is signed
    // by its log, so every signature line must name the log of the origin line.
    const origin = lines[0]!.split(' ')[0];
    if (!sigLines.every((l) => l.split(' ')[1] === origin)) {
      throw new FormatError('sigstore', `tlog entry ${i}: checkpoint carries a signature line not from its log ${origin}`);
    }
  }
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
    if (this.verified === undefined) this.verified = this.verifier.verify(key, this.signature);
    return this.verified;
  }
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
  const subjects = (st as { subject?: unknown }).subject;
  if (!Array.isArray(subjects) || subjects.length === 0 || subjects.length > MAX_DSSE_SUBJECTS) return { ok: false, why: 'in-toto statement has no usable subject list' };
  const predicateType = typeof (st as { predicateType?: unknown }).predicateType === 'string' ? (st as { predicateType: string }).predicateType : undefined;
  const hit = subjects.some((s) => typeof s === 'object' && s !== null && typeof (s as { digest?: { sha256?: unknown } }).digest?.sha256 === 'string' && (s as { digest: { sha256: string } }).digest.sha256.toLowerCase() === sha256Hex);
  return hit ? { ok: true, predicateType } : { ok: false, why: 'the file\'s SHA-256 is not among the in-toto statement subjects', predicateType };
}

export async function verifySigstore(input: SignatureInput): Promise<SignatureResult> {
  const { policy } = input;
  if (policy.scheme !== 'sigstore') throw new FormatError('sigstore', `policy scheme is ${policy.scheme}, not sigstore`);
  const scheme = 'sigstore' as const;
  if (!policy.trustedRoot) return { valid: false, scheme, reason: 'no pinned trusted root in the policy' };
  const trust = parseTrustedRoot(policy.trustedRoot);
  if (!input.signaturePath) return { valid: false, scheme, reason: 'no bundle file' };
  const read = await readBoundedFile(input.signaturePath, MAX_BUNDLE_BYTES);
  if ('tooLarge' in read) return { valid: false, scheme, reason: `bundle is larger than ${MAX_BUNDLE_BYTES} bytes` };

  let bundle: Bundle;
  try {
    bundle = parseBundle(read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return { valid: false, scheme, reason: err.userMessage };
    throw err;
  }
  const material = bundle.verificationMaterial.content.$case;
  if (material !== 'certificate' && material !== 'x509CertificateChain') {
    return { valid: false, scheme, reason: 'bundle is signed with a bare public key, not a Fulcio certificate: there is no identity to pin' };
  }

  // One pass over the file: SHA-256 (tlog/DSSE binding) and, for message signatures, the declared
  // digest algorithm plus a Verify object over the same bytes.
  const sha256 = createHash('sha256');
  let content: SignatureContent | undefined;
  let declared: { alg: string; hash: ReturnType<typeof createHash>; digest: Buffer } | undefined;
  let verifyObj: Verify | undefined;
  if (bundle.content.$case === 'messageSignature') {
    const ms = bundle.content.messageSignature;
    const alg = NODE_HASH[ms.messageDigest?.algorithm ?? HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED] ?? (ms.messageDigest?.algorithm === HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED ? 'sha256' : undefined);
    if (!alg || !ms.messageDigest) return { valid: false, scheme, reason: 'unsupported message digest algorithm in the bundle' };
    try {
      verifyObj = createVerify(alg);
    } catch {
      return { valid: false, scheme, reason: `digest algorithm ${alg} unavailable` };
    }
    declared = { alg, hash: alg === 'sha256' ? sha256 : createHash(alg), digest: Buffer.from(ms.messageDigest.digest) };
  }
  const sinks: Array<{ update(b: Buffer): unknown }> = [sha256];
  if (declared && declared.hash !== sha256) sinks.push(declared.hash);
  if (verifyObj) sinks.push(verifyObj);
  await streamFile(input.assetPath, sinks); // I/O errors propagate: "could not check"
  const fileSha256 = sha256.digest();
  const notes: string[] = [];

  try {
    const entity = toSignedEntity(bundle);
    if (bundle.content.$case === 'messageSignature') {
      const actual = declared!.hash === sha256 ? fileSha256 : declared!.hash.digest();
      if (!bufferEqual(declared!.digest, actual)) {
        return { valid: false, scheme, reason: 'the bundle\'s message digest is not the file\'s digest (file modified or bundle for another file)' };
      }
      content = new StreamedMessageSignatureContent(Buffer.from(bundle.content.messageSignature.signature), declared!.digest, actual, verifyObj!);
      entity.signature = content;
    } else {
      const env = bundle.content.dsseEnvelope;
      if (env.signatures.length !== 1) return { valid: false, scheme, reason: `DSSE envelope has ${env.signatures.length} signatures, expected exactly 1` };
      if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { valid: false, scheme, reason: `DSSE payload type ${env.payloadType} is not an in-toto statement` };
      const covers = statementCoversDigest(Buffer.from(env.payload), fileSha256.toString('hex'));
      if (!covers.ok) return { valid: false, scheme, reason: covers.why };
      notes.push(`in-toto statement${covers.predicateType ? ` (${covers.predicateType})` : ''}`);
    }
    const signer = new Verifier(trust).verify(entity, {
      subjectAlternativeName: exactSanPattern(policy.san) as unknown as string,
      extensions: { issuer: policy.issuer },
    });
    const san = signer.identity?.subjectAlternativeName;
    const issuer = signer.identity?.extensions?.issuer;
    // Belt and braces: the library matched a pattern; we require equality.
    if (san !== policy.san || issuer !== policy.issuer) {
      return { valid: false, scheme, signer: describeSigner(signer), unpinnedSigner: true, reason: `signed by ${describeSigner(signer)}, not the pinned ${policy.san} (issuer ${policy.issuer})` };
    }
    return { valid: true, scheme, signer: describeSigner(signer), reason: notes.join('; ') || undefined, details: { sha256: fileSha256.toString('hex') } };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const unpinned = e.code === 'UNTRUSTED_SIGNER_ERROR';
    return {
      valid: false,
      scheme,
      ...(unpinned ? { unpinnedSigner: true } : {}),
      reason: `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`,
    };
  }
}
