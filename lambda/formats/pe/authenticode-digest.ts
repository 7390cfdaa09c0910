/**
 * The Authenticode digest of a PE file, streamed in constant memory, and the strict reading of its
 * certificate table (WIN_CERTIFICATE).
 *
 * Digest (osslsigncode `pe_digest_calc_bio`, signatures.md §1.2): hash [0, end) skipping the 4-byte
 * CheckSum and the 8-byte certificate-table directory entry; `end` is the certificate table's offset
 * when signed, else the file size; an unsigned file whose size is not a multiple of 8 is hashed as if
 * padded with zeros to 8.
 *
 * The Microsoft spec hashes headers + sections + "extra data" instead; both agree on normal linker
 * output but not on crafted layouts, so crafted layouts are rejected here rather than picking a rule
 * (§1.2, §1.3, §9.5): a table that does not end at EOF, overlaps the image, holds more than one
 * WIN_CERTIFICATE, has non-zero padding or bytes after the PKCS#7 DER (MS13-098 / CVE-2013-3900).
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { FormatError } from '../../base/errors';
import { forEachChunk } from './chunks';
import { parsePe, readExactly, type PeLayout } from './parse';

export type AuthenticodeHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';
export const AUTHENTICODE_HASHES: readonly AuthenticodeHash[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/** Signatures are a few KiB; a bigger table is refused rather than buffered. */
export const MAX_CERTIFICATE_TABLE = 16 * 1024 * 1024;
const WIN_CERT_REVISION_2_0 = 0x0200;
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

export interface CertificateTable {
  /** file offset of the table (= where the Authenticode digest stops) */
  offset: number;
  /** table size from the directory entry; offset + size = file size */
  size: number;
  /** WIN_CERTIFICATE.dwLength (may or may not include the alignment padding) */
  dwLength: number;
  /** the PKCS#7 ContentInfo, exactly its own DER length */
  pkcs7: Buffer;
  /** zero bytes after the DER up to the end of the table (0–7) */
  trailingZeros: number;
}

function craft(message: string): FormatError {
  return new FormatError('authenticode', message);
}

/** True when the directory entry says the file carries a certificate table. */
export function isSigned(layout: PeLayout): boolean {
  return !!layout.certTable && (layout.certTable.offset !== 0 || layout.certTable.size !== 0);
}

/**
 * Reads and validates the certificate table. Returns null for an unsigned file (empty directory
 * entry); throws FormatError (code FORMAT_AUTHENTICODE) for every malformed or crafted layout.
 */
export async function readCertificateTable(fh: FileHandle, layout: PeLayout): Promise<CertificateTable | null> {
  if (layout.certDirOffset === undefined || !layout.certTable) {
    throw craft(`PE has ${layout.numberOfRvaAndSizes} data directories, fewer than the 5 an Authenticode signature needs`);
  }
  if (!isSigned(layout)) return null;
  const { offset, size } = layout.certTable;
  if (offset === 0 || size === 0) throw craft(`certificate table entry is half-empty (offset ${offset}, size ${size})`);
  if (offset % 8 !== 0) throw craft(`certificate table offset ${offset} is not 8-byte aligned`);
  if (offset < layout.endOfImageData || offset < layout.sizeOfHeaders) {
    throw craft(`certificate table at ${offset} overlaps the headers or sections (image data ends at ${layout.endOfImageData})`);
  }
  if (offset + size > layout.fileSize) throw craft(`certificate table [${offset}, ${offset + size}) extends past the end of the file (${layout.fileSize})`);
  if (offset + size !== layout.fileSize) {
    throw craft(`${layout.fileSize - offset - size} bytes follow the certificate table; the signature must be the last part of the file`);
  }
  if (size < 8 || size % 8 !== 0) throw craft(`certificate table size ${size} is not a positive multiple of 8`);
  if (size > MAX_CERTIFICATE_TABLE) throw craft(`certificate table of ${size} bytes exceeds the ${MAX_CERTIFICATE_TABLE}-byte limit`);

  const table = await readExactly(fh, offset, size, 'certificate table');
  const dwLength = table.readUInt32LE(0);
  const revision = table.readUInt16LE(4);
  const type = table.readUInt16LE(6);
  if (revision !== WIN_CERT_REVISION_2_0) throw craft(`WIN_CERTIFICATE revision 0x${revision.toString(16)} (expected 0x0200)`);
  if (type !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) throw craft(`WIN_CERTIFICATE type ${type} is not PKCS#7 SignedData (2)`);
  if (dwLength <= 8 || dwLength > size) throw craft(`WIN_CERTIFICATE length ${dwLength} does not fit the ${size}-byte table`);
  if (roundUp8(dwLength) !== size) {
    throw craft(`${size - roundUp8(dwLength)} bytes follow the first WIN_CERTIFICATE: more than one certificate entry or appended data`);
  }
  const derLength = derTotalLength(table, 8);
  if (derLength === undefined) throw craft('WIN_CERTIFICATE does not hold a DER SEQUENCE with a definite length');
  if (8 + derLength > dwLength) throw craft(`PKCS#7 (${derLength} bytes) is longer than its WIN_CERTIFICATE (${dwLength - 8} bytes)`);
  const trailing = table.subarray(8 + derLength);
  if (trailing.length >= 8 || trailing.some((b) => b !== 0)) {
    throw craft(`${trailing.length} bytes after the PKCS#7 inside the certificate table are not alignment padding (MS13-098)`);
  }
  return { offset, size, dwLength, pkcs7: Buffer.from(table.subarray(8, 8 + derLength)), trailingZeros: trailing.length };
}

