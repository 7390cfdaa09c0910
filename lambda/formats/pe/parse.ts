/**
 * Bounded PE (Portable Executable) header parser. Reads only the headers through a file handle —
 * never the whole file — and gives the offsets Authenticode needs (CheckSum, the certificate-table
 * directory entry, whose address is a FILE OFFSET, not an RVA) plus the section table, so that byte
 * differences can be named by section.
 *
 * Layout notes: /work/shared/reference/signatures.md §1.1 (osslsigncode pe.c `pe_ctx_get`).
 */
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../base/errors';

export const PE_MAGIC_PE32 = 0x10b;
export const PE_MAGIC_PE32_PLUS = 0x20b;
/** index of the Certificate Table in the data directories */
const CERT_TABLE_INDEX = 4;
const DATA_DIRECTORY_NAMES = [
  'export table',
  'import table',
  'resource table',
  'exception table',
  'certificate table',
  'base relocation table',
  'debug',
  'architecture',
  'global pointer',
  'TLS table',
  'load config table',
  'bound import',
  'IAT',
  'delay import descriptor',
  'CLR runtime header',
  'reserved',
];

/** Bounds for untrusted headers: the loader itself refuses far less (96 sections on old Windows). */
const MAX_E_LFANEW = 16 * 1024 * 1024;
const MAX_SECTIONS = 1024;
const MAX_DATA_DIRECTORIES = 16;

export interface PeSection {
  /** resolved name (".text"; long "/NN" names resolved through the COFF string table when present) */
  name: string;
  virtualAddress: number;
  virtualSize: number;
  /** file range [rawOffset, rawOffset + rawSize) */
  rawOffset: number;
  rawSize: number;
}

export interface PeLayout {
  fileSize: number;
  eLfanew: number;
  format: 'PE32' | 'PE32+';
  machine: number;
  numberOfSections: number;
  /** file offset of the optional header */
  optionalHeaderOffset: number;
  sizeOfOptionalHeader: number;
  sizeOfHeaders: number;
  /** file offset of the 4-byte CheckSum field (e_lfanew + 88 in both formats) */
  checksumOffset: number;
  /** file offset of the data directories */
  dataDirectoriesOffset: number;
  numberOfRvaAndSizes: number;
  /** file offset of the 8-byte certificate-table directory entry; undefined if there are < 5 directories */
  certDirOffset?: number;
  /** the certificate-table entry as stored: `offset` is a file offset; both 0 when unsigned */
  certTable?: { offset: number; size: number };
  /** file offset of the section table */
  sectionTableOffset: number;
  sections: PeSection[];
  /** end of the last section's raw data (max over sections), or sizeOfHeaders without sections */
  endOfImageData: number;
}

/** True when `head` starts like a PE image: "MZ", and "PE\0\0" at e_lfanew when it lies inside `head`. */
export function looksLikePe(head: Uint8Array): boolean {
  if (head.length < 0x40 || head[0] !== 0x4d || head[1] !== 0x5a) return false;
  const e = Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt32LE(0x3c);
  if (e + 4 > head.length) return false;
  return head[e] === 0x50 && head[e + 1] === 0x45 && head[e + 2] === 0 && head[e + 3] === 0;
}

/** Reads exactly `length` bytes at `position`, or throws a FormatError naming `what`. */
export async function readExactly(fh: FileHandle, position: number, length: number, what: string): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new FormatError('pe', `truncated PE: ${what} at offset ${position} extends past the end of the file`);
    done += bytesRead;
  }
  return buf;
}

function peError(message: string): FormatError {
  return new FormatError('pe', `not a valid PE file: ${message}`);
}

