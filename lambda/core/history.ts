/**
 * The run history: `runs/index.json` (every run — time, release, verdict per target, links) and
 * `runs/index.html` (history-html.ts), plus a timeline per release (first seen, last verified, what
 * changed). Regenerated after every run, locally in the store directory and in the results bucket.
 *
 * The summaries (runs/<runId>/summary.json, write-once) are the truth; the index is a derived copy:
 * each regeneration lists the summary keys, keeps the entries the previous index already had for
 * them and reads only the summaries it does not know yet, so a run costs one list, one read of the
 * index and a read per new run. A missing or unreadable index is rebuilt from the summaries. Two
 * runs finishing at the same moment may each write an index without the other; the next run's
 * regeneration lists both, so nothing stays missing.
 */
import { errorMessage } from './errors';
import type { Finding, Verdict } from './findings';
import { VERDICTS, compareVerdicts } from './findings';
import { RUN_ID_PATTERN } from './run/run-plan';
import type { Store } from './ports';
import type { RunReport } from './report';
import { allFindings } from './report';
import { runKeys } from './run/summary';
import { renderHistoryHtml } from './history-html';
import { targetRowVerdict } from './report-html/verdict';
import { HISTORY_CODES } from './report-html/history-codes';

export { HISTORY_KEYS } from './run/store-layout';
import { HISTORY_KEYS, STORE_PREFIXES } from './run/store-layout';

/** summaries read per regeneration at most (the rest wait for the next run; the index says so) */
export const MAX_SUMMARY_READS = 500;
/** events kept per release timeline (newest kept) */
export const MAX_TIMELINE_EVENTS = 50;
/** summaries larger than this are not parsed (they are our own records; this is a guard) */
const MAX_SUMMARY_CHARS = 16 * 1024 * 1024;

export { HISTORY_CODES } from './report-html/history-codes';

export type { ReleaseTimeline, RunIndex, RunIndexEntry, TimelineEvent } from './history-model';
import type { ReleaseTimeline, RunIndex, RunIndexEntry } from './history-model';

const isVerdict = (v: unknown): v is Verdict => typeof v === 'string' && (VERDICTS as readonly string[]).includes(v);

/** The index entry of one run report. Pure. */
export function entryFor(report: RunReport): RunIndexEntry {
  const counts = new Map<string, number>();
  const changes: RunIndexEntry['changes'] = [];
  for (const f of allFindings(report)) {
    if (f.level !== 'NOTICE') counts.set(f.code, (counts.get(f.code) ?? 0) + 1);
    if (HISTORY_CODES.has(f.code) && changes.length < 20) changes.push({ code: f.code, tag: changedTag(f, report), message: f.message.slice(0, 500) });
  }
  return {
    runId: report.runId,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    mode: report.mode,
    verdict: report.verdict,
    release: report.release ? { tag: report.release.tag, commitSha: report.release.commitSha, webUrl: report.release.webUrl } : null,
    // raised by run-level findings naming the target (a history change), as the report's rows are
    targets: report.targets.map((t) => ({ name: t.name, verdict: targetRowVerdict(report, t) })),
    problems: [...counts].map(([code, count]) => ({ code, count })),
    changes,
    links: { summary: runKeys.summary(report.runId), html: runKeys.html(report.runId) },
  };
}

/** The release a history finding is about: its evidence names the tag; an asset change is about the run's release. */
function changedTag(f: Finding, report: RunReport): string | undefined {
  const tag = (f.evidence as { tag?: unknown } | undefined)?.tag;
  if (typeof tag === 'string') return tag;
  return report.release?.tag;
}

const byTime = (a: RunIndexEntry, b: RunIndexEntry) => a.startedAt.localeCompare(b.startedAt) || a.runId.localeCompare(b.runId);

