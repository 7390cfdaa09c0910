/**
 * Embedded code signature of a Mach-O slice (signatures.md §3.1): the SuperBlob and its
 * CodeDirectories, all big-endian. Parsed with bounds from untrusted bytes; the CodeDirectory's
 * page hashes are what a mismatch explanation names ("page 0 differs").
 */
import { createHash, type Hash } from 'node:crypto';
import { FormatError } from '../../base/errors';

export const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
export const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
export const CSMAGIC_REQUIREMENTS = 0xfade0c01;
export const CSMAGIC_BLOBWRAPPER = 0xfade0b01;
export const CSSLOT_CODEDIRECTORY = 0;
/** special slots: the CodeDirectory stores their hashes at negative indexes (-1 = Info.plist, …) */
export const CSSLOT_INFOSLOT = 1;
export const CSSLOT_REQUIREMENTS = 2;
export const CSSLOT_RESOURCEDIR = 3;
export const CSSLOT_APPLICATION = 4;
export const CSSLOT_ENTITLEMENTS = 5;
export const CSSLOT_REP_SPECIFIC = 6;
export const CSSLOT_ENTITLEMENTS_DER = 7;
export const CSSLOT_ALTERNATE_CODEDIRECTORIES = 0x1000;
export const CSSLOT_SIGNATURESLOT = 0x10000;
/** a stapled notarization ticket (DMGs; not covered by the CodeDirectory) */
export const CSSLOT_TICKETSLOT = 0x10002;
/** CodeDirectory flag: ad-hoc signed (no CMS signer) */
export const CS_ADHOC = 0x2;

/** a signature with more blobs than this is not one any signer writes */
const MAX_BLOBS = 64;
/** largest page size we hash page by page (2^16); 0 means one "infinite" page */
const MAX_PAGE_SIZE_LOG2 = 16;

export interface HashTypeInfo {
  name: string;
  algorithm: string;
  size: number;
}

export const HASH_TYPES: Record<number, HashTypeInfo> = {
  1: { name: 'SHA-1', algorithm: 'sha1', size: 20 },
  2: { name: 'SHA-256', algorithm: 'sha256', size: 32 },
  3: { name: 'SHA-256 (truncated to 20 bytes)', algorithm: 'sha256', size: 20 },
  4: { name: 'SHA-384', algorithm: 'sha384', size: 48 },
};

export interface BlobIndexEntry {
  slot: number;
  offset: number;
  magic: number;
  length: number;
}

export interface CodeDirectory {
  slot: number;
  version: number;
  flags: number;
  hashType: number;
  hashName: string;
  hashSize: number;
  /** page size in bytes; 0 = a single page over the whole code limit */
  pageSize: number;
  pageSizeLog2: number;
  codeLimit: number;
  nCodeSlots: number;
  nSpecialSlots: number;
  identifier: string;
  teamId?: string;
  /** raw page hashes, nCodeSlots × hashSize */
  codeHashes: Buffer;
  /** special-slot hashes: index n - 1 holds slot -n (1 Info.plist, 2 requirements, 3 resources, …) */
  specialHashes: Buffer[];
  /** scatter vector offset (version ≥ 0x20100); non-zero means pages are not contiguous */
  scatterOffset: number;
  /** the whole CD blob (its hash is the cdhash) */
  blob: Buffer;
}

export interface EmbeddedSignature {
  length: number;
  blobs: BlobIndexEntry[];
  codeDirectories: CodeDirectory[];
  /** size of the CMS blob (0 for ad-hoc: empty wrapper or none) */
  cmsSize: number;
}

function cstringAt(buf: Buffer, offset: number): string {
  if (offset <= 0 || offset >= buf.length) return '';
  const end = buf.indexOf(0, offset);
  return buf.subarray(offset, end < 0 ? Math.min(buf.length, offset + 1024) : Math.min(end, offset + 1024)).toString('utf8');
}

