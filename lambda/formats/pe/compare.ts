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
import type { ComparisonReport, Difference } from '../../base/comparison';
import { errorMessage, FormatError } from '../../base/errors';
import type { CompareContext } from '../types';
import type { ComparerRegistration } from '../compare/registration';
import { OID } from '../authenticode/oids';
import type { Digest } from '../digest';
import { pairPass, PASS_CHUNK, type HashJob } from '../compare/pair-pass';
import { computeAuthenticodeDigest, digestedRanges, readCertificateTable, type AuthenticodeHash, type CertificateTable } from './authenticode-digest';
import { looksLikePe, parsePe, peRegions, splitByRegion, type PeLayout, type PeRegion } from './parse';

/** How many differing ranges a report lists. */
export const MAX_LISTED_RANGES = 16;
/** Differing bytes closer than this are reported as one range. */
const MERGE_GAP = 16;

/** This comparer's entry in the registry (compare/registry.ts); pkijs loads only for a signed release. */
export const peComparer: ComparerRegistration = {
  method: 'authenticode',
  formatName: 'a PE file',
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

/** The report, and both files' SHA-256 from the same read (or the caller's, when it knew them). */
export interface PeComparison {
  report: ComparisonReport;
  published: Digest;
  rebuilt: Digest;
}

export async function comparePe(publishedPath: string, rebuiltPath: string, context: CompareContext = {}): Promise<ComparisonReport> {
  return (await comparePeOnce(publishedPath, rebuiltPath, context)).report;
}

/**
 * One read per file (issue 14): the headers and the certificate table are read first (a few KiB),
 * then one pass over both files computes their SHA-256s (unless the caller knows them), the
 * rebuild's Authenticode digest and the masked byte diff, hashes in worker threads.
 *
 * The release's own Authenticode digest is not hashed when the diff proves it equal to the rebuild's:
 * same masked bytes up to the signature, the release's extra bytes the zero padding the rebuild's
 * digest adds virtually (or both signed at the same offset). Otherwise — a mismatch anyway — it is
 * computed in a second read, so the report says whether the release was modified after signing.
 */
export async function comparePeOnce(publishedPath: string, rebuiltPath: string, context: CompareContext = {}): Promise<PeComparison> {
  const pub = await openSide(publishedPath);
  try {
    const reb = await openSide(rebuiltPath);
    try {
      return await compareSides(pub, reb, [publishedPath, rebuiltPath], context);
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

interface DiffPlan {
  pubLength: number;
  rebLength: number;
  masksPub: Array<[number, number]>;
  masksReb: Array<[number, number]>;
  regions: PeRegion[];
}

type ParsedSide = Side & { layout: PeLayout };
type PassOutcome = Awaited<ReturnType<typeof runPass>>;

/** Runs the one pass: the SHA-256s not already known, the planned diff and the Authenticode job. */
async function runPass(paths: [string, string], context: CompareContext, plan: DiffPlan | undefined, authJob: HashJob | undefined) {
  const jobs: HashJob[] = [];
  if (!context.publishedSha256) jobs.push({ side: 0, algorithm: 'sha256' });
  if (!context.rebuiltSha256) jobs.push({ side: 1, algorithm: 'sha256' });
  if (authJob) jobs.push(authJob);
  const diff = plan ? new MaskedDiff(plan) : undefined;
  const r = await pairPass(paths, jobs, (a, b, at) => diff?.onPair(a, b, at));
  const digests = [...r.digests];
  const published: Digest = { sha256: context.publishedSha256 ?? digests.shift()!.toString('hex'), size: r.sizes[0] };
  const rebuilt: Digest = { sha256: context.rebuiltSha256 ?? digests.shift()!.toString('hex'), size: r.sizes[1] };
  return { published, rebuilt, auth: authJob ? digests.shift() : undefined, diff: diff?.result() ?? [] };
}

function peResult(differences: Difference[], details: Record<string, unknown>, p: PassOutcome): PeComparison {
  return {
    report: { method: 'authenticode', match: differences.length === 0, differences, details },
    published: p.published,
    rebuilt: p.rebuilt,
  };
}

async function compareSides(pub: Side, reb: Side, paths: [string, string], context: CompareContext): Promise<PeComparison> {
  const differences: Difference[] = [];
  const details: Record<string, unknown> = { published: { size: pub.size }, rebuilt: { size: reb.size } };
  /** a byte comparison under `plan`, its differences appended */
  const compareBytes = async (plan: DiffPlan) => {
    const r = await runPass(paths, context, plan, undefined);
    differences.push(...r.diff);
    return peResult(differences, details, r);
  };

  // Not a parseable PE on one side: say so, and explain with a plain byte comparison.
  if (!pub.layout || !reb.layout) {
    if (pub.layoutError) differences.push({ where: 'published file', detail: `not a valid PE: ${pub.layoutError}` });
    if (reb.layoutError) differences.push({ where: 'rebuilt file', detail: `not a valid PE: ${reb.layoutError}` });
    const plan = { pubLength: pub.size, rebLength: reb.size, masksPub: [], masksReb: [], regions: pub.layout ? peRegions(pub.layout) : [] };
    const r = await runPass(paths, context, plan, undefined);
    if (r.diff.length === 0 && pub.size === reb.size)
      differences.length = 0; // identical bytes match whatever they are
    else differences.push(...r.diff);
    return peResult(differences, details, r);
  }
  if (pub.tableError) differences.push({ where: 'certificate table', detail: `published signature is malformed: ${pub.tableError}` });
  if (reb.tableError) differences.push({ where: 'certificate table (rebuilt)', detail: `rebuilt certificate table is malformed: ${reb.tableError}` });
  const pubRegions = peRegions(pub.layout);
  const pubSigned = !!pub.table;
  const rebSigned = !!reb.table;
  Object.assign(details.published as object, {
    signed: pubSigned,
    certificateTable: pub.table ? { offset: pub.table.offset, size: pub.table.size } : undefined,
  });
  Object.assign(details.rebuilt as object, { signed: rebSigned });

  if (pub.tableError || reb.tableError) {
    return compareBytes({ pubLength: pub.size, rebLength: reb.size, masksPub: masksOf(pub.layout), masksReb: masksOf(reb.layout), regions: pubRegions });
  }
  if (!pubSigned && !rebSigned) {
    details.mode = 'both unsigned: byte equality';
    return compareBytes({ pubLength: pub.size, rebLength: reb.size, masksPub: [], masksReb: [], regions: pubRegions });
  }
  if (!pubSigned && rebSigned) {
    details.mode = 'rebuild signed, release unsigned';
    differences.push({
      where: 'certificate table',
      rebuiltRange: [reb.table!.offset, reb.size],
      detail: 'the rebuild carries an Authenticode signature, the release does not',
    });
    return compareBytes({
      pubLength: pub.size,
      rebLength: reb.table!.offset,
      masksPub: masksOf(pub.layout),
      masksReb: masksOf(reb.layout),
      regions: pubRegions,
    });
  }
  return compareSignedRelease(pub as ParsedSide, reb as ParsedSide, paths, context, differences, details);
}

/** The release's signature: its digest algorithm and the digest it vouches for (undefined, and a difference, when malformed). */
async function readSignedDigest(table: CertificateTable, pubSize: number, differences: Difference[]) {
  let algorithm: AuthenticodeHash = 'sha256';
  let signedDigest: Buffer | undefined;
  try {
    // pkijs is loaded only for a signed release (issue 14: startup)
    const { parseAuthenticodePkcs7 } = await import('../authenticode/pkcs7');
    const p7 = parseAuthenticodePkcs7(table.pkcs7, OID.spcPeImageData);
    algorithm = p7.digestAlgorithm;
    signedDigest = p7.digest;
  } catch (err) {
    differences.push({
      where: 'certificate table',
      publishedRange: [table.offset, pubSize],
      detail: `published signature is malformed: ${errorMessage(err)}`,
    });
  }
  return { algorithm, signedDigest };
}

/** The release is signed: the signed digest, and the bytes outside the signature. */
async function compareSignedRelease(
  pub: ParsedSide,
  reb: ParsedSide,
  paths: [string, string],
  context: CompareContext,
  differences: Difference[],
  details: Record<string, unknown>,
): Promise<PeComparison> {
  const pubRegions = peRegions(pub.layout);
  const rebSigned = !!reb.table;
  const table = pub.table!;
  const { algorithm, signedDigest } = await readSignedDigest(table, pub.size, differences);
  digestedRanges(pub.layout); // a crafted layout is refused here (FormatError), before any hashing
  const rebRanges = digestedRanges(reb.layout);
  const authJob: HashJob = { side: 1, algorithm, ranges: rebRanges.ranges, zeroPad: rebRanges.zeroPad };

  const pubEnd = table.offset;
  // The rebuild's image data: all of it when unsigned; the part before its own table when signed.
  const rebEnd = rebSigned ? reb.table!.offset : reb.size;
  const common = Math.min(pubEnd, rebEnd);
  // Bytes before the signature, masked fields aside; then the padding must be zeros.
  const plan = { pubLength: common, rebLength: common, masksPub: masksOf(pub.layout), masksReb: masksOf(reb.layout), regions: pubRegions };
  // The release's Authenticode digest when the signature check computed it: then the release need
  // not be read again when the rebuild's digest equals it (quickCheck); a difference gets the full pass.
  const knownPubDigest = context.publishedDigests?.find((d) => d.kind === 'authenticode-pe' && d.algorithm === algorithm)?.digest;
  const quick = knownPubDigest ? await quickCheck(reb, algorithm, knownPubDigest, pub, context) : undefined;
  const r = quick ?? (await runPass(paths, context, plan, authJob));
  const rebDigest = r.auth!;

  const { tail, paddingZero } = await tailDifferences(pub, reb, pubEnd, rebEnd, rebSigned, pubRegions);
  const sameDigestedBytes =
    r.diff.length === 0 &&
    paddingZero &&
    pub.layout.checksumOffset === reb.layout.checksumOffset &&
    pub.layout.certDirOffset === reb.layout.certDirOffset &&
    (rebSigned ? pubEnd === rebEnd : pubEnd === Math.ceil(rebEnd / 8) * 8);
  const pubDigest = sameDigestedBytes ? rebDigest : (knownPubDigest ?? (await computeAuthenticodeDigest(pub.fh, pub.layout, [algorithm]))[algorithm]);
  if (quick) details.releaseReadOnce = "the release was not read again: its Authenticode digest from the signature check equals the rebuild's";

  Object.assign(details.published as object, {
    digestAlgorithm: algorithm,
    signedDigest: signedDigest?.toString('hex'),
    computedDigest: pubDigest.toString('hex'),
  });
  Object.assign(details.rebuilt as object, { computedDigest: rebDigest.toString('hex') });
  if (signedDigest && !signedDigest.equals(rebDigest)) {
    differences.push({
      where: 'authenticode digest',
      detail: `the release's signature vouches for ${algorithm} ${signedDigest.toString('hex')}; the rebuild's digest is ${rebDigest.toString('hex')}`,
    });
  }
  if (signedDigest && !signedDigest.equals(pubDigest)) {
    differences.push({
      where: 'authenticode digest (published)',
      detail: `the release was modified after signing: its digest is ${pubDigest.toString('hex')}`,
    });
  }
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
  differences.push(...r.diff, ...tail);
  return peResult(differences, details, r);
}

/** Past the common image data: the unsigned rebuild's padding must be zeros; any other extra bytes are listed by region. */
async function tailDifferences(pub: ParsedSide, reb: ParsedSide, pubEnd: number, rebEnd: number, rebSigned: boolean, pubRegions: PeRegion[]) {
  const tail: Difference[] = [];
  let paddingZero = true;
  if (!rebSigned && pubEnd > rebEnd && pubEnd - rebEnd < 8) {
    const pad = Buffer.alloc(pubEnd - rebEnd);
    await pub.fh.read(pad, 0, pad.length, rebEnd);
    paddingZero = !pad.some((b) => b !== 0);
    if (!paddingZero) tail.push({ where: 'padding before the certificate table', publishedRange: [rebEnd, pubEnd], detail: 'padding bytes are not zero' });
  } else if (pubEnd !== rebEnd) {
    const [longer, from, to, side] =
      pubEnd > rebEnd ? (['published', rebEnd, pubEnd, 'publishedRange'] as const) : (['rebuilt', pubEnd, rebEnd, 'rebuiltRange'] as const);
    const regions = longer === 'published' ? pubRegions : peRegions(reb.layout);
    for (const part of splitByRegion(regions, from, to).slice(0, MAX_LISTED_RANGES)) {
      tail.push({ where: part.name, [side]: [part.start, part.end], detail: `${part.end - part.start} bytes only in the ${longer} file` });
    }
  }
  return { tail, paddingZero };
}

/**
 * The rebuild's Authenticode digest alone (one read of the rebuild, none of the release), for a
 * release whose Authenticode digest is known and whose SHA-256s are both known: when the two
 * Authenticode digests are equal, so are the digested byte streams (SHA-2 collision resistance) —
 * with the CheckSum and certificate-directory holes at the same offsets, that is the same bytes
 * outside the signature, the zero padding included: exactly what the full pass's masked diff shows
 * for a match. Undefined (do the full pass) when anything differs, so a mismatch is explained.
 */
async function quickCheck(reb: Side, algorithm: AuthenticodeHash, pubDigest: Buffer, pub: Side, context: CompareContext) {
  if (!context.publishedSha256 || !context.rebuiltSha256 || !pub.layout || !reb.layout) return undefined;
  if (pub.layout.checksumOffset !== reb.layout.checksumOffset || pub.layout.certDirOffset !== reb.layout.certDirOffset) return undefined;
  const rebDigest = (await computeAuthenticodeDigest(reb.fh, reb.layout, [algorithm]))[algorithm];
  if (!rebDigest.equals(pubDigest)) return undefined;
  return {
    published: { sha256: context.publishedSha256, size: pub.size },
    rebuilt: { sha256: context.rebuiltSha256, size: reb.size },
    auth: rebDigest,
    diff: [] as Difference[],
  };
}

/**
 * The first differing ranges of two files over [0, min(lengths)), fed chunk pairs at equal offsets,
 * named by the published file's regions; bytes in the masks are ignored. A length difference is
 * reported too.
 */
class MaskedDiff {
  private readonly ranges: Array<[number, number]> = [];
  private moreChunks = 0;
  private readonly common: number;
  constructor(private readonly plan: DiffPlan) {
    this.common = Math.min(plan.pubLength, plan.rebLength);
  }

  onPair(pa: Buffer | undefined, pb: Buffer | undefined, at: number): void {
    if (at >= this.common) return;
    if (!pa || !pb) throw new FormatError('file', `file ended at ${at}`);
    const n = Math.min(pa.length, pb.length, this.common - at);
    if (n < Math.min(PASS_CHUNK, this.common - at)) throw new FormatError('file', `file ended at ${at + n}`);
    const a = masked(pa.subarray(0, n), at, this.plan.masksPub);
    const b = masked(pb.subarray(0, n), at, this.plan.masksReb);
    if (a.equals(b)) return;
    const ranges = this.ranges;
    if (ranges.length >= MAX_LISTED_RANGES) {
      this.moreChunks++;
      return;
    }
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      const pos = at + i;
      const last = ranges[ranges.length - 1];
      if (last && pos - last[1] < MERGE_GAP) last[1] = pos + 1;
      else if (ranges.length < MAX_LISTED_RANGES) ranges.push([pos, pos + 1]);
      else {
        this.moreChunks++;
        break;
      }
    }
  }

  result(): Difference[] {
    const { pubLength, rebLength, regions } = this.plan;
    const out: Difference[] = [];
    for (const [s, e] of this.ranges) {
      for (const r of splitByRegion(regions, s, e, 'bytes')) {
        out.push({ where: r.name, publishedRange: [r.start, r.end], rebuiltRange: [r.start, r.end], detail: `${r.end - r.start} bytes differ` });
      }
    }
    if (this.moreChunks > 0) out.push({ where: 'further differences', detail: `more differing bytes in ${this.moreChunks} further chunk(s) not listed` });
    if (pubLength !== rebLength) {
      out.push({
        where: 'file size',
        publishedRange: [this.common, pubLength],
        rebuiltRange: [this.common, rebLength],
        detail: `compared part is ${pubLength} bytes published vs ${rebLength} bytes rebuilt`,
      });
    }
    return out;
  }
}

/** `buf` (at file offset `at`) with the masked bytes zeroed — a copy when a mask falls in it (the pass's buffers are shared with the hash workers). */
function masked(buf: Buffer, at: number, masks: Array<[number, number]>): Buffer {
  let out = buf;
  for (const [s, e] of masks) {
    const from = Math.max(s, at) - at;
    const to = Math.min(e, at + buf.length) - at;
    if (to > from) {
      if (out === buf) out = Buffer.from(buf);
      out.fill(0, from, to);
    }
  }
  return out;
}