/** One timeline per release, from the runs (any order). Pure. */
export function timelines(entries: readonly RunIndexEntry[]): ReleaseTimeline[] {
  const ordered = [...entries].filter((e) => !e.unreadable).sort(byTime);
  const out = new Map<string, ReleaseTimeline & { lastCommit?: string; lastVerdict?: Verdict }>();
  const get = (tag: string, e: RunIndexEntry) => {
    let t = out.get(tag);
    if (!t) {
      t = {
        tag,
        firstSeen: { runId: e.runId, at: e.startedAt },
        lastVerified: null,
        latest: { runId: e.runId, at: e.startedAt, verdict: e.verdict },
        runs: 0,
        events: [],
      };
      out.set(tag, t);
    }
    return t;
  };
  for (const e of ordered) {
    const tag = e.release?.tag;
    if (tag) {
      const t = get(tag, e);
      t.runs++;
      t.latest = { runId: e.runId, at: e.startedAt, verdict: e.verdict };
      if (e.verdict === 'VERIFIED') t.lastVerified = { runId: e.runId, at: e.startedAt };
      if (t.runs === 1)
        t.events.push({
          at: e.startedAt,
          runId: e.runId,
          kind: 'first-seen',
          text: `first run: ${e.verdict}${e.release?.commitSha ? ` at commit ${e.release.commitSha.slice(0, 12)}` : ''}`,
        });
      else if (t.lastVerdict && t.lastVerdict !== e.verdict)
        t.events.push({ at: e.startedAt, runId: e.runId, kind: 'verdict', text: `verdict ${t.lastVerdict} → ${e.verdict}` });
      if (t.lastCommit && e.release?.commitSha && e.release.commitSha !== t.lastCommit) {
        t.events.push({
          at: e.startedAt,
          runId: e.runId,
          kind: 'commit',
          text: `tag now at commit ${e.release.commitSha.slice(0, 12)} (was ${t.lastCommit.slice(0, 12)})`,
        });
      }
      if (e.release?.commitSha) t.lastCommit = e.release.commitSha;
      t.lastVerdict = e.verdict;
    }
    for (const c of e.changes) {
      if (!c.tag) continue;
      const t = get(c.tag, e);
      t.events.push({ at: e.startedAt, runId: e.runId, kind: 'history', code: c.code, text: c.message });
    }
  }
  return [...out.values()]
    .map(({ lastCommit: _c, lastVerdict: _v, ...t }) => ({ ...t, events: t.events.slice(-MAX_TIMELINE_EVENTS) }))
    .sort((a, b) => b.latest.at.localeCompare(a.latest.at) || a.tag.localeCompare(b.tag));
}

/** An index entry read back from a stored index, or null when it does not look like one (then the summary is re-read). */
function storedEntry(v: unknown): RunIndexEntry | null {
  const e = v as RunIndexEntry;
  if (!e || typeof e !== 'object' || typeof e.runId !== 'string' || !RUN_ID_PATTERN.test(e.runId)) return null;
  if (typeof e.startedAt !== 'string' || typeof e.finishedAt !== 'string' || !isVerdict(e.verdict)) return null;
  if (!Array.isArray(e.targets) || !Array.isArray(e.problems) || !Array.isArray(e.changes) || !e.links) return null;
  if (e.unreadable) return null; // try again: the summary may be readable now
  return e;
}

function parseIndex(text: string | null): Map<string, RunIndexEntry> {
  const known = new Map<string, RunIndexEntry>();
  if (text === null) return known;
  try {
    const idx = JSON.parse(text) as Partial<RunIndex>;
    for (const raw of Array.isArray(idx.runs) ? idx.runs : []) {
      const e = storedEntry(raw);
      if (e) known.set(e.runId, e);
    }
  } catch {
    // a damaged index is rebuilt from the summaries
  }
  return known;
}

