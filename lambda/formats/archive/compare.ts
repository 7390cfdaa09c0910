/**
 * Archive comparison (zip, tar, tar.gz — e.g. a Tauri `.app.tar.gz`), entry by entry.
 *
 * What counts (decided here, documented in the report):
 * - `match` is about CONTENT only: the same set of entry names, the same type of each entry, the
 *   same bytes of each file (or, when bytes differ, a nested comparer — PE, Mach-O, MSI, archive —
 *   finds the members signature-transparently equal), the same link targets.
 * - Entry ORDER and METADATA (mtime, mode, uid/gid/owner names, zip compression method and extra
 *   fields, gzip header time/OS) are reported in `details.entryOrder` and
 *   `details.metadataDifferences` but never make a mismatch: an archive repacked at another time
 *   (a Tauri bundle rebuilt later) differs there and is still the same software. They are not in
 *   `differences`, which lists only the reasons for a mismatch.
 * - Missing or extra entries, and any unsafe entry name (`..`, absolute, backslash) are mismatches.
 * - Over-bound archives (zip bombs, too many entries) are refused with a LimitError: not compared.
 *
 * Members whose bytes differ are extracted (bounded, generated file names) into a scratch
 * directory and compared one level deeper (depth-bounded) by `context.compareMember` — the
 * dispatcher (compare/index) hands itself in, so this module does not import it (no cycle). Without
 * it, differing members are reported by their digests only (still a mismatch).
 *
 * The archive libraries (tar-stream, yauzl, via scan.ts) are loaded on the first comparison: the
 * registration below is imported by the comparer registry at start-up.
 */
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComparisonReport, Difference } from '../../base/comparison';
import { errorMessage } from '../../base/errors';
import type { CompareContext } from '../types';
import { archiveKind, type ArchiveKind } from './detect';
import type { ArchiveEntry, ArchiveLimits } from './scan';
import { readHead } from '../compare/read-at';
import type { ComparerRegistration } from '../compare/registration';
import { withTextDiff } from '../compare/text-diff';

/** archives inside archives inside archives… stop here */
export const MAX_ARCHIVE_DEPTH = 3;
/** differing members compared in depth (extracted); beyond, only their digests are reported */
const MAX_NESTED_COMPARISONS = 32;
const MAX_NESTED_DIFFERENCES = 5;
const MAX_METADATA_DIFFERENCES = 200;
/** differing text members that get an inline unified diff (each bounded in text-diff.ts) */
const MAX_TEXT_DIFFS = 8;

export interface MetadataDifference {
  entry: string;
  field: string;
  published?: string | number;
  rebuilt?: string | number;
}

type Scan = typeof import('./scan');
const loadScan = (): Promise<Scan> => import('./scan');

function limitsFor(context: CompareContext, defaults: ArchiveLimits): ArchiveLimits {
  if (context.maxBytes === undefined) return defaults;
  return { ...defaults, maxTotalBytes: context.maxBytes, maxEntryBytes: Math.min(defaults.maxEntryBytes, context.maxBytes) };
}

const keyOf = (e: ArchiveEntry) => e.name.replace(/\/+$/, '');

function compareMetadata(p: ArchiveEntry, r: ArchiveEntry, out: MetadataDifference[]): number {
  let count = 0;
  const fields = new Set([...Object.keys(p.metadata), ...Object.keys(r.metadata)]);
  for (const field of fields) {
    if (p.metadata[field] === r.metadata[field]) continue;
    count++;
    if (out.length < MAX_METADATA_DIFFERENCES) out.push({ entry: p.name, field, published: p.metadata[field], rebuilt: r.metadata[field] });
  }
  return count;
}

function entryOrder(pub: ArchiveEntry[], reb: ArchiveEntry[]): Record<string, unknown> {
  const inBoth = (names: Set<string>) => (e: ArchiveEntry) => names.has(keyOf(e));
  const pNames = new Set(pub.map(keyOf));
  const rNames = new Set(reb.map(keyOf));
  const p = pub.filter(inBoth(rNames)).map(keyOf);
  const r = reb.filter(inBoth(pNames)).map(keyOf);
  const i = p.findIndex((name, k) => name !== r[k]);
  return i < 0 ? { differs: false } : { differs: true, firstDifference: { position: i, published: p[i], rebuilt: r[i] } };
}

