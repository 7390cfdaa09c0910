/**
 * Rekor checkpoints (C2SP signed-note + tlog-checkpoint), checked against the one pinned log.
 *
 * A signed note is its text, a blank line, then signature lines `— <name> <base64(keyHint‖sig)>`.
 * Rekor v2 checkpoints also carry witness cosignatures from keys this verifier does not know; as the
 * signed-note spec says, those lines are ignored (never counted, never trusted). What is required:
 * at least one line from the entry's log — its name and its key hint — whose signature verifies
 * with the pinned log key, and no line with the log's name and key hint that does not verify. The
 * log key must be within its trusted-root window at the bundle's verified signing time(s).
 * @sigstore/verify then sees only the log's own lines (it matches line names as regular
 * expressions against the base URL, which an unknown witness's name must not reach).
 */
import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { FormatError } from '../../base/errors';
import { withinWindow, type PinnedLog } from './trusted-root';

const MAX_NOTE_BYTES = 64 * 1024;
const MAX_SIGNATURE_LINES = 100;
const SIGNATURE_LINE = /^\u2014 ([^\s+]+) ([A-Za-z0-9+/]+={0,2})$/;

export interface NoteSignature {
  name: string;
  keyHint: Buffer;
  signature: Buffer;
  line: string;
}

export interface Checkpoint {
  /** the signed text: every line of the note, each ending with a newline */
  text: string;
  origin: string;
  size: string;
  rootHash: Buffer;
  signatures: NoteSignature[];
}

const bad = (i: number, m: string) => new FormatError('sigstore', `tlog entry ${i}: checkpoint ${m}`);

/** Parses a checkpoint strictly; `i` names the tlog entry in errors. Throws FormatError. */
export function parseCheckpoint(envelope: string, i: number): Checkpoint {
  if (Buffer.byteLength(envelope) > MAX_NOTE_BYTES) throw bad(i, `is larger than ${MAX_NOTE_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a checkpoint with control characters (other than newline) is refused, so they are matched on purpose
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(envelope)) throw bad(i, 'contains control characters');
  const split = envelope.indexOf('\n\n');
  if (split < 0) throw bad(i, 'has no blank line between its text and its signatures');
  if (!envelope.endsWith('\n')) throw bad(i, 'does not end with a newline');
  const text = envelope.slice(0, split + 1);
  const lines = text.slice(0, -1).split('\n');
  const [origin, size, root] = lines;
  if (!origin || size === undefined || root === undefined) throw bad(i, 'text needs an origin, a tree size and a root hash line');
  if (!/^(0|[1-9]\d{0,19})$/.test(size)) throw bad(i, `tree size ${JSON.stringify(size.slice(0, 40))} is not a decimal number`);
  if (!/^[A-Za-z0-9+/]{43}=$/.test(root) || Buffer.from(root, 'base64').toString('base64') !== root)
    throw bad(i, 'root hash is not 32 bytes of canonical base64');
  if (lines.slice(3).some((l) => l === '')) throw bad(i, 'has an empty extension line');
  const sigLines = envelope.slice(split + 2, -1).split('\n');
  if (sigLines.length > MAX_SIGNATURE_LINES) throw bad(i, `has more than ${MAX_SIGNATURE_LINES} signature lines`);
  const signatures = sigLines.map((line) => {
    const m = SIGNATURE_LINE.exec(line);
    const b64 = m?.[2];
    const bytes = b64 && b64.length % 4 === 0 ? Buffer.from(b64, 'base64') : undefined;
    if (!m || !bytes || bytes.toString('base64') !== b64 || bytes.length < 5) throw bad(i, 'has a malformed signature line');
    return { name: m[1]!, keyHint: bytes.subarray(0, 4), signature: bytes.subarray(4), line };
  });
  return { text, origin, size, rootHash: Buffer.from(root, 'base64'), signatures };
}

function verifyNoteSignature(text: string, key: KeyObject, signature: Buffer): boolean {
  try {
    if (key.asymmetricKeyType === 'ed25519') return verifySignature(null, Buffer.from(text), key, signature);
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const hash = curve === 'secp384r1' ? 'sha384' : curve === 'secp521r1' ? 'sha512' : 'sha256';
    return verifySignature(hash, Buffer.from(text), key, signature);
  } catch {
    return false;
  }
}

/**
 * Checks entry `i`'s checkpoint against its pinned log and returns the envelope reduced to the
 * log's own signature lines. `times` are the bundle's signing times (the log key must be valid at
 * each). Throws FormatError for a malformed note, returns `{ reason }` for a checkpoint that does
 * not verify.
 */
export function checkCheckpoint(envelope: string, i: number, log: PinnedLog, times: Date[]): { envelope: string } | { reason: string } {
  const cp = parseCheckpoint(envelope, i);
  // Rekor v1 origins are "<name> - <tree id>" (one key, several trees); Rekor v2 origins are the name.
  if (cp.origin !== log.name && !cp.origin.startsWith(`${log.name} - `)) {
    return { reason: `tlog entry ${i}: checkpoint origin ${JSON.stringify(cp.origin.slice(0, 80))} is not the log ${log.name}` };
  }
  const hint = log.checkpointKeyId.subarray(0, 4);
  const fromLog = cp.signatures.filter((s) => s.name === log.name && s.keyHint.equals(hint));
  if (fromLog.length === 0)
    return {
      reason: `tlog entry ${i}: checkpoint has no signature from the log ${log.name} (only ${cp.signatures.length} from keys the trusted root does not pin)`,
    };
  for (const s of fromLog) {
    if (!verifyNoteSignature(cp.text, log.key, s.signature)) return { reason: `tlog entry ${i}: checkpoint signature of the log ${log.name} does not verify` };
  }
  const outside = times.find((t) => !withinWindow(log.window, t));
  if (outside)
    return {
      reason: `tlog entry ${i}: the log key of ${log.name} is not valid at ${outside.toISOString()} (trusted root validFor ${log.window.start.toISOString()} – ${log.window.end?.toISOString() ?? 'open'})`,
    };
  return { envelope: `${cp.text}\n${fromLog.map((s) => s.line).join('\n')}\n` };
}
