/**
 * Reading zip, tar and tar.gz archives entry by entry, streaming and bounded: each entry's content
 * is hashed (never held in memory), its metadata recorded, and selected entries can be extracted
 * to files with generated names (never the entry's own name, so a crafted name cannot write
 * outside the scratch directory — and such names are refused anyway).
 *
 * Bounds (untrusted input): entry count, total uncompressed bytes (declared and actual), per-entry
 * compression ratio for zip (deflate cannot exceed ~1032:1, so anything above is a crafted entry),
 * and the total output of gunzip for tar.gz.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createGunzip } from 'node:zlib';
import * as yauzl from 'yauzl';
import * as tar from 'tar-stream';
import { FormatError } from '../../base/errors';
import { copyAndHash, LimitError } from '../digest';
import type { ArchiveKind } from './detect';
import { readAt, readHead } from '../compare/read-at';
import { open } from 'node:fs/promises';

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface ArchiveEntry {
  name: string;
  /** position in the archive */
  index: number;
  type: EntryType;
  size: number;
  /** SHA-256 of the content (files, and link targets' bytes for zip symlinks) */
  sha256?: string;
  /** symlink / hardlink target */
  linkname?: string;
  /** what is not content: times, permissions, owners, compression… compared separately */
  metadata: Record<string, string | number>;
}

export interface ArchiveLimits {
  maxEntries: number;
  /** total uncompressed bytes of all entries */
  maxTotalBytes: number;
  /** zip: refuse entries expanding more than this (uncompressed / compressed), above 1 MiB */
  maxRatio: number;
  /** bytes one extraction may write (per entry) */
  maxEntryBytes: number;
  timeoutMs: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = {
  maxEntries: 100_000,
  maxTotalBytes: 8 * 1024 ** 3,
  maxRatio: 1100,
  maxEntryBytes: 4 * 1024 ** 3,
  timeoutMs: 30 * 60_000,
};

export interface ScannedArchive {
  kind: ArchiveKind;
  entries: ArchiveEntry[];
  /** archive-level metadata (zip comment, gzip header fields) */
  metadata: Record<string, string | number>;
}

/** Refuses names that could escape an extraction directory or mean different things on different systems. */
export function checkEntryName(name: string): void {
  const bad =
    name.length === 0
      ? 'empty name'
      : name.length > 4096
        ? 'name longer than 4096 characters'
        : name.includes('\0')
          ? 'NUL in name'
          : name.includes('\\')
            ? 'backslash in name'
            : name.startsWith('/')
              ? 'absolute path'
              : /^[A-Za-z]:/.test(name)
                ? 'drive-letter path'
                : name.split('/').includes('..')
                  ? '".." path segment'
                  : null;
  if (bad) throw new FormatError('archive', `unsafe archive entry name ${JSON.stringify(name.slice(0, 200))}: ${bad}`);
}

/** Node system errors (I/O) carry `syscall`; everything else a parser throws is about the format. */
function asFormatError(err: unknown, what: string): unknown {
  if (err instanceof FormatError || err instanceof LimitError) return err;
  if (err && typeof err === 'object' && 'syscall' in err) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FormatError('archive', `${what}: ${message}`, { cause: err });
}

/** Node or streamx (tar-stream) readable: async-iterable and destroyable. */
type ByteStream = AsyncIterable<Uint8Array> & { destroy(err?: Error): unknown };

async function hashStream(stream: ByteStream, limit: number, what: string): Promise<{ sha256: string; size: number; crc32: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let crc = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new LimitError('too-large', `${what} exceeds the ${limit}-byte bound`, { limit });
    }
    hash.update(chunk);
    crc = crc32(chunk, crc);
  }
  return { sha256: hash.digest('hex'), size, crc32: crc >>> 0 };
}

// ── zip ────────────────────────────────────────────────────────────────────────────────────────

function zipType(e: yauzl.Entry): EntryType {
  const unixMode = (e.externalFileAttributes >>> 16) & 0o170000;
  if (e.fileName.endsWith('/') || unixMode === 0o040000) return 'directory';
  if (unixMode === 0o120000) return 'symlink';
  if (unixMode === 0 || unixMode === 0o100000) return 'file';
  return 'other';
}

