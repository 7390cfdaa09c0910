/**
 * The run history's data (runs/index.json): built by history.ts from the summaries, drawn by
 * history-html.ts. A JSON contract: extend, never rename.
 */
import type { Verdict } from './findings';

export interface RunIndexEntry {
  runId: string;
  startedAt: string;
  finishedAt: string;
  mode: 'local' | 'aws';
  verdict: Verdict;
  release: { tag: string; commitSha?: string; webUrl?: string } | null;
  targets: { name: string; verdict: Verdict }[];
  /** problem codes of the run with their counts (notices left out) */
  problems: { code: string; count: number }[];
  /** history findings of the run: what changed in published releases (any release, not only this one) */
  changes: { code: string; tag?: string; message: string }[];
  /** store keys of the run's records */
  links: { summary: string; html: string };
  /** set when the summary could not be read or parsed */
  unreadable?: string;
}

export interface TimelineEvent {
  at: string;
  runId: string;
  kind: 'first-seen' | 'verdict' | 'commit' | 'history';
  text: string;
  code?: string;
}

export interface ReleaseTimeline {
  tag: string;
  firstSeen: { runId: string; at: string };
  lastVerified: { runId: string; at: string } | null;
  latest: { runId: string; at: string; verdict: Verdict };
  runs: number;
  events: TimelineEvent[];
}

export interface RunIndex {
  schemaVersion: 1;
  project: string;
  updatedAt: string;
  /** newest first */
  runs: RunIndexEntry[];
  /** newest activity first */
  releases: ReleaseTimeline[];
  /** summaries not yet indexed because of MAX_SUMMARY_READS */
  pending?: number;
}
