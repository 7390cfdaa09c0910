/**
 * Byte-for-byte comparison, the default comparer: one streaming pass over both files (large reused
 * buffers, constant memory) that computes both SHA-256s and, only where chunks differ, the first
 * differing byte ranges. Ranges are named after the sections they fall in when the published file
 * is an ELF, PE or Mach-O binary.
 */
import { open, stat } from 'node:fs/promises';
import type { ComparisonReport, Difference } from '../../base/comparison';
import type { Comparer, CompareContext } from '../types';
import type { Digest } from '../digest';
import { pairPass, type HashJob } from './pair-pass';
import { RangeCollector, collectDifferences, describeRange, regionNames, type Range, type Region } from './regions';
import { describeLayout } from './layout';

export interface BytesReport extends ComparisonReport {
  method: 'bytes';
  details: {
    published: Digest;
    rebuilt: Digest;
    /** differing bytes inside the listed ranges */
    differingBytes?: number;
    /** true when more differences exist than were listed */
    rangesTruncated?: boolean;
    /** what the differing ranges were named after, e.g. "ELF", "PE", "Mach-O" */
    layout?: string;
  } & Record<string, unknown>;
}

export interface BytesOptions {
  /** at most this many differing ranges are listed (default 20) */
  maxRanges?: number;
  /** differences closer than this merge into one range (default 64 bytes) */
  mergeGap?: number;
  chunkSize?: number;
  /** hash in worker threads (default: when a file is at least parallelPolicy.minBytes) */
  parallel?: boolean;
  /** false: hash both files in full even while they are equal (tests compare both ways) */
  twins?: boolean;
  /** SHA-256s the caller already has (computed while downloading): not hashed again, only compared */
  knownSha256?: [string | undefined, string | undefined];
}

/**
 * Reads both files once (pair-pass.ts): SHA-256 of each in its own worker thread for large files
 * (both cores) — one SHA-256 while the files are equal (twins) — and the differing ranges found
 * here while the workers hash.
 */
export async function compareBytes(publishedPath: string, rebuiltPath: string, options: BytesOptions = {}): Promise<BytesReport> {
  const collector = new RangeCollector(options.maxRanges ?? 20, options.mergeGap ?? 64);
  let sameSoFar = true;
  const known = options.knownSha256 ?? [undefined, undefined];
  if (known[0] && known[1] && known[0] === known[1]) {
    // equal SHA-256s computed by the caller from both files (while downloading): equal bytes, no read needed
    const [a, b] = await Promise.all([stat(publishedPath), stat(rebuiltPath)]);
    if (a.size === b.size)
      return {
        method: 'bytes',
        match: true,
        differences: [],
        details: { published: { sha256: known[0], size: a.size }, rebuilt: { sha256: known[1], size: b.size } },
      };
  }
  const jobs: HashJob[] = [];
  if (!known[0]) jobs.push({ side: 0, algorithm: 'sha256' });
  if (!known[1]) jobs.push({ side: 1, algorithm: 'sha256' });
  const pass = await pairPass(
    [publishedPath, rebuiltPath],
    jobs,
    (ca, cb, offset, same) => {
      // both chunks start at `offset`; only the common part is compared (sizes are compared at the end)
      if (!ca || !cb || collector.truncated || same === true) return;
      const n = Math.min(ca.length, cb.length);
      // `same` (when the pass compared, for its twins) is about whole chunks; of unequal lengths only the common part counts
      const equal = ca.length === cb.length ? (same ?? ca.equals(cb)) : ca.subarray(0, n).equals(cb.subarray(0, n));
      if (!equal) {
        sameSoFar = false;
        collectDifferences(ca.subarray(0, n), cb.subarray(0, n), offset, collector);
      }
    },
    { chunkSize: options.chunkSize, parallel: options.parallel, twins: options.twins },
  );
  const digests = [...pass.digests];
  const published: Digest = { sha256: known[0] ?? digests.shift()!.toString('hex'), size: pass.sizes[0] };
  const rebuilt: Digest = { sha256: known[1] ?? digests.shift()!.toString('hex'), size: pass.sizes[1] };
  return explain(publishedPath, rebuiltPath, published, rebuilt, sameSoFar, collector);
}

