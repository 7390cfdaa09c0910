/**
 * How large a signature or manifest download may get (issue 9 item 7). These files are tiny by
 * nature and each format module already refuses more than its limit when it reads one; the
 * download is bounded by the same limit *while streaming* (safe-download aborts as soon as it is
 * passed), so a hostile forge cannot make us fetch a gigabyte `.minisig` before it is refused.
 * Each scheme declares its bound (formats/schemes/<scheme>.ts `companion.maxBytes`).
 */
import { MAX_CLEARTEXT_BYTES } from '../formats/openpgp';
import { companionLimit, type SchemeName } from '../formats/schemes/registry';

/** The most bytes a detached signature (or bundle) of `scheme` may have; undefined: no companion file. */
export function signatureDownloadLimit(scheme: SchemeName): number | undefined {
  return companionLimit(scheme);
}

/** A checksum manifest (SHA256SUMS), possibly cleartext-signed: what sha256sums.ts reads at most. */
export const MANIFEST_DOWNLOAD_LIMIT = MAX_CLEARTEXT_BYTES;
