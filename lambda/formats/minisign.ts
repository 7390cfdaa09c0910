/**
 * minisign signatures (jedisct1/minisign), verified with node:crypto only.
 *
 *   public key   base64("Ed" ‖ keyId[8] ‖ ed25519 pk[32])
 *   signature    "untrusted comment: …" / base64(alg[2] ‖ keyId[8] ‖ sig[64]) /
 *                "trusted comment: …" / base64(globalSig[64])
 *   alg "ED"     sig = Ed25519(BLAKE2b-512(file))   — prehashed, streamed in constant memory
 *   alg "Ed"     sig = Ed25519(file)                — legacy; pure Ed25519, verified with the
 *                                                    challenge hash streamed (ed25519-streamed.ts)
 *   globalSig = Ed25519(sig ‖ trusted comment)      — without it the trusted comment is forgeable
 *
 * Key ids are shown as minisign shows them: the little-endian u64, i.e. the 8 bytes reversed, in
 * upper-case hex.
 *
 * Legacy signatures are accepted by default, as `minisign -V` and Tauri's updater accept them;
 * `prehashedOnly: true` refuses them (`minisign -V -H`). A legacy label on a signature whose
 * trusted comment has minisign's "hashed" field is refused always (a relabelled prehashed one).
 *
 * Layout: four lines, each ended by "\n" or "\r\n" (the last one's ending optional), nothing after.
 * minisign -V (fgets four times) and minisign-verify (Rust `lines()`, four `next()`) stop reading
 * after the fourth line and ignore whatever follows; we refuse it — deliberately: those bytes are
 * signed by nobody and no signer writes them, so a file carrying them was not left as it was made.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { FormatError } from '../base/errors';
import { digestFile, readBoundedFile } from './bounded-read';
import { isStrictEd25519PublicKey, isStrictEd25519Signature, verifyEd25519File } from './ed25519-streamed';
import type { SignatureInput, SignatureResult } from './types';

/** A signature file is four short lines; minisign's trusted comment is at most ~8 KiB. */
export const MAX_SIGNATURE_FILE_BYTES = 16 * 1024;
const MAX_PUBLIC_KEY_TEXT = 4 * 1024;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const UNTRUSTED_PREFIX = 'untrusted comment: ';
const TRUSTED_PREFIX = 'trusted comment: ';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface MinisignPublicKey {
  keyId: Buffer; // 8 bytes as stored
  key: KeyObject;
  /** the raw 32-byte Ed25519 public key (for the streamed legacy check) */
  raw: Buffer;
  /** key id as minisign displays it */
  keyIdHex: string;
}

export type MinisignAlgorithm = 'Ed' | 'ED';

export interface MinisignSignature {
  algorithm: MinisignAlgorithm;
  keyId: Buffer;
  keyIdHex: string;
  signature: Buffer; // 64 bytes
  untrustedComment: string;
  /** for display (UTF-8, lossy) */
  trustedComment: string;
  /** the exact bytes the global signature covers */
  trustedCommentBytes: Buffer;
  globalSignature: Buffer; // 64 bytes
}

export function keyIdToHex(keyId: Uint8Array): string {
  return Buffer.from(keyId).reverse().toString('hex').toUpperCase();
}

/** Strict base64: the exact alphabet, padding only at the end, canonical length, decoded size checked. */
function decodeBase64(text: string, expectedBytes: number, what: string, format: string): Buffer {
  if (!BASE64.test(text) || text.length % 4 !== 0) throw new FormatError(format, `${what} is not valid base64`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== expectedBytes) throw new FormatError(format, `${what} has ${bytes.length} bytes, expected ${expectedBytes}`);
  // Reject non-canonical encodings (ignored trailing bits) so that one signature has one spelling.
  if (bytes.toString('base64') !== text) throw new FormatError(format, `${what} is not canonical base64`);
  return bytes;
}

/**
 * Lines ended by "\n" or "\r\n"; the final line ending is optional. Only an empty remainder after
 * the last "\n" is dropped: a lone "\r" there is a (fifth) line of its own, not a line ending.
 */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(raw)]), format: 'der', type: 'spki' });
}

/**
 * Parses a minisign public key: either the bare "RW…" base64 line or the whole .pub file
 * ("untrusted comment: …" line followed by the key line). Throws FormatError.
 */
