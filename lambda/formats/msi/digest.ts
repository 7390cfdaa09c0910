/**
 * The Authenticode digest of an MSI (signatures.md §2; osslsigncode msi.c `msi_hash_dir`):
 * recurse through the storages; in each, visit the children sorted by `memcmp` over their raw
 * UTF-16LE names (terminator included, compared over the shorter length; on a tie the longer name
 * first); hash every non-empty stream's bytes; after a storage's children hash its 16-byte CLSID
 * (root included); at the root only, skip \x05DigitalSignature and \x05MsiDigitalSignatureEx.
 *
 * The container is read with our bounded CFB reader (cfb.ts explains why not the `cfb` package);
 * stream data is streamed through the hash, so memory stays small whatever the MSI's size.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { FormatError } from '../../base/errors';
import type { AuthenticodeHash } from '../pe/authenticode-digest';
import { decodeMsiName, isCfb, openCfb, type CfbEntry, type CfbFile } from './cfb';

export { isCfb };

const DIGITAL_SIGNATURE = Buffer.from('\u0005DigitalSignature\u0000', 'utf16le');
const DIGITAL_SIGNATURE_EX = Buffer.from('\u0005MsiDigitalSignatureEx\u0000', 'utf16le');
const MAXREGSECT = 0xfffffffa;
/** A PKCS#7 signature stream larger than this is refused. */
const MAX_SIGNATURE_BYTES = 16 * 1024 * 1024;

/** osslsigncode `dirent_cmp_hash`. */
export function compareMsiNames(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  const diff = Buffer.compare(a.subarray(0, n), b.subarray(0, n));
  if (diff !== 0) return diff;
  return a.length > b.length ? -1 : 1;
}

function isSignatureStream(entry: CfbEntry): boolean {
  return entry.rawName.equals(DIGITAL_SIGNATURE) || entry.rawName.equals(DIGITAL_SIGNATURE_EX);
}

/** One item in hashing order: a stream's content or a storage's CLSID, for explaining differences. */
export interface MsiItem {
  /** decoded path, e.g. "!_Tables" or "Binary.icon/…"; "(root)" for the root storage's CLSID */
  path: string;
  kind: 'stream' | 'clsid';
  size: number;
  sha256: string;
}

export interface MsiScan {
  digests: Partial<Record<AuthenticodeHash, Buffer>>;
  items: MsiItem[];
}

export interface MsiFile {
  /** the root \x05DigitalSignature stream (DER PKCS#7), when signed */
  signature?: Buffer;
  /** the root \x05MsiDigitalSignatureEx stream exists (metadata pre-hash — not supported) */
  hasSignatureEx: boolean;
  /** the MSI digest (content hash without the Ex pre-hash) computed from the file */
  digest(algorithm: AuthenticodeHash): Buffer;
  scan: MsiScan;
}

/** Walks the container in osslsigncode's order, feeding the hashes and listing items. */
export async function scanMsi(cfb: CfbFile, algorithms: readonly AuthenticodeHash[]): Promise<MsiScan> {
  const hashes: Array<[AuthenticodeHash, Hash]> = [...new Set(algorithms)].map((a) => [a, createHash(a)]);
  const items: MsiItem[] = [];
  const feed = (bytes: Buffer) => {
    for (const [, h] of hashes) h.update(bytes);
  };
  const walk = async (dir: CfbEntry, prefix: string, isRoot: boolean): Promise<void> => {
    const children = [...dir.children].sort((a, b) => compareMsiNames(a.rawName, b.rawName));
    for (const child of children) {
      if (isRoot && isSignatureStream(child)) continue;
      const path = prefix + decodeMsiName(child.name);
      if (child.type === 'stream') {
        if (child.size === 0 || child.size >= MAXREGSECT) continue; // osslsigncode skips empty/corrupt lengths
        const sha = createHash('sha256');
        await cfb.readStream(child, (bytes) => {
          feed(bytes);
          sha.update(bytes);
        });
        items.push({ path, kind: 'stream', size: child.size, sha256: sha.digest('hex') });
      } else {
        await walk(child, `${path}/`, false);
      }
    }
    feed(dir.clsid);
    items.push({ path: isRoot ? '(root)' : prefix.slice(0, -1), kind: 'clsid', size: 16, sha256: createHash('sha256').update(dir.clsid).digest('hex') });
  };
  await walk(cfb.root, '', true);
  const digests: Partial<Record<AuthenticodeHash, Buffer>> = {};
  for (const [a, h] of hashes) digests[a] = h.digest();
  return { digests, items };
}

/**
 * Opens an MSI, reads its signature stream (if any) and computes its digest with the algorithms
 * `algorithmsFor(signature)` names (e.g. the one inside the signature); sha256 by default.
 */
export async function readMsi(
  path: string,
  algorithmsFor: (signature: Buffer | undefined) => readonly AuthenticodeHash[] = () => ['sha256'],
): Promise<MsiFile> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    if (!isCfb(head)) throw new FormatError('msi', 'not an MSI / compound file (no D0 CF 11 E0 signature)');
    const cfb = await openCfb(fh, size);
    const sigEntry = cfb.root.children.find((c) => c.type === 'stream' && c.rawName.equals(DIGITAL_SIGNATURE));
    const hasSignatureEx = cfb.root.children.some((c) => c.rawName.equals(DIGITAL_SIGNATURE_EX));
    const signature = sigEntry ? await cfb.readStreamBuffer(sigEntry, MAX_SIGNATURE_BYTES) : undefined;
    const scan = await scanMsi(cfb, algorithmsFor(signature));
    return {
      signature,
      hasSignatureEx,
      scan,
      digest(algorithm) {
        const d = scan.digests[algorithm];
        if (!d) throw new FormatError('msi', `MSI digest with ${algorithm} was not computed`);
        return d;
      },
    };
  } finally {
    await fh.close();
  }
}
