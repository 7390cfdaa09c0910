/**
 * Minimal, bounded ELF (32/64-bit, either byte order) section-header reader: only what a mismatch
 * explanation needs — which named section a byte range falls in. Hand-written because it is a few
 * dozen lines and must never trust the file: every count, offset and size is checked against the
 * file size and fixed bounds before use, and a malformed file yields `null`, never an exception.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Region } from './compare/regions';
import { readAt } from './compare/read-at';

const SHT_NOBITS = 8;
const MAX_SECTIONS = 65_536;
const MAX_STRTAB = 16 * 1024 * 1024;

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

export interface ElfLayout {
  bits: 32 | 64;
  littleEndian: boolean;
  headerSize: number;
  /** program header table [start, end) */
  programHeaders?: [number, number];
  /** section header table [start, end) */
  sectionHeaders?: [number, number];
  sections: ElfSection[];
}

export function isElf(head: Uint8Array): boolean {
  return (
    head.length >= 16 &&
    head[0] === 0x7f &&
    head[1] === 0x45 &&
    head[2] === 0x4c &&
    head[3] === 0x46 &&
    (head[4] === 1 || head[4] === 2) &&
    (head[5] === 1 || head[5] === 2)
  );
}

/** Parses the section table of an ELF file, or returns null when it is not (well-formed) ELF. */
export async function readElfLayout(handle: FileHandle, fileSize: number): Promise<ElfLayout | null> {
  const ident = await readAt(handle, 0, 64);
  if (!isElf(ident)) return null;
  const bits = ident[4] === 2 ? 64 : 32;
  const le = ident[5] === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const uword = (b: Buffer, o: number): number => {
    if (bits === 32) return u32(b, o);
    const v = le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  };
  const headerSize = bits === 64 ? 64 : 52;
  if (ident.length < headerSize) return null;

  const phoff = uword(ident, bits === 64 ? 32 : 28);
  const shoff = uword(ident, bits === 64 ? 40 : 32);
  const o = bits === 64 ? 54 : 42; // e_phentsize
  const phentsize = u16(ident, o);
  const phnum = u16(ident, o + 2);
  const shentsize = u16(ident, o + 4);
  let shnum = u16(ident, o + 6);
  let shstrndx = u16(ident, o + 8);
  const layout: ElfLayout = { bits, littleEndian: le, headerSize, sections: [] };
  if (phoff > 0 && phnum > 0 && phoff + phnum * phentsize <= fileSize) layout.programHeaders = [phoff, phoff + phnum * phentsize];

  const minEnt = bits === 64 ? 64 : 40;
  if (shoff === 0 || shentsize < minEnt || shoff >= fileSize) return layout;
  // extended numbering: e_shnum == 0 → count in section 0's sh_size; e_shstrndx == 0xffff → in sh_link
  const first = await readAt(handle, shoff, shentsize);
  if (first.length < shentsize) return layout;
  if (shnum === 0) shnum = Math.min(uword(first, bits === 64 ? 32 : 20), MAX_SECTIONS + 1);
  if (shstrndx === 0xffff) shstrndx = u32(first, bits === 64 ? 40 : 24);
  if (shnum === 0 || shnum > MAX_SECTIONS || shoff + shnum * shentsize > fileSize) return layout;
  layout.sectionHeaders = [shoff, shoff + shnum * shentsize];

  const table = await readAt(handle, shoff, shnum * shentsize);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const b = i * shentsize;
    raw.push({
      nameOff: u32(table, b),
      type: u32(table, b + 4),
      offset: uword(table, bits === 64 ? b + 24 : b + 16),
      size: uword(table, bits === 64 ? b + 32 : b + 20),
    });
  }
  let strtab: Buffer | undefined;
  const str = raw[shstrndx];
  if (str && str.offset < fileSize && str.size <= MAX_STRTAB && str.offset + str.size <= fileSize) {
    strtab = await readAt(handle, str.offset, str.size);
  }
  const nameAt = (off: number, index: number): string => {
    if (!strtab || off >= strtab.length) return `#${index}`;
    const end = strtab.indexOf(0, off);
    const name = strtab.subarray(off, end < 0 ? strtab.length : end).toString('latin1');
    return name.length > 0 && name.length <= 256 ? name : `#${index}`;
  };
  raw.forEach((s, i) => {
    if (i === 0 || s.type === SHT_NOBITS) return; // section 0 is the null section; NOBITS has no bytes
    if (s.offset >= fileSize || s.size === 0) return;
    layout.sections.push({ name: nameAt(s.nameOff, i), type: s.type, offset: s.offset, size: Math.min(s.size, fileSize - s.offset) });
  });
  return layout;
}

/** Named regions of an ELF file for mismatch explanations. */
export function elfRegions(layout: ElfLayout): Region[] {
  const regions: Region[] = [{ name: 'ELF header', start: 0, end: layout.headerSize }];
  if (layout.programHeaders) regions.push({ name: 'ELF program headers', start: layout.programHeaders[0], end: layout.programHeaders[1] });
  if (layout.sectionHeaders) regions.push({ name: 'ELF section headers', start: layout.sectionHeaders[0], end: layout.sectionHeaders[1] });
  for (const s of layout.sections) regions.push({ name: `section ${s.name}`, start: s.offset, end: s.offset + s.size });
  return regions;
}
