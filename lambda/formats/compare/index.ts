/**
 * Chooses the comparer by CONTENT (the published file's first bytes, never its name) and runs it.
 * The comparers and their order come from the registry (compare/registry.ts):
 *
 *   PE (MZ…PE\0\0)            → authenticode (lambda/formats/pe/compare.ts)
 *   Mach-O thin / universal    → macho
 *   MSI (CFB D0CF11E0…)        → msi (lambda/formats/msi/compare.ts)
 *   zip / tar / tar.gz         → archive (members compared by this dispatcher, via context.compareMember)
 *   anything else              → bytes
 *
 * Both files must be of the same kind; if the rebuilt file is not, that is a mismatch (the
 * published format's method, with a "format" difference). Both SHA-256s are always in
 * `details.published` / `details.rebuilt`. Identical bytes are a match without parsing anything.
 *
 * Fail closed: I/O errors and refused (over-bound) input throw — "could not compare"; a format
 * anomaly (a FormatError from a parser) is a mismatch with the reason, never a match.
 */
import { stat } from 'node:fs/promises';
import type { ComparisonReport } from '../../base/comparison';
import { FormatError } from '../../base/errors';
import type { Comparer, CompareContext } from '../types';
import type { Digest } from '../digest';
import { pairPass, type HashJob } from './pair-pass';
import { bytesComparer, compareBytes } from './bytes';
import { readHead } from './read-at';
import { withTextDiff } from './text-diff';
import { comparePeOnce, peComparer } from '../pe/compare';
import { COMPARERS, type ComparerRegistration } from './registry';

export type CompareOptions = CompareContext & { method?: 'auto' | 'bytes' };

/** Format comparers in detection order (compare/registry.ts); the first whose detect() accepts the published head wins. */
export function formatComparers(): readonly ComparerRegistration[] {
  return COMPARERS;
}

const HEAD_BYTES = 4096;

function formatName(c: Comparer): string {
  return (c as Partial<ComparerRegistration>).formatName ?? 'a file';
}

/** The comparer for a file head (bytes when no format matches). */
export function comparerFor(head: Uint8Array, list: readonly Comparer[] = formatComparers()): Comparer {
  return list.find((c) => safeDetect(c, head)) ?? bytesComparer;
}

function safeDetect(c: Comparer, head: Uint8Array): boolean {
  try {
    return c.detect(head);
  } catch {
    return false;
  }
}

/**
 * Both files' SHA-256 in one parallel pass (pair-pass.ts), skipping any the caller already has
 * (the checker digests while downloading).
 */
async function digestsOf(paths: [string, string], known: [string | undefined, string | undefined]): Promise<{ published: Digest; rebuilt: Digest }> {
  const jobs: HashJob[] = [];
  if (!known[0]) jobs.push({ side: 0, algorithm: 'sha256' });
  if (!known[1]) jobs.push({ side: 1, algorithm: 'sha256' });
  if (jobs.length === 0) {
    const [a, b] = await Promise.all(paths.map((p) => stat(p)));
    return { published: { sha256: known[0]!, size: a!.size }, rebuilt: { sha256: known[1]!, size: b!.size } };
  }
  const r = await pairPass(paths, jobs, () => undefined);
  const d = [...r.digests];
  return {
    published: { sha256: known[0] ?? d.shift()!.toString('hex'), size: r.sizes[0] },
    rebuilt: { sha256: known[1] ?? d.shift()!.toString('hex'), size: r.sizes[1] },
  };
}

/** A byte comparison; when top-level files differ and both are text, the first difference carries a
 * bounded unified diff (archive members get theirs from the archive comparer, under their own name). */
async function compareBytesWithText(publishedPath: string, rebuiltPath: string, options: CompareOptions): Promise<ComparisonReport> {
  const report = await compareBytes(publishedPath, rebuiltPath, { knownSha256: [options.publishedSha256, options.rebuiltSha256] });
  if (!report.match && (options.depth ?? 0) === 0 && report.differences[0]) await withTextDiff(report.differences[0], publishedPath, rebuiltPath, 'file');
  return report;
}

export async function compareArtifacts(publishedPath: string, rebuiltPath: string, given: CompareOptions = {}): Promise<ComparisonReport> {
  // containers (archives) compare their members through this dispatcher without importing it
  const options: CompareOptions = { ...given, compareMember: given.compareMember ?? compareArtifacts };
  if (options.method === 'bytes') return compareBytesWithText(publishedPath, rebuiltPath, options);

  const [pHead, rHead] = await Promise.all([readHead(publishedPath, HEAD_BYTES), readHead(rebuiltPath, HEAD_BYTES)]);
  const list = formatComparers();
  const comparer = comparerFor(pHead, list);
  if (comparer === bytesComparer) return compareBytesWithText(publishedPath, rebuiltPath, options);

  const paths: [string, string] = [publishedPath, rebuiltPath];
  const rebuiltSameKind = safeDetect(comparer, rHead);
  const bothKnown = !!options.publishedSha256 && !!options.rebuiltSha256;
  // PE: one read per file gives the digests, the Authenticode digest and the diff (pe/compare.ts)
  const onePass = comparer === peComparer && rebuiltSameKind && !bothKnown;
  let digests: { published: Digest; rebuilt: Digest };
  let peResult: Awaited<ReturnType<typeof comparePeOnce>> | undefined;
  if (onePass) {
    try {
      peResult = await comparePeOnce(publishedPath, rebuiltPath, options);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      // refused layout: the digests still decide identity, then the reason is the mismatch
      peResult = {
        ...(await digestsOf(paths, [options.publishedSha256, options.rebuiltSha256])),
        report: { method: comparer.method, match: false, differences: [{ where: 'format', detail: err.userMessage }] },
      };
    }
    digests = { published: peResult.published, rebuilt: peResult.rebuilt };
  } else digests = await digestsOf(paths, [options.publishedSha256, options.rebuiltSha256]);
  const { published, rebuilt } = digests;
  if (published.sha256 === rebuilt.sha256 && published.size === rebuilt.size) {
    return { method: comparer.method, match: true, differences: [], details: { ...digests, identical: true } };
  }
  if (!rebuiltSameKind) {
    const rebuiltKind = comparerFor(rHead, list);
    return {
      method: comparer.method,
      match: false,
      differences: [
        {
          where: 'format',
          detail: `the published file is ${formatName(comparer)}, the rebuilt one is ${rebuiltKind === bytesComparer ? 'not' : formatName(rebuiltKind)}`,
        },
      ],
      details: digests,
    };
  }

  let report: ComparisonReport;
  try {
    report = peResult ? peResult.report : await comparer.compare(publishedPath, rebuiltPath, options);
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    report = { method: comparer.method, match: false, differences: [{ where: 'format', detail: err.userMessage }] };
  }
  // fail closed: a comparer that says "match" while listing differences is a mismatch
  const match = report.match === true && report.differences.length === 0;
  return { ...report, match, details: { ...report.details, ...digests } };
}