async function explain(
  publishedPath: string,
  rebuiltPath: string,
  published: Digest,
  rebuilt: Digest,
  sameSoFar: boolean,
  collector: RangeCollector,
): Promise<BytesReport> {
  const match = sameSoFar && published.size === rebuilt.size;
  const report: BytesReport = { method: 'bytes', match, differences: [], details: { published, rebuilt } };
  if (match && published.sha256 !== rebuilt.sha256) {
    // equal bytes under different (caller-known) digests: a file changed since it was digested
    throw new Error('files changed since their digests were computed');
  }
  if (match) return report;
  if (published.sha256 === rebuilt.sha256 && published.size === rebuilt.size) {
    // impossible unless a file changed while it was read; never call that a match
    throw new Error('files changed while they were compared');
  }

  // only the headers are read again, to name the differing ranges
  const [pub, reb] = await Promise.all([open(publishedPath, 'r'), open(rebuiltPath, 'r')]);
  let layout: Awaited<ReturnType<typeof describeLayout>> | null;
  let rebuiltLayout: typeof layout;
  try {
    layout = await describeLayout(pub, published.size).catch(() => null);
    rebuiltLayout = layout ? await describeLayout(reb, rebuilt.size).catch(() => null) : null;
  } finally {
    await Promise.all([pub.close(), reb.close()]);
  }
  report.differences = explainRanges(collector.ranges, layout?.regions ?? [], rebuiltLayout?.regions ?? []);
  if (collector.truncated) {
    const last = collector.ranges[collector.ranges.length - 1];
    report.differences.push({
      where: 'bytes',
      detail: `further differences after 0x${(last?.[1] ?? 0).toString(16)} not listed (limit ${collector.maxRanges} ranges)`,
    });
  }
  if (published.size !== rebuilt.size) report.differences.push(sizeDifference(published.size, rebuilt.size, layout?.regions ?? []));
  report.details.differingBytes = collector.differingBytes;
  if (collector.truncated) report.details.rangesTruncated = true;
  if (layout) report.details.layout = layout.format;
  return report;
}

/** One Difference per range, named by the published file's regions (and the rebuilt one's when they disagree). */
export function explainRanges(ranges: readonly Range[], regions: readonly Region[], rebuiltRegions: readonly Region[] = []): Difference[] {
  return ranges.map((range) => {
    const names = regionNames(regions, range);
    const rebuiltNames = rebuiltRegions.length > 0 ? regionNames(rebuiltRegions, range) : names;
    const where = names.length > 0 ? names.join(', ') : 'bytes';
    let detail = `bytes ${describeRange(range)} differ`;
    if (rebuiltNames.join(', ') !== names.join(', ') && rebuiltNames.length > 0) detail += `; in the rebuilt file: ${rebuiltNames.join(', ')}`;
    return { where, publishedRange: [range[0], range[1]], rebuiltRange: [range[0], range[1]], detail };
  });
}

function sizeDifference(publishedSize: number, rebuiltSize: number, regions: readonly Region[]): Difference {
  const shorter = Math.min(publishedSize, rebuiltSize);
  const longer = Math.max(publishedSize, rebuiltSize);
  const which = publishedSize > rebuiltSize ? 'published' : 'rebuilt';
  const d: Difference = {
    where: 'size',
    detail: `published ${publishedSize} bytes, rebuilt ${rebuiltSize} bytes: ${longer - shorter} extra byte(s) at the end of the ${which} file`,
  };
  if (publishedSize > rebuiltSize) {
    d.publishedRange = [shorter, longer];
    const names = regionNames(regions, [shorter, longer]);
    if (names.length > 0) d.detail += ` (${names.join(', ')})`;
  } else d.rebuiltRange = [shorter, longer];
  return d;
}

export const bytesComparer: Comparer = {
  method: 'bytes',
  detect: () => true,
  compare: (publishedPath: string, rebuiltPath: string, _context: CompareContext) => compareBytes(publishedPath, rebuiltPath),
};
