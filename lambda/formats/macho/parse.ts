/**
 * Bounded Mach-O parsing (signatures.md §3.1): the universal ("fat") header, a thin header with its
 * load commands, and the file regions they describe. Only what the signature-transparent
 * comparison needs. Every count, size and offset comes from an untrusted file, so each is checked
 * against fixed bounds and the slice size before use; anything malformed is a FormatError.
 */
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../base/errors';
import type { Region } from '../compare/regions';
import { readAt } from '../compare/read-at';

export const FAT_MAGIC = 0xcafebabe;
export const FAT_MAGIC_64 = 0xcafebabf;
const MH_MAGIC = 0xfeedface;
const MH_MAGIC_64 = 0xfeedfacf;
const MH_CIGAM = 0xcefaedfe;
const MH_CIGAM_64 = 0xcffaedfe;

export const LC_SEGMENT = 0x1;
export const LC_SYMTAB = 0x2;
export const LC_SEGMENT_64 = 0x19;
export const LC_UUID = 0x1b;
export const LC_CODE_SIGNATURE = 0x1d;

/** Java class files share 0xCAFEBABE; their "count" (major version) is ≥ 45, real fat files have a handful of slices. */
export const MAX_FAT_ARCHS = 20;
/** Load commands are a few KiB in practice; bound what we read and loop over. */
export const MAX_SIZEOFCMDS = 4 * 1024 * 1024;
export const MAX_NCMDS = 65_536;
const MAX_NSECTS = 65_536;

const LC_NAMES: Record<number, string> = {
  0x1: 'LC_SEGMENT',
  0x2: 'LC_SYMTAB',
  0xb: 'LC_DYSYMTAB',
  0xc: 'LC_LOAD_DYLIB',
  0xd: 'LC_ID_DYLIB',
  0xe: 'LC_LOAD_DYLINKER',
  0x19: 'LC_SEGMENT_64',
  0x1b: 'LC_UUID',
  0x1d: 'LC_CODE_SIGNATURE',
  0x1e: 'LC_SEGMENT_SPLIT_INFO',
  0x22: 'LC_DYLD_INFO',
  0x80000022: 'LC_DYLD_INFO_ONLY',
  0x24: 'LC_VERSION_MIN_MACOSX',
  0x26: 'LC_FUNCTION_STARTS',
  0x29: 'LC_DATA_IN_CODE',
  0x2a: 'LC_SOURCE_VERSION',
  0x32: 'LC_BUILD_VERSION',
  0x80000028: 'LC_MAIN',
  0x80000033: 'LC_DYLD_EXPORTS_TRIE',
  0x80000034: 'LC_DYLD_CHAINED_FIXUPS',
  0x8000001c: 'LC_RPATH',
  0x80000018: 'LC_LOAD_WEAK_DYLIB',
  0x80000023: 'LC_REEXPORT_DYLIB',
};

/** Load commands that point at a (offset, size) blob inside __LINKEDIT — named in explanations. */
const LINKEDIT_DATA: Record<number, string> = {
  0x1d: 'code signature',
  0x1e: 'segment split info',
  0x26: 'function starts',
  0x29: 'data in code',
  0x80000033: 'exports trie',
  0x80000034: 'chained fixups',
  0x2b: 'dylib code sign drs',
  0x2e: 'linker optimization hint',
};

export function loadCommandName(cmd: number): string {
  return LC_NAMES[cmd] ?? `LC_0x${cmd.toString(16)}`;
}

const CPU_NAMES: Record<number, string> = {
  7: 'i386',
  0x01000007: 'x86_64',
  12: 'arm',
  0x0100000c: 'arm64',
  0x0200000c: 'arm64_32',
  18: 'ppc',
  0x01000012: 'ppc64',
};

