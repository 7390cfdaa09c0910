/**
 * Contracts between the core and the format modules. Formats read files (streaming, bounded) and
 * answer; they never fetch, never decide a run verdict, and know nothing of GitLab or AWS.
 */
import type { ComparisonReport, CompareMethod, ManifestEntryStatus } from '../base/comparison';
import type { DirectSignaturePolicy } from './schemes/policies';

export type { DirectSignaturePolicy };

/** Outcome of checking one signature. `valid: false` covers every way a signature can be wrong
 * (unsigned, tampered, wrong or unpinned signer, malformed or truncated signature data). Only I/O
 * failures (a file that cannot be read) throw — that is "could not check", not "invalid". */
export interface SignatureResult {
  valid: boolean;
  scheme: DirectSignaturePolicy['scheme'];
  /** who signed, when known: minisign key id, OpenPGP primary fingerprint, certificate subject + SHA-256, sigstore identity */
  signer?: string;
  /** why it is invalid, or notes (e.g. "timestamped 2025-03-14T10:22:41Z") when valid */
  reason?: string;
  /** true when the signer was identified but is not the pinned one (a TAMPERED "SIGNER_NOT_PINNED") */
  unpinnedSigner?: boolean;
  /** true when the file carries no signature at all (Authenticode) */
  unsigned?: boolean;
  details?: Record<string, unknown>;
}

export interface SignatureInput {
  /** the signed file */
  assetPath: string;
  /** the detached signature / bundle file; absent for embedded schemes (Authenticode) */
  signaturePath?: string;
  policy: DirectSignaturePolicy;
  /** validation time (defaults to now); certificate validity is judged at a timestamp when present */
  now?: Date;
  /**
   * Receives the digests of `assetPath` the scheme computed (Authenticode: the PE's Authenticode
   * digest), so that the comparison can use them instead of reading the file again
   * (CompareContext.publishedDigests). Called only for digests computed from the file's bytes.
   */
  onDigest?: (digest: import('./digest').ComputedDigest) => void;
}

/** Context a comparer gets beyond the two files. */
export interface CompareContext {
  /** SHA-256 of both files when the caller has already computed them while downloading */
  publishedSha256?: string;
  rebuiltSha256?: string;
  /** recursion depth for archives; comparers stop at a bound */
  depth?: number;
  /** a scratch directory the comparer may use (archives extract members there, bounded) */
  scratchDir?: string;
  /** upper bound for bytes a comparer may extract or buffer (archive members, MSI streams) */
  maxBytes?: number;
  /**
   * Compares two extracted members one level deeper (the dispatcher, compare/index's
   * compareArtifacts), given to container comparers (archives) so that they never import the
   * dispatcher that imports them (no import cycle). A container comparer without it refuses to go deeper.
   */
  compareMember?: (publishedPath: string, rebuiltPath: string, context: CompareContext) => Promise<ComparisonReport>;
  /**
   * Digests of the published file computed earlier in this run from its bytes (the signature check's,
   * via SignatureInput.onDigest). With both SHA-256s known too, the PE comparer reads only the
   * rebuild when its Authenticode digest equals the published one (equal digests = equal digested
   * bytes); any difference is still explained with a full pass.
   */
  publishedDigests?: readonly import('./digest').ComputedDigest[];
}

/** A signature-transparent comparer for one file format. */
export interface Comparer {
  method: CompareMethod;
  /** true when `head` (the first 4 KiB of the published file) is this comparer's format */
  detect(head: Uint8Array): boolean;
  compare(publishedPath: string, rebuiltPath: string, context: CompareContext): Promise<ComparisonReport>;
}

/** The format operations the checker needs, as one injectable object (bound in ops.ts). */
export interface FormatOps {
  verifySignature(input: SignatureInput): Promise<SignatureResult>;
  compareArtifacts(publishedPath: string, rebuiltPath: string, options: CompareContext & { method?: 'auto' | 'bytes' }): Promise<ComparisonReport>;
  /** looks `asset` up in a SHA256SUMS manifest file and compares with `sha256` */
  checkManifestEntry(manifestPath: string, asset: string, sha256: string): Promise<{ status: ManifestEntryStatus; expected?: string; reason?: string }>;
}