export function parseMinisignPublicKey(text: string): MinisignPublicKey {
  if (text.length > MAX_PUBLIC_KEY_TEXT) throw new FormatError('minisign', 'public key text is too long');
  const lines = splitLines(text.trim());
  let keyLine: string;
  if (lines.length === 1) keyLine = lines[0]!.trim();
  else if (lines.length === 2 && lines[0]!.startsWith(UNTRUSTED_PREFIX)) keyLine = lines[1]!.trim();
  else throw new FormatError('minisign', 'public key must be the "RW…" line or a .pub file of two lines ("untrusted comment: …" and the key)');
  const raw = decodeBase64(keyLine, 42, 'public key', 'minisign');
  if (raw.subarray(0, 2).toString('latin1') !== 'Ed') throw new FormatError('minisign', 'public key algorithm is not "Ed" (Ed25519)');
  const keyId = raw.subarray(2, 10);
  // libsodium (minisign) refuses small-order and non-canonical keys; OpenSSL would not
  if (!isStrictEd25519PublicKey(raw.subarray(10, 42)))
    throw new FormatError('minisign', 'public key is not a valid Ed25519 key (not canonical, or of small order)');
  let key: KeyObject;
  try {
    key = ed25519PublicKey(raw.subarray(10, 42));
  } catch (err) {
    throw new FormatError('minisign', 'public key is not a valid Ed25519 key', { cause: err });
  }
  return { keyId: Buffer.from(keyId), key, raw: Buffer.from(raw.subarray(10, 42)), keyIdHex: keyIdToHex(keyId) };
}

/**
 * Parses a minisign signature file (exactly four lines, as minisign writes it). Works on bytes
 * (latin1 view) so that the trusted comment is verified byte for byte. Throws FormatError.
 */
export function parseMinisignSignature(content: string | Uint8Array): MinisignSignature {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  if (bytes.length > MAX_SIGNATURE_FILE_BYTES) throw new FormatError('minisign', 'signature file is too large');
  const lines = splitLines(bytes.toString('latin1'));
  if (lines.length !== 4) throw new FormatError('minisign', `signature file has ${lines.length} lines, expected 4`);
  const [l0, l1, l2, l3] = lines as [string, string, string, string];
  if (!l0.startsWith(UNTRUSTED_PREFIX)) throw new FormatError('minisign', 'signature file does not start with "untrusted comment: "');
  const sigBlob = decodeBase64(l1, 74, 'signature', 'minisign');
  const algorithm = sigBlob.subarray(0, 2).toString('latin1');
  if (algorithm !== 'Ed' && algorithm !== 'ED') throw new FormatError('minisign', `unsupported signature algorithm "${algorithm}"`);
  if (!l2.startsWith(TRUSTED_PREFIX)) throw new FormatError('minisign', 'third line does not start with "trusted comment: "');
  const globalSignature = decodeBase64(l3, 64, 'global signature', 'minisign');
  const keyId = Buffer.from(sigBlob.subarray(2, 10));
  return {
    algorithm,
    keyId,
    keyIdHex: keyIdToHex(keyId),
    signature: Buffer.from(sigBlob.subarray(10, 74)),
    untrustedComment: Buffer.from(l0.slice(UNTRUSTED_PREFIX.length), 'latin1').toString('utf8'),
    trustedComment: Buffer.from(l2.slice(TRUSTED_PREFIX.length), 'latin1').toString('utf8'),
    trustedCommentBytes: Buffer.from(l2.slice(TRUSTED_PREFIX.length), 'latin1'),
    globalSignature,
  };
}

async function blake2b512File(path: string): Promise<Buffer> {
  return (await digestFile(path, ['blake2b512'])).digests.blake2b512!;
}

export interface MinisignVerifyOptions {
  /** refuse legacy non-prehashed "Ed" signatures (minisign -V -H) */
  prehashedOnly: boolean;
  /** scheme name to report (tauri reuses this verifier) */
  scheme: 'minisign' | 'tauri';
}

/**
 * Verifies parsed signature + key against the file at `assetPath`. Never throws for a bad
 * signature; throws only for I/O errors on the asset.
 */
