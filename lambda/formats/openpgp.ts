/**
 * OpenPGP signatures (openpgp.js v6), pinned by the PRIMARY key fingerprint.
 *
 * - Key material may be a keyring (several keys, as `gpg --export A B` writes it): the key whose
 *   primary fingerprint is pinned is selected; no other key in the ring is ever used to verify, so
 *   a signature by another key of the ring is "signed by a key that is not pinned".
 * - Detached signatures: the file is streamed (Node stream → Web stream → openpgp.js), which hashes
 *   it chunk by chunk and hands the bytes back on `data`, which we drain; peak RSS stayed ≈ 110 MB
 *   for a 1.2 GB file. `expectSigned`, `format: 'binary'`, and every `verified` promise awaited:
 *   openpgp.js reports failures only through those (signatures.md §5, §9.15).
 * - Signature types: binary-document signatures (0x00) always; text-mode signatures (0x01,
 *   `gpg --textmode`) only when the policy allows them (`allowTextMode`). A text-mode signature
 *   covers the text with line endings made CRLF, not the bytes, so LF ↔ CRLF edits keep it valid:
 *   harmless for a text asset, not for a binary one. "Text asset" is a decision of the policy, not
 *   a guess from the bytes: a sha256sums manifest allows text mode by default (its parser ignores
 *   line endings), any other asset only with `allowTextMode: true`.
 * - Cleartext-signed manifests (`gpg --clearsign`, policy `cleartext: true`, manifests only): the
 *   asset is the signed message; it must hold exactly one signed block; the text is read from that
 *   block (dash-escaping undone, trailing whitespace dropped as the signature does) and nothing
 *   outside it is ever used (readCleartextSignedText gives the manifest parser that same text).
 * - Refused algorithms are named before openpgp.js refuses them less clearly: MD5, SHA-1 and
 *   RIPEMD-160 message hashes, DSA and ElGamal keys, RSA keys under 2047 bits (openpgp.js v6
 *   defaults; gpg still accepts several of these — the tests record where gpg says GOODSIG).
 * - Key validity is judged by openpgp.js at the signature's creation time (a signature made while the
 *   key was valid stays valid after it expires; one made after expiry does not).
 */
import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { FormatError } from '../base/errors';
import { readBoundedFile } from './bounded-read';
import type { SignatureInput, SignatureResult } from './types';

/** Detached signature files are a few hundred bytes; allow generous room for several signatures. */
export const MAX_OPENPGP_SIGNATURE_BYTES = 256 * 1024;
/** A cleartext-signed manifest: the manifest limit (1 MiB) plus room for armor and signatures. */
export const MAX_CLEARTEXT_BYTES = 1024 * 1024 + MAX_OPENPGP_SIGNATURE_BYTES;
const MAX_KEY_BYTES = 1024 * 1024;
/** Keys in one keyring file at most. */
const MAX_KEYS = 64;
const ARMOR_SIGNATURE = /^\s*-----BEGIN PGP SIGNATURE-----/;
const ARMOR_KEY = /^\s*-----BEGIN PGP PUBLIC KEY BLOCK-----/;
const CLEARTEXT_BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIGNATURE_END = '-----END PGP SIGNATURE-----';

/** Reads every public key of a key file or keyring, armored or binary. Throws FormatError. */
export async function readOpenpgpKeys(material: string | Uint8Array): Promise<openpgp.Key[]> {
  const bytes = typeof material === 'string' ? Buffer.from(material, 'utf8') : Buffer.from(material);
  if (bytes.length > MAX_KEY_BYTES) throw new FormatError('openpgp', 'public key is larger than 1 MiB');
  const text = bytes.toString('latin1');
  if (/^\s*-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(text))
    throw new FormatError('openpgp', 'a private key was given: pin the PUBLIC key (gpg --armor --export FPR)');
  // Text (the configuration's publicKey) must be armored: binary key bytes do not survive as text.
  if (typeof material === 'string' && !ARMOR_KEY.test(text))
    throw new FormatError('openpgp', 'the configured public key is not an armored key block: export it with gpg --armor --export FPR…');
  let keys: openpgp.Key[];
  try {
    keys = ARMOR_KEY.test(text) ? await openpgp.readKeys({ armoredKeys: bytes.toString('utf8') }) : await openpgp.readKeys({ binaryKeys: bytes });
  } catch (err) {
    throw new FormatError('openpgp', `public key unreadable: ${(err as Error).message}`, { cause: err });
  }
  if (keys.length === 0) throw new FormatError('openpgp', 'no public key found');
  if (keys.length > MAX_KEYS) throw new FormatError('openpgp', `key file holds ${keys.length} keys (limit ${MAX_KEYS})`);
  if (keys.some((k) => k.isPrivate())) throw new FormatError('openpgp', 'a private key was given: pin the PUBLIC key (gpg --armor --export FPR)');
  return keys;
}