/** Parses the PE headers of an open file. Throws FormatError when the file is not a (sane) PE. */
export async function parsePe(fh: FileHandle, fileSize?: number): Promise<PeLayout> {
  const size = fileSize ?? (await fh.stat()).size;
  if (size < 0x40) throw peError(`file is only ${size} bytes`);
  const dos = await readExactly(fh, 0, 0x40, 'DOS header');
  if (dos[0] !== 0x4d || dos[1] !== 0x5a) throw peError('no "MZ" signature');
  const eLfanew = dos.readUInt32LE(0x3c);
  if (eLfanew > MAX_E_LFANEW || eLfanew + 24 > size) throw peError(`e_lfanew ${eLfanew} is out of range`);

  const coff = await readExactly(fh, eLfanew, 24, 'PE signature and COFF header');
  if (coff.readUInt32LE(0) !== 0x00004550) throw peError(`no "PE\\0\\0" signature at e_lfanew ${eLfanew}`);
  const machine = coff.readUInt16LE(4);
  const numberOfSections = coff.readUInt16LE(6);
  const pointerToSymbolTable = coff.readUInt32LE(12);
  const numberOfSymbols = coff.readUInt32LE(16);
  const sizeOfOptionalHeader = coff.readUInt16LE(20);
  if (numberOfSections > MAX_SECTIONS) throw peError(`${numberOfSections} sections (limit ${MAX_SECTIONS})`);

  const optionalHeaderOffset = eLfanew + 24;
  if (sizeOfOptionalHeader < 2) throw peError('no optional header');
  const sectionTableOffset = optionalHeaderOffset + sizeOfOptionalHeader;
  const headerBytes = sizeOfOptionalHeader + 40 * numberOfSections;
  if (sectionTableOffset + 40 * numberOfSections > size) throw peError('section table extends past the end of the file');
  const hdr = await readExactly(fh, optionalHeaderOffset, headerBytes, 'optional header and section table');

  const magic = hdr.readUInt16LE(0);
  if (magic !== PE_MAGIC_PE32 && magic !== PE_MAGIC_PE32_PLUS) throw peError(`unknown optional header magic 0x${magic.toString(16)}`);
  const format = magic === PE_MAGIC_PE32 ? 'PE32' : 'PE32+';
  const countAt = format === 'PE32' ? 92 : 108;
  const dirsAt = countAt + 4;
  if (sizeOfOptionalHeader < dirsAt) throw peError(`optional header too small (${sizeOfOptionalHeader} bytes) for ${format}`);
  const sizeOfHeaders = hdr.readUInt32LE(60);
  const numberOfRvaAndSizes = hdr.readUInt32LE(countAt);
  // Only the directories that fit inside the optional header are real; the loader ignores the rest.
  const usableDirs = Math.min(numberOfRvaAndSizes, MAX_DATA_DIRECTORIES, Math.floor((sizeOfOptionalHeader - dirsAt) / 8));

  const layout: PeLayout = {
    fileSize: size,
    eLfanew,
    format,
    machine,
    numberOfSections,
    optionalHeaderOffset,
    sizeOfOptionalHeader,
    sizeOfHeaders,
    checksumOffset: optionalHeaderOffset + 64,
    dataDirectoriesOffset: optionalHeaderOffset + dirsAt,
    numberOfRvaAndSizes,
    sectionTableOffset,
    sections: [],
    endOfImageData: sizeOfHeaders,
  };
  if (usableDirs > CERT_TABLE_INDEX) {
    const at = dirsAt + 8 * CERT_TABLE_INDEX;
    layout.certDirOffset = optionalHeaderOffset + at;
    layout.certTable = { offset: hdr.readUInt32LE(at), size: hdr.readUInt32LE(at + 4) };
  }

  const stringTable = pointerToSymbolTable > 0 ? pointerToSymbolTable + numberOfSymbols * 18 : 0;
  for (let i = 0; i < numberOfSections; i++) {
    const s = sizeOfOptionalHeader + 40 * i;
    const rawName = hdr.subarray(s, s + 8);
    const nul = rawName.indexOf(0);
    let name = rawName.subarray(0, nul < 0 ? 8 : nul).toString('latin1');
    if (/^\/\d+$/.test(name) && stringTable > 0) name = (await longSectionName(fh, size, stringTable + Number(name.slice(1)))) ?? name;
    const section: PeSection = {
      name,
      virtualSize: hdr.readUInt32LE(s + 8),
      virtualAddress: hdr.readUInt32LE(s + 12),
      rawSize: hdr.readUInt32LE(s + 16),
      rawOffset: hdr.readUInt32LE(s + 20),
    };
    layout.sections.push(section);
    if (section.rawSize > 0) layout.endOfImageData = Math.max(layout.endOfImageData, section.rawOffset + section.rawSize);
  }
  return layout;
}