/** "arm64", "arm64e", "x86_64", or "cpu 0x…/0x…" for the rest. */
export function archName(cputype: number, cpusubtype: number): string {
  const sub = cpusubtype & 0x00ffffff;
  if (cputype === 0x0100000c && sub === 2) return 'arm64e';
  if (cputype === 0x01000007 && sub === 8) return 'x86_64h';
  return CPU_NAMES[cputype] ?? `cpu 0x${cputype.toString(16)}/0x${sub.toString(16)}`;
}

export type MachoKind = 'fat' | 'thin';

/** What the first bytes say: a universal file, a thin Mach-O, or neither. */
export function machoKind(head: Uint8Array): MachoKind | null {
  if (head.length < 8) return null;
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const be = b.readUInt32BE(0);
  if (be === FAT_MAGIC || be === FAT_MAGIC_64) {
    const n = b.readUInt32BE(4);
    return n >= 1 && n <= MAX_FAT_ARCHS ? 'fat' : null;
  }
  const le = b.readUInt32LE(0);
  if (le === MH_MAGIC || le === MH_MAGIC_64 || le === MH_CIGAM || le === MH_CIGAM_64) return head.length >= 28 ? 'thin' : null;
  return null;
}

export interface Slice {
  index: number;
  cputype: number;
  cpusubtype: number;
  arch: string;
  /** file offset and size of the thin Mach-O */
  offset: number;
  size: number;
  /** universal files: the fat_arch alignment, a power of two (log2) */
  align?: number;
}

/** Where a universal header's arch table ends (the first byte no fat_arch describes). */
export function fatHeaderEnd(head: Buffer): number {
  return 8 + head.readUInt32BE(4) * (head.readUInt32BE(0) === FAT_MAGIC_64 ? 32 : 20);
}

/** Slices of a universal file (or the one "slice" of a thin file). The fat header itself is not compared (§9.12). */
export function parseFatHeader(head: Buffer, fileSize: number): Slice[] {
  const magic = head.readUInt32BE(0);
  const is64 = magic === FAT_MAGIC_64;
  const n = head.readUInt32BE(4);
  if ((magic !== FAT_MAGIC && !is64) || n < 1 || n > MAX_FAT_ARCHS) throw new FormatError('macho', 'not a universal Mach-O header');
  const entry = is64 ? 32 : 20;
  const headerEnd = 8 + n * entry;
  if (head.length < headerEnd) throw new FormatError('macho', 'universal header truncated');
  const slices: Slice[] = [];
  for (let i = 0; i < n; i++) {
    const o = 8 + i * entry;
    const cputype = head.readUInt32BE(o);
    const cpusubtype = head.readUInt32BE(o + 4);
    const offset = is64 ? Number(head.readBigUInt64BE(o + 8)) : head.readUInt32BE(o + 8);
    const size = is64 ? Number(head.readBigUInt64BE(o + 16)) : head.readUInt32BE(o + 12);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < headerEnd || size < 28 || offset + size > fileSize) {
      throw new FormatError('macho', `universal slice ${i} (${archName(cputype, cpusubtype)}) lies outside the file`);
    }
    slices.push({ index: i, cputype, cpusubtype, arch: archName(cputype, cpusubtype), offset, size, align: head.readUInt32BE(o + (is64 ? 24 : 16)) });
  }
  const sorted = [...slices].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.offset < sorted[i - 1]!.offset + sorted[i - 1]!.size) throw new FormatError('macho', 'universal slices overlap');
  }
  return slices;
}

export interface LoadCommand {
  index: number;
  cmd: number;
  name: string;
  /** offset inside the slice */
  offset: number;
  size: number;
}

export interface Segment {
  name: string;
  /** offset of the segment command inside the slice */
  cmdOffset: number;
  fileoff: number;
  filesize: number;
  vmsize: number;
  /** where the vmsize / filesize fields are (slice offsets) and how wide they are (4 or 8) */
  vmsizeField: number;
  filesizeField: number;
  fieldWidth: 4 | 8;
  sections: { name: string; offset: number; size: number }[];
}

export interface CodeSignatureCommand {
  /** offset of the 16-byte LC_CODE_SIGNATURE command inside the slice */
  cmdOffset: number;
  dataoff: number;
  datasize: number;
}