function zipMetadata(e: yauzl.Entry): Record<string, string | number> {
  const m: Record<string, string | number> = {
    mtime: `${e.lastModFileDate.toString(16).padStart(4, '0')}${e.lastModFileTime.toString(16).padStart(4, '0')}`,
    compression: e.compressionMethod,
    compressedSize: e.compressedSize,
    versionMadeBy: e.versionMadeBy,
    externalAttributes: e.externalFileAttributes >>> 0,
  };
  const mode = (e.externalFileAttributes >>> 16) & 0o7777;
  if (e.versionMadeBy >>> 8 === 3) m.mode = mode.toString(8);
  if (e.extraFields.length) m.extraFields = e.extraFields.map((f) => `0x${f.id.toString(16)}:${f.data.toString('hex')}`).join(',');
  if (e.fileComment) m.comment = e.fileComment;
  return m;
}

async function openZip(path: string): Promise<yauzl.ZipFile> {
  try {
    return await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: true });
  } catch (err) {
    throw asFormatError(err, 'not a readable zip archive');
  }
}

/**
 * The local header must agree with the central directory entry: same name (raw bytes) and method.
 * yauzl reads names from the central directory only and a local header only when it opens the
 * data, so a zip whose local headers name other files (or are not local headers at all) would
 * otherwise read as the rebuild here while a streaming unzipper sees something else (found by
 * `npm run fuzz`). Checked for every entry, directories and empty files included.
 */
async function checkLocalHeader(zip: yauzl.ZipFile, e: yauzl.Entry): Promise<[number, number]> {
  const local = await zip.readLocalFileHeaderPromise(e);
  if (!Buffer.from(local.fileName).equals(e.fileNameRaw)) {
    throw new FormatError(
      'archive',
      `zip entry ${e.fileName}: its local header names "${Buffer.from(local.fileName).toString('latin1').slice(0, 200)}" (local header and central directory disagree)`,
    );
  }
  if (local.compressionMethod !== e.compressionMethod) {
    throw new FormatError(
      'archive',
      `zip entry ${e.fileName}: compression method ${local.compressionMethod} in the local header, ${e.compressionMethod} in the central directory`,
    );
  }
  // without a data descriptor (flag bit 3) the local header carries CRC and sizes: a streaming
  // reader uses those, so they must be the central directory's
  if (
    !(local.generalPurposeBitFlag & 8) &&
    (local.crc32 !== e.crc32 || local.compressedSize !== e.compressedSize || local.uncompressedSize !== e.uncompressedSize)
  ) {
    throw new FormatError('archive', `zip entry ${e.fileName}: CRC-32 or sizes in the local header differ from the central directory`);
  }
  if (e.fileName.endsWith('/') && (e.uncompressedSize !== 0 || e.crc32 !== 0))
    throw new FormatError('archive', `zip directory entry ${e.fileName} carries data`);
  return [e.relativeOffsetOfLocalHeader, local.fileDataStart + e.compressedSize];
}

/**
 * The end record's central-directory offset and size, located as yauzl locates it (the last
 * signature whose comment reaches the end of the file). yauzl reads the directory by entry count
 * and ignores its recorded size; readers that use the size (Python's zipfile derives the offset of
 * prepended data from it) would read another directory, so the size must be exact and the directory
 * must end where the end record begins (found by `npm run fuzz`). Zip64 values are left to yauzl.
 */
async function zipDirectoryBounds(path: string): Promise<{ offset: number; size: number; eocd: number } | undefined> {
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const tailLength = Math.min(fileSize, 22 + 0xffff);
    const tail = await readAt(handle, fileSize - tailLength, tailLength);
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) !== 0x06054b50 || i + 22 + tail.readUInt16LE(i + 20) !== tail.length) continue;
      const size = tail.readUInt32LE(i + 12);
      const offset = tail.readUInt32LE(i + 16);
      if (size === 0xffffffff || offset === 0xffffffff) return undefined;
      // one disk: disk numbers zero, the entries on this disk are all the entries
      if (tail.readUInt16LE(i + 4) !== 0 || tail.readUInt16LE(i + 6) !== 0 || tail.readUInt16LE(i + 8) !== tail.readUInt16LE(i + 10)) {
        throw new FormatError('archive', 'zip end record describes a multi-disk archive (disk numbers or per-disk entry count)');
      }
      return { offset, size, eocd: fileSize - tailLength + i };
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