/** A long section name ("/4") lives in the COFF string table; read at most 64 bytes of it. */
async function longSectionName(fh: FileHandle, size: number, at: number): Promise<string | undefined> {
  if (at >= size) return undefined;
  const buf = Buffer.alloc(Math.min(64, size - at));
  const { bytesRead } = await fh.read(buf, 0, buf.length, at);
  const nul = buf.subarray(0, bytesRead).indexOf(0);
  if (nul <= 0) return undefined;
  const name = buf.subarray(0, nul).toString('latin1');
  return /^[\x20-\x7e]+$/.test(name) ? name : undefined;
}

/** A named, contiguous file region, for explaining where bytes differ. */
export interface PeRegion {
  name: string;
  start: number;
  end: number;
}

/**
 * Splits [0, fileSize) into named regions: header fields (CheckSum, certificate directory entry,
 * the rest of each header), sections by raw range, gaps, the overlay (appended data) and the
 * certificate table. Regions never overlap; overlapping sections are named by the first.
 */
export function peRegions(layout: PeLayout): PeRegion[] {
  const marks: PeRegion[] = [];
  const add = (name: string, start: number, end: number) => {
    if (end > start) marks.push({ name, start, end });
  };
  add('headers: DOS header and stub', 0, layout.eLfanew);
  add('headers: COFF file header', layout.eLfanew, layout.optionalHeaderOffset);
  add('headers: optional header', layout.optionalHeaderOffset, layout.checksumOffset);
  add('headers: CheckSum', layout.checksumOffset, layout.checksumOffset + 4);
  add('headers: optional header', layout.checksumOffset + 4, layout.dataDirectoriesOffset);
  const dirs = Math.min(layout.numberOfRvaAndSizes, MAX_DATA_DIRECTORIES, Math.floor((layout.sectionTableOffset - layout.dataDirectoriesOffset) / 8));
  for (let i = 0; i < dirs; i++) {
    const at = layout.dataDirectoriesOffset + 8 * i;
    add(`headers: data directory ${i} (${DATA_DIRECTORY_NAMES[i]})`, at, at + 8);
  }
  add('headers: optional header', layout.dataDirectoriesOffset + 8 * dirs, layout.sectionTableOffset);
  layout.sections.forEach((s, i) => {
    add(`headers: section table entry ${i} (${s.name})`, layout.sectionTableOffset + 40 * i, layout.sectionTableOffset + 40 * (i + 1));
  });
  const afterTable = layout.sectionTableOffset + 40 * layout.sections.length;
  add('headers', afterTable, Math.max(afterTable, Math.min(layout.sizeOfHeaders, layout.fileSize)));

  const sorted = layout.sections.filter((s) => s.rawSize > 0).sort((a, b) => a.rawOffset - b.rawOffset);
  let cursor = Math.max(afterTable, Math.min(layout.sizeOfHeaders, layout.fileSize));
  for (const s of sorted) {
    const start = Math.max(s.rawOffset, cursor);
    add('gap between sections', cursor, s.rawOffset);
    add(`section ${s.name}`, start, s.rawOffset + s.rawSize);
    cursor = Math.max(cursor, s.rawOffset + s.rawSize);
  }
  const cert = layout.certTable && layout.certTable.offset > 0 && layout.certTable.size > 0 ? layout.certTable : undefined;
  if (cert && cert.offset >= cursor && cert.offset <= layout.fileSize) {
    add('overlay/appended data', cursor, cert.offset);
    add('certificate table', cert.offset, Math.min(layout.fileSize, cert.offset + cert.size));
    add('overlay/appended data (after the certificate table)', cert.offset + cert.size, layout.fileSize);
  } else {
    add('overlay/appended data', cursor, layout.fileSize);
  }
  return marks.sort((a, b) => a.start - b.start);
}

/** Names the regions a byte range [start, end) touches, splitting it at region boundaries. */
export function splitByRegion(regions: PeRegion[], start: number, end: number, fallback = 'past the end of the file'): PeRegion[] {
  const out: PeRegion[] = [];
  let at = start;
  for (const r of regions) {
    if (at >= end) break;
    if (r.end <= at) continue;
    if (r.start > at) {
      out.push({ name: fallback, start: at, end: Math.min(r.start, end) });
      at = Math.min(r.start, end);
      if (at >= end) break;
    }
    const e = Math.min(r.end, end);
    if (out.length && out[out.length - 1].name === r.name && out[out.length - 1].end === at) out[out.length - 1].end = e;
    else out.push({ name: r.name, start: at, end: e });
    at = e;
  }
  if (at < end) out.push({ name: fallback, start: at, end });
  return out;
}