/** Reads exactly one public key, armored or binary. Throws FormatError (a configuration problem). */
export async function readOpenpgpPublicKey(material: string | Uint8Array): Promise<openpgp.Key> {
  const keys = await readOpenpgpKeys(material);
  if (keys.length !== 1) throw new FormatError('openpgp', `expected exactly one public key, found ${keys.length}`);
  return keys[0]!;
}

/** The key of `keys` whose primary fingerprint is `fingerprint` (hex, any case), if any. */
export function selectPinnedKey(keys: readonly openpgp.Key[], fingerprint: string): openpgp.Key | undefined {
  const pinned = fingerprint.toUpperCase();
  return keys.find((k) => primaryFingerprint(k) === pinned);
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

/**
 * The one cleartext-signed block of a file (text before and after it is dropped, never used).
 * Throws FormatError for none, several, or an unreadable block.
 */
export async function readCleartextBlock(bytes: Uint8Array): Promise<openpgp.CleartextMessage> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError('openpgp', 'cleartext-signed file is not valid UTF-8');
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const begins = lines.flatMap((l, i) => (l === CLEARTEXT_BEGIN ? [i] : []));
  if (begins.length !== 1)
    throw new FormatError(
      'openpgp',
      begins.length === 0 ? `no "${CLEARTEXT_BEGIN}" line: not a cleartext-signed file` : `${begins.length} cleartext-signed blocks: exactly one is accepted`,
    );
  const end = lines.findIndex((l, i) => i > begins[0]! && l === SIGNATURE_END);
  if (end === -1) throw new FormatError('openpgp', `cleartext-signed block has no "${SIGNATURE_END}" line`);
  try {
    return await openpgp.readCleartextMessage({ cleartextMessage: lines.slice(begins[0], end + 1).join('\n') + '\n' });
  } catch (err) {
    throw new FormatError('openpgp', `cleartext-signed block unreadable: ${(err as Error).message}`, { cause: err });
  }
}

/** What a cleartext signature covers: the text without trailing spaces/tabs on each line, LF line ends. */
function signedText(message: openpgp.CleartextMessage): string {
  return message
    .getText()
    .split('\n')
    .map((l) => l.replace(/[ \t\r]+$/, ''))
    .join('\n');
}

/**
 * The signed text of a cleartext-signed file, for the manifest parser: the same block
 * verifyOpenpgp verifies, read the same way. Never verifies anything itself.
 */
export async function readCleartextSignedText(bytes: Uint8Array): Promise<string> {
  return signedText(await readCleartextBlock(bytes));
}