export interface ThinHeader {
  bits: 32 | 64;
  littleEndian: boolean;
  cputype: number;
  cpusubtype: number;
  filetype: number;
  ncmds: number;
  sizeofcmds: number;
  /** 28 or 32: where the load commands start */
  headerSize: number;
  commands: LoadCommand[];
  segments: Segment[];
  linkedit?: Segment;
  codeSignature?: CodeSignatureCommand;
  /** (offset, size) blobs in __LINKEDIT named by their load command, for explanations */
  linkeditData: { name: string; offset: number; size: number }[];
}

/** How many bytes of a slice to read to parse its header and load commands. */
export function headerLength(head: Buffer): number {
  const le = head.readUInt32LE(0);
  const bits = le === MH_MAGIC_64 || le === MH_CIGAM_64 ? 64 : 32;
  const littleEndian = le === MH_MAGIC || le === MH_MAGIC_64;
  const sizeofcmds = littleEndian ? head.readUInt32LE(20) : head.readUInt32BE(20);
  return (bits === 64 ? 32 : 28) + Math.min(sizeofcmds, MAX_SIZEOFCMDS);
}

function cstring(buf: Buffer, offset: number, max: number): string {
  const raw = buf.subarray(offset, offset + max);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
}

/** Reads the fixed-width fields of one slice in its byte order; `inSlice` checks a (offset, size) pair against the slice. */
interface SliceReader {
  buf: Buffer;
  bits: 32 | 64;
  sliceSize: number;
  u32(o: number): number;
  u64(o: number): number;
  inSlice(off: number, size: number): boolean;
}

function sliceReader(buf: Buffer, bits: 32 | 64, le: boolean, sliceSize: number): SliceReader {
  return {
    buf,
    bits,
    sliceSize,
    u32: (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o)),
    u64: (o) => {
      const v = le ? buf.readBigUInt64LE(o) : buf.readBigUInt64BE(o);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('macho', `64-bit field at 0x${o.toString(16)} out of range`);
      return Number(v);
    },
    inSlice: (off, size) => off >= 0 && size >= 0 && off + size <= sliceSize,
  };
}

/** Parses a thin Mach-O header and its load commands from `buf` (the first headerLength() bytes of the slice). */
export function parseThinHeader(buf: Buffer, sliceSize: number): ThinHeader {
  if (buf.length < 28) throw new FormatError('macho', 'Mach-O header truncated');
  const magic = buf.readUInt32LE(0);
  if (magic !== MH_MAGIC && magic !== MH_MAGIC_64 && magic !== MH_CIGAM && magic !== MH_CIGAM_64) throw new FormatError('macho', 'not a Mach-O file');
  const bits = magic === MH_MAGIC_64 || magic === MH_CIGAM_64 ? 64 : 32;
  const le = magic === MH_MAGIC || magic === MH_MAGIC_64;
  const r = sliceReader(buf, bits, le, sliceSize);
  const headerSize = bits === 64 ? 32 : 28;
  const h: ThinHeader = {
    bits,
    littleEndian: le,
    cputype: r.u32(4),
    cpusubtype: r.u32(8),
    filetype: r.u32(12),
    ncmds: r.u32(16),
    sizeofcmds: r.u32(20),
    headerSize,
    commands: [],
    segments: [],
    linkeditData: [],
  };
  if (h.ncmds > MAX_NCMDS || h.sizeofcmds > MAX_SIZEOFCMDS) throw new FormatError('macho', `too many load commands (${h.ncmds}, ${h.sizeofcmds} bytes)`);
  const end = headerSize + h.sizeofcmds;
  if (end > sliceSize) throw new FormatError('macho', 'load commands extend past the end of the file');
  if (buf.length < end) throw new FormatError('macho', 'load commands truncated');

  let off = headerSize;
  for (let i = 0; i < h.ncmds; i++) {
    if (off + 8 > end) throw new FormatError('macho', `load command ${i} extends past sizeofcmds`);
    const cmd = r.u32(off);
    const size = r.u32(off + 4);
    if (size < 8 || size % 4 !== 0 || off + size > end) throw new FormatError('macho', `load command ${i} (${loadCommandName(cmd)}) has a bad size ${size}`);
    h.commands.push({ index: i, cmd, name: loadCommandName(cmd), offset: off, size });
    readLoadCommand(h, r, i, cmd, off, size);
    off += size;
  }
  if (h.codeSignature) h.linkeditData.push({ name: 'code signature', offset: h.codeSignature.dataoff, size: h.codeSignature.datasize });
  return h;
}

