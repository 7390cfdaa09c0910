/**
 * Naming byte ranges: a mismatch must say *where* ("section .text", "segment __TEXT, section
 * __text"), not just an offset. Format parsers (ELF, PE, Mach-O) describe a file as named regions;
 * this module turns a differing range into the names of the regions it touches.
 */

export interface Region {
  /** e.g. "section .text", "ELF header", "__TEXT,__text" */
  name: string;
  /** file offsets, end exclusive */
  start: number;
  end: number;
}

/** A half-open byte range [start, end). */
export type Range = [number, number];

/**
 * Names of the regions overlapping `range`, in file order, at most `max`. Only the most specific
 * regions are named: one that contains another overlapping region ("segment __TEXT" around
 * "section __TEXT,__text") is left out.
 */
export function regionNames(regions: readonly Region[], range: Range, max = 3): string[] {
  const [s, e] = range;
  const hits = regions.filter((r) => r.end > r.start && r.start < e && s < r.end);
  const leaves = hits
    .filter((r) => !hits.some((o) => o !== r && o.start >= r.start && o.end <= r.end && o.end - o.start < r.end - r.start))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const names: string[] = [];
  for (const r of leaves) {
    if (!names.includes(r.name)) names.push(r.name);
  }
  if (names.length > max) return [...names.slice(0, max), `+${names.length - max} more`];
  return names;
}

/** Human text for a range: "0x1f0–0x1ff (16 bytes)". */
export function describeRange([s, e]: Range): string {
  return `0x${s.toString(16)}–0x${(e - 1).toString(16)} (${e - s} byte${e - s === 1 ? '' : 's'})`;
}

/**
 * Collects differing byte ranges: nearby differences (closer than `gap`) merge into one range, and
 * after `maxRanges` ranges further differences are only counted, not kept.
 */
export class RangeCollector {
  readonly ranges: Range[] = [];
  /** differing bytes inside the kept ranges */
  differingBytes = 0;
  /** true when a difference beyond maxRanges was found; scanning stops there */
  truncated = false;

  constructor(
    readonly maxRanges = 20,
    readonly gap = 64,
  ) {}

  get full(): boolean {
    return this.ranges.length >= this.maxRanges;
  }

  add(start: number, end: number): void {
    if (this.truncated) return;
    const last = this.ranges[this.ranges.length - 1];
    if (last && start <= last[1] + this.gap) {
      this.differingBytes += end - start;
      if (end > last[1]) last[1] = end;
      return;
    }
    if (this.full) {
      this.truncated = true;
      return;
    }
    this.differingBytes += end - start;
    this.ranges.push([start, end]);
  }
}

/**
 * Finds the differing bytes of two equally long buffers that are known (or suspected) to differ,
 * reporting them to `collector` at `base + index`. Compares 64-byte blocks natively first and only
 * walks differing blocks byte by byte, so a mostly equal chunk costs little. Stops scanning once the
 * collector is truncated (callers need not call it again then).
 */
export function collectDifferences(a: Uint8Array, b: Uint8Array, base: number, collector: RangeCollector): void {
  const n = Math.min(a.length, b.length);
  const BLOCK = 64;
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let runStart = -1;
  if (collector.truncated) return;
  for (let blk = 0; blk < n; blk += BLOCK) {
    const blkEnd = Math.min(n, blk + BLOCK);
    if (ba.compare(bb, blk, blkEnd, blk, blkEnd) === 0) {
      if (runStart >= 0) {
        collector.add(base + runStart, base + blk);
        runStart = -1;
        if (collector.truncated) return;
      }
      continue;
    }
    for (let i = blk; i < blkEnd; i++) {
      if (a[i] !== b[i]) {
        if (runStart < 0) runStart = i;
      } else if (runStart >= 0) {
        collector.add(base + runStart, base + i);
        runStart = -1;
        if (collector.truncated) return;
      }
    }
  }
  if (runStart >= 0) collector.add(base + runStart, base + n);
}
