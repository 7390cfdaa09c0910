/**
 * Dead-man's switch Lambda (runs every few hours). A CloudWatch alarm can look back at most
 * 7 days, so "no completed run for 8 days" cannot be one alarm on RunCompleted. Instead this
 * function publishes DaysSinceLastSummary — the age of the newest run summary in the results
 * bucket — and the alarm fires when it exceeds the limit, or when the metric is missing (this
 * watchdog itself stopped).
 *
 * It also closes runs that can no longer finish on their own (a build whose end event was lost,
 * a checker that kept failing into the DLQ): once a plan is older than the longest build could
 * take, the run is summarized with the missing targets as TARGET_NOT_REPORTED (INCOMPLETE) and
 * alerted — through the same write-once summary, so a late checker cannot alert twice.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Notifier, Store } from '../core/ports';
import type { RunReport } from '../core/report';
import { readPlan, summarizeIfComplete, type FanInDeps } from './run-records';
import { METRIC, SERVICE } from './metric-names';

export const FIRST_SEEN_KEY = 'deadman/first-seen.json';
const DAY_MS = 86_400_000;

export interface DeadmanDeps {
  store: Store;
  notifier: Notifier;
  notifyOnVerified: boolean;
  /** a run still without summary this long after planning is closed as INCOMPLETE */
  staleRunMs: number;
  logger?: Logger;
  metrics?: Metrics;
  now?: () => Date;
}

export interface DeadmanResult {
  daysSinceLastSummary: number;
  lastSummary?: string;
  closed: string[];
}

export async function deadman(deps: DeadmanDeps): Promise<DeadmanResult> {
  const now = (deps.now ?? (() => new Date()))();
  const { store } = deps;
  const fanIn: FanInDeps = { store, notifier: deps.notifier, notifyOnVerified: deps.notifyOnVerified, now: deps.now };

  // Runs by id (ids sort by time): which have a plan, which a summary.
  const keys = await store.list('runs/');
  const plans = new Set<string>();
  const summaries = new Set<string>();
  for (const k of keys) {
    const m = /^runs\/([^/]+)\/(plan|summary)\.json$/.exec(k);
    if (m) (m[2] === 'plan' ? plans : summaries).add(m[1]!);
  }

  // 1. Close stale runs.
  const closed: string[] = [];
  for (const runId of [...plans].filter((r) => !summaries.has(r)).sort()) {
    const plan = await readPlan(store, runId);
    if (!plan || now.getTime() - Date.parse(plan.createdAt) < deps.staleRunMs) continue;
    const outcome = await summarizeIfComplete(plan, fanIn, { force: true });
    deps.logger?.warn('stale run closed', { runId, outcome });
    if (outcome !== 'already-summarized') closed.push(runId);
    summaries.add(runId);
  }
  if (closed.length) deps.metrics?.addMetric(METRIC.staleRunsClosed, MetricUnit.Count, closed.length);

  // 2. Age of the newest summary (before the first run: since this watchdog first ran).
  let since: number | undefined;
  let lastSummary: string | undefined;
  for (const runId of [...summaries].sort().reverse()) {
    const text = await store.get(`runs/${runId}/summary.json`);
    if (text === null) continue;
    const finishedAt = Date.parse((JSON.parse(text) as RunReport).finishedAt);
    if (Number.isFinite(finishedAt)) {
      since = finishedAt;
      lastSummary = runId;
      break;
    }
  }
  if (since === undefined) {
    await store.put(FIRST_SEEN_KEY, JSON.stringify({ firstSeen: now.toISOString() }), { ifNoneMatch: true });
    const first = await store.get(FIRST_SEEN_KEY);
    since = first ? Date.parse((JSON.parse(first) as { firstSeen: string }).firstSeen) : now.getTime();
  }
  const days = Math.max(0, (now.getTime() - since) / DAY_MS);
  const daysSinceLastSummary = Math.round(days * 100) / 100;
  deps.metrics?.addMetric(METRIC.daysSinceLastSummary, MetricUnit.Count, daysSinceLastSummary);
  deps.logger?.info('dead-man check', { daysSinceLastSummary, lastSummary, closed });
  return { daysSinceLastSummary, lastSummary, closed };
}

// ───────────────────────── Lambda wiring ─────────────────────────

let wired: { deps: DeadmanDeps; metrics: Metrics } | undefined;

async function wire() {
  if (wired) return wired;
  const [{ loadRuntimeConfig, powertools, requireEnv, numberEnv, ENV }, { S3Store }, { SnsNotifier }] = await Promise.all([
    import('./runtime'),
    import('../adapters/store/s3-store'),
    import('../adapters/notifier/sns-notifier'),
  ]);
  const { logger, metrics } = powertools(SERVICE.deadman);
  const config = loadRuntimeConfig();
  const deps: DeadmanDeps = {
    store: new S3Store({ bucket: requireEnv(ENV.resultsBucket) }),
    notifier: new SnsNotifier({ topicArn: requireEnv(ENV.topicArn) }),
    notifyOnVerified: config.alerts.notifyOnVerified,
    staleRunMs: numberEnv(ENV.staleRunMinutes, 24 * 60) * 60_000,
    logger,
    metrics,
  };
  wired = { deps, metrics };
  return wired;
}

export const handler = async (): Promise<DeadmanResult> => {
  const { deps, metrics } = await wire();
  try {
    return await deadman(deps);
  } finally {
    metrics.publishStoredMetrics();
  }
};
