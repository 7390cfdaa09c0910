/**
 * Pure Ed25519 verification (RFC 8032) of a message read from a file, in constant memory.
 *
 * node:crypto's Ed25519 verify takes the whole message, but the message enters the algorithm only
 * through the challenge hash k = SHA-512(R ‖ A ‖ M) mod L, which can be computed while streaming.
 * The final check [S]B = R + [k]A then needs point arithmetic, which @noble/curves exposes.
 *
 * The checks are libsodium's crypto_sign_verify_detached (what minisign uses), so that our verdict
 * on a legacy minisign signature is minisign's: S canonical (< L), A and R canonical encodings and
 * not of small order, and the cofactorless equation compared as encodings: enc([S]B − [k]A) = R.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

type EdPoint = InstanceType<typeof Point>;

/** A canonical, not-small-order point, or undefined. */
function decodePoint(bytes: Uint8Array): EdPoint | undefined {
  let p: EdPoint;
  try {
    p = Point.fromBytes(bytes, false); // false: RFC 8032 strict decoding (y < p, no "-0")
  } catch {
    return undefined;
  }
  // fromBytes(…, false) refuses y ≥ p; a round trip also refuses any other second spelling.
  if (!Buffer.from(p.toBytes()).equals(Buffer.from(bytes))) return undefined;
  if (p.isSmallOrder()) return undefined;
  return p;
}

/**
 * True for a public key libsodium accepts: a canonical encoding of a point not of small order.
 * (OpenSSL checks neither: with the identity as key, R = identity and S = 0 "verify" any message.)
 */
export function isStrictEd25519PublicKey(publicKey: Uint8Array): boolean {
  return publicKey.length === 32 && decodePoint(publicKey) !== undefined;
}

/**
 * libsodium's checks on a signature's shape, before any equation: S < L, R canonical and not of
 * small order. OpenSSL (node:crypto) checks S < L only, so a key holder's R = identity signature
 * "verifies" there while `minisign -V` refuses it: every node:crypto Ed25519 check goes through this.
 */
export function isStrictEd25519Signature(signature: Uint8Array): boolean {
  return signature.length === 64 && littleEndian(signature.subarray(32, 64)) < L && decodePoint(signature.subarray(0, 32)) !== undefined;
}

/**
 * Verifies the 64-byte Ed25519 `signature` by the 32-byte `publicKey` over the bytes of the file at
 * `path`. Returns false for any bad signature or key; throws only for I/O errors.
 */
export async function verifyEd25519File(path: string, publicKey: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const rBytes = signature.subarray(0, 32);
  const s = littleEndian(signature.subarray(32, 64));
  if (s >= L) return false;
  const A = decodePoint(publicKey);
  const R = decodePoint(rBytes);
  if (!A || !R) return false;

  const h = createHash('sha512').update(rBytes).update(publicKey);
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  const k = littleEndian(h.digest()) % L;

  // enc([S]B − [k]A) must be R's encoding (libsodium compares encodings, cofactorless).
  const check = Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k));
  return Buffer.from(check.toBytes()).equals(Buffer.from(rBytes));
}