/** Parses a CodeDirectory blob. */
export function parseCodeDirectory(blob: Buffer, slot: number): CodeDirectory {
  if (blob.length < 44 || blob.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) throw new FormatError('macho', 'CodeDirectory blob malformed');
  const length = blob.readUInt32BE(4);
  if (length !== blob.length) throw new FormatError('macho', 'CodeDirectory length does not match its blob');
  const version = blob.readUInt32BE(8);
  const hashOffset = blob.readUInt32BE(16);
  const identOffset = blob.readUInt32BE(20);
  const nSpecialSlots = blob.readUInt32BE(24);
  const nCodeSlots = blob.readUInt32BE(28);
  const codeLimit32 = blob.readUInt32BE(32);
  const hashSize = blob.readUInt8(36);
  const hashType = blob.readUInt8(37);
  const pageSizeLog2 = blob.readUInt8(39);
  const info = HASH_TYPES[hashType];
  if (!info) throw new FormatError('macho', `CodeDirectory hash type ${hashType} is not supported`);
  if (hashSize !== info.size) throw new FormatError('macho', `CodeDirectory hash size ${hashSize} does not fit ${info.name}`);
  if (pageSizeLog2 > MAX_PAGE_SIZE_LOG2) throw new FormatError('macho', `CodeDirectory page size 2^${pageSizeLog2} is out of range`);
  let codeLimit = codeLimit32;
  if (version >= 0x20300 && blob.length >= 64) {
    const cl64 = blob.readBigUInt64BE(56);
    if (cl64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('macho', 'CodeDirectory codeLimit64 out of range');
    if (cl64 !== 0n) codeLimit = Number(cl64);
  }
  const pageSize = pageSizeLog2 === 0 ? 0 : 2 ** pageSizeLog2;
  const expectedSlots = pageSize === 0 ? (codeLimit > 0 ? 1 : 0) : Math.ceil(codeLimit / pageSize);
  if (nCodeSlots !== expectedSlots)
    throw new FormatError('macho', `CodeDirectory has ${nCodeSlots} code slots, its code limit ${codeLimit} needs ${expectedSlots}`);
  if (hashOffset < nSpecialSlots * hashSize || hashOffset + nCodeSlots * hashSize > blob.length) {
    throw new FormatError('macho', 'CodeDirectory hash slots lie outside the blob');
  }
  const teamOffset = version >= 0x20200 && blob.length >= 52 ? blob.readUInt32BE(48) : 0;
  return {
    slot,
    version,
    flags: blob.readUInt32BE(12),
    hashType,
    hashName: info.name,
    hashSize,
    pageSize,
    pageSizeLog2,
    codeLimit,
    nCodeSlots,
    nSpecialSlots,
    identifier: cstringAt(blob, identOffset),
    teamId: teamOffset ? cstringAt(blob, teamOffset) || undefined : undefined,
    codeHashes: blob.subarray(hashOffset, hashOffset + nCodeSlots * hashSize),
    specialHashes: Array.from({ length: nSpecialSlots }, (_, i) => blob.subarray(hashOffset - (i + 1) * hashSize, hashOffset - i * hashSize)),
    scatterOffset: version >= 0x20100 && blob.length >= 48 ? blob.readUInt32BE(44) : 0,
    blob,
  };
}

/** Parses the SuperBlob at the start of `data` (the bytes at LC_CODE_SIGNATURE dataoff, datasize long). */
export function parseEmbeddedSignature(data: Buffer): EmbeddedSignature {
  if (data.length < 12 || data.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE)
    throw new FormatError('macho', 'code signature is not an embedded-signature SuperBlob');
  const length = data.readUInt32BE(4);
  const count = data.readUInt32BE(8);
  if (length < 12 || length > data.length) throw new FormatError('macho', `SuperBlob length ${length} exceeds the signature data (${data.length} bytes)`);
  if (count > MAX_BLOBS || 12 + count * 8 > length) throw new FormatError('macho', `SuperBlob blob count ${count} is out of range`);
  const sig: EmbeddedSignature = { length, blobs: [], codeDirectories: [], cmsSize: 0 };
  for (let i = 0; i < count; i++) {
    const slot = data.readUInt32BE(12 + i * 8);
    const offset = data.readUInt32BE(16 + i * 8);
    if (offset < 12 + count * 8 || offset + 8 > length) throw new FormatError('macho', `SuperBlob entry ${i} lies outside the SuperBlob`);
    const magic = data.readUInt32BE(offset);
    const blobLength = data.readUInt32BE(offset + 4);
    if (blobLength < 8 || offset + blobLength > length) throw new FormatError('macho', `SuperBlob entry ${i} overruns the SuperBlob`);
    sig.blobs.push({ slot, offset, magic, length: blobLength });
    const blob = data.subarray(offset, offset + blobLength);
    if (slot === CSSLOT_CODEDIRECTORY || (slot >= CSSLOT_ALTERNATE_CODEDIRECTORIES && slot < CSSLOT_ALTERNATE_CODEDIRECTORIES + 5)) {
      sig.codeDirectories.push(parseCodeDirectory(blob, slot));
    } else if (slot === CSSLOT_SIGNATURESLOT) {
      sig.cmsSize = blobLength - 8;
    }
  }
  if (!sig.codeDirectories.some((cd) => cd.slot === CSSLOT_CODEDIRECTORY)) throw new FormatError('macho', 'code signature has no CodeDirectory');
  return sig;
}

/** The primary CodeDirectory (slot 0). */
export function primaryCodeDirectory(sig: EmbeddedSignature): CodeDirectory {
  return sig.codeDirectories.find((cd) => cd.slot === CSSLOT_CODEDIRECTORY)!;
}

/**
 * Computes page hashes of a byte stream the way a CodeDirectory does (§3.1: pages from offset 0,
 * the last one partial, nothing past codeLimit). Feed bytes in order with `update`; `finish`
 * returns one hash per page.
 */
export class PageHasher {
  private readonly hashes: Buffer[] = [];
  private current: Hash | undefined;
  private inPage = 0;
  private consumed = 0;
  private pages = 0;

  /** With `onPage`, each page hash is handed over as it completes and not kept (constant memory). */
  constructor(
    private readonly algorithm: string,
    private readonly hashSize: number,
    private readonly pageSize: number,
    private readonly codeLimit: number,
    private readonly onPage?: (index: number, hash: Buffer) => void,
  ) {}

  /** pages completed so far */
  get pageCount(): number {
    return this.pages;
  }

  update(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length && this.consumed < this.codeLimit) {
      if (!this.current) {
        this.current = createHash(this.algorithm);
        this.inPage = 0;
      }
      const pageLeft = this.pageSize === 0 ? Number.MAX_SAFE_INTEGER : this.pageSize - this.inPage;
      const take = Math.min(chunk.length - pos, pageLeft, this.codeLimit - this.consumed);
      this.current.update(chunk.subarray(pos, pos + take));
      pos += take;
      this.inPage += take;
      this.consumed += take;
      if ((this.pageSize !== 0 && this.inPage === this.pageSize) || this.consumed === this.codeLimit) this.closePage();
    }
  }

  private closePage(): void {
    if (!this.current) return;
    const hash = this.current.digest().subarray(0, this.hashSize);
    if (this.onPage) this.onPage(this.pages, hash);
    else this.hashes.push(hash);
    this.pages++;
    this.current = undefined;
  }

  /** page hashes; the input is padded with nothing — a stream shorter than codeLimit yields fewer pages */
  finish(): Buffer[] {
    this.closePage();
    return this.hashes;
  }
}

export function describeCodeDirectory(cd: CodeDirectory): Record<string, unknown> {
  const lastPage = cd.pageSize === 0 ? cd.codeLimit : cd.codeLimit - (cd.nCodeSlots - 1) * cd.pageSize;
  return {
    slot: cd.slot,
    version: `0x${cd.version.toString(16)}`,
    flags: `0x${cd.flags.toString(16)}`,
    adhoc: (cd.flags & 0x2) !== 0,
    linkerSigned: (cd.flags & 0x20000) !== 0,
    identifier: cd.identifier,
    ...(cd.teamId ? { teamId: cd.teamId } : {}),
    hashType: cd.hashName,
    pageSize: cd.pageSize,
    pageSizeLog2: cd.pageSizeLog2,
    codeLimit: cd.codeLimit,
    pages: cd.nCodeSlots,
    lastPageSize: lastPage,
    partialLastPage: cd.pageSize !== 0 && lastPage !== cd.pageSize,
  };
}
