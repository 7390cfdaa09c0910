/**
 * Signature-transparent Mach-O comparison (signatures.md §3.3–3.5), thin and universal.
 *
 * Per slice (slices matched by CPU type/subtype; the fat header itself is not compared, §9.12):
 *  1. Normalise both sides (§3.4): truncate at LC_CODE_SIGNATURE dataoff, zero the LC_CODE_SIGNATURE
 *     command and the __LINKEDIT filesize/vmsize; when only one side has the command, require its
 *     ncmds/sizeofcmds to be exactly 1/16 larger (and, by the byte comparison, zeros where the other
 *     side lacks the command); allow < 16 zero bytes of alignment padding before the signature.
 *  2. Require byte equality of the normalised slices; differing ranges are named by segment,
 *     section and load command.
 *  3. When the release carries a CodeDirectory: check its page hashes against the release's own
 *     bytes (a signature that does not cover the file is not "rebuild + valid signature"), and
 *     against the rebuild with the release's signature transplanted onto it (§3.4 "transplant") —
 *     the differing pages are reported by index, with the regions they cover.
 *  4. Nothing may follow the SuperBlob in the release but zero padding.
 *  5. Universal: the bytes of the release outside the fat header and the slices (alignment gaps,
 *     anything after the last slice) must be zero, as lipo and signers write them — they belong to
 *     no slice, so no comparison would otherwise look at them (found by `npm run fuzz`).
 *
 * Linker signatures (§3.5): a rebuild linked with a different signing mode or output name has a
 * different layout and is reported as a mismatch — the rebuild must reproduce the pre-signing build.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { ComparisonReport, Difference } from '../../base/comparison';
import { FormatError } from '../../base/errors';
import type { CompareContext } from '../types';
import type { ComparerRegistration } from '../compare/registration';
import { RangeCollector, collectDifferences, describeRange, regionNames, type Region } from '../compare/regions';
import { machoKind, machoRegions, readSlices, readThinHeader, type Slice, type ThinHeader } from './parse';
import { describeCodeDirectory, parseEmbeddedSignature, PageHasher, primaryCodeDirectory, HASH_TYPES, type EmbeddedSignature } from './codesign';
import { SliceView } from './view';
import { readAt } from '../compare/read-at';

/** signatures larger than this are refused (a CodeDirectory for a 4 GiB binary is ~32 MiB) */
const MAX_SIGNATURE_BYTES = 64 * 1024 * 1024;
const MAX_LISTED_PAGES = 256;
const MAX_PAGE_RUNS = 10;

interface Side {
  handle: FileHandle;
  slice: Slice;
  header: ThinHeader;
  signature?: EmbeddedSignature;
  signatureError?: string;
  /** end of the code: the signature's dataoff, or the slice size when unsigned */
  end: number;
}

interface SliceOutcome {
  differences: Difference[];
  details: Record<string, unknown>;
}

async function loadSide(handle: FileHandle, slice: Slice): Promise<Side> {
  const header = await readThinHeader(handle, slice);
  const side: Side = { handle, slice, header, end: slice.size };
  const cs = header.codeSignature;
  if (cs) {
    side.end = cs.dataoff;
    if (cs.datasize > MAX_SIGNATURE_BYTES) {
      side.signatureError = `code signature of ${cs.datasize} bytes exceeds the ${MAX_SIGNATURE_BYTES}-byte bound`;
    } else {
      try {
        side.signature = parseEmbeddedSignature(await readAt(handle, slice.offset + cs.dataoff, cs.datasize));
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        side.signatureError = err.userMessage;
      }
    }
  }
  return side;
}

