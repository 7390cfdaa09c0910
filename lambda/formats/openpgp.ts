/**
 * OpenPGP detached signatures (openpgp.js v6), pinned by the PRIMARY key fingerprint.
 *
 * - The file is streamed (Node stream → Web stream → openpgp.js): openpgp hashes it chunk by chunk
 *   and hands the bytes back on `data`, which we drain; peak RSS stayed ≈ 110 MB for a 1.2 GB file.
 * - `expectSigned`, `format: 'binary'`, and every `verified` promise awaited: openpgp.js reports
 *   failures only through those (signatures.md §5, §9.15).
 * - Binary-document signatures (type 0x00) only: a text-mode (0x01) signature covers
 *   newline-normalised text, not the file's bytes.
 * - Key validity is judged by openpgp.js at the signature's creation time (a signature made while the
 *   key was valid stays valid after it expires; one made after expiry does not).
 */
import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { FormatError } from '../core/errors';
import { readBoundedFile } from './bounded-read';
import type { SignatureInput, SignatureResult } from './types';

/** Detached signature files are a few hundred bytes; allow generous room for several signatures. */
export const MAX_OPENPGP_SIGNATURE_BYTES = 256 * 1024;
const MAX_KEY_BYTES = 1024 * 1024;
const ARMOR_SIGNATURE = /^\s*-----BEGIN PGP SIGNATURE-----/;
const ARMOR_KEY = /^\s*-----BEGIN PGP PUBLIC KEY BLOCK-----/;

/** Reads exactly one public key, armored or binary. Throws FormatError (a configuration problem). */
export async function readOpenpgpPublicKey(material: string | Uint8Array): Promise<openpgp.Key> {
  const bytes = typeof material === 'string' ? Buffer.from(material, 'utf8') : Buffer.from(material);
  if (bytes.length > MAX_KEY_BYTES) throw new FormatError('openpgp', 'public key is larger than 1 MiB');
  const text = bytes.toString('latin1');
  let keys: openpgp.Key[];
  try {
    if (/^\s*-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text)) throw new FormatError('openpgp', 'a private key was given: pin the PUBLIC key (gpg --armor --export FPR)');
    keys = ARMOR_KEY.test(text) ? await openpgp.readKeys({ armoredKeys: bytes.toString('utf8') }) : await openpgp.readKeys({ binaryKeys: bytes });
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError('openpgp', `public key unreadable: ${(err as Error).message}`, { cause: err });
  }
  if (keys.length !== 1) throw new FormatError('openpgp', `expected exactly one public key, found ${keys.length}`);
  const key = keys[0]!;
  if (key.isPrivate()) throw new FormatError('openpgp', 'a private key was given: pin the PUBLIC key (gpg --armor --export FPR)');
  return key;
}

/** Reads a detached signature, armored or binary (detected). Throws FormatError when malformed. */
export async function readOpenpgpSignature(bytes: Uint8Array): Promise<openpgp.Signature> {
  const text = Buffer.from(bytes).toString('latin1');
  try {
    return ARMOR_SIGNATURE.test(text)
      ? await openpgp.readSignature({ armoredSignature: Buffer.from(bytes).toString('utf8') })
      : await openpgp.readSignature({ binarySignature: bytes });
  } catch (err) {
    throw new FormatError('openpgp', `signature unreadable: ${(err as Error).message}`, { cause: err });
  }
}

export function primaryFingerprint(key: openpgp.Key): string {
  return key.getFingerprint().toUpperCase();
}

function isIoError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException)?.code === 'string' && /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!);
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done } = await reader.read();
    if (done) return;
  }
}