function unreadableEntry(runId: string, reason: string): RunIndexEntry {
  return {
    runId,
    startedAt: '',
    finishedAt: '',
    mode: 'local',
    verdict: 'INCOMPLETE',
    release: null,
    targets: [],
    problems: [],
    changes: [],
    links: { summary: runKeys.summary(runId), html: runKeys.html(runId) },
    unreadable: reason,
  };
}

async function readEntry(store: Store, runId: string): Promise<RunIndexEntry> {
  try {
    const text = await store.get(runKeys.summary(runId));
    if (text === null) return unreadableEntry(runId, 'the summary is gone');
    if (text.length > MAX_SUMMARY_CHARS) return unreadableEntry(runId, 'the summary is too large to index');
    const report = JSON.parse(text) as RunReport;
    if (report?.runId !== runId || !isVerdict(report.verdict) || !Array.isArray(report.targets) || !Array.isArray(report.findings))
      return unreadableEntry(runId, 'the summary has an unknown shape');
    return entryFor(report);
  } catch (err) {
    return unreadableEntry(runId, `the summary could not be read: ${errorMessage(err)}`);
  }
}

/** Run ids that have a summary in the store, from one listing of runs/. */
export async function summarizedRunIds(store: Store): Promise<string[]> {
  const keys = await store.list(STORE_PREFIXES.runs);
  const ids: string[] = [];
  for (const k of keys) {
    const m = /^runs\/([^/]+)\/summary\.json$/.exec(k);
    if (m && RUN_ID_PATTERN.test(m[1]!)) ids.push(m[1]!);
  }
  return ids;
}

/**
 * The index as the store holds it now: the previous index's entries for runs it knew, the new runs'
 * summaries read (at most MAX_SUMMARY_READS; `current` is taken as given, not re-read).
 */
export async function buildRunIndex(store: Store, options: { project: string; current?: RunReport; now?: Date }): Promise<RunIndex> {
  const [ids, previous] = await Promise.all([summarizedRunIds(store), store.get(HISTORY_KEYS.json).catch(() => null)]);
  const known = parseIndex(previous);
  if (options.current && RUN_ID_PATTERN.test(options.current.runId)) {
    known.set(options.current.runId, entryFor(options.current));
    if (!ids.includes(options.current.runId)) ids.push(options.current.runId);
  }
  const entries: RunIndexEntry[] = [];
  let reads = 0;
  let pending = 0;
  // newest first: the runs a reader looks for get indexed first when there are too many to read
  for (const id of [...ids].sort().reverse()) {
    const e = known.get(id);
    if (e) entries.push(e);
    else if (reads < MAX_SUMMARY_READS) {
      reads++;
      entries.push(await readEntry(store, id));
    } else pending++;
  }
  entries.sort((a, b) => byTime(b, a));
  return {
    schemaVersion: 1,
    project: options.project,
    updatedAt: (options.now ?? new Date()).toISOString(),
    runs: entries,
    releases: timelines(entries),
    ...(pending ? { pending } : {}),
  };
}

/** The worst verdict of a list (VERIFIED for none). */
export function worstVerdict(vs: readonly Verdict[]): Verdict {
  return vs.reduce<Verdict>((a, b) => (compareVerdicts(b, a) > 0 ? b : a), 'VERIFIED');
}

export interface HistoryWriteOptions {
  project: string;
  current?: RunReport;
  now?: Date;
  /** an absolute link for a store key in the page (the S3 console in AWS) */
  recordUrl?: (key: string) => string | undefined;
}

/** Regenerates runs/index.json and runs/index.html. Returns the index written. */
export async function regenerateHistory(store: Store, options: HistoryWriteOptions): Promise<RunIndex> {
  const index = await buildRunIndex(store, options);
  await store.put(HISTORY_KEYS.json, JSON.stringify(index, null, 2), { contentType: 'application/json' });
  await store.put(HISTORY_KEYS.html, renderHistoryHtml(index, { recordUrl: options.recordUrl }), { contentType: 'text/html; charset=utf-8' });
  return index;
}