function writeU32(value: number, littleEndian: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (littleEndian) b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

/** true when [start, end) of the view is all zero bytes (streamed). */
async function allZero(view: SliceView, start: number, end: number): Promise<boolean> {
  for await (const { bytes } of view.chunks(start, end)) {
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  }
  return true;
}

function rawField(side: Side, offset: number, length: number): Promise<Buffer> {
  return readAt(side.handle, side.slice.offset + offset, length);
}

async function compareSlicePair(pub: Side, reb: Side, label: string): Promise<SliceOutcome> {
  const differences: Difference[] = [];
  const hp = pub.header;
  const hr = reb.header;
  const pRegions = machoRegions(hp);
  const rRegions = machoRegions(hr);
  const details = sliceDetails(pub, reb);

  if (hp.bits !== hr.bits || hp.littleEndian !== hr.littleEndian) {
    differences.push({
      where: `${label}Mach-O header`,
      detail: `published is ${hp.bits}-bit ${hp.littleEndian ? 'little' : 'big'}-endian, rebuilt is ${hr.bits}-bit ${hr.littleEndian ? 'little' : 'big'}-endian`,
    });
    return { differences, details };
  }
  if (pub.signatureError) differences.push({ where: `${label}code signature`, detail: `the published code signature is malformed: ${pub.signatureError}` });

  // 1. normalised views
  const { pView, rView, addedCommand } = normalisedViews(pub, reb, label, differences);
  if (addedCommand) details.addedLoadCommand = addedCommand;

  // 2. byte equality of the normalised slices
  differences.push(...(await compareNormalisedBytes(pub, reb, pView, rView, label, pRegions, rRegions)));
  const padding = await compareCodeLength(pub, reb, pView, rView, label, pRegions, rRegions);
  if (padding.difference) differences.push(padding.difference);
  if (padding.alignmentPadding) details.alignmentPadding = padding.alignmentPadding;

  // 3. nothing but zero padding after the release's SuperBlob
  const tail = await checkAfterSignature(pub, label);
  if (tail) differences.push(tail);

  // 4. page hashes of the release's CodeDirectory: against its own bytes and against the transplanted rebuild
  if (hp.codeSignature && pub.signature) {
    const pageResult = await comparePages(pub, reb, label, pRegions);
    differences.push(...pageResult.differences);
    Object.assign(details, pageResult.details);
  }
  return { differences, details };
}

function regionWhere(label: string, names: string[], fallback: string): string {
  return label + (names.length > 0 ? names.join(', ') : fallback);
}

function sliceDetails(pub: Side, reb: Side): Record<string, unknown> {
  const side = (s: Side) => ({
    offset: s.slice.offset,
    size: s.slice.size,
    signed: !!s.header.codeSignature,
    ...(s.signature ? { codeDirectory: describeCodeDirectory(primaryCodeDirectory(s.signature)), cms: s.signature.cmsSize > 0 } : {}),
  });
  return { arch: pub.slice.arch, published: side(pub), rebuilt: side(reb) };
}

/**
 * Views of both slices with the signer-editable fields zeroed (LC_CODE_SIGNATURE, __LINKEDIT sizes); when only one
 * side is signed and its header counts exactly one more 16-byte command, that side's ncmds/sizeofcmds are patched back.
 */
function normalisedViews(
  pub: Side,
  reb: Side,
  label: string,
  differences: Difference[],
): { pView: SliceView; rView: SliceView; addedCommand?: 'published' | 'rebuilt' } {
  const hp = pub.header;
  const hr = reb.header;
  const pView = new SliceView(pub.handle, pub.slice.offset, pub.end, pub.end);
  const rView = new SliceView(reb.handle, reb.slice.offset, reb.end, reb.end);
  for (const [side, view] of [
    [pub, pView],
    [reb, rView],
  ] as const) {
    const h = side.header;
    if (h.codeSignature) view.zero(h.codeSignature.cmdOffset, 16);
    if (h.linkedit) view.zero(h.linkedit.vmsizeField, h.linkedit.fieldWidth).zero(h.linkedit.filesizeField, h.linkedit.fieldWidth);
  }
  let addedCommand: 'published' | 'rebuilt' | undefined;
  if (!!hp.codeSignature !== !!hr.codeSignature) {
    const [withCs, without, view, side] = hp.codeSignature ? ([hp, hr, pView, 'published'] as const) : ([hr, hp, rView, 'rebuilt'] as const);
    if (withCs.ncmds === without.ncmds + 1 && withCs.sizeofcmds === without.sizeofcmds + 16) {
      view.patch(16, Buffer.concat([writeU32(without.ncmds, withCs.littleEndian), writeU32(without.sizeofcmds, withCs.littleEndian)]));
      addedCommand = side;
    } else {
      differences.push({
        where: `${label}Mach-O header`,
        detail: `only the ${side} file has LC_CODE_SIGNATURE, but ncmds/sizeofcmds differ by ${withCs.ncmds - without.ncmds}/${withCs.sizeofcmds - without.sizeofcmds}, not by the 1/16 of one added command`,
      });
    }
  }
  return { pView, rView, addedCommand };
}

/** Differing byte ranges of the normalised slices over their common length, named by the regions they fall in. */
async function compareNormalisedBytes(
  pub: Side,
  reb: Side,
  pView: SliceView,
  rView: SliceView,
  label: string,
  pRegions: Region[],
  rRegions: Region[],
): Promise<Difference[]> {
  const differences: Difference[] = [];
  const common = Math.min(pub.end, reb.end);
  // a small merge gap keeps neighbouring load commands (LC_UUID, LC_MAIN…) apart in explanations
  const collector = new RangeCollector(20, 8);
  const pIter = pView.chunks(0, common);
  const rIter = rView.chunks(0, common);
  for (;;) {
    const [a, b] = await Promise.all([pIter.next(), rIter.next()]);
    if (a.done || b.done) break;
    if (!a.value.bytes.equals(b.value.bytes)) collectDifferences(a.value.bytes, b.value.bytes, a.value.offset, collector);
    if (collector.truncated) break;
  }
  for (const range of collector.ranges) {
    const names = regionNames(pRegions, range);
    const rNames = regionNames(rRegions, range);
    differences.push({
      where: regionWhere(label, names, 'bytes'),
      publishedRange: [pub.slice.offset + range[0], pub.slice.offset + range[1]],
      rebuiltRange: [reb.slice.offset + range[0], reb.slice.offset + range[1]],
      detail: `slice bytes ${describeRange(range)} differ after normalisation${rNames.join(', ') !== names.join(', ') && rNames.length ? `; in the rebuilt file: ${rNames.join(', ')}` : ''}`,
    });
  }
  if (collector.truncated) differences.push({ where: `${label}bytes`, detail: `further differences not listed (limit ${collector.maxRanges} ranges)` });
  return differences;
}

/** The code lengths differ: accepted only as the signer's alignment padding, otherwise a difference. */
async function compareCodeLength(
  pub: Side,
  reb: Side,
  pView: SliceView,
  rView: SliceView,
  label: string,
  pRegions: Region[],
  rRegions: Region[],
): Promise<{ difference?: Difference; alignmentPadding?: { side: 'published' | 'rebuilt'; bytes: number } }> {
  if (pub.end === reb.end) return {};
  const common = Math.min(pub.end, reb.end);
  // alignment padding: the signer rounds the code end up to 16 before the signature (§3.3.2)
  const [longer, view, side] = pub.end > reb.end ? ([pub, pView, 'published'] as const) : ([reb, rView, 'rebuilt'] as const);
  const extra = Math.abs(pub.end - reb.end);
  const isPadding = extra < 16 && !!longer.header.codeSignature && longer.end % 16 === 0 && (await allZero(view, common, longer.end));
  if (isPadding) return { alignmentPadding: { side, bytes: extra } };
  const names = regionNames(side === 'published' ? pRegions : rRegions, [common, longer.end]);
  return {
    difference: {
      where: regionWhere(label, names, 'size'),
      ...(side === 'published'
        ? { publishedRange: [pub.slice.offset + common, pub.slice.offset + pub.end] as [number, number] }
        : { rebuiltRange: [reb.slice.offset + common, reb.slice.offset + reb.end] as [number, number] }),
      detail: `code (everything before the signature) is ${pub.end} bytes published, ${reb.end} bytes rebuilt`,
    },
  };
}

/** Non-zero bytes between the end of the published SuperBlob and the slice end. */
async function checkAfterSignature(pub: Side, label: string): Promise<Difference | undefined> {
  const hp = pub.header;
  if (!hp.codeSignature || !pub.signature) return undefined;
  const sigEnd = hp.codeSignature.dataoff + pub.signature.length;
  const tail = new SliceView(pub.handle, pub.slice.offset, pub.slice.size, pub.slice.size);
  if (await allZero(tail, sigEnd, pub.slice.size)) return undefined;
  return {
    where: `${label}after the code signature`,
    publishedRange: [pub.slice.offset + sigEnd, pub.slice.offset + pub.slice.size],
    detail: `non-zero data follows the published SuperBlob (${pub.slice.size - sigEnd} bytes up to the slice end)`,
  };
}

async function comparePages(pub: Side, reb: Side, label: string, pRegions: Region[]): Promise<SliceOutcome> {
  const cd = primaryCodeDirectory(pub.signature!);
  const hp = pub.header;
  const hr = reb.header;
  const cs = hp.codeSignature!;
  const differences: Difference[] = [];
  const algorithm = HASH_TYPES[cd.hashType]!.algorithm;
  if (cd.codeLimit > pub.slice.size) {
    differences.push({ where: `${label}code signature`, detail: `CodeDirectory codeLimit ${cd.codeLimit} exceeds the slice size ${pub.slice.size}` });
    return { differences, details: {} };
  }

  // the rebuild as the signer would have left it: the release's signing edits transplanted onto it
  const transplant = new SliceView(reb.handle, reb.slice.offset, Math.min(reb.end, cd.codeLimit), cd.codeLimit);
  if (hr.codeSignature && hr.codeSignature.cmdOffset !== cs.cmdOffset) transplant.zero(hr.codeSignature.cmdOffset, 16);
  transplant.patch(cs.cmdOffset, await rawField(pub, cs.cmdOffset, 16));
  transplant.patch(16, await rawField(pub, 16, 8)); // ncmds, sizeofcmds
  if (hp.linkedit && hr.linkedit && hp.linkedit.fieldWidth === hr.linkedit.fieldWidth) {
    transplant.patch(hr.linkedit.vmsizeField, await rawField(pub, hp.linkedit.vmsizeField, hp.linkedit.fieldWidth));
    transplant.patch(hr.linkedit.filesizeField, await rawField(pub, hp.linkedit.filesizeField, hp.linkedit.fieldWidth));
  }
  const own = new SliceView(pub.handle, pub.slice.offset, cd.codeLimit, cd.codeLimit);

  const ownHasher = new PageHasher(algorithm, cd.hashSize, cd.pageSize, cd.codeLimit);
  const rebHasher = new PageHasher(algorithm, cd.hashSize, cd.pageSize, cd.codeLimit);
  const ownIter = own.chunks();
  const rebIter = transplant.chunks();
  for (;;) {
    const [a, b] = await Promise.all([ownIter.next(), rebIter.next()]);
    if (a.done && b.done) break;
    if (!a.done) ownHasher.update(a.value.bytes);
    if (!b.done) rebHasher.update(b.value.bytes);
  }
  const ownPages = ownHasher.finish();
  const rebPages = rebHasher.finish();
  const slot = (j: number) => cd.codeHashes.subarray(j * cd.hashSize, (j + 1) * cd.hashSize);
  const badOwn: number[] = [];
  const differing: number[] = [];
  for (let j = 0; j < cd.nCodeSlots; j++) {
    if (!ownPages[j] || !ownPages[j]!.equals(slot(j))) badOwn.push(j);
    if (!rebPages[j] || !rebPages[j]!.equals(slot(j))) differing.push(j);
  }
  const pageRange = (j: number): [number, number] => (cd.pageSize === 0 ? [0, cd.codeLimit] : [j * cd.pageSize, Math.min((j + 1) * cd.pageSize, cd.codeLimit)]);
  const pagesText = `${cd.hashName}, ${cd.pageSize === 0 ? 'one page' : `${cd.pageSize}-byte pages`}, codeLimit ${cd.codeLimit}`;
  if (badOwn.length > 0) {
    differences.push({
      where: `${label}code signature`,
      detail: `the published CodeDirectory does not match the published file itself: page hash(es) ${formatPages(badOwn)} (${pagesText})`,
    });
  }
  for (const [first, last] of runs(differing).slice(0, MAX_PAGE_RUNS)) {
    const start = pageRange(first)[0];
    const end = pageRange(last)[1];
    // a page spans many load commands; name what a reader recognises: header, sections, linkedit data
    const coarse = pRegions.filter((r) => !r.name.startsWith('load command '));
    coarse.push({ name: 'load commands', start: hp.headerSize, end: hp.headerSize + hp.sizeofcmds });
    const names = regionNames(coarse, [start, end], 4);
    differences.push({
      where: `${label}CodeDirectory page${first === last ? ` ${first}` : `s ${first}–${last}`}`,
      publishedRange: [pub.slice.offset + start, pub.slice.offset + end],
      detail: `the rebuild's page hash${first === last ? '' : 'es'} differ${first === last ? 's' : ''} from the release's CodeDirectory (${pagesText})${names.length ? `; covers ${names.join(', ')}` : ''}`,
    });
  }
  if (runs(differing).length > MAX_PAGE_RUNS)
    differences.push({
      where: `${label}CodeDirectory pages`,
      detail: `${differing.length} differing pages in total; only the first ${MAX_PAGE_RUNS} runs are listed`,
    });
  return {
    differences,
    details: {
      pagesCompared: cd.nCodeSlots,
      differingPages: differing.slice(0, MAX_LISTED_PAGES),
      ...(badOwn.length ? { publishedPagesNotMatchingOwnContent: badOwn.slice(0, MAX_LISTED_PAGES) } : {}),
    },
  };
}

function runs(pages: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of pages) {
    const last = out[out.length - 1];
    if (last && p === last[1] + 1) last[1] = p;
    else out.push([p, p]);
  }
  return out;
}