/** Records what one load command says about the slice's layout: segments, the code signature, __LINKEDIT data. */
function readLoadCommand(h: ThinHeader, r: SliceReader, i: number, cmd: number, off: number, size: number): void {
  const { u32, inSlice } = r;
  if (cmd === LC_SEGMENT_64 || cmd === LC_SEGMENT) {
    const seg = readSegment(r, i, off, size, cmd === LC_SEGMENT_64);
    h.segments.push(seg);
    if (seg.name === '__LINKEDIT') {
      if (h.linkedit) throw new FormatError('macho', 'more than one __LINKEDIT segment');
      h.linkedit = seg;
    }
  } else if (cmd === LC_CODE_SIGNATURE) {
    if (size !== 16) throw new FormatError('macho', `LC_CODE_SIGNATURE has size ${size}, expected 16`);
    if (h.codeSignature) throw new FormatError('macho', 'more than one LC_CODE_SIGNATURE');
    const dataoff = u32(off + 8);
    const datasize = u32(off + 12);
    if (!inSlice(dataoff, datasize)) throw new FormatError('macho', 'code signature lies outside the file');
    h.codeSignature = { cmdOffset: off, dataoff, datasize };
  } else if (cmd === LC_SYMTAB && size >= 24) {
    const symoff = u32(off + 8);
    const nsyms = u32(off + 12);
    const stroff = u32(off + 16);
    const strsize = u32(off + 20);
    const symSize = nsyms * (r.bits === 64 ? 16 : 12);
    if (inSlice(symoff, symSize)) h.linkeditData.push({ name: 'symbol table', offset: symoff, size: symSize });
    if (inSlice(stroff, strsize)) h.linkeditData.push({ name: 'string table', offset: stroff, size: strsize });
  } else if ((cmd === 0x22 || cmd === 0x80000022) && size >= 48) {
    const parts = ['rebase info', 'bind info', 'weak bind info', 'lazy bind info', 'export info'];
    parts.forEach((name, k) => {
      const o = u32(off + 8 + k * 8);
      const s = u32(off + 12 + k * 8);
      if (s > 0 && inSlice(o, s)) h.linkeditData.push({ name, offset: o, size: s });
    });
  } else if (LINKEDIT_DATA[cmd] && size >= 16) {
    const o = u32(off + 8);
    const s = u32(off + 12);
    if (s > 0 && inSlice(o, s)) h.linkeditData.push({ name: LINKEDIT_DATA[cmd]!, offset: o, size: s });
  }
}