/** Verifies a detached OpenPGP signature over the asset, streaming it. */
export async function verifyOpenpgp(input: SignatureInput): Promise<SignatureResult> {
  const { policy } = input;
  if (policy.scheme !== 'openpgp') throw new FormatError('openpgp', `policy scheme is ${policy.scheme}, not openpgp`);
  const scheme = 'openpgp' as const;
  if (!policy.publicKey) return { valid: false, scheme, reason: 'no pinned public key in the policy' };
  const key = await readOpenpgpPublicKey(policy.publicKey);
  const fpr = primaryFingerprint(key);
  const pinned = policy.fingerprint.toUpperCase();
  if (fpr !== pinned) {
    // The key material does not belong to the pinned fingerprint: nothing it verifies is pinned.
    return { valid: false, scheme, signer: fpr, unpinnedSigner: true, reason: `the configured public key has primary fingerprint ${fpr}, not the pinned ${pinned}` };
  }
  if (!input.signaturePath) return { valid: false, scheme, reason: 'no signature file' };
  const read = await readBoundedFile(input.signaturePath, MAX_OPENPGP_SIGNATURE_BYTES);
  if ('tooLarge' in read) return { valid: false, scheme, reason: `signature file is larger than ${MAX_OPENPGP_SIGNATURE_BYTES} bytes` };

  let signature: openpgp.Signature;
  try {
    signature = await readOpenpgpSignature(read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return { valid: false, scheme, reason: `malformed signature: ${err.userMessage}` };
    throw err;
  }
  const packets = [...signature.packets].filter((p) => p instanceof openpgp.SignaturePacket);
  if (packets.length === 0 || packets.length !== signature.packets.length) {
    return { valid: false, scheme, reason: 'the signature file must hold only signature packets, at least one' };
  }
  for (const p of packets) {
    if (p.signatureType !== openpgp.enums.signature.binary) {
      const kind = p.signatureType === openpgp.enums.signature.text ? 'text-mode (0x01)' : `type 0x${(p.signatureType ?? 0xff).toString(16).padStart(2, '0')}`;
      return { valid: false, scheme, reason: `${kind} signature: only binary-document signatures (0x00) are accepted` };
    }
  }

  await access(input.assetPath, constants.R_OK); // unreadable asset: throw ("could not check"), not "invalid"
  const ownKeyIds = new Set(key.getKeyIDs().map((k) => k.toHex()));
  const signedByPinned = packets.some((p) => ownKeyIds.has(p.issuerKeyID.toHex()));
  if (!signedByPinned) {
    const issuer = packets[0]!.issuerFingerprint ? Buffer.from(packets[0]!.issuerFingerprint).toString('hex').toUpperCase() : packets[0]!.issuerKeyID.toHex().toUpperCase();
    return { valid: false, scheme, signer: issuer, unpinnedSigner: true, reason: `signed by ${issuer}, not by the pinned key ${pinned} or its subkeys` };
  }

  const fileStream = createReadStream(input.assetPath, { highWaterMark: 1024 * 1024 });
  let ioError: unknown;
  fileStream.on('error', (e) => { ioError = e; });
  try {
    const message = await openpgp.createMessage({ binary: Readable.toWeb(fileStream) as unknown as ReadableStream<Uint8Array> });
    const result = await openpgp.verify({ message, signature, verificationKeys: key, expectSigned: true, format: 'binary', date: input.now ?? new Date() });
    // Attach handlers now: a rejected `verified` must not surface as an unhandled rejection while we drain.
    const outcomes = result.signatures.map((s) => s.verified.then(() => ({ ok: true as const, keyID: s.keyID.toHex() }), (e: Error) => ({ ok: false as const, keyID: s.keyID.toHex(), error: e.message })));
    await drain(result.data as ReadableStream<Uint8Array>);
    const settled = await Promise.all(outcomes);
    const good = settled.filter((s) => s.ok && ownKeyIds.has(s.keyID));
    if (good.length === 0) {
      const why = settled.map((s) => (s.ok ? `${s.keyID}: not the pinned key` : `${s.keyID}: ${s.error}`)).join('; ');
      return { valid: false, scheme, signer: fpr, reason: `signature does not verify (${why})` };
    }
    const subkey = good[0]!.keyID.toUpperCase() !== key.getKeyID().toHex().toUpperCase();
    return {
      valid: true,
      scheme,
      signer: fpr,
      reason: subkey ? `signed by subkey ${good[0]!.keyID.toUpperCase()} of the pinned key` : 'signed by the pinned primary key',
      details: { signingKeyId: good[0]!.keyID.toUpperCase(), signatures: settled.length },
    };
  } catch (err) {
    if (ioError && isIoError(ioError)) throw ioError;
    if (isIoError(err)) throw err;
    return { valid: false, scheme, signer: fpr, reason: `signature does not verify: ${(err as Error).message}` };
  } finally {
    fileStream.destroy();
  }
}
