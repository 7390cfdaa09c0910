/**
 * `release-verifier compare PUBLISHED REBUILT [--json] [--method auto|bytes] [--diffoscope [DIR]] [--details]`
 *
 * Compares a published artifact with a rebuilt one, signature-transparently (the comparer is chosen
 * by content: PE/Authenticode, Mach-O, MSI, archive, else bytes).
 *
 * Contract: exit 0 match, 1 mismatch, 2 could not compare (unreadable input, refused input), 3 usage
 * error (as every command).
 * `--json` prints exactly
 *   {"match": bool, "method": "bytes|authenticode|macho|msi|archive",
 *    "published": {"sha256": ...}, "rebuilt": {"sha256": ...}, "differences": [...]}
 * plus "diffoscope" when --diffoscope is given and "details" when --details is given. When the
 * files could not be compared, --json prints {"match": false, "error": {"code", "message"}}.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage, UsageError, VerifierError } from '../core/errors';
import type { ComparisonReport, Difference } from '../core/report';
import { compareArtifacts } from '../formats/compare/index';
import { hashFile } from '../formats/digest';
import { runDiffoscope, type DiffoscopeResult } from '../formats/compare/diffoscope';
import { neutralise, safeJson } from '../core/text/neutralise';

const HELP = `usage: release-verifier compare PUBLISHED REBUILT [--json] [--method auto|bytes]
                                 [--diffoscope [DIR]] [--details]
  PUBLISHED             the released file (e.g. downloaded from the release)
  REBUILT               the file your rebuild produced
  --json                print {"match", "method", "published", "rebuilt", "differences"} as JSON
  --method auto|bytes   auto (default): chosen by content — authenticode (PE), macho, msi,
                        archive (zip, tar, tar.gz), else bytes; bytes: byte-for-byte only
  --diffoscope [DIR]    on a mismatch, also run diffoscope (when installed) and attach its
                        report (DIR, default a new temporary directory); give DIR after the two
                        files or as --diffoscope=DIR
  --details             include the comparer's details (slices, entries, metadata differences)
exit codes: 0 match, 1 mismatch, 2 could not compare, 3 usage error`;

interface Args {
  published: string;
  rebuilt: string;
  json: boolean;
  details: boolean;
  method: 'auto' | 'bytes';
  diffoscope: { dir?: string } | null;
}

export function parseCompareArgs(argv: string[]): Args | 'help' {
  const positional: string[] = [];
  let json = false;
  let details = false;
  let method: 'auto' | 'bytes' = 'auto';
  let diffoscope: { dir?: string } | null = null;
  let endOfOptions = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (endOfOptions || !a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    if (a === '--') endOfOptions = true;
    else if (a === '--help' || a === '-h') return 'help';
    else if (a === '--json') json = true;
    else if (a === '--details') details = true;
    else if (a === '--method' || a.startsWith('--method=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v !== 'auto' && v !== 'bytes') throw new UsageError(`--method must be "auto" or "bytes", not ${JSON.stringify(v ?? '')}`);
      method = v;
    } else if (a === '--diffoscope') {
      diffoscope = {};
      // DIR is only taken positionally once both files are known, so "--diffoscope A B" stays unambiguous
      const next = argv[i + 1];
      if (positional.length === 2 && next !== undefined && !next.startsWith('-')) diffoscope.dir = argv[++i];
    } else if (a.startsWith('--diffoscope=')) {
      diffoscope = { dir: a.slice('--diffoscope='.length) };
      if (!diffoscope.dir) throw new UsageError('--diffoscope= needs a directory');
    } else throw new UsageError(`unknown option ${a}`);
  }
  if (positional.length !== 2) throw new UsageError(`expected PUBLISHED and REBUILT, got ${positional.length} file argument(s)`);
  return { published: positional[0]!, rebuilt: positional[1]!, json, details, method, diffoscope };
}

function describeDifference(d: Difference): string {
  const ranges = [
    d.publishedRange && `published 0x${d.publishedRange[0].toString(16)}–0x${d.publishedRange[1].toString(16)}`,
    d.rebuiltRange && `rebuilt 0x${d.rebuiltRange[0].toString(16)}–0x${d.rebuiltRange[1].toString(16)}`,
  ].filter(Boolean);
  return `  ${d.where}: ${d.detail ?? 'differs'}${ranges.length && !(d.detail ?? '').includes('0x') ? ` [${ranges.join(', ')}]` : ''}`;
}

function sha256Of(report: ComparisonReport, side: 'published' | 'rebuilt'): { sha256: string; size?: number } | undefined {
  const d = report.details?.[side] as { sha256?: string; size?: number } | undefined;
  return d?.sha256 ? { sha256: d.sha256, ...(d.size !== undefined ? { size: d.size } : {}) } : undefined;
}

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  let args: Args | 'help';
  try {
    args = parseCompareArgs(argv);
  } catch (err) {
    process.stderr.write(`release-verifier compare: ${neutralise(errorMessage(err))}\n\n${HELP}\n`);
    if (json) process.stdout.write(safeJson({ match: false, error: { code: 'USAGE', message: errorMessage(err) } }) + '\n');
    return 3;
  }
  if (args === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }

  let report: ComparisonReport;
  try {
    report = await compareArtifacts(args.published, args.rebuilt, { method: args.method });
  } catch (err) {
    const code = err instanceof VerifierError ? err.code : ((err as { code?: string }).code ?? 'COMPARE_FAILED');
    const message = `could not compare ${args.published} with ${args.rebuilt}: ${errorMessage(err)}`;
    if (json) process.stdout.write(safeJson({ match: false, error: { code, message } }) + '\n');
    else process.stderr.write(`release-verifier compare: ${neutralise(message)}\n`);
    return 2;
  }

  // the comparers record both digests; compute any that is missing (never print a report without them)
  const published = sha256Of(report, 'published') ?? (await hashFile(args.published));
  const rebuilt = sha256Of(report, 'rebuilt') ?? (await hashFile(args.rebuilt));
  const match = report.match === true && report.differences.length === 0;

  let diffoscope: DiffoscopeResult | { status: 'skipped'; message: string } | undefined;
  if (args.diffoscope) {
    if (match) diffoscope = { status: 'skipped', message: 'the files match; no diffoscope report needed' };
    else {
      const outDir = args.diffoscope.dir ?? (await mkdtemp(join(tmpdir(), 'release-verifier-diffoscope-')));
      diffoscope = await runDiffoscope(args.published, args.rebuilt, { outDir });
    }
  }

  if (args.json) {
    const out: Record<string, unknown> = {
      match,
      method: report.method,
      published: { sha256: published.sha256 },
      rebuilt: { sha256: rebuilt.sha256 },
      differences: report.differences,
    };
    if (diffoscope) out.diffoscope = diffoscope;
    if (args.details) out.details = report.details ?? {};
    process.stdout.write(safeJson(out, 2) + '\n');
  } else {
    const lines: string[] = [];
    lines.push(
      match
        ? `MATCH (${report.method}): ${args.rebuilt} reproduces ${args.published}${published.sha256 !== rebuilt.sha256 ? ' (signature-transparently)' : ''}`
        : `MISMATCH (${report.method}): ${report.differences.length} difference(s) between ${args.published} and ${args.rebuilt}`,
    );
    lines.push(`  published sha256 ${published.sha256}`, `  rebuilt   sha256 ${rebuilt.sha256}`);
    for (const d of report.differences) lines.push(describeDifference(d));
    const meta = report.details?.metadataDifferences as unknown[] | undefined;
    if (meta && meta.length > 0) {
      const total = (report.details?.metadataDifferencesTotal as number | undefined) ?? meta.length;
      lines.push(`note: ${total} archive metadata difference(s) (times, modes, owners…) — reported, not content; --json --details lists them`);
    }
    const order = report.details?.entryOrder as { differs?: boolean } | undefined;
    if (order?.differs) lines.push('note: the archive entries are in a different order — reported, not content');
    if (diffoscope) lines.push(`diffoscope: ${diffoscope.message}`);
    // entry names and details come from the files: neutralised, one line each
    process.stdout.write(lines.map(neutralise).join('\n') + '\n');
  }
  return match ? 0 : 1;
}
