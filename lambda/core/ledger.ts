/**
 * The ledger: what release-verifier has seen of the project's release history — each release's tag
 * commit, its links and the digests of the assets it downloaded. A later run that finds a tag moved,
 * a link changed or removed, a release gone, or an asset whose bytes changed since it was first
 * seen reports it as TAMPERED: published history must not change silently, even when the new bytes
 * happen to verify.
 *
 * Stored at `ledger/ledger.json` (versioned and Object-Locked in S3, so its own history is kept).
 * Written only by the run summary, which is written exactly once per run.
 */
import { finding, type Finding } from './findings';
import type { ReleaseHistory } from './ports';
import type { RunPlan } from './run/run-plan';
import type { RunReport } from './report';

export { LEDGER_KEY } from './run/store-layout';

export interface LedgerAsset {
  sha256: string;
  firstSeenRunId: string;
  firstSeenAt: string;
}

export interface LedgerRelease {
  tagCommitSha: string;
  releaseCommitSha: string;
  links: Record<string, string>;
  assets: Record<string, LedgerAsset>;
  firstSeenRunId: string;
  firstSeenAt: string;
}

export interface Ledger {
  schemaVersion: 1;
  project: string | number;
  updatedAt: string;
  updatedByRunId: string;
  releases: Record<string, LedgerRelease>;
}

export function emptyLedger(project: string | number): Ledger {
  return { schemaVersion: 1, project, updatedAt: '', updatedByRunId: '', releases: {} };
}

/** Parses a stored ledger; a corrupt one is an error (not an empty ledger — that would hide history). */
export function parseLedger(text: string): Ledger {
  const v = JSON.parse(text) as Ledger;
  if (v?.schemaVersion !== 1 || typeof v.releases !== 'object' || v.releases === null) throw new Error('ledger has an unknown shape');
  return v;
}

/** Compares what the forge says now with what the ledger recorded. Pure. */
export function historyFindings(ledger: Ledger | null, history: ReleaseHistory): Finding[] {
  if (!ledger || Object.keys(ledger.releases).length === 0) {
    return [finding('HISTORY_BASELINE', 'first run for this project: release history recorded as the baseline for later runs')];
  }
  const findings: Finding[] = [];
  const now = new Map(history.releases.map((r) => [r.tag, r]));
  for (const [tag, seen] of Object.entries(ledger.releases)) {
    const tagCommit = history.tags[tag];
    if (tagCommit === undefined) {
      if (history.complete)
        findings.push(
          finding('TAG_MOVED', `tag ${tag} was deleted (it pointed to ${seen.tagCommitSha})`, { evidence: { tag, was: seen.tagCommitSha, now: null } }),
        );
    } else if (tagCommit !== seen.tagCommitSha) {
      findings.push(
        finding('TAG_MOVED', `tag ${tag} moved from ${seen.tagCommitSha} to ${tagCommit}`, { evidence: { tag, was: seen.tagCommitSha, now: tagCommit } }),
      );
    }
    const release = now.get(tag);
    if (!release) {
      if (history.complete)
        findings.push(finding('PAST_RELEASE_REMOVED', `release ${tag} was removed`, { evidence: { tag, firstSeenRunId: seen.firstSeenRunId } }));
      continue;
    }
    const links = new Map(release.links.map((l) => [l.name, l.url]));
    for (const [name, url] of Object.entries(seen.links)) {
      const nowUrl = links.get(name);
      if (nowUrl === undefined)
        findings.push(finding('PAST_LINK_CHANGED', `release ${tag}: link "${name}" was removed`, { evidence: { tag, link: name, was: url, now: null } }));
      else if (nowUrl !== url)
        findings.push(
          finding('PAST_LINK_CHANGED', `release ${tag}: link "${name}" now points elsewhere`, { evidence: { tag, link: name, was: url, now: nowUrl } }),
        );
    }
    for (const [name, url] of links) {
      if (!(name in seen.links))
        findings.push(
          finding('PAST_LINK_CHANGED', `release ${tag}: link "${name}" was added after the release was first seen`, {
            evidence: { tag, link: name, was: null, now: url },
          }),
        );
    }
  }
  return findings;
}

/** Findings for assets of this run whose bytes differ from what an earlier run saw for the same release. */
export function assetChangeFindings(ledger: Ledger | null, report: RunReport): Finding[] {
  const tag = report.release?.tag;
  const seen = tag ? ledger?.releases[tag] : undefined;
  if (!seen) return [];
  const out: Finding[] = [];
  for (const t of report.targets)
    for (const a of t.artifacts) {
      const before = seen.assets[a.asset];
      if (before && a.published && a.published.sha256 !== before.sha256) {
        out.push(
          finding('PAST_ASSET_CHANGED', `${a.asset} of ${tag} changed since run ${before.firstSeenRunId} (${before.firstSeenAt})`, {
            target: t.name,
            artifact: a.asset,
            evidence: { was: before.sha256, now: a.published.sha256, firstSeenRunId: before.firstSeenRunId },
          }),
        );
      }
    }
  return out;
}

/**
 * The ledger after a run: releases seen for the first time are added; entries already recorded are
 * kept as first seen (a change is reported, never silently adopted as the new truth).
 */
export function updatedLedger(previous: Ledger | null, plan: Pick<RunPlan, 'project' | 'runId'>, history: ReleaseHistory | null, report: RunReport): Ledger {
  const ledger: Ledger = previous ? structuredClone(previous) : emptyLedger(plan.project.project);
  const at = report.finishedAt;
  for (const r of history?.releases ?? []) {
    if (ledger.releases[r.tag]) continue;
    const tagCommit = history!.tags[r.tag];
    if (!tagCommit) continue;
    ledger.releases[r.tag] = {
      tagCommitSha: tagCommit,
      releaseCommitSha: r.commitSha,
      links: Object.fromEntries(r.links.map((l) => [l.name, l.url])),
      assets: {},
      firstSeenRunId: plan.runId,
      firstSeenAt: at,
    };
  }
  const tag = report.release?.tag;
  const entry = tag ? ledger.releases[tag] : undefined;
  if (entry) {
    for (const t of report.targets)
      for (const a of t.artifacts) {
        if (a.published && !entry.assets[a.asset]) entry.assets[a.asset] = { sha256: a.published.sha256, firstSeenRunId: plan.runId, firstSeenAt: at };
      }
  }
  ledger.updatedAt = at;
  ledger.updatedByRunId = plan.runId;
  return ledger;
}
