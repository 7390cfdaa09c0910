/**
 * How large a signature or manifest download may get (issue 9 item 7). These files are tiny by
 * nature and each format module already refuses more than its limit when it reads one; the
 * download is bounded by the same limit *while streaming* (safe-download aborts as soon as it is
 * passed), so a hostile forge cannot make us fetch a gigabyte `.minisig` before it is refused.
 */
import type { DirectSignaturePolicy } from './config/schema';
import { MAX_SIGNATURE_FILE_BYTES } from '../formats/minisign';
import { MAX_CLEARTEXT_BYTES, MAX_OPENPGP_SIGNATURE_BYTES } from '../formats/openpgp';
import { MAX_BUNDLE_BYTES } from '../formats/sigstore';

/** tauri.ts's bound on a `.sig` (base64 of a minisign signature file); it does not export it */
const MAX_TAURI_SIG_BYTES = Math.ceil((MAX_SIGNATURE_FILE_BYTES * 4) / 3) + 16;

/** The most bytes a detached signature (or bundle) of `scheme` may have; undefined: no companion file. */
export function signatureDownloadLimit(scheme: DirectSignaturePolicy['scheme']): number | undefined {
  switch (scheme) {
    case 'minisign':
      return MAX_SIGNATURE_FILE_BYTES;
    case 'tauri':
      return MAX_TAURI_SIG_BYTES;
    case 'openpgp':
      return MAX_OPENPGP_SIGNATURE_BYTES;
    case 'sigstore':
      return MAX_BUNDLE_BYTES;
    case 'authenticode':
      return undefined; // embedded in the asset
  }
}

/** A checksum manifest (SHA256SUMS), possibly cleartext-signed: what sha256sums.ts reads at most. */
export const MANIFEST_DOWNLOAD_LIMIT = MAX_CLEARTEXT_BYTES;