function checkZipEntry(e: yauzl.Entry, limits: ArchiveLimits): void {
  checkEntryName(e.fileName);
  if (e.uncompressedSize > 1024 * 1024 && e.uncompressedSize > e.compressedSize * limits.maxRatio) {
    throw new LimitError(
      'too-large',
      `zip entry ${e.fileName} expands ${Math.round(e.uncompressedSize / Math.max(1, e.compressedSize))}× (bound ${limits.maxRatio}×): refused as a zip bomb`,
    );
  }
}

async function scanZip(path: string, limits: ArchiveLimits): Promise<ScannedArchive> {
  const zip = await openZip(path);
  try {
    if (zip.entryCount > limits.maxEntries) throw new LimitError('too-large', `zip has ${zip.entryCount} entries (bound ${limits.maxEntries})`);
    const entries: ArchiveEntry[] = [];
    /** [local header, end of data) of each entry: they may not overlap one another or the directory */
    const spans: Array<[number, number]> = [];
    let total = 0;
    for await (const e of zip.eachEntry()) {
      checkZipEntry(e, limits);
      total += e.uncompressedSize;
      if (total > limits.maxTotalBytes) throw new LimitError('too-large', `zip expands to more than ${limits.maxTotalBytes} bytes: refused`);
      const type = zipType(e);
      const entry: ArchiveEntry = { name: e.fileName, index: entries.length, type, size: e.uncompressedSize, metadata: zipMetadata(e) };
      spans.push(await checkLocalHeader(zip, e));
      if (type !== 'directory') {
        const raw = !e.canDecodeFileData();
        if (raw) entry.metadata.rawCompared = `method ${e.compressionMethod}${e.isEncrypted() ? ', encrypted' : ''}`;
        const stream = await zip.openReadStreamPromise(e, raw ? { decodeFileData: false } : {});
        const digest = await hashStream(stream, raw ? e.compressedSize : e.uncompressedSize, `zip entry ${e.fileName}`);
        // yauzl does not check CRC-32; unzip does, so a wrong one is a broken archive, not a match
        if (!raw && digest.crc32 !== e.crc32 >>> 0) {
          throw new FormatError(
            'archive',
            `zip entry ${e.fileName}: CRC-32 ${digest.crc32.toString(16).padStart(8, '0')} of its content, ${(e.crc32 >>> 0).toString(16).padStart(8, '0')} recorded`,
          );
        }
        entry.sha256 = digest.sha256; // for a zip symlink, the content is its target
      }
      entries.push(entry);
    }
    const bounds = await zipDirectoryBounds(path);
    const cursor = (zip as unknown as { readEntryCursor: number }).readEntryCursor;
    if (bounds && (bounds.offset + bounds.size !== bounds.eocd || cursor !== bounds.eocd)) {
      throw new FormatError(
        'archive',
        `zip central directory: recorded at ${bounds.offset} with ${bounds.size} bytes, its entries end at ${cursor}, the end record is at ${bounds.eocd} (they must agree)`,
      );
    }
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < spans.length; i++) {
      const limit = i + 1 < spans.length ? spans[i + 1]![0] : (bounds?.offset ?? Infinity);
      if (spans[i]![1] > limit) throw new FormatError('archive', `zip entries overlap (the data of the entry at ${spans[i]![0]} runs past ${limit})`);
    }
    const metadata: Record<string, string | number> = {};
    if (zip.comment) metadata.comment = zip.comment;
    return { kind: 'zip', entries, metadata };
  } catch (err) {
    throw asFormatError(err, 'zip archive unreadable');
  } finally {
    zip.close();
  }
}

async function extractZip(path: string, wanted: Map<string, string>, limits: ArchiveLimits): Promise<void> {
  const zip = await openZip(path);
  try {
    for await (const e of zip.eachEntry()) {
      const dest = wanted.get(e.fileName);
      if (!dest) continue;
      checkZipEntry(e, limits);
      if (!e.canDecodeFileData()) throw new FormatError('archive', `zip entry ${e.fileName} cannot be decompressed`);
      const stream = await zip.openReadStreamPromise(e);
      await copyAndHash(stream, dest, { maxBytes: limits.maxEntryBytes, timeoutMs: limits.timeoutMs });
    }
  } catch (err) {
    throw asFormatError(err, 'zip archive unreadable');
  } finally {
    zip.close();
  }
}

// ── tar / tar.gz ───────────────────────────────────────────────────────────────────────────────

