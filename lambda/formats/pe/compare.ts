/**
 * Signature-transparent comparison of a published PE with its unsigned rebuild (issue 5,
 * signatures.md §1.6). The release matches when it is exactly the rebuild plus an Authenticode
 * signature, i.e. it differs from the rebuild ONLY in:
 *   - the 4-byte CheckSum (signers recompute it),
 *   - the 8-byte certificate-table directory entry,
 *   - 0–7 zero bytes of padding to the 8-byte boundary,
 *   - one WIN_CERTIFICATE table ending at EOF (strictly formed: authenticode-digest.ts);
 * and the digest inside the release's signature equals the rebuild's computed Authenticode digest.
 * Both unsigned → plain byte equality. Anything else is a mismatch, explained by the differing byte
 * ranges named after PE headers and sections. Whether the signature is by the pinned signer is the
 * signature policy's job (authenticode/verify.ts); a malformed signature is a mismatch here.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { ComparisonReport, Difference } from '../../core/report';
import { errorMessage } from '../../core/errors';
import type { Comparer, CompareContext } from '../types';
import { OID } from '../authenticode/oids';
import { parseAuthenticodePkcs7 } from '../authenticode/pkcs7';
import { computeAuthenticodeDigest, readCertificateTable, type AuthenticodeHash, type CertificateTable } from './authenticode-digest';
import { forEachChunkPair } from './chunks';
import { looksLikePe, parsePe, peRegions, splitByRegion, type PeLayout, type PeRegion } from './parse';

/** How many differing ranges a report lists. */
export const MAX_LISTED_RANGES = 16;
/** Differing bytes closer than this are reported as one range. */
const MERGE_GAP = 16;

export const peComparer: Comparer = {
  method: 'authenticode',
  detect: looksLikePe,
  compare: comparePe,
};

interface Side {
  fh: FileHandle;
  size: number;
  layout?: PeLayout;
  layoutError?: string;
  table?: CertificateTable | null;
  tableError?: string;
}

async function openSide(path: string): Promise<Side> {
  const fh = await open(path, 'r');
  const side: Side = { fh, size: (await fh.stat()).size };
  try {
    side.layout = await parsePe(fh, side.size);
  } catch (err) {
    if (isIo(err)) throw err;
    side.layoutError = errorMessage(err);
    return side;
  }
  try {
    side.table = await readCertificateTable(fh, side.layout);
  } catch (err) {
    if (isIo(err)) throw err;
    side.tableError = errorMessage(err);
  }
  return side;
}

function isIo(err: unknown): boolean {
  return typeof (err as { syscall?: unknown })?.syscall === 'string';
}

export async function comparePe(publishedPath: string, rebuiltPath: string, _context: CompareContext = {}): Promise<ComparisonReport> {
  const pub = await openSide(publishedPath);
  try {
    const reb = await openSide(rebuiltPath);
    try {
      return await compareSides(pub, reb);
    } finally {
      await reb.fh.close();
    }
  } finally {
    await pub.fh.close();
  }
}

function masksOf(layout: PeLayout | undefined): Array<[number, number]> {
  if (!layout) return [];
  const m: Array<[number, number]> = [[layout.checksumOffset, layout.checksumOffset + 4]];
  if (layout.certDirOffset !== undefined) m.push([layout.certDirOffset, layout.certDirOffset + 8]);
  return m;
}

