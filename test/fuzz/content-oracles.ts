/**
 * Independent readers for the content oracles of the comparer fuzz: what a zip, tar, tar.gz or MSI
 * holds, read without the project's parsers (written from the formats' specifications: APPNOTE
 * 6.3.x for zip, POSIX ustar / GNU tar for tar, RFC 1952 via zlib for gzip; the `cfb` package for
 * MSI). Strict where tools disagree — a zip whose local header names another file than its central
 * directory entry, a CRC that does not match — because such a file is not the same content to
 * every reader. `undefined` = not readable as that format.
 *
 * The content of an archive is what the archive comparer documents as content: entry names, types,
 * file bytes and link targets — not order, times, modes, owners, compression or extra fields.
 */
import CFB from 'cfb';
import { createHash } from 'node:crypto';
import { gunzipSync, inflateRawSync } from 'node:zlib';

export type ContentModel = Map<string, string>;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const key = (name: string) => name.replace(/\/+$/, '');

function sameModel(a: ContentModel | undefined, b: ContentModel | undefined): boolean {
  if (!a || !b || a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

// ------------------------------------------------------------------------------------------ zip
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function zipContent(bytes: Uint8Array): ContentModel | undefined {
  try {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // the end record: the last "PK\5\6" whose comment reaches exactly the end of the file
    let eocd = -1;
    for (let at = b.length - 22; at >= Math.max(0, b.length - 22 - 0xffff); at--) {
      if (b.readUInt32LE(at) === 0x06054b50 && at + 22 + b.readUInt16LE(at + 20) === b.length) {
        eocd = at;
        break;
      }
    }
    if (eocd < 0) return undefined;
    if (b.readUInt16LE(eocd + 4) !== 0 || b.readUInt16LE(eocd + 6) !== 0) return undefined; // one disk
    const count = b.readUInt16LE(eocd + 10);
    if (b.readUInt16LE(eocd + 8) !== count) return undefined;
    const cdSize = b.readUInt32LE(eocd + 12);
    const cdOffset = b.readUInt32LE(eocd + 16);
    if (cdOffset + cdSize !== eocd) return undefined;
    const model: ContentModel = new Map();
    let at = cdOffset;
    for (let i = 0; i < count; i++) {
      if (b.readUInt32LE(at) !== 0x02014b50) return undefined;
      const madeBy = b.readUInt16LE(at + 4) >> 8;
      const flags = b.readUInt16LE(at + 8);
      const method = b.readUInt16LE(at + 10);
      const crc = b.readUInt32LE(at + 16);
      const csize = b.readUInt32LE(at + 20);
      const usize = b.readUInt32LE(at + 24);
      const nlen = b.readUInt16LE(at + 28);
      const elen = b.readUInt16LE(at + 30);
      const clen = b.readUInt16LE(at + 32);
      const external = b.readUInt32LE(at + 38);
      const local = b.readUInt32LE(at + 42);
      const name = b.toString('latin1', at + 46, at + 46 + nlen);
      at += 46 + nlen + elen + clen;
      if (at > cdOffset + cdSize || flags & 1) return undefined; // past the directory; encrypted
      // the local header must name the same file and use the same method
      if (b.readUInt32LE(local) !== 0x04034b50) return undefined;
      if (b.readUInt16LE(local + 8) !== method) return undefined;
      // no data descriptor: the local CRC and sizes are what a streaming reader uses
      if (
        !(b.readUInt16LE(local + 6) & 8) &&
        (b.readUInt32LE(local + 14) !== crc || b.readUInt32LE(local + 18) !== csize || b.readUInt32LE(local + 22) !== usize)
      )
        return undefined;
      const lnlen = b.readUInt16LE(local + 26);
      const lelen = b.readUInt16LE(local + 28);
      if (b.toString('latin1', local + 30, local + 30 + lnlen) !== name) return undefined;
      const dataAt = local + 30 + lnlen + lelen;
      if (dataAt + csize > cdOffset) return undefined;
      const raw = b.subarray(dataAt, dataAt + csize);
      const data = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : undefined;
      if (!data || data.length !== usize || crc32(data) !== crc) return undefined;
      const mode = external >>> 16;
      const type = name.endsWith('/') ? 'directory' : madeBy === 3 && (mode & 0o170000) === 0o120000 ? 'symlink' : 'file';
      if (model.has(key(name))) return undefined;
      model.set(key(name), `${type}:${type === 'directory' ? '' : sha(data)}`);
    }
    if (at !== cdOffset + cdSize) return undefined;
    return model;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------ tar
function octal(b: Buffer, at: number, len: number): number | undefined {
  if (b[at]! & 0x80) return undefined; // base-256: not in these fixtures
  // as GNU tar: leading spaces, octal digits, then the end of the field or a NUL/space terminator
  const m = /^ *([0-7]*)(?:[ \0]|$)/.exec(b.toString('latin1', at, at + len));
  return m ? (m[1] ? parseInt(m[1], 8) : 0) : undefined;
}
const cstr = (b: Buffer, at: number, len: number) => {
  const s = b.subarray(at, at + len);
  const nul = s.indexOf(0);
  return s.toString('utf8', 0, nul === -1 ? len : nul);
};

/** A tar's entries; reading stops at the first all-zero block (as GNU tar does without -i). */
export function tarContent(bytes: Uint8Array): ContentModel | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const model: ContentModel = new Map();
  let at = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    if (at + 512 > b.length) return undefined; // no end-of-archive block
    const h = b.subarray(at, at + 512);
    if (h.every((x) => x === 0)) return model;
    const checksum = octal(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (checksum === undefined || checksum !== sum) return undefined;
    const size = octal(h, 124, 12);
    if (size === undefined) return undefined;
    const type = String.fromCharCode(h[156]!);
    const ustar = h.toString('latin1', 257, 262) === 'ustar';
    const prefix = ustar && h.toString('latin1', 257, 263) === 'ustar\0' ? cstr(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    const link = longLink ?? cstr(h, 157, 100);
    const dataAt = at + 512;
    const next = dataAt + Math.ceil(size / 512) * 512;
    if (next > b.length) return undefined;
    const data = b.subarray(dataAt, dataAt + size);
    at = next;
    if (type === 'L' || type === 'K') {
      const text = data.toString('utf8').replace(/\0+$/, '');
      if (type === 'L') longName = text;
      else longLink = text;
      continue;
    }
    longName = undefined;
    longLink = undefined;
    let entry: string;
    if (type === '0' || type === '\0' || type === '7') entry = `file:${sha(data)}`;
    else if (type === '5') entry = 'directory:';
    else if (type === '2') entry = `symlink:${link}`;
    else if (type === '1') entry = `hardlink:${link}`;
    else return undefined; // pax headers, devices, FIFOs: not in these fixtures
    if (type === '5' && !name.endsWith('/')) name += '/';
    if (model.has(key(name))) return undefined;
    model.set(key(name), entry);
  }
}

export function tarGzContent(bytes: Uint8Array): ContentModel | undefined {
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: 64 * 1024 * 1024 });
  } catch {
    return undefined;
  }
  return tarContent(tar);
}

// ------------------------------------------------------------------------------------------ MSI
const SIGNATURE_STREAMS = new Set(['\u0005DigitalSignature', '\u0005MsiDigitalSignatureEx']);

/**
 * What the MSI Authenticode digest covers (signatures.md §2): every stream's name and bytes and
 * every storage's CLSID, the signature streams excepted — read with the `cfb` package. The
 * DigitalSignature stream is returned apart, so that an oracle can check the digest it carries.
 */
/**
 * [MS-CFB] 2.6.3: a free directory entry (type 0) holds nothing — it "must" be zeros with NOSTREAM
 * links, but what it holds is no stream, name or CLSID. The cfb package trips over non-canonical
 * free entries, so they are put in canonical form first (walking the directory's FAT chain).
 */
function canonicalFreeEntries(bytes: Uint8Array): Buffer {
  const b = Buffer.from(bytes);
  const shift = b.readUInt16LE(30);
  if (shift !== 9 && shift !== 12) return b;
  const size = 1 << shift;
  const sectorAt = (n: number) => (n + 1) * size;
  const fatSectors: number[] = [];
  for (let i = 0; i < 109; i++) {
    const s = b.readUInt32LE(76 + i * 4);
    if (s >= 0xfffffffa) break;
    fatSectors.push(s);
  }
  const fat = (n: number): number => {
    const per = size / 4;
    const fs = fatSectors[Math.floor(n / per)];
    if (fs === undefined || sectorAt(fs) + size > b.length) return 0xfffffffe;
    return b.readUInt32LE(sectorAt(fs) + (n % per) * 4);
  };
  const seen = new Set<number>();
  for (let s = b.readUInt32LE(48); s < 0xfffffffa && !seen.has(s) && seen.size < 4096; s = fat(s)) {
    seen.add(s);
    const at = sectorAt(s);
    if (at + size > b.length) break;
    for (let e = at; e < at + size; e += 128) {
      if (b[e + 0x42] !== 0) continue;
      b.fill(0, e, e + 128);
      b.fill(0xff, e + 0x44, e + 0x50);
    }
  }
  return b;
}

export function msiContent(bytes: Uint8Array): { model: ContentModel; signature?: Buffer } | undefined {
  try {
    const c = CFB.read(canonicalFreeEntries(bytes), { type: 'buffer' });
    const model: ContentModel = new Map();
    let signature: Buffer | undefined;
    c.FileIndex.forEach((e, i) => {
      const path = c.FullPaths[i]!;
      if (e.type === 2) {
        const content = Buffer.from((e.content ?? []) as Uint8Array);
        if (SIGNATURE_STREAMS.has(e.name)) {
          if (e.name === '\u0005DigitalSignature') signature = content;
          else model.set(path, `signatureEx:${sha(content)}`);
        } else model.set(path, `stream:${sha(content)}`);
      } else if (e.type === 1 || e.type === 5) model.set(path, `storage:${(e.clsid ?? '').toLowerCase()}`);
    });
    return { model, signature };
  } catch {
    return undefined;
  }
}

export { sameModel };