/** Counts bytes through a stream and fails past a bound (gunzip output of a tar.gz). */
class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) cb(new LimitError('too-large', `archive expands to more than ${this.limit} bytes: refused`));
    else cb(null, chunk);
  }
}

function tarType(t: tar.Header['type']): EntryType {
  switch (t) {
    case 'file':
    case 'contiguous-file':
    case undefined:
    case null:
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    default:
      return 'other';
  }
}

/** Reads the gzip member header fields that are metadata (mtime, OS, stored name). */
function gzipHeaderMetadata(head: Buffer): Record<string, string | number> {
  if (head.length < 10) return {};
  const m: Record<string, string | number> = { gzipMtime: head.readUInt32LE(4), gzipOs: head[9]!, gzipFlags: head[3]! };
  const flags = head[3]!;
  let off = 10;
  if (flags & 4 && off + 2 <= head.length) off += 2 + head.readUInt16LE(off);
  if (flags & 8 && off < head.length) {
    const end = head.indexOf(0, off);
    if (end > off) m.gzipName = head.toString('latin1', off, Math.min(end, off + 256));
  }
  return m;
}

/**
 * A tar number field as GNU tar reads it: leading spaces, octal digits, then the field's end or a
 * NUL/space (what follows that terminator is ignored); or GNU base-256.
 */
function tarNumber(h: Buffer, at: number, len: number): number | undefined {
  if (h[at]! & 0x80) {
    let n = 0;
    for (let i = at + 1; i < at + len; i++) n = n * 256 + h[i]!;
    return h[at] === 0x80 && Number.isSafeInteger(n) ? n : undefined;
  }
  const m = /^ *([0-7]*)(?:[ \0]|$)/.exec(h.toString('latin1', at, at + len));
  return m ? (m[1] ? parseInt(m[1], 8) : 0) : undefined;
}

/**
 * Walks the raw tar stream beside tar-stream and holds it to the layout GNU tar reads: every header
 * with well-formed number fields and a right checksum, the data in whole blocks after it, an
 * all-zero block at the end and nothing but zeros after that. tar-stream parses numbers up to the
 * first odd character and skips non-zero blocks that begin with NUL, so without this a header with
 * junk in its checksum field or an "end" block with data read as the rebuild here and as broken to
 * GNU tar (found by `npm run fuzz`).
 */
class TarLayoutAudit extends Transform {
  private pos = 0;
  private nextHeader = 0;
  private ended = false;
  private header = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.audit(chunk);
      cb(null, chunk);
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    if (!this.ended) cb(new FormatError('archive', 'tar ends without an end-of-archive (all-zero) block'));
    else cb();
  }

  private audit(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.ended) {
        const nz = chunk.subarray(i).findIndex((b) => b !== 0);
        if (nz !== -1) throw new FormatError('archive', `tar has data after its end-of-archive block (at ${this.pos + nz})`);
        this.pos += chunk.length - i;
        return;
      }
      if (this.pos < this.nextHeader) {
        const skip = Math.min(chunk.length - i, this.nextHeader - this.pos);
        i += skip;
        this.pos += skip;
        continue;
      }
      const take = Math.min(chunk.length - i, 512 - this.header.length);
      this.header = Buffer.concat([this.header, chunk.subarray(i, i + take)]);
      i += take;
      this.pos += take;
      if (this.header.length < 512) continue;
      const h = this.header;
      this.header = Buffer.alloc(0);
      if (h.every((b) => b === 0)) {
        this.ended = true;
        continue;
      }
      const at = this.pos - 512;
      const checksum = tarNumber(h, 148, 8);
      let unsigned = 0;
      let signed = 0;
      for (let k = 0; k < 512; k++) {
        const v = k >= 148 && k < 156 ? 0x20 : h[k]!;
        unsigned += v;
        signed += v > 127 ? v - 256 : v;
      }
      if (checksum === undefined || (checksum !== unsigned && checksum !== signed))
        throw new FormatError('archive', `tar header at ${at}: checksum field malformed or wrong`);
      const size = tarNumber(h, 124, 12);
      if (size === undefined) throw new FormatError('archive', `tar header at ${at}: size field malformed`);
      this.nextHeader = this.pos + Math.ceil(size / 512) * 512;
    }
  }
}