async function compareSides(pub: Side, reb: Side): Promise<ComparisonReport> {
  const differences: Difference[] = [];
  const details: Record<string, unknown> = { published: { size: pub.size }, rebuilt: { size: reb.size } };
  const report = (): ComparisonReport => ({ method: 'authenticode', match: differences.length === 0, differences, details });

  // Not a parseable PE on one side: say so, and explain with a plain byte comparison.
  if (!pub.layout || !reb.layout) {
    if (pub.layoutError) differences.push({ where: 'published file', detail: `not a valid PE: ${pub.layoutError}` });
    if (reb.layoutError) differences.push({ where: 'rebuilt file', detail: `not a valid PE: ${reb.layoutError}` });
    const plain = await diffBytes(pub, reb, pub.size, reb.size, [], [], pub.layout ? peRegions(pub.layout) : []);
    if (plain.length === 0 && pub.size === reb.size) differences.length = 0; // identical bytes match whatever they are
    else differences.push(...plain);
    return report();
  }
  if (pub.tableError) differences.push({ where: 'certificate table', detail: `published signature is malformed: ${pub.tableError}` });
  if (reb.tableError) differences.push({ where: 'certificate table (rebuilt)', detail: `rebuilt certificate table is malformed: ${reb.tableError}` });
  const pubRegions = peRegions(pub.layout);
  const pubSigned = !!pub.table;
  const rebSigned = !!reb.table;
  Object.assign(details.published as object, { signed: pubSigned, certificateTable: pub.table ? { offset: pub.table.offset, size: pub.table.size } : undefined });
  Object.assign(details.rebuilt as object, { signed: rebSigned });

  if (pub.tableError || reb.tableError) {
    differences.push(...(await diffBytes(pub, reb, pub.size, reb.size, masksOf(pub.layout), masksOf(reb.layout), pubRegions)));
    return report();
  }

  if (!pubSigned && !rebSigned) {
    details.mode = 'both unsigned: byte equality';
    differences.push(...(await diffBytes(pub, reb, pub.size, reb.size, [], [], pubRegions)));
    return report();
  }
  if (!pubSigned && rebSigned) {
    details.mode = 'rebuild signed, release unsigned';
    differences.push({ where: 'certificate table', rebuiltRange: [reb.table!.offset, reb.size], detail: 'the rebuild carries an Authenticode signature, the release does not' });
    differences.push(...(await diffBytes(pub, reb, pub.size, reb.table!.offset, masksOf(pub.layout), masksOf(reb.layout), pubRegions)));
    return report();
  }

  // The release is signed: the signed digest, and the bytes outside the signature.
  const table = pub.table!;
  let algorithm: AuthenticodeHash = 'sha256';
  let signedDigest: Buffer | undefined;
  try {
    const p7 = parseAuthenticodePkcs7(table.pkcs7, OID.spcPeImageData);
    algorithm = p7.digestAlgorithm;
    signedDigest = p7.digest;
  } catch (err) {
    differences.push({ where: 'certificate table', publishedRange: [table.offset, pub.size], detail: `published signature is malformed: ${errorMessage(err)}` });
  }
  const pubDigest = (await computeAuthenticodeDigest(pub.fh, pub.layout, [algorithm]))[algorithm];
  const rebDigest = (await computeAuthenticodeDigest(reb.fh, reb.layout, [algorithm]))[algorithm];
  Object.assign(details.published as object, { digestAlgorithm: algorithm, signedDigest: signedDigest?.toString('hex'), computedDigest: pubDigest.toString('hex') });
  Object.assign(details.rebuilt as object, { computedDigest: rebDigest.toString('hex') });
  if (signedDigest && !signedDigest.equals(rebDigest)) {
    differences.push({ where: 'authenticode digest', detail: `the release's signature vouches for ${algorithm} ${signedDigest.toString('hex')}; the rebuild's digest is ${rebDigest.toString('hex')}` });
  }
  if (signedDigest && !signedDigest.equals(pubDigest)) {
    differences.push({ where: 'authenticode digest (published)', detail: `the release was modified after signing: its digest is ${pubDigest.toString('hex')}` });
  }

  const pubEnd = table.offset;
  // The rebuild's image data: all of it when unsigned; the part before its own table when signed.
  const rebEnd = rebSigned ? reb.table!.offset : reb.size;
  details.mode = rebSigned ? 'both signed: compare outside the signatures' : 'release signed, rebuild unsigned';
  if (!rebSigned) {
    const expected = Math.ceil(rebEnd / 8) * 8;
    details.paddingBytes = pubEnd - rebEnd;
    if (pubEnd !== expected) {
      differences.push({
        where: pubEnd > rebEnd ? 'overlay/appended data' : 'file size',
        publishedRange: [Math.min(pubEnd, rebEnd), pubEnd],
        detail: `the release's data before its signature is ${pubEnd} bytes; the rebuild (${rebEnd} bytes) padded to 8 would be ${expected}`,
      });
    }
  }
  // Bytes before the signature, masked fields aside; then the padding must be zeros.
  differences.push(...(await diffBytes(pub, reb, Math.min(pubEnd, rebEnd), Math.min(pubEnd, rebEnd), masksOf(pub.layout), masksOf(reb.layout), pubRegions)));
  if (!rebSigned && pubEnd > rebEnd && pubEnd - rebEnd < 8) {
    const pad = Buffer.alloc(pubEnd - rebEnd);
    await pub.fh.read(pad, 0, pad.length, rebEnd);
    if (pad.some((b) => b !== 0)) differences.push({ where: 'padding before the certificate table', publishedRange: [rebEnd, pubEnd], detail: 'padding bytes are not zero' });
  } else if (pubEnd !== rebEnd) {
    const [longer, from, to, side] = pubEnd > rebEnd ? ['published', rebEnd, pubEnd, 'publishedRange'] as const : ['rebuilt', pubEnd, rebEnd, 'rebuiltRange'] as const;
    const regions = longer === 'published' ? pubRegions : peRegions(reb.layout);
    for (const r of splitByRegion(regions, from, to).slice(0, MAX_LISTED_RANGES)) {
      differences.push({ where: r.name, [side]: [r.start, r.end], detail: `${r.end - r.start} bytes only in the ${longer} file` });
    }
  }
  return report();
}

