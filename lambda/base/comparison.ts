/**
 * What a comparison of two files answers. The formats produce it, the core puts it in the report
 * unchanged: it is part of the report's JSON contract (`verify --json`, S3 run records), so extend
 * it, never rename fields.
 */
export interface Difference {
  /** what differs, e.g. "section .text", "entry usr/bin/app", "bytes" */
  where: string;
  /** byte ranges in published / rebuilt, when meaningful */
  publishedRange?: [number, number];
  rebuiltRange?: [number, number];
  detail?: string;
  /** for a differing TEXT file or archive member: a bounded unified diff (published → rebuilt),
   * forge/build text — neutralise before display (formats/compare/text-diff.ts) */
  textDiff?: { unified: string; truncated: boolean; totalLines?: number };
}

export type CompareMethod = 'bytes' | 'authenticode' | 'macho' | 'msi' | 'archive';

export interface ComparisonReport {
  method: CompareMethod;
  match: boolean;
  differences: Difference[];
  /** comparer-specific facts (digests inside signatures, slices, entries compared…) */
  details?: Record<string, unknown>;
}

/** How a SHA256SUMS manifest answers for one asset. */
export type ManifestEntryStatus = 'ok' | 'missing' | 'duplicate' | 'mismatch' | 'malformed';