async function walkTar(
  path: string,
  gz: boolean,
  limits: ArchiveLimits,
  onEntry: (header: tar.Header, stream: ByteStream, index: number) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  const stages: NodeJS.ReadWriteStream[] = gz ? [createGunzip()] : [];
  const source = createReadStream(path);
  const feeding = pipeline(
    source,
    ...(stages as [NodeJS.ReadWriteStream]),
    new ByteLimit(limits.maxTotalBytes + 1024 * 1024 + limits.maxEntries * 1536),
    new TarLayoutAudit(),
    extract,
  );
  // iteration and feeding run together; either failing fails both
  const feedingResult = feeding.then(
    () => null,
    (err: unknown) => err,
  );
  let index = 0;
  let total = 0;
  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (index >= limits.maxEntries) throw new LimitError('too-large', `tar has more than ${limits.maxEntries} entries`);
      checkEntryName(header.name);
      total += header.size ?? 0;
      if (total > limits.maxTotalBytes) throw new LimitError('too-large', `tar expands to more than ${limits.maxTotalBytes} bytes: refused`);
      await onEntry(header, entry as unknown as ByteStream, index);
      entry.resume(); // drain what the callback did not read
      index++;
    }
  } catch (err) {
    extract.destroy();
    source.destroy();
    const fed = await feedingResult;
    throw asFormatError(err instanceof LimitError || err instanceof FormatError || !fed ? err : fed, 'tar archive unreadable');
  }
  const fed = await feedingResult;
  if (fed) throw asFormatError(fed, 'tar archive unreadable');
}

async function scanTar(path: string, gz: boolean, limits: ArchiveLimits): Promise<ScannedArchive> {
  const entries: ArchiveEntry[] = [];
  await walkTar(path, gz, limits, async (h, stream, index) => {
    const type = tarType(h.type);
    const metadata: Record<string, string | number> = {};
    if (h.mode !== undefined) metadata.mode = h.mode.toString(8);
    if (h.mtime) metadata.mtime = h.mtime.toISOString();
    if (h.uid !== undefined) metadata.uid = h.uid;
    if (h.gid !== undefined) metadata.gid = h.gid;
    if (h.uname) metadata.uname = h.uname;
    if (h.gname) metadata.gname = h.gname;
    const entry: ArchiveEntry = { name: h.name, index, type, size: h.size ?? 0, metadata };
    if (type === 'symlink' || type === 'hardlink') entry.linkname = h.linkname ?? '';
    if (type === 'other') entry.linkname = `${h.type ?? 'unknown'} ${h.devmajor ?? 0}:${h.devminor ?? 0}`;
    if (type === 'file') entry.sha256 = (await hashStream(stream, h.size ?? 0, `tar entry ${h.name}`)).sha256;
    entries.push(entry);
  });
  let metadata: Record<string, string | number> = {};
  if (gz) metadata = gzipHeaderMetadata(await readHead(path, 512));
  return { kind: gz ? 'tar.gz' : 'tar', entries, metadata };
}

async function extractTar(path: string, gz: boolean, wanted: Map<string, string>, limits: ArchiveLimits): Promise<void> {
  await walkTar(path, gz, limits, async (h, stream) => {
    const dest = wanted.get(h.name);
    if (dest && tarType(h.type) === 'file') await copyAndHash(stream, dest, { maxBytes: limits.maxEntryBytes, timeoutMs: limits.timeoutMs });
  });
}

// ── entry points ───────────────────────────────────────────────────────────────────────────────

export async function scanArchive(path: string, kind: ArchiveKind, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS): Promise<ScannedArchive> {
  const scanned = kind === 'zip' ? await scanZip(path, limits) : await scanTar(path, kind === 'tar.gz', limits);
  const seen = new Set<string>();
  for (const e of scanned.entries) {
    const key = e.name.replace(/\/+$/, '');
    if (seen.has(key)) throw new FormatError('archive', `archive has more than one entry named ${JSON.stringify(e.name)}`);
    seen.add(key);
  }
  return scanned;
}

/** Extracts the entries named in `wanted` (entry name → destination file). */
export async function extractEntries(
  path: string,
  kind: ArchiveKind,
  wanted: Map<string, string>,
  limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
): Promise<void> {
  if (wanted.size === 0) return;
  if (kind === 'zip') await extractZip(path, wanted, limits);
  else await extractTar(path, kind === 'tar.gz', wanted, limits);
}
