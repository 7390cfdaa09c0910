/**
 * Code signatures of a Mach-O file: every slice of a universal file carries its own signature, and
 * every one must verify, and every byte outside the slices must be zero padding. Per slice: LC_CODE_SIGNATURE present, its data the last bytes of the slice
 * (nothing unsigned after it), each CodeDirectory's code limit exactly its offset (every byte before
 * the signature is hashed), page hashes streamed, special slots consistent. The CMS and the pin are
 * judged by the caller through `judge`, once per slice.
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../base/errors';
import { readAt } from '../compare/read-at';
import { CSSLOT_INFOSLOT, CSSLOT_REP_SPECIFIC } from '../macho/codesign';
import { fatHeaderEnd, readSlices, readThinHeader, type Slice } from '../macho/parse';
import { checkCodePages, checkSpecialSlots, describeSignature, parseCodeSignature, type ParsedCodeSignature } from './code-signature';

/** A code signature is a few hash tables and certificates: 64 MiB covers code of many GiB. */
export const MAX_SIGNATURE_BYTES = 64 * 1024 * 1024;
/** an embedded Info.plist section larger than this is not one */
const MAX_INFO_PLIST = 1024 * 1024;

export interface SliceSignature {
  arch: string;
  parsed: ParsedCodeSignature;
  /** the problem that makes this slice invalid, when its bytes do not match its signature */
  problem?: string;
  /** the slice carries no LC_CODE_SIGNATURE */
  unsigned?: boolean;
  details: Record<string, unknown>;
}

/**
 * Items outside the Mach-O a bundle supplies (Info.plist, CodeResources). Absent keys mean "not
 * available" (a lone file); null means "known absent".
 */
export type ExternalItems = Partial<Record<number, Buffer | null>>;

async function streamRange(path: string, start: number, length: number, update: (chunk: Buffer) => void): Promise<void> {
  if (length === 0) return;
  const stream = createReadStream(path, { start, end: start + length - 1, highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) update(chunk as Buffer);
}

async function embeddedInfoPlist(fh: FileHandle, slice: Slice, sections: { name: string; offset: number; size: number }[]): Promise<Buffer | undefined> {
  const s = sections.find((x) => x.name === '__TEXT,__info_plist');
  if (!s || s.size > MAX_INFO_PLIST) return undefined;
  return readAt(fh, slice.offset + s.offset, s.size);
}

async function verifySlice(
  path: string,
  fh: FileHandle,
  slice: Slice,
  external: ExternalItems,
): Promise<SliceSignature | { arch: string; unsigned: true; problem: string; details: Record<string, unknown> }> {
  const header = await readThinHeader(fh, slice);
  const cs = header.codeSignature;
  if (!cs) return { arch: slice.arch, unsigned: true, problem: `slice ${slice.arch} has no code signature (no LC_CODE_SIGNATURE)`, details: {} };
  if (cs.datasize > MAX_SIGNATURE_BYTES)
    throw new FormatError('apple', `slice ${slice.arch}: code signature of ${cs.datasize} bytes exceeds ${MAX_SIGNATURE_BYTES}`);
  const data = await readAt(fh, slice.offset + cs.dataoff, cs.datasize);
  if (data.length !== cs.datasize) throw new FormatError('apple', `slice ${slice.arch}: code signature truncated`);
  const parsed = parseCodeSignature(data);
  const details: Record<string, unknown> = { arch: slice.arch, ...describeSignature(parsed) };
  const out: SliceSignature = { arch: slice.arch, parsed, details };
  const fail = (problem: string) => ({ ...out, problem: `slice ${slice.arch}: ${problem}` });

  if (cs.dataoff + cs.datasize !== slice.size) return fail(`${slice.size - cs.dataoff - cs.datasize} bytes follow the code signature (not covered by it)`);
  const linkedit = header.linkedit;
  if (!linkedit || linkedit.fileoff + linkedit.filesize !== cs.dataoff + cs.datasize) return fail('the code signature is not at the end of __LINKEDIT');
  for (const cd of parsed.cds) {
    if (cd.codeLimit !== cs.dataoff)
      return fail(`CodeDirectory slot 0x${cd.slot.toString(16)} covers ${cd.codeLimit} bytes, the code signature starts at ${cs.dataoff}`);
  }
  const pages = await checkCodePages(parsed.cds, (update) => streamRange(path, slice.offset, cs.dataoff, update));
  if (pages) return fail(pages);
  const items: ExternalItems = { ...external, [CSSLOT_REP_SPECIFIC]: null };
  if (!(CSSLOT_INFOSLOT in items)) {
    const embedded = await embeddedInfoPlist(
      fh,
      slice,
      header.segments.flatMap((s) => s.sections),
    );
    if (embedded) items[CSSLOT_INFOSLOT] = embedded;
  }
  const special = checkSpecialSlots(parsed, data, items);
  if (special) return fail(special);
  return out;
}

/** lipo aligns slices to at most a few pages; a larger claimed alignment is not honoured for trailing padding */
const MAX_FAT_ALIGN_LOG2 = 16;

/** The first non-zero byte of [start, end), or -1 (streamed). */
async function firstNonZero(path: string, start: number, end: number): Promise<number> {
  let at = start;
  let found = -1;
  await streamRange(path, start, end - start, (chunk) => {
    if (found < 0) {
      const i = chunk.findIndex((b) => b !== 0);
      if (i >= 0) found = at + i;
    }
    at += chunk.length;
  });
  return found;
}

/**
 * A universal file's bytes outside its slices: no signature covers them, so they must be the
 * zero padding lipo writes — between the arch table and the first slice, between slices, and
 * after the last slice only up to its alignment boundary. Anything else (a payload appended to
 * the file or hidden in a gap) makes the file invalid.
 */
async function checkFatPadding(path: string, fh: FileHandle, fileSize: number, slices: Slice[]): Promise<void> {
  const headerEnd = fatHeaderEnd(await readAt(fh, 0, 8));
  const sorted = [...slices].sort((a, b) => a.offset - b.offset);
  let pos = headerEnd;
  for (const s of sorted) {
    const bad = await firstNonZero(path, pos, s.offset);
    if (bad >= 0)
      throw new FormatError('apple', `universal file: non-zero byte at offset ${bad}, in the padding before slice ${s.arch} (covered by no signature)`);
    pos = s.offset + s.size;
  }
  const last = sorted[sorted.length - 1]!;
  const alignment = 2 ** Math.min(last.align ?? 0, MAX_FAT_ALIGN_LOG2);
  const paddedEnd = Math.ceil(pos / alignment) * alignment;
  if (fileSize > paddedEnd)
    throw new FormatError('apple', `universal file: ${fileSize - pos} bytes at offset ${pos} follow the last slice (${last.arch}), covered by no signature`);
  const bad = await firstNonZero(path, pos, fileSize);
  if (bad >= 0) throw new FormatError('apple', `universal file: non-zero byte at offset ${bad}, after the last slice (${last.arch}), covered by no signature`);
}

/** The signatures of every slice, with their integrity checked. I/O errors propagate. */
export async function readMachoSignatures(
  path: string,
  fh: FileHandle,
  fileSize: number,
  external: ExternalItems = {},
): Promise<{ kind: 'fat' | 'thin'; slices: Array<SliceSignature | { arch: string; unsigned: true; problem: string; details: Record<string, unknown> }> }> {
  const { kind, slices } = await readSlices(fh, fileSize);
  if (kind === 'fat') await checkFatPadding(path, fh, fileSize, slices);
  const out = [];
  for (const slice of slices) out.push(await verifySlice(path, fh, slice, external));
  return { kind, slices: out };
}
