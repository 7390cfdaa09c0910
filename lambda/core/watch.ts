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
 * Runs record the tag's peeled commit (summary.ts: `release.commitSha` is `plan.release.tagCommitSha`),
 * so that is what a run is matched on — never the release object's `commit.id`, which a forge can
 * leave unchanged while the tag moves.
 *
 * Tag and commit alone do not show a release whose asset links were repointed, or whose release
 * object and tag disagree: `releaseChanges` compares what the forge shows now with what the ledger
 * recorded when the release was first seen (one store read, no forge call). Any difference and the
 * past runs do not count — `--if-new` runs in full. The watch, whose role reads no ledger, compares
 * the links with the state it last found run (`seen`) and starts one full run for a changed state
 * (remembered by its fingerprint, so a tampered release is not rebuilt every hour). A file
 * re-uploaded at the same URL shows in neither: `--if-new` therefore skips only while the VERIFIED
 * run is younger than a bound (default IF_NEW_MAX_AGE_DAYS), and the watch relies on the weekly run.
 */
import { createHash } from 'node:crypto';
import { neutralise } from './text/neutralise';
import { smsText } from './sms-text';
import type { Alert } from './alert';
import type { Finding, Verdict } from './findings';
import type { Ledger } from './ledger';
import type { Release } from './ports';

/** The watch's state in the results bucket (written only when something changes). */
export { WATCH_STATE_KEY } from './run/store-layout';

export interface WatchState {
  schemaVersion: 1;
  /** the forge as the watch last saw it; `down` was alerted once, at `since` */
  forge: { status: 'up' | 'down'; since: string; error?: string };
  /** the last full run the watch started (asynchronously: it has no summary yet for a while);
   * commitSha is the tag's commit; fingerprint (releaseFingerprint) the release as it was then */
  launched?: { tag: string; commitSha: string; at: string; fingerprint?: string };
  /** the release state the watch last found run (tag, the tag's commit, releaseFingerprint): a
   * later check whose links differ starts a run for the new state */
  seen?: { tag: string; commitSha: string; fingerprint: string };
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
    if (v.seen && (typeof v.seen.tag !== 'string' || typeof v.seen.commitSha !== 'string' || typeof v.seen.fingerprint !== 'string')) return null;
    if (
      v.launched &&
      (typeof v.launched.tag !== 'string' ||
        typeof v.launched.commitSha !== 'string' ||
        typeof v.launched.at !== 'string' ||
        (v.launched.fingerprint !== undefined && typeof v.launched.fingerprint !== 'string'))
    )
      return null;
    return v;
  } catch {
    return null;
  }
}

/** The parts of a history index entry (core/history.ts RunIndexEntry) the watch reads. */
export interface KnownRun {
  runId: string;
  startedAt: string;
  finishedAt?: string;
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
    (r.finishedAt === undefined || typeof r.finishedAt === 'string') &&
    typeof r.verdict === 'string' &&
    Array.isArray(r.targets) &&
    (r.release === null || (typeof r.release?.tag === 'string' && (r.release.commitSha === undefined || typeof r.release.commitSha === 'string')))
  );
}

/** Runs of this release: same tag, and the commit the run recorded is the tag's commit now (a run
 * that recorded none does not count); planned (at least one target). Newest first. */
export function runsOfRelease(runs: readonly KnownRun[], release: Pick<Release, 'tag' | 'tagCommitSha'>): KnownRun[] {
  return runs
    .filter((r) => r.release?.tag === release.tag && r.targets.length > 0 && !!r.release.commitSha && r.release.commitSha === release.tagCommitSha)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId));
}

/** What the forge shows of a release: enough to tell whether past runs still speak for it. */
export type ReleaseSeen = Pick<Release, 'tag' | 'commitSha' | 'tagCommitSha' | 'links'>;

/** Bound on the links compared (a release has far fewer; GitLabForge refuses more than 2000). */
const MAX_LINKS = 2_000;

/**
 * Why past runs of the release do not vouch for it as the forge shows it now; empty when they do.
 * `ledger` is the stored ledger (null: none yet, nothing recorded to compare with); `'unreadable'`
 * counts as a change (the full run then reports LEDGER_CORRUPT).
 */
export function releaseChanges(release: ReleaseSeen, ledger: Ledger | null | 'unreadable'): string[] {
  const out: string[] = [];
  if (release.commitSha !== release.tagCommitSha) out.push(`the release's commit ${release.commitSha} is not the tag's commit ${release.tagCommitSha}`);
  if (ledger === 'unreadable') return [...out, 'the ledger is unreadable'];
  const seen = ledger?.releases[release.tag];
  if (!seen) return out;
  if (seen.tagCommitSha !== release.tagCommitSha) out.push(`the tag pointed to ${seen.tagCommitSha} when first seen, now to ${release.tagCommitSha}`);
  if (release.links.length > MAX_LINKS) return [...out, `more than ${MAX_LINKS} links`];
  const now = new Map<string, string>();
  for (const l of release.links) {
    if (now.has(l.name)) out.push(`link "${l.name}" appears twice`);
    now.set(l.name, l.url);
  }
  const before = Object.entries(seen.links);
  if (before.length !== now.size || before.some(([name, url]) => now.get(name) !== url))
    out.push('the asset links differ from those recorded when the release was first seen');
  return out;
}

/** A digest of the release as the forge shows it (tag, both commits, links): the state a run was started for. */
export function releaseFingerprint(release: ReleaseSeen): string {
  const links = release.links
    .slice(0, MAX_LINKS)
    .map((l) => [l.name, l.url])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([release.tag, release.commitSha, release.tagCommitSha, links]))
    .digest('hex');
}

/** `verify --if-new` skips only while the VERIFIED run is younger than this (assets re-uploaded at the same URL). */
export const IF_NEW_MAX_AGE_DAYS = 7;

/**
 * `verify --if-new`: the run that makes a full run unnecessary, if any — the newest run of the
 * release (same tag, the tag's commit now) is VERIFIED, it started less than `maxAgeMs` before
 * `now`, and the release shows no change (releaseChanges is empty).
 */
export function alreadyVerified(
  runs: readonly KnownRun[],
  release: ReleaseSeen,
  opts: { now: Date; maxAgeMs: number; ledger: Ledger | null | 'unreadable' },
): KnownRun | undefined {
  if (releaseChanges(release, opts.ledger).length > 0) return undefined;
  const newest = runsOfRelease(runs, release)[0];
  if (newest?.verdict !== 'VERIFIED') return undefined;
  const age = opts.now.getTime() - Date.parse(newest.startedAt);
  // an unparsable or future time is no evidence of freshness
  return Number.isFinite(age) && age >= 0 && age < opts.maxAgeMs ? newest : undefined;
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
