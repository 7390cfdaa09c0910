/**
 * Tauri updater signatures: minisign with one more base64 layer on each side.
 *   `.sig`   = base64 of the whole minisign signature text (trusted comment "timestamp:…\tfile:…")
 *   `pubkey` = base64 of the minisign .pub file text, as in tauri.conf.json
 * The updater verifies with legacy signatures allowed, and so do we (tauri-apps/tauri
 * updater_signature.rs; plugins-workspace updater.rs).
 *
 * The pinned key may be given as Tauri stores it (base64 of the .pub file) or as minisign writes it
 * (the .pub file itself, or its bare "RW…" key line): all three name one key unambiguously.
 */
import { FormatError } from '../base/errors';
import { readBoundedFile } from './bounded-read';
import {
  MAX_SIGNATURE_FILE_BYTES,
  parseMinisignPublicKey,
  parseMinisignSignature,
  verifyMinisignParsed,
  type MinisignPublicKey,
  type MinisignSignature,
} from './minisign';
import type { SignatureInput, SignatureResult } from './types';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** base64 of a ≤ 16 KiB signature text, plus slack for a trailing newline */
const MAX_TAURI_SIG_BYTES = Math.ceil((MAX_SIGNATURE_FILE_BYTES * 4) / 3) + 16;

/** `text` must be exactly base64, optionally followed by one line ending. */
function decodeOuterBase64(text: string, what: string): Buffer {
  const t = text.replace(/\r?\n$/, '');
  if (!BASE64.test(t) || t.length % 4 !== 0) throw new FormatError('tauri', `${what} is not base64 (Tauri stores it base64-encoded)`);
  const bytes = Buffer.from(t, 'base64');
  if (bytes.toString('base64') !== t) throw new FormatError('tauri', `${what} is not canonical base64`);
  return bytes;
}

const KEY_LINE = /^RW[A-Za-z0-9+/]{54}$/; // base64 of "Ed" ‖ key id ‖ key: 42 bytes, 56 characters

/**
 * The pinned key: the updater `pubkey` (base64 of the .pub file text), the minisign .pub file, or
 * its "RW…" line. Throws FormatError.
 */
export function parseTauriPublicKey(pubkey: string): MinisignPublicKey {
  // Configuration text (trusted, hand-pasted): surrounding whitespace is forgiven.
  const text = pubkey.trim();
  if (text.startsWith('untrusted comment:') || KEY_LINE.test(text)) return parseMinisignPublicKey(text);
  let inner: string;
  try {
    inner = decodeOuterBase64(text, 'public key').toString('utf8');
  } catch (err) {
    if (err instanceof FormatError) {
      throw new FormatError(
        'tauri',
        'public key must be the updater "pubkey" (base64 of the minisign .pub file, as in tauri.conf.json), the .pub file itself, or its "RW…" line',
        { cause: err },
      );
    }
    throw err;
  }
  // Tauri's form is the base64 of the whole .pub file (what `tauri signer generate` writes)
  if (!inner.startsWith('untrusted comment:'))
    throw new FormatError('tauri', 'public key is base64, but not of a minisign .pub file ("untrusted comment: …" and the "RW…" line)');
  return parseMinisignPublicKey(inner);
}

/** A Tauri `.sig` file's content (base64 of the minisign signature text). Throws FormatError. */
export function parseTauriSignature(content: string | Uint8Array): MinisignSignature {
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('latin1');
  return parseMinisignSignature(decodeOuterBase64(text, 'signature'));
}

export async function verifyTauri(input: SignatureInput): Promise<SignatureResult> {
  const { policy } = input;
  if (policy.scheme !== 'tauri') throw new FormatError('tauri', `policy scheme is ${policy.scheme}, not tauri`);
  if (!policy.publicKey) return { valid: false, scheme: 'tauri', reason: 'no pinned public key in the policy' };
  const key = parseTauriPublicKey(policy.publicKey);
  if (!input.signaturePath) return { valid: false, scheme: 'tauri', reason: 'no signature file' };
  const read = await readBoundedFile(input.signaturePath, MAX_TAURI_SIG_BYTES);
  if ('tooLarge' in read) return { valid: false, scheme: 'tauri', reason: `signature file is larger than ${MAX_TAURI_SIG_BYTES} bytes` };
  let sig: MinisignSignature;
  try {
    sig = parseTauriSignature(read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return { valid: false, scheme: 'tauri', reason: `malformed signature: ${err.userMessage}` };
    throw err;
  }
  return verifyMinisignParsed(input.assetPath, key, sig, { prehashedOnly: false, scheme: 'tauri' });
}