/**
 * Streams both files over [0, min(lengths)) and returns the first differing ranges, named by the
 * published file's regions; bytes in `masks` are ignored. A length difference is reported too.
 */
async function diffBytes(
  pub: Side,
  reb: Side,
  pubLength: number,
  rebLength: number,
  masksPub: Array<[number, number]>,
  masksReb: Array<[number, number]>,
  regions: PeRegion[],
): Promise<Difference[]> {
  const ranges: Array<[number, number]> = [];
  let moreChunks = 0;
  const common = Math.min(pubLength, rebLength);
  const zeroMasks = (buf: Buffer, at: number, masks: Array<[number, number]>) => {
    for (const [s, e] of masks) {
      const from = Math.max(s, at) - at;
      const to = Math.min(e, at + buf.length) - at;
      if (to > from) buf.fill(0, from, to);
    }
  };
  await forEachChunkPair(pub.fh, 0, reb.fh, 0, common, (a, b, at) => {
    zeroMasks(a, at, masksPub);
    zeroMasks(b, at, masksReb);
    if (a.equals(b)) return;
    if (ranges.length >= MAX_LISTED_RANGES) {
      moreChunks++;
      return;
    }
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      const pos = at + i;
      const last = ranges[ranges.length - 1];
      if (last && pos - last[1] < MERGE_GAP) last[1] = pos + 1;
      else if (ranges.length < MAX_LISTED_RANGES) ranges.push([pos, pos + 1]);
      else {
        moreChunks++;
        break;
      }
    }
  });
  const out: Difference[] = [];
  for (const [s, e] of ranges) {
    for (const r of splitByRegion(regions, s, e, 'bytes')) {
      out.push({ where: r.name, publishedRange: [r.start, r.end], rebuiltRange: [r.start, r.end], detail: `${r.end - r.start} bytes differ` });
    }
  }
  if (moreChunks > 0) out.push({ where: 'further differences', detail: `more differing bytes in ${moreChunks} further chunk(s) not listed` });
  if (pubLength !== rebLength) {
    out.push({
      where: 'file size',
      publishedRange: [common, pubLength],
      rebuiltRange: [common, rebLength],
      detail: `compared part is ${pubLength} bytes published vs ${rebLength} bytes rebuilt`,
    });
  }
  return out;
}
