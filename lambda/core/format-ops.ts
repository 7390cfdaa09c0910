/**
 * The format operations the checker needs, as one injectable object: the real implementations live
 * in lambda/formats/ (see formats/ops.ts); tests may substitute them to exercise the checker's
 * judgement without building signed binaries.
 */
import type { SignatureInput, SignatureResult, CompareContext } from '../formats/types';
import type { ComparisonReport } from './report';

export type ManifestEntryStatus = 'ok' | 'missing' | 'duplicate' | 'mismatch' | 'malformed';

export interface FormatOps {
  verifySignature(input: SignatureInput): Promise<SignatureResult>;
  compareArtifacts(publishedPath: string, rebuiltPath: string, options: CompareContext & { method?: 'auto' | 'bytes' }): Promise<ComparisonReport>;
  /** looks `asset` up in a SHA256SUMS manifest file and compares with `sha256` */
  checkManifestEntry(manifestPath: string, asset: string, sha256: string): Promise<{ status: ManifestEntryStatus; expected?: string; reason?: string }>;
}
