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
import type { Config } from '../core/config/schema';
import type { Notifier, Store } from '../core/ports';
import { closeStaleRuns } from '../core/run/remote';
import { DEADMAN_FIRST_SEEN_KEY } from '../core/run/store-layout';
import { awsEngine } from './aws-engine';
import { METRIC, SERVICE } from './metric-names';

export const FIRST_SEEN_KEY = DEADMAN_FIRST_SEEN_KEY;
const DAY_MS = 86_400_000;

export interface DeadmanDeps {
  config: Config;
  store: Store;
  notifier: Notifier;
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
  const engine = awsEngine(deps.config, { store, notifier: deps.notifier, now: deps.now, logger: deps.logger });

  // 1. Close stale runs (the engine's forced summary: missing targets are TARGET_NOT_REPORTED).
  const { closed, realerted, failed, summaries } = await closeStaleRuns(engine, now, deps.staleRunMs);
  for (const runId of closed) deps.logger?.warn('stale run closed', { runId });
  for (const runId of realerted) deps.logger?.warn('lost alert re-sent', { runId });
  if (closed.length) deps.metrics?.addMetric(METRIC.staleRunsClosed, MetricUnit.Count, closed.length);

  // 2. Age of the newest summary (before the first run: since this watchdog first ran).
  let since: number | undefined;
  let lastSummary: string | undefined;
  for (const runId of [...summaries].sort().reverse()) {
    const report = await engine.readSummary(runId);
    if (report === null) continue;
    const finishedAt = Date.parse(report.finishedAt);
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
  // a run that could not be closed fails the invocation (the Errors alarm), after every other run was handled
  if (failed.length)
    throw new Error(
      `the dead-man could not close ${failed.length} run(s): ${failed
        .map((f) => `${f.runId}: ${f.error}`)
        .join('; ')
        .slice(0, 1000)}`,
    );
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
    config,
    staleRunMs: numberEnv(ENV.staleRunMinutes, 24 * 60) * 60_000,
    logger,
    metrics,
  };
  wired = { deps, metrics };
  return wired;
}

export const handler = async (_event?: unknown, context?: { getRemainingTimeInMillis?: () => number }): Promise<DeadmanResult> => {
  const { deps, metrics } = await wire();
  const { withLastResort, lambdaDeadlineMs } = await import('./runtime');
  const { windowedRunId } = await import('../core/run/run-id');
  try {
    // one failure record per day: the dead-man's own crash is a run the maintainer hears about
    const runId = windowedRunId(new Date(), 24 * 3_600_000, [deps.config.gitlab.url, String(deps.config.gitlab.project), 'deadman-internal-error']);
    return await withLastResort(() => deadman(deps), deps, { runId, deadlineMs: lambdaDeadlineMs(context) });
  } finally {
    metrics.publishStoredMetrics();
  }
};