function formatPages(pages: number[]): string {
  const r = runs(pages);
  const text = r
    .slice(0, 10)
    .map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`))
    .join(', ');
  return r.length > 10 ? `${text}, …` : text;
}

const sliceKey = (s: Slice) => `${s.cputype}/${s.cpusubtype & 0x00ffffff}`;

/** The first non-zero byte of a universal file outside its fat header and slices, if any (streamed). */
async function nonZeroOutsideSlices(handle: FileHandle, fileSize: number, slices: Slice[]): Promise<number | undefined> {
  const magic = (await readAt(handle, 0, 4)).readUInt32BE(0);
  const headerEnd = 8 + slices.length * (magic === 0xcafebabf ? 32 : 20);
  const sorted = [...slices].sort((a, b) => a.offset - b.offset);
  const gaps: Array<[number, number]> = [];
  let at = headerEnd;
  for (const s of sorted) {
    if (s.offset > at) gaps.push([at, s.offset]);
    at = Math.max(at, s.offset + s.size);
  }
  if (fileSize > at) gaps.push([at, fileSize]);
  const CHUNK = 1024 * 1024;
  for (const [start, end] of gaps) {
    for (let pos = start; pos < end; pos += CHUNK) {
      const bytes = await readAt(handle, pos, Math.min(CHUNK, end - pos));
      const i = bytes.findIndex((b) => b !== 0);
      if (i !== -1) return pos + i;
    }
  }
  return undefined;
}

/** Compares two Mach-O files (thin or universal) signature-transparently. */
export async function compareMachO(publishedPath: string, rebuiltPath: string): Promise<ComparisonReport> {
  const [pHandle, rHandle] = await Promise.all([open(publishedPath, 'r'), open(rebuiltPath, 'r')]);
  try {
    const [pStat, rStat] = await Promise.all([pHandle.stat(), rHandle.stat()]);
    const pFile = await readSlices(pHandle, pStat.size);
    let rFile: Awaited<ReturnType<typeof readSlices>>;
    try {
      rFile = await readSlices(rHandle, rStat.size);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      return {
        method: 'macho',
        match: false,
        differences: [{ where: 'format', detail: `the published file is a Mach-O, the rebuilt one is not readable as one: ${err.userMessage}` }],
      };
    }
    const differences: Difference[] = [];
    const details: Record<string, unknown> = { kind: pFile.kind };
    if (pFile.kind !== rFile.kind) {
      differences.push({
        where: 'format',
        detail: `published is a ${pFile.kind === 'fat' ? 'universal' : 'thin'} Mach-O, rebuilt is ${rFile.kind === 'fat' ? 'universal' : 'thin'}`,
      });
      return { method: 'macho', match: false, differences, details };
    }
    const label = (s: Slice) => (pFile.kind === 'fat' ? `slice ${s.arch}: ` : '');
    const rByKey = new Map<string, Slice>();
    for (const s of rFile.slices) {
      if (rByKey.has(sliceKey(s))) throw new FormatError('macho', `rebuilt universal file has two ${s.arch} slices`);
      rByKey.set(sliceKey(s), s);
    }
    const seen = new Set<string>();
    const slices: Record<string, unknown>[] = [];
    for (const ps of pFile.slices) {
      const key = sliceKey(ps);
      if (seen.has(key)) throw new FormatError('macho', `published universal file has two ${ps.arch} slices`);
      seen.add(key);
      const rs = rByKey.get(key);
      if (!rs) {
        differences.push({ where: `slice ${ps.arch}`, publishedRange: [ps.offset, ps.offset + ps.size], detail: `the rebuilt file has no ${ps.arch} slice` });
        continue;
      }
      let outcome: SliceOutcome;
      try {
        const [pub, reb] = await Promise.all([loadSide(pHandle, ps), loadSide(rHandle, rs)]);
        outcome = await compareSlicePair(pub, reb, label(ps));
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        outcome = { differences: [{ where: `${label(ps)}Mach-O`, detail: err.userMessage }], details: { arch: ps.arch } };
      }
      differences.push(...outcome.differences);
      slices.push({ ...outcome.details, match: outcome.differences.length === 0 });
    }
    for (const rs of rFile.slices) {
      if (!seen.has(sliceKey(rs)))
        differences.push({ where: `slice ${rs.arch}`, rebuiltRange: [rs.offset, rs.offset + rs.size], detail: `the published file has no ${rs.arch} slice` });
    }
    if (pFile.kind === 'fat') {
      const at = await nonZeroOutsideSlices(pHandle, pStat.size, pFile.slices);
      if (at !== undefined) {
        differences.push({
          where: 'universal file, outside the slices',
          publishedRange: [at, at + 1],
          detail: `non-zero byte at 0x${at.toString(16)}, between or after the slices (alignment padding must be zero)`,
        });
      }
    }
    details.slices = slices;
    return { method: 'macho', match: differences.length === 0, differences, details };
  } finally {
    await Promise.all([pHandle.close(), rHandle.close()]);
  }
}

/** This comparer's entry in the registry (compare/registry.ts); its parsers are its own (no library to load). */
export const machoComparer: ComparerRegistration = {
  method: 'macho',
  formatName: 'a Mach-O file',
  detect: (head: Uint8Array) => machoKind(head) !== null,
  compare: (publishedPath: string, rebuiltPath: string, _context: CompareContext) => compareMachO(publishedPath, rebuiltPath),
};