/** Parses an LC_SEGMENT / LC_SEGMENT_64 command at `off` and the sections in it that have file bytes. */
function readSegment(r: SliceReader, i: number, off: number, size: number, is64: boolean): Segment {
  const { buf, u32, u64, inSlice, sliceSize } = r;
  const fixed = is64 ? 72 : 56;
  const sectSize = is64 ? 80 : 68;
  if (size < fixed) throw new FormatError('macho', `segment command ${i} too short`);
  const nsects = u32(off + (is64 ? 64 : 48));
  if (nsects > MAX_NSECTS || fixed + nsects * sectSize > size) throw new FormatError('macho', `segment command ${i} has a bad section count ${nsects}`);
  const seg: Segment = {
    name: cstring(buf, off + 8, 16),
    cmdOffset: off,
    vmsize: is64 ? u64(off + 32) : u32(off + 28),
    fileoff: is64 ? u64(off + 40) : u32(off + 32),
    filesize: is64 ? u64(off + 48) : u32(off + 36),
    vmsizeField: off + (is64 ? 32 : 28),
    filesizeField: off + (is64 ? 48 : 36),
    fieldWidth: is64 ? 8 : 4,
    sections: [],
  };
  for (let s = 0; s < nsects; s++) {
    const so = off + fixed + s * sectSize;
    const sectSize64 = is64 ? u64(so + 40) : u32(so + 36);
    const sectOff = u32(so + (is64 ? 48 : 40));
    const flags = u32(so + (is64 ? 64 : 56));
    const type = flags & 0xff;
    // zerofill sections (S_ZEROFILL 1, S_GB_ZEROFILL 0xc, S_THREAD_LOCAL_ZEROFILL 0x12) have no file bytes
    if (type === 0x1 || type === 0xc || type === 0x12 || sectOff === 0) continue;
    if (!inSlice(sectOff, Math.min(sectSize64, sliceSize))) continue;
    seg.sections.push({ name: `${cstring(buf, so + 16, 16)},${cstring(buf, so, 16)}`, offset: sectOff, size: Math.min(sectSize64, sliceSize - sectOff) });
  }
  return seg;
}

/** Named regions of one slice (offsets relative to the slice start). */
export function machoRegions(h: ThinHeader): Region[] {
  const regions: Region[] = [{ name: 'Mach-O header', start: 0, end: h.headerSize }];
  for (const c of h.commands) regions.push({ name: `load command ${c.index} ${c.name}`, start: c.offset, end: c.offset + c.size });
  const cmdsEnd = h.headerSize + h.sizeofcmds;
  const firstSection = Math.min(...h.segments.flatMap((s) => s.sections.map((x) => x.offset)), Number.MAX_SAFE_INTEGER);
  if (firstSection !== Number.MAX_SAFE_INTEGER && firstSection > cmdsEnd) regions.push({ name: 'header padding', start: cmdsEnd, end: firstSection });
  for (const s of h.segments) {
    if (s.filesize > 0) regions.push({ name: `segment ${s.name}`, start: s.fileoff, end: s.fileoff + s.filesize });
    for (const x of s.sections) regions.push({ name: `section ${x.name}`, start: x.offset, end: x.offset + x.size });
  }
  for (const d of h.linkeditData) regions.push({ name: `__LINKEDIT ${d.name}`, start: d.offset, end: d.offset + d.size });
  return regions;
}

/** The slices of a Mach-O file: all slices of a universal file, or the whole file as one slice. */
export async function readSlices(handle: FileHandle, fileSize: number): Promise<{ kind: MachoKind; slices: Slice[] }> {
  const head = await readAt(handle, 0, Math.min(fileSize, 8 + MAX_FAT_ARCHS * 32));
  const kind = machoKind(head);
  if (!kind) throw new FormatError('macho', 'not a Mach-O file');
  if (kind === 'fat') return { kind, slices: parseFatHeader(head, fileSize) };
  const h = parseThinHeader(await readAt(handle, 0, Math.min(fileSize, headerLength(head))), fileSize);
  return { kind, slices: [{ index: 0, cputype: h.cputype, cpusubtype: h.cpusubtype, arch: archName(h.cputype, h.cpusubtype), offset: 0, size: fileSize }] };
}

/** Reads and parses the thin header of one slice. */
export async function readThinHeader(handle: FileHandle, slice: Slice): Promise<ThinHeader> {
  const head = await readAt(handle, slice.offset, Math.min(slice.size, 32));
  if (machoKind(head) !== 'thin') throw new FormatError('macho', `slice ${slice.arch} is not a thin Mach-O`);
  const buf = await readAt(handle, slice.offset, Math.min(slice.size, headerLength(head)));
  return parseThinHeader(buf, slice.size);
}