export async function verifyMinisignParsed(
  assetPath: string,
  key: MinisignPublicKey,
  sig: MinisignSignature,
  options: MinisignVerifyOptions,
): Promise<SignatureResult> {
  const base = { scheme: options.scheme, signer: sig.keyIdHex } as const;
  const details = { algorithm: sig.algorithm, keyId: sig.keyIdHex, trustedComment: sig.trustedComment };
  if (!sig.keyId.equals(key.keyId)) {
    return { ...base, valid: false, unpinnedSigner: true, details, reason: `signed by key ${sig.keyIdHex}, but the pinned key is ${key.keyIdHex}` };
  }
  if (sig.algorithm === 'Ed' && options.prehashedOnly) {
    return { ...base, valid: false, details, reason: 'legacy (non-prehashed "Ed") signature, refused by the policy (prehashedOnly)' };
  }
  // The global signature binds the trusted comment to the file signature: check it first, it is cheap.
  const global = Buffer.concat([sig.signature, sig.trustedCommentBytes]);
  if (!isStrictEd25519Signature(sig.globalSignature) || !cryptoVerify(null, global, key.key, sig.globalSignature)) {
    return {
      ...base,
      valid: false,
      details,
      reason: 'global signature (over the signature and the trusted comment) does not verify: trusted comment edited or signature forged',
    };
  }
  // The algorithm bytes are signed by nothing; the trusted comment is (above). minisign and the Rust
  // minisign crate end a prehashed signature's default trusted comment with a "hashed" field, never
  // a legacy one's: "Ed" with it is a prehashed signature relabelled, which would verify over a
  // 64-byte file holding BLAKE2b-512 of the signed one. minisign -V accepts that; we do not.
  if (sig.algorithm === 'Ed' && sig.trustedComment.split('\t').includes('hashed')) {
    return {
      ...base,
      valid: false,
      details,
      reason: 'signature labelled legacy "Ed", but its trusted comment marks it prehashed ("hashed"): the algorithm bytes were relabelled',
    };
  }
  const matches =
    sig.algorithm === 'ED'
      ? isStrictEd25519Signature(sig.signature) && cryptoVerify(null, await blake2b512File(assetPath), key.key, sig.signature)
      : // legacy: Ed25519 over the file itself, any size, streamed
        await verifyEd25519File(assetPath, key.raw, sig.signature);
  if (!matches) {
    return { ...base, valid: false, details, reason: 'signature does not match the file (file modified or signed by another key with the same key id)' };
  }
  return { ...base, valid: true, details, reason: `trusted comment: ${sig.trustedComment}` };
}

/** Verifies `input.signaturePath` (a .minisig file) over `input.assetPath` with the pinned key. */
export async function verifyMinisign(input: SignatureInput): Promise<SignatureResult> {
  const { policy } = input;
  if (policy.scheme !== 'minisign') throw new FormatError('minisign', `policy scheme is ${policy.scheme}, not minisign`);
  if (!policy.publicKey) return { valid: false, scheme: 'minisign', reason: 'no pinned public key in the policy' };
  // A broken pinned key is a configuration problem, reported as such (FormatError), not as "invalid".
  const key = parseMinisignPublicKey(policy.publicKey);
  if (!input.signaturePath) return { valid: false, scheme: 'minisign', reason: 'no signature file' };
  const read = await readBoundedFile(input.signaturePath, MAX_SIGNATURE_FILE_BYTES);
  if ('tooLarge' in read) return { valid: false, scheme: 'minisign', reason: `signature file is larger than ${MAX_SIGNATURE_FILE_BYTES} bytes` };
  let sig: MinisignSignature;
  try {
    sig = parseMinisignSignature(read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return { valid: false, scheme: 'minisign', reason: `malformed signature: ${err.userMessage}` };
    throw err;
  }
  return verifyMinisignParsed(input.assetPath, key, sig, { prehashedOnly: minisignPrehashedOnly(policy), scheme: 'minisign' });
}

/**
 * The policy's choice: `prehashedOnly`, or — from older configurations — `allowLegacy: false`.
 * Either one refusing legacy signatures refuses them (fail closed when the two disagree).
 */
export function minisignPrehashedOnly(policy: { prehashedOnly?: boolean; allowLegacy?: boolean }): boolean {
  return policy.prehashedOnly === true || policy.allowLegacy === false;
}