/** True when `bytes` holds a cleartext-signed block (a line that is exactly the BEGIN line). */
export function looksCleartextSigned(bytes: Uint8Array): boolean {
  return Buffer.from(bytes)
    .toString('latin1')
    .split('\n')
    .some((l) => l.replace(/\r$/, '') === CLEARTEXT_BEGIN);
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

const REFUSED_HASHES: Readonly<Record<number, string>> = {
  [openpgp.enums.hash.md5]: 'MD5',
  [openpgp.enums.hash.sha1]: 'SHA-1',
  [openpgp.enums.hash.ripemd]: 'RIPEMD-160',
};

/** Why openpgp.js v6 would refuse this key (primary or subkey), in words naming the algorithm. */
function refusedKeyAlgorithm(key: { getAlgorithmInfo(): { algorithm: string; bits?: number } }, what: string): string | undefined {
  const { algorithm, bits } = key.getAlgorithmInfo();
  if (algorithm === 'dsa') return `refused public-key algorithm DSA (${what}): considered too weak`;
  if (algorithm === 'elgamal') return `refused public-key algorithm ElGamal (${what}): considered too weak`;
  if (algorithm.startsWith('rsa') && bits !== undefined && bits < 2047) return `refused RSA key of ${bits} bits (${what}): at least 2047 bits are required`;
  return undefined;
}

/** A refused algorithm among the signatures the pinned key made, named; undefined if none. */
function refusedAlgorithm(packets: openpgp.SignaturePacket[], key: openpgp.Key, ownKeyIds: Set<string>): string | undefined {
  for (const p of packets) {
    if (!ownKeyIds.has(p.issuerKeyID.toHex())) continue;
    const hash = REFUSED_HASHES[p.hashAlgorithm as number];
    if (hash) return `refused hash algorithm ${hash}: the signature uses an insecure message digest`;
    const primary = refusedKeyAlgorithm(key, 'primary key');
    if (primary) return primary;
    const signing = key.getSubkeys().find((s) => s.getKeyID().toHex() === p.issuerKeyID.toHex());
    const sub = signing && refusedKeyAlgorithm(signing, `signing subkey ${signing.getKeyID().toHex().toUpperCase()}`);
    if (sub) return sub;
  }
  return undefined;
}

type OpenpgpPolicy = Extract<SignatureInput['policy'], { scheme: 'openpgp' }> & { cleartext?: boolean };

/** Verifies an OpenPGP signature over the asset (detached, or cleartext when the policy says so). */
export async function verifyOpenpgp(input: SignatureInput): Promise<SignatureResult> {
  const policy = input.policy as OpenpgpPolicy;
  if (policy.scheme !== 'openpgp') throw new FormatError('openpgp', `policy scheme is ${policy.scheme}, not openpgp`);
  const scheme = 'openpgp' as const;
  if (!policy.publicKey) return { valid: false, scheme, reason: 'no pinned public key in the policy' };
  const keys = await readOpenpgpKeys(policy.publicKey);
  const pinned = policy.fingerprint.toUpperCase();
  const key = selectPinnedKey(keys, pinned);
  if (!key) {
    // The key material does not hold the pinned key: nothing it verifies is pinned.
    const held = keys.map(primaryFingerprint);
    const reason =
      held.length === 1
        ? `the configured public key has primary fingerprint ${held[0]}, not the pinned ${pinned}`
        : `none of the ${held.length} configured public keys (${held.join(', ')}) has the pinned primary fingerprint ${pinned}`;
    return { valid: false, scheme, signer: held.join(', '), unpinnedSigner: true, reason };
  }
  const fpr = primaryFingerprint(key);
  const ownKeyIds = new Set(key.getKeyIDs().map((k) => k.toHex()));
  const date = input.now ?? new Date();
  if (policy.cleartext) return verifyCleartext(input.assetPath, key, ownKeyIds, date);

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
  const accepted = policy.allowTextMode ? [openpgp.enums.signature.binary, openpgp.enums.signature.text] : [openpgp.enums.signature.binary];
  for (const p of packets) {
    if (!accepted.includes(p.signatureType as number)) {
      const kind = p.signatureType === openpgp.enums.signature.text ? 'text-mode (0x01)' : `type 0x${(p.signatureType ?? 0xff).toString(16).padStart(2, '0')}`;
      const which = policy.allowTextMode
        ? 'binary-document (0x00) and text-mode (0x01) signatures'
        : 'binary-document signatures (0x00) — text-mode ones only for text assets (allowTextMode)';
      return { valid: false, scheme, reason: `${kind} signature: only ${which} are accepted` };
    }
  }

  await access(input.assetPath, constants.R_OK); // unreadable asset: throw ("could not check"), not "invalid"
  const signedByPinned = packets.some((p) => ownKeyIds.has(p.issuerKeyID.toHex()));
  if (!signedByPinned) return notByPinned(packets, pinned);
  const refused = refusedAlgorithm(packets, key, ownKeyIds);
  if (refused) return { valid: false, scheme, signer: fpr, reason: refused };

  const fileStream = createReadStream(input.assetPath, { highWaterMark: 1024 * 1024 });
  let ioError: unknown;
  fileStream.on('error', (e) => {
    ioError = e;
  });
  try {
    const message = await openpgp.createMessage({ binary: Readable.toWeb(fileStream) as unknown as ReadableStream<Uint8Array> });
    const result = await openpgp.verify({ message, signature, verificationKeys: key, expectSigned: true, format: 'binary', date });
    // Attach handlers now: a rejected `verified` must not surface as an unhandled rejection while we drain.
    const outcomes = settle(result.signatures);
    await drain(result.data as ReadableStream<Uint8Array>);
    return judge(await Promise.all(outcomes), key, ownKeyIds, packets);
  } catch (err) {
    if (ioError && isIoError(ioError)) throw ioError;
    if (isIoError(err)) throw err;
    return { valid: false, scheme, signer: fpr, reason: `signature does not verify: ${(err as Error).message}` };
  } finally {
    fileStream.destroy();
  }
}

async function verifyCleartext(assetPath: string, key: openpgp.Key, ownKeyIds: Set<string>, date: Date): Promise<SignatureResult> {
  const scheme = 'openpgp' as const;
  const fpr = primaryFingerprint(key);
  const read = await readBoundedFile(assetPath, MAX_CLEARTEXT_BYTES); // unreadable: throws ("could not check")
  if ('tooLarge' in read) return { valid: false, scheme, reason: `cleartext-signed file is larger than ${MAX_CLEARTEXT_BYTES} bytes` };
  let message: openpgp.CleartextMessage;
  try {
    message = await readCleartextBlock(read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return { valid: false, scheme, reason: `malformed cleartext-signed file: ${err.userMessage}` };
    throw err;
  }
  // openpgp.js keeps the parsed signature on the message; its typings do not declare the field.
  const signature = (message as unknown as { signature?: unknown }).signature;
  if (!(signature instanceof openpgp.Signature)) return { valid: false, scheme, reason: 'the cleartext-signed block carries no readable signature' };
  const packets = [...signature.packets].filter((p) => p instanceof openpgp.SignaturePacket);
  if (packets.length === 0 || packets.length !== signature.packets.length) {
    return { valid: false, scheme, reason: 'the cleartext signature must hold only signature packets, at least one' };
  }
  if (packets.some((p) => p.signatureType !== openpgp.enums.signature.text))
    return { valid: false, scheme, reason: 'a cleartext signature must be a text-mode (0x01) signature' };
  if (!packets.some((p) => ownKeyIds.has(p.issuerKeyID.toHex()))) return notByPinned(packets, fpr);
  const refused = refusedAlgorithm(packets, key, ownKeyIds);
  if (refused) return { valid: false, scheme, signer: fpr, reason: refused };
  try {
    const result = await openpgp.verify({ message, verificationKeys: key, expectSigned: true, date });
    const verdict = judge(await Promise.all(settle(result.signatures)), key, ownKeyIds, packets);
    return verdict.valid ? { ...verdict, reason: `cleartext-signed: ${verdict.reason}`, details: { ...verdict.details, cleartext: true } } : verdict;
  } catch (err) {
    return { valid: false, scheme, signer: fpr, reason: `signature does not verify: ${(err as Error).message}` };
  }
}

type Outcome = { ok: true; keyID: string } | { ok: false; keyID: string; error: string };

function settle(signatures: Array<{ keyID: openpgp.KeyID; verified: Promise<true> }>): Array<Promise<Outcome>> {
  return signatures.map((s) =>
    s.verified.then(
      (): Outcome => ({ ok: true, keyID: s.keyID.toHex() }),
      (e: Error): Outcome => ({ ok: false, keyID: s.keyID.toHex(), error: e.message }),
    ),
  );
}

function notByPinned(packets: openpgp.SignaturePacket[], pinned: string): SignatureResult {
  const first = packets[0]!;
  const issuer = first.issuerFingerprint ? Buffer.from(first.issuerFingerprint).toString('hex').toUpperCase() : first.issuerKeyID.toHex().toUpperCase();
  return {
    valid: false,
    scheme: 'openpgp',
    signer: issuer,
    unpinnedSigner: true,
    reason: `signed by ${issuer}, not by the pinned key ${pinned} or its subkeys`,
  };
}

function judge(settled: Outcome[], key: openpgp.Key, ownKeyIds: Set<string>, packets: openpgp.SignaturePacket[]): SignatureResult {
  const fpr = primaryFingerprint(key);
  const good = settled.filter((s) => s.ok && ownKeyIds.has(s.keyID));
  if (good.length === 0) {
    const why = settled.map((s) => (s.ok ? `${s.keyID}: not the pinned key` : `${s.keyID}: ${s.error}`)).join('; ');
    return { valid: false, scheme: 'openpgp', signer: fpr, reason: `signature does not verify (${why})` };
  }
  const keyId = good[0]!.keyID;
  const subkey = keyId.toUpperCase() !== key.getKeyID().toHex().toUpperCase();
  const packet = packets.find((p) => p.issuerKeyID.toHex() === keyId);
  const textMode = packet?.signatureType === openpgp.enums.signature.text;
  return {
    valid: true,
    scheme: 'openpgp',
    signer: fpr,
    reason: `${subkey ? `signed by subkey ${keyId.toUpperCase()} of the pinned key` : 'signed by the pinned primary key'}${textMode ? ' (text-mode signature: line endings not signed)' : ''}`,
    details: { signingKeyId: keyId.toUpperCase(), signatures: settled.length, signatureType: textMode ? 'text' : 'binary' },
  };
}