/** Compares two archives of the same kind. */
export async function compareArchives(publishedPath: string, rebuiltPath: string, context: CompareContext): Promise<ComparisonReport> {
  const depth = context.depth ?? 0;
  const scan = await loadScan();
  const limits = limitsFor(context, scan.DEFAULT_ARCHIVE_LIMITS);
  const [pHead, rHead] = await Promise.all([readHead(publishedPath), readHead(rebuiltPath)]);
  const pKind = archiveKind(pHead);
  const rKind = archiveKind(rHead);
  if (!pKind) return { method: 'archive', match: false, differences: [{ where: 'format', detail: 'the published file is not a zip, tar or tar.gz archive' }] };
  if (pKind !== rKind) {
    return {
      method: 'archive',
      match: false,
      differences: [{ where: 'format', detail: `published is a ${pKind} archive, rebuilt is ${rKind ? `a ${rKind} archive` : 'not an archive'}` }],
    };
  }
  const [pub, reb] = await Promise.all([scan.scanArchive(publishedPath, pKind, limits), scan.scanArchive(rebuiltPath, rKind, limits)]);

  const differences: Difference[] = [];
  const metadataDifferences: MetadataDifference[] = [];
  let metadataDifferenceCount = 0;
  const rByName = new Map(reb.entries.map((e) => [keyOf(e), e]));
  const pByName = new Map(pub.entries.map((e) => [keyOf(e), e]));
  const differingFiles: [ArchiveEntry, ArchiveEntry][] = [];

  for (const p of pub.entries) {
    const r = rByName.get(keyOf(p));
    if (!r) {
      differences.push({ where: `entry ${p.name}`, detail: `missing from the rebuilt archive (${p.type}, ${p.size} bytes)` });
      continue;
    }
    metadataDifferenceCount += compareMetadata(p, r, metadataDifferences);
    if (p.type !== r.type) {
      differences.push({ where: `entry ${p.name}`, detail: `published is a ${p.type}, rebuilt is a ${r.type}` });
    } else if (p.linkname !== r.linkname) {
      differences.push({
        where: `entry ${p.name}`,
        detail: `link target differs: published → ${JSON.stringify(p.linkname)}, rebuilt → ${JSON.stringify(r.linkname)}`,
      });
    } else if (p.sha256 !== r.sha256 || p.size !== r.size) {
      differingFiles.push([p, r]);
    }
  }
  for (const r of reb.entries) {
    if (!pByName.has(keyOf(r))) differences.push({ where: `entry ${r.name}`, detail: `only in the rebuilt archive (${r.type}, ${r.size} bytes)` });
  }
  for (const field of new Set([...Object.keys(pub.metadata), ...Object.keys(reb.metadata)])) {
    if (pub.metadata[field] === reb.metadata[field]) continue;
    metadataDifferenceCount++;
    metadataDifferences.push({ entry: '(archive)', field, published: pub.metadata[field], rebuilt: reb.metadata[field] });
  }

  const nested = await compareMembers(publishedPath, rebuiltPath, pKind, differingFiles, { ...context, depth }, limits, scan);
  differences.push(...nested.differences);

  const order = entryOrder(pub.entries, reb.entries);
  return {
    method: 'archive',
    match: differences.length === 0,
    differences,
    details: {
      format: pKind,
      entries: { published: pub.entries.length, rebuilt: reb.entries.length },
      contentPolicy: 'match is decided on entry names, types, file contents and link targets; order and metadata are reported only',
      entryOrder: order,
      metadataDifferences,
      ...(metadataDifferenceCount > metadataDifferences.length ? { metadataDifferencesTotal: metadataDifferenceCount } : {}),
      ...(nested.transparent.length ? { signatureTransparentMembers: nested.transparent } : {}),
      ...(nested.members.length ? { members: nested.members } : {}),
    },
  };
}

interface NestedOutcome {
  differences: Difference[];
  /** members whose bytes differ but which a format comparer found equal (e.g. signed vs unsigned PE) */
  transparent: { entry: string; method: string }[];
  members: Record<string, unknown>[];
}