function roundUp8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Total length (tag + length + content) of the DER SEQUENCE at `at`, or undefined if not one. */
export function derTotalLength(buf: Uint8Array, at: number): number | undefined {
  if (at + 2 > buf.length || buf[at] !== 0x30) return undefined;
  const first = buf[at + 1];
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || at + 2 + n > buf.length) return undefined; // 0x80 = indefinite (BER), refused
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
  return 2 + n + len;
}

/** The [start, end) ranges of the file that the Authenticode digest covers (before any virtual padding). */
export function digestedRanges(layout: PeLayout): { ranges: Array<[number, number]>; end: number; zeroPad: number } {
  if (layout.certDirOffset === undefined) {
    throw craft(`PE has ${layout.numberOfRvaAndSizes} data directories, fewer than the 5 an Authenticode signature needs`);
  }
  const signed = isSigned(layout);
  const end = signed ? layout.certTable!.offset : layout.fileSize;
  if (end > layout.fileSize) throw craft(`certificate table offset ${end} is past the end of the file`);
  const skips: Array<[number, number]> = [
    [layout.checksumOffset, layout.checksumOffset + 4],
    [layout.certDirOffset, layout.certDirOffset + 8],
  ].sort((a, b) => a[0] - b[0]) as Array<[number, number]>;
  if (skips[0][1] > skips[1][0]) throw craft('CheckSum and certificate directory entry overlap');
  if (skips[1][1] > end) throw craft('the headers extend past the digested part of the file');
  const ranges: Array<[number, number]> = [
    [0, skips[0][0]],
    [skips[0][1], skips[1][0]],
    [skips[1][1], end],
  ];
  const zeroPad = !signed && layout.fileSize % 8 !== 0 ? 8 - (layout.fileSize % 8) : 0;
  return { ranges: ranges.filter(([a, b]) => b > a), end, zeroPad };
}

/**
 * Computes the Authenticode digest(s) of an open PE in one streaming pass. Does not validate the
 * certificate table (use readCertificateTable first); it only needs the layout.
 */
export async function computeAuthenticodeDigest(
  fh: FileHandle,
  layout: PeLayout,
  algorithms: readonly AuthenticodeHash[] = ['sha256'],
): Promise<Record<AuthenticodeHash, Buffer>> {
  const { ranges, zeroPad } = digestedRanges(layout);
  const hashes: Array<[AuthenticodeHash, Hash]> = [...new Set(algorithms)].map((a) => [a, createHash(a)]);
  for (const [start, end] of ranges) {
    await forEachChunk(fh, start, end, (bytes) => {
      for (const [, h] of hashes) h.update(bytes);
    });
  }
  if (zeroPad) for (const [, h] of hashes) h.update(Buffer.alloc(zeroPad));
  const out = {} as Record<AuthenticodeHash, Buffer>;
  for (const [a, h] of hashes) out[a] = h.digest();
  return out;
}

/** Convenience: the Authenticode digest of the PE at `path`. */
export async function authenticodeDigestOfFile(path: string, algorithm: AuthenticodeHash = 'sha256'): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const layout = await parsePe(fh);
    return (await computeAuthenticodeDigest(fh, layout, [algorithm]))[algorithm];
  } finally {
    await fh.close();
  }
}
