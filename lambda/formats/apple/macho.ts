/**
 * Code signatures of a Mach-O file: every slice of a universal file carries its own signature, and
 * every one must verify. Per slice: LC_CODE_SIGNATURE present, its data the last bytes of the slice
 * (nothing unsigned after it), each CodeDirectory's code limit exactly its offset (every byte before
 * the signature is hashed), page hashes streamed, special slots consistent. The CMS and the pin are
 * judged by the caller through `judge`, once per slice.
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../core/errors';
import { readAt } from '../compare/read-at';
import { CSSLOT_INFOSLOT, CSSLOT_REP_SPECIFIC } from '../macho/codesign';
import { readSlices, readThinHeader, type Slice } from '../macho/parse';
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

async function verifySlice(path: string, fh: FileHandle, slice: Slice, external: ExternalItems): Promise<SliceSignature | { arch: string; unsigned: true; problem: string; details: Record<string, unknown> }> {
  const header = await readThinHeader(fh, slice);
  const cs = header.codeSignature;
  if (!cs) return { arch: slice.arch, unsigned: true, problem: `slice ${slice.arch} has no code signature (no LC_CODE_SIGNATURE)`, details: {} };
  if (cs.datasize > MAX_SIGNATURE_BYTES) throw new FormatError('apple', `slice ${slice.arch}: code signature of ${cs.datasize} bytes exceeds ${MAX_SIGNATURE_BYTES}`);
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
    if (cd.codeLimit !== cs.dataoff) return fail(`CodeDirectory slot 0x${cd.slot.toString(16)} covers ${cd.codeLimit} bytes, the code signature starts at ${cs.dataoff}`);
  }
  const pages = await checkCodePages(parsed.cds, (update) => streamRange(path, slice.offset, cs.dataoff, update));
  if (pages) return fail(pages);
  const items: ExternalItems = { ...external, [CSSLOT_REP_SPECIFIC]: null };
  if (!(CSSLOT_INFOSLOT in items)) {
    const embedded = await embeddedInfoPlist(fh, slice, header.segments.flatMap((s) => s.sections));
    if (embedded) items[CSSLOT_INFOSLOT] = embedded;
  }
  const special = checkSpecialSlots(parsed, data, items);
  if (special) return fail(special);
  return out;
}

/** The signatures of every slice, with their integrity checked. I/O errors propagate. */
export async function readMachoSignatures(path: string, fh: FileHandle, fileSize: number, external: ExternalItems = {}): Promise<{ kind: 'fat' | 'thin'; slices: Array<SliceSignature | { arch: string; unsigned: true; problem: string; details: Record<string, unknown> }> }> {
  const { kind, slices } = await readSlices(fh, fileSize);
  const out = [];
  for (const slice of slices) out.push(await verifySlice(path, fh, slice, external));
  return { kind, slices: out };
}
