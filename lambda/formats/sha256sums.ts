/**
 * SHA256SUMS manifests in GNU coreutils format (`sha256sum` output):
 *   `<64 hex>  name`  (text mode, two spaces)   `<64 hex> *name`  (binary mode)
 * Strict: every non-empty line must match; names are bare file names (no "/", no "..", no
 * backslash-escaped names — coreutils' `\` prefix for names with newlines is refused). The
 * manifest's own signature is checked elsewhere (any scheme in signature.ts) before this is used.
 *
 * A cleartext-signed manifest (`gpg --clearsign`: a "-----BEGIN PGP SIGNED MESSAGE-----" block) is
 * read from its signed text only — the one block openpgp.ts verifies, dash-escaping undone;
 * anything before or after the block is ignored, never parsed, never trusted.
 */
import { FormatError } from '../base/errors';
import type { ManifestEntryStatus } from '../base/comparison';
import { readBoundedFile } from './bounded-read';
import { MAX_CLEARTEXT_BYTES, looksCleartextSigned, readCleartextSignedText } from './openpgp';

export const MAX_MANIFEST_BYTES = 1024 * 1024;
const LINE = /^([0-9a-fA-F]{64}) ([ *])(.+)$/;

export interface ManifestEntry {
  sha256: string; // lower-case hex
  name: string;
  binary: boolean;
  line: number; // 1-based
}

export interface Manifest {
  entries: ManifestEntry[];
}

export interface ManifestCheck {
  status: Exclude<ManifestEntryStatus, 'malformed'>;
  /** the manifest's digest for the asset (when listed once) */
  expected?: string;
}

function validName(name: string): boolean {
  return (
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !name.includes('\\') &&
    !name.includes('\0') &&
    !/^\s|\s$/.test(name) &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: names with control characters are refused, so they are matched on purpose
    !/[\u0000-\u001f\u007f]/.test(name)
  );
}

/** Parses a manifest. Throws FormatError naming the first bad line. */
export function parseSha256Sums(content: string | Uint8Array): Manifest {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  if (bytes.length > MAX_MANIFEST_BYTES) throw new FormatError('sha256sums', `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.includes('\uFFFD')) throw new FormatError('sha256sums', 'manifest is not valid UTF-8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const entries: ManifestEntry[] = [];
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') return; // blank lines are harmless
    const m = LINE.exec(line);
    if (!m) throw new FormatError('sha256sums', `line ${i + 1} is not "<64 hex digits>  <name>" or "<64 hex digits> *<name>"`);
    const name = m[3]!;
    if (!validName(name))
      throw new FormatError(
        'sha256sums',
        `line ${i + 1}: "${name.slice(0, 80)}" is not a bare file name (no "/", "\\", "..", control characters or surrounding spaces)`,
      );
    entries.push({ sha256: m[1]!.toLowerCase(), name, binary: m[2] === '*', line: i + 1 });
  });
  if (entries.length === 0) throw new FormatError('sha256sums', 'manifest lists no files');
  return { entries };
}

/** Looks `assetName` up: ok, missing, listed more than once (duplicate), or a different digest. */
export function checkManifestEntry(manifest: Manifest, assetName: string, sha256: string): ManifestCheck {
  const hits = manifest.entries.filter((e) => e.name === assetName);
  if (hits.length === 0) return { status: 'missing' };
  if (hits.length > 1) return { status: 'duplicate' };
  const expected = hits[0]!.sha256;
  return { status: expected === sha256.toLowerCase() ? 'ok' : 'mismatch', expected };
}

/** File-level variant for the checker (FormatOps.checkManifestEntry): a bad manifest is 'malformed'. */
export async function checkManifestFile(
  manifestPath: string,
  assetName: string,
  sha256: string,
): Promise<{ status: ManifestEntryStatus; expected?: string; reason?: string }> {
  const read = await readBoundedFile(manifestPath, MAX_CLEARTEXT_BYTES);
  if ('tooLarge' in read) return { status: 'malformed', reason: `manifest file is larger than ${MAX_CLEARTEXT_BYTES} bytes` };
  let manifest: Manifest;
  try {
    manifest = parseSha256Sums(looksCleartextSigned(read.bytes) ? await readCleartextSignedText(read.bytes) : read.bytes);
  } catch (err) {
    if (err instanceof FormatError) return { status: 'malformed', reason: err.userMessage };
    throw err;
  }
  const result = checkManifestEntry(manifest, assetName, sha256);
  const reason =
    result.status === 'missing'
      ? `${assetName} is not listed in the manifest`
      : result.status === 'duplicate'
        ? `${assetName} is listed more than once in the manifest`
        : result.status === 'mismatch'
          ? `manifest lists ${result.expected} for ${assetName}, the file's SHA-256 is ${sha256.toLowerCase()}`
          : undefined;
  return { ...result, ...(reason ? { reason } : {}) };
}