async function compareMembers(
  publishedPath: string,
  rebuiltPath: string,
  kind: ArchiveKind,
  pairs: [ArchiveEntry, ArchiveEntry][],
  context: CompareContext & { depth: number },
  limits: ArchiveLimits,
  scan: Scan,
): Promise<NestedOutcome> {
  const out: NestedOutcome = { differences: [], transparent: [], members: [] };
  if (pairs.length === 0) return out;

  const compareMember = context.compareMember;
  const deep = compareMember && context.depth + 1 <= MAX_ARCHIVE_DEPTH ? pairs.slice(0, MAX_NESTED_COMPARISONS) : [];
  for (const [p, r] of pairs.slice(deep.length)) {
    out.differences.push({
      where: `entry ${p.name}`,
      detail: `content differs (${digestText(p, r)}); not compared in depth (${whyNotDeeper(!!compareMember, deep.length)})`,
    });
  }
  if (deep.length === 0 || !compareMember) return out;

  const scratch = await mkdtemp(join(context.scratchDir ?? tmpdir(), 'archive-'));
  try {
    const pDir = join(scratch, 'p');
    const rDir = join(scratch, 'r');
    await Promise.all([mkdir(pDir), mkdir(rDir)]);
    // generated names: a member's own name never becomes a path
    const pWanted = new Map(deep.map(([p], i) => [p.name, join(pDir, `m${i}`)]));
    const rWanted = new Map(deep.map(([, r], i) => [r.name, join(rDir, `m${i}`)]));
    await Promise.all([scan.extractEntries(publishedPath, kind, pWanted, limits), scan.extractEntries(rebuiltPath, kind, rWanted, limits)]);

    const textDiffs = { count: 0 };
    for (const [i, [p, r]] of deep.entries()) {
      const memberScratch = join(scratch, `s${i}`);
      await mkdir(memberScratch);
      const member = { p, r, pFile: join(pDir, `m${i}`), rFile: join(rDir, `m${i}`), scratch: memberScratch };
      try {
        await compareExtractedMember(member, compareMember, context, out, textDiffs);
      } catch (err) {
        // the bytes differ: whatever stopped the deeper look, this is not a match
        out.differences.push({
          where: `entry ${p.name}`,
          detail: `content differs (${digestText(p, r)}); could not compare the members further: ${errorMessage(err)}`,
        });
      } finally {
        await rm(member.pFile, { force: true });
        await rm(member.rFile, { force: true });
        await rm(memberScratch, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return out;
}

function digestText(p: ArchiveEntry, r: ArchiveEntry): string {
  return `published ${p.size} bytes sha256 ${p.sha256}, rebuilt ${r.size} bytes sha256 ${r.sha256}`;
}

interface ExtractedMember {
  p: ArchiveEntry;
  r: ArchiveEntry;
  pFile: string;
  rFile: string;
  scratch: string;
}

/** Compares one differing member pair (already extracted) with the format comparers and records the outcome in `out`. */
async function compareExtractedMember(
  m: ExtractedMember,
  compareMember: NonNullable<CompareContext['compareMember']>,
  context: CompareContext & { depth: number },
  out: NestedOutcome,
  textDiffs: { count: number },
): Promise<void> {
  const { p, r } = m;
  const report = await compareMember(m.pFile, m.rFile, {
    compareMember,
    depth: context.depth + 1,
    scratchDir: m.scratch,
    maxBytes: context.maxBytes,
    publishedSha256: p.sha256,
    rebuiltSha256: r.sha256,
  });
  out.members.push({ entry: p.name, method: report.method, match: report.match });
  if (report.match) {
    out.transparent.push({ entry: p.name, method: report.method });
    return;
  }
  const inner = report.differences.slice(0, MAX_NESTED_DIFFERENCES);
  const memberDifference: Difference = {
    where: `entry ${p.name}`,
    detail: `content differs (${report.method} comparison; ${digestText(p, r)})`,
  };
  // a text member (config, script, manifest): a bounded unified diff for the report
  if (report.method === 'bytes' && textDiffs.count < MAX_TEXT_DIFFS && (await withTextDiff(memberDifference, m.pFile, m.rFile, p.name)).textDiff)
    textDiffs.count++;
  out.differences.push(memberDifference);
  for (const d of inner) out.differences.push(innerDifference(p.name, d));
  if (report.differences.length > inner.length)
    out.differences.push({ where: `entry ${p.name}`, detail: `${report.differences.length - inner.length} more difference(s) inside this member` });
}

/** A difference found inside a member, re-addressed to the member (its ranges are member offsets, not archive offsets). */
function innerDifference(entry: string, d: Difference): Difference {
  const ranges = [
    d.publishedRange && `published member bytes ${d.publishedRange[0]}–${d.publishedRange[1]}`,
    d.rebuiltRange && `rebuilt member bytes ${d.rebuiltRange[0]}–${d.rebuiltRange[1]}`,
  ]
    .filter(Boolean)
    .join(', ');
  return { where: `entry ${entry}: ${d.where}`, detail: [d.detail, ranges].filter(Boolean).join('; ') };
}

function whyNotDeeper(canCompare: boolean, deep: number): string {
  if (!canCompare) return 'no member comparer was given';
  return deep === 0 ? `nesting depth bound ${MAX_ARCHIVE_DEPTH}` : `more than ${MAX_NESTED_COMPARISONS} differing members`;
}

/** This comparer's entry in the registry (compare/registry.ts): light to import, the libraries load on use. */
export const archiveComparer: ComparerRegistration = {
  method: 'archive',
  formatName: 'an archive (zip, tar, tar.gz)',
  detect: (head: Uint8Array) => archiveKind(head) !== null,
  compare: compareArchives,
};
