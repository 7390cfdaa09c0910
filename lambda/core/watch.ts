/**
 * What the store already knows about a release, for the hourly watch (handlers/watch.ts) and for
 * `verify --if-new` (cli/verify.ts): the runs the history index lists for a tag, and the watch's
 * own small state (`watch/state.json`: the forge outage it alerted about, the last run it started).
 *
 * Two questions, two answers:
 * - the watch asks "has this release been run at all?" — any planned run of the tag at the same
 *   commit, whatever its verdict. A TAMPERED or MISMATCH release has alerted already and the weekly
 *   run repeats it; starting a full run every hour for it would rebuild every target 24 times a day
 *   and alert 24 times a day. A run that could not even be planned (targets: [], e.g. GitLab was
 *   down) does not count: nothing of the release was checked.
 * - `verify --if-new` asks "is this release verified?" — the newest run of the tag at the same commit
 *   is VERIFIED. Anything else (TAMPERED, MISMATCH, INCOMPLETE, no run) runs again: on a laptop's
 *   cron the check is the alert, and a tampered release must keep failing loudly.
 * In both, a tag that now points to another commit is a new release (its run reports TAG_MOVED).
 */
import { neutralise } from './text/neutralise';
import { smsText } from './sms-text';
import type { Alert } from './alert';
import type { Finding, Verdict } from './findings';
import type { Release } from './ports';

/** The watch's state in the results bucket (written only when something changes). */
export const WATCH_STATE_KEY = 'watch/state.json';

export interface WatchState {
  schemaVersion: 1;
  /** the forge as the watch last saw it; `down` was alerted once, at `since` */
  forge: { status: 'up' | 'down'; since: string; error?: string };
  /** the last full run the watch started (asynchronously: it has no summary yet for a while) */
  launched?: { tag: string; commitSha: string; at: string };
  updatedAt: string;
}

export function initialWatchState(now: Date): WatchState {
  return { schemaVersion: 1, forge: { status: 'up', since: now.toISOString() }, updatedAt: now.toISOString() };
}

/** A stored state, or null when it is missing or has an unknown shape (the watch then starts afresh:
 * at worst one extra outage alert or one extra run, never a missed one). */
export function parseWatchState(text: string | null): WatchState | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as WatchState;
    if (v?.schemaVersion !== 1 || (v.forge?.status !== 'up' && v.forge?.status !== 'down') || typeof v.forge.since !== 'string') return null;
    if (v.launched && (typeof v.launched.tag !== 'string' || typeof v.launched.commitSha !== 'string' || typeof v.launched.at !== 'string')) return null;
    return v;
  } catch {
    return null;
  }
}

/** The parts of a history index entry (core/history.ts RunIndexEntry) the watch reads. */
export interface KnownRun {
  runId: string;
  startedAt: string;
  verdict: Verdict;
  release: { tag: string; commitSha?: string } | null;
  targets: { name: string }[];
}

/** Bound on the index entries looked at (the index itself is our own record; this is a guard). */
const MAX_ENTRIES = 10_000;

/**
 * The runs of a stored `runs/index.json`. Missing or unreadable: none (the watch then starts a
 * run — the direction that checks more, never less). Entries of an unknown shape are skipped.
 */
export function runsFromIndex(text: string | null): KnownRun[] {
  if (text === null) return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  const runs = (v as { runs?: unknown })?.runs;
  if (!Array.isArray(runs)) return [];
  return runs.slice(0, MAX_ENTRIES).filter(isKnownRun);
}

function isKnownRun(e: unknown): e is KnownRun {
  const r = e as KnownRun;
  return (
    typeof r?.runId === 'string' &&
    typeof r.startedAt === 'string' &&
    typeof r.verdict === 'string' &&
    Array.isArray(r.targets) &&
    (r.release === null || (typeof r.release?.tag === 'string' && (r.release.commitSha === undefined || typeof r.release.commitSha === 'string')))
  );
}

/** Runs of this release: same tag, same commit when both sides know it; planned (at least one target). Newest first. */
export function runsOfRelease(runs: readonly KnownRun[], release: Pick<Release, 'tag' | 'commitSha'>): KnownRun[] {
  return runs
    .filter((r) => r.release?.tag === release.tag && r.targets.length > 0 && (!r.release.commitSha || !release.commitSha || r.release.commitSha === release.commitSha))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId));
}

/** `verify --if-new`: the newest run of the release is VERIFIED. */
export function alreadyVerified(runs: readonly KnownRun[], release: Pick<Release, 'tag' | 'commitSha'>): KnownRun | undefined {
  const newest = runsOfRelease(runs, release)[0];
  return newest?.verdict === 'VERIFIED' ? newest : undefined;
}

/**
 * The watch's alerts: one when the forge goes down (built from the finding), one when it is back.
 * Both carry the same verdict (INCOMPLETE: the latest release could not be looked at) and severity
 * (warning), so a subscription filter that delivered the outage also delivers its end — as a
 * CloudWatch alarm's OK notification follows its ALARM to the same topic.
 */
export function watchAlert(
  event: { kind: 'forge-down'; finding: Finding; since: string } | { kind: 'forge-recovered'; since: string; until: string; error?: string; release: string },
  context: { project: string; gitlabUrl: string; stateLocation: string },
): Alert {
  const verdict: Verdict = 'INCOMPLETE';
  const lines: string[] = [];
  let subject: string;
  let short: string;
  if (event.kind === 'forge-down') {
    subject = `[release-verifier] watch: GitLab unreachable for ${context.project}`;
    short = `release-verifier watch ${context.project}: ${event.finding.code}, new releases are not checked until GitLab answers`;
    lines.push(
      'WATCH — GitLab could not be asked for the latest release, so a new release would not be checked now.',
      '',
      `Project:  ${context.project} (${context.gitlabUrl})`,
      `Since:    ${event.since}`,
      '',
      'Finding:',
      `  [${event.finding.level}] ${event.finding.code}: ${event.finding.message}`,
      ...Object.entries(event.finding.evidence ?? {})
        .filter(([, v]) => v !== undefined && v !== null && v !== '')
        .map(([k, v]) => `      ${k}: ${String(typeof v === 'string' ? v : JSON.stringify(v)).slice(0, 300)}`),
      '',
      'The watch keeps asking every scheduled interval and sends one notice when GitLab answers again;',
      'it does not repeat this alert while the outage lasts. The weekly full run is not affected by this',
      'alert (it will report INCOMPLETE on its own if GitLab is still down then).',
      '',
      `Watch state: ${context.stateLocation}`,
    );
  } else {
    subject = `[release-verifier] watch: GitLab reachable again for ${context.project}`;
    short = `release-verifier watch ${context.project}: GitLab answers again (down since ${event.since}); latest release ${event.release}`;
    lines.push(
      'WATCH — GitLab answers again; the watch checks for new releases as before.',
      '',
      `Project:  ${context.project} (${context.gitlabUrl})`,
      `Outage:   ${event.since} → ${event.until}`,
      ...(event.error ? [`Last error: ${event.error}`] : []),
      `Latest release now: ${event.release} (a full run starts at once if it has none yet)`,
      '',
      `Watch state: ${context.stateLocation}`,
    );
  }
  return {
    verdict,
    severity: 'warning',
    subject: neutralise(subject).slice(0, 100),
    body: lines.map(neutralise).join('\n'),
    short: smsText(neutralise(short)),
    runId: `watch-${(event.kind === 'forge-down' ? event.since : event.until).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`,
    reportLocation: context.stateLocation,
  };
}
