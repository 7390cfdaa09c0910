/**
 * Watch Lambda (default hourly, `watch.schedule`): one forge call for the latest release; when that
 * release has no run yet, a full run starts at once; otherwise nothing. Weekly runs alone leave a
 * tampered new release undetected for up to seven days; with the watch it is one schedule
 * interval plus the run's own time. The weekly full run stays.
 *
 * The run is started by invoking the launcher asynchronously with the tag (`{source:'watch', tag}`),
 * not by running the launcher's code here: the watch then needs lambda:InvokeFunction on one
 * function instead of the launcher's StartBuild on every target project (with its override guard),
 * write access to runs/ and ledger/, and 15 minutes and 1 GiB of Lambda. The launcher's own
 * de-duplication (a windowed run id per release) means a watch launch racing the weekly schedule
 * joins the same run instead of building twice.
 *
 * GitLab down: a finding and one alert per outage (state in watch/state.json), one notice when it
 * answers again — not one alert an hour. The watch writes no run summary, so it cannot make the
 * dead-man's switch believe a run happened; the runs it starts are ordinary runs and feed it as the
 * weekly run does.
 *
 * "Has a run" means a planned run of the tag at the tag's commit now, with the release's commit
 * being the tag's and its links those the watch saw when the release last had its run (`seen` in
 * the state); a changed release gets one run per distinct state. Assets re-uploaded at the same
 * URL are the weekly run's to find (its ledger check).
 *
 * Reads: runs/index.json (the run history; derived from the summaries) and watch/state.json.
 * Writes: watch/state.json, only when something changed (an outage began or ended, a run started).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Config } from '../core/config/schema';
import { errorMessage } from '../core/errors';
import type { Finding } from '../core/findings';
import { HISTORY_KEYS } from '../core/history';
import type { Forge, Notifier, Release, Store } from '../core/ports';
import { failedRunReport } from '../core/run/summary';
import {
  initialWatchState,
  parseWatchState,
  releaseChanges,
  releaseFingerprint,
  runsFromIndex,
  runsOfRelease,
  WATCH_STATE_KEY,
  watchAlert,
  type WatchState,
} from '../core/watch';
import { METRIC, SERVICE } from './metric-names';

export interface WatchDeps {
  config: Pick<Config, 'gitlab' | 'release'>;
  store: Store;
  notifier: Notifier;
  /** the forge, built with the token (a failure to read the token counts as the forge being down) */
  forge: () => Promise<Forge>;
  /** starts a full run of `tag` without waiting for it (the launcher, invoked asynchronously) */
  startRun: (tag: string) => Promise<void>;
  /**
   * A run the watch started is started again only when no run of that release was summarized this
   * long after (the launch failed before planning, or its summary was lost). The stack uses the
   * time after which the dead-man closes a run that never finished.
   */
  relaunchAfterMs: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  metrics?: Pick<Metrics, 'addMetric'>;
  now?: () => Date;
}

export type WatchOutcome = 'started' | 'known' | 'pending' | 'forge-down';

export interface WatchResult {
  outcome: WatchOutcome;
  release?: Pick<Release, 'tag' | 'commitSha'>;
  /** the run of the release the history lists (outcome 'known') */
  knownRunId?: string;
  /** forge down: why (FORGE_UNREACHABLE, FORGE_ERROR, RELEASE_NOT_FOUND…) */
  findings: Finding[];
  /** which alert this check sent, if any */
  alerted?: 'forge-down' | 'forge-recovered';
}

/** GitLab did not answer: one alert when the outage begins (then state 'down'), a warning on every later check. */
async function forgeDown(
  deps: WatchDeps,
  state: WatchState,
  err: unknown,
  now: Date,
  context: Parameters<typeof watchAlert>[1],
  save: (next: WatchState) => Promise<void>,
): Promise<WatchResult> {
  const { config, logger } = deps;
  // the same finding a run that cannot reach GitLab reports (summary.ts maps the forge's errors)
  const f = failedRunReport(config, 'watch', { mode: 'aws', startedAt: now.toISOString() }, err).findings[0]!;
  deps.metrics?.addMetric(METRIC.watchForgeDown, MetricUnit.Count, 1);
  if (state.forge.status === 'down') {
    logger?.warn('GitLab still down; alerted when the outage began', { since: state.forge.since, code: f.code, error: errorMessage(err) });
    return { outcome: 'forge-down', findings: [f] };
  }
  logger?.error('GitLab down: alerting once for this outage', { code: f.code, error: errorMessage(err) });
  // alert first: when the publish fails, the state stays 'up' and the next check alerts again
  await deps.notifier.notify(watchAlert({ kind: 'forge-down', finding: f, since: now.toISOString() }, context));
  await save({ ...state, forge: { status: 'down', since: now.toISOString(), error: f.message } });
  return { outcome: 'forge-down', findings: [f], alerted: 'forge-down' };
}

export async function watch(deps: WatchDeps): Promise<WatchResult> {
  const now = (deps.now ?? (() => new Date()))();
  const { store, config, logger } = deps;
  const context = { project: String(config.gitlab.project), gitlabUrl: config.gitlab.url, stateLocation: store.locate(WATCH_STATE_KEY) };
  const stored = parseWatchState(await store.get(WATCH_STATE_KEY));
  const state: WatchState = stored ?? initialWatchState(now);
  const save = async (next: WatchState) => {
    await store.put(WATCH_STATE_KEY, JSON.stringify({ ...next, updatedAt: now.toISOString() }, null, 2), { contentType: 'application/json' });
  };

  // 1. The one forge call.
  let release: Release;
  try {
    const forge = await deps.forge();
    release = await forge.getRelease(config.release === 'latest' ? undefined : config.release.tag);
  } catch (err) {
    return await forgeDown(deps, state, err, now, context, save);
  }

  const found = { tag: release.tag, commitSha: release.tagCommitSha };
  let next: WatchState = state;
  let alerted: WatchResult['alerted'];
  if (state.forge.status === 'down') {
    await deps.notifier.notify(
      watchAlert({ kind: 'forge-recovered', since: state.forge.since, until: now.toISOString(), error: state.forge.error, release: release.tag }, context),
    );
    logger?.info('GitLab answers again', { since: state.forge.since });
    next = { ...state, forge: { status: 'up', since: now.toISOString() } };
    alerted = 'forge-recovered';
    // saved at once: a failure below (the launch) must not send this notice again next time
    await save(next);
  }
  const changedFrom = next;

  // 2. Has this release been run? (any planned run of the tag at the tag's commit, any verdict)
  // Unless the release changed under the same tag and commit: its release commit is not the tag's,
  // or its links differ from those of the state the watch last accepted as run (`seen`; the watch
  // role reads no ledger: least privilege). Then past runs do not count: one full run is started
  // for this exact state (its fingerprint), and only a run finished after that launch counts — so
  // a tampered release alerts once per change, not every hour.
  const runs = runsOfRelease(runsFromIndex(await store.get(HISTORY_KEYS.json)), release);
  const fingerprint = releaseFingerprint(release);
  const sameRelease = (r: { tag: string; commitSha: string } | undefined) => r?.tag === release.tag && r.commitSha === release.tagCommitSha;
  const changes = releaseChanges(release, null);
  if (sameRelease(state.seen) && state.seen!.fingerprint !== fingerprint)
    changes.push('the asset links differ from those the watch saw when the release had its run');
  const launched = state.launched;
  const launchedThis = sameRelease(launched) && (changes.length === 0 || launched!.fingerprint === fingerprint);
  const known = changes.length === 0 ? runs[0] : launchedThis ? runs.find((r) => (r.finishedAt ?? r.startedAt) >= launched!.at) : undefined;
  let outcome: WatchOutcome;
  let knownRunId: string | undefined;
  if (known) {
    outcome = 'known';
    knownRunId = known.runId;
    // the state later checks compare with (written only when it changed)
    if (!sameRelease(state.seen) || state.seen!.fingerprint !== fingerprint)
      next = { ...next, seen: { tag: release.tag, commitSha: release.tagCommitSha, fingerprint } };
  } else if (launchedThis && now.getTime() - Date.parse(launched!.at) < deps.relaunchAfterMs) {
    // started by an earlier check and not summarized yet: the run is under way
    outcome = 'pending';
  } else {
    // 3. A new release (or a changed one): a full run, at once.
    await deps.startRun(release.tag);
    next = { ...next, launched: { tag: release.tag, commitSha: release.tagCommitSha, at: now.toISOString(), fingerprint } };
    deps.metrics?.addMetric(METRIC.watchRunsStarted, MetricUnit.Count, 1);
    logger?.info(changes.length ? 'changed release: full run started' : 'new release: full run started', {
      tag: release.tag,
      commit: release.tagCommitSha,
      changes,
    });
    outcome = 'started';
  }
  if (next !== changedFrom || !stored) await save(next);
  logger?.info('watch check', { outcome, tag: release.tag, knownRunId });
  return { outcome, release: found, ...(knownRunId ? { knownRunId } : {}), findings: [], ...(alerted ? { alerted } : {}) };
}

// ───────────────────────── Lambda wiring ─────────────────────────

/**
 * startRun on the launcher: an asynchronous invoke ('Event') with `{source:'watch', tag}`, which
 * Lambda queues (202), retries and dead-letters like a schedule delivery. Anything but 202 throws.
 */
export function launcherInvoker(lambda: LambdaClient, functionName: string): (tag: string) => Promise<void> {
  return async (tag) => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify({ source: 'watch', tag })) }),
    );
    if (out.StatusCode !== 202)
      throw new Error(`the launcher was not queued (status ${out.StatusCode ?? 'none'}${out.FunctionError ? `, ${out.FunctionError}` : ''})`);
  };
}

/** the one GitLab lookup's deadline (the function's timeout is 2 minutes: lib/constructs/watch-schedule.ts) */
export const FORGE_CALL_TIMEOUT_MS = 60_000;

let wired: { deps: WatchDeps; metrics: Metrics } | undefined;

async function wire() {
  if (wired) return wired;
  const [
    { loadRuntimeConfig, powertools, requireEnv, numberEnv, ENV },
    { S3Store },
    { SnsNotifier },
    { GitLabTokenReader },
    { GitLabForge },
    { LambdaClient },
  ] = await Promise.all([
    import('./runtime'),
    import('../adapters/store/s3-store'),
    import('../adapters/notifier/sns-notifier'),
    import('../adapters/secrets'),
    import('../adapters/forge/gitlab-forge'),
    import('@aws-sdk/client-lambda'),
  ]);
  const { logger, metrics } = powertools(SERVICE.watch);
  const config = loadRuntimeConfig();
  const token = new GitLabTokenReader(requireEnv(ENV.tokenSecret));
  const deps: WatchDeps = {
    config,
    store: new S3Store({ bucket: requireEnv(ENV.resultsBucket) }),
    notifier: new SnsNotifier({ topicArn: requireEnv(ENV.topicArn) }),
    // bounded well inside the function's 2 minutes: a hanging GitLab is reported as down, not a timeout
    forge: async () =>
      new GitLabForge({
        url: config.gitlab.url,
        project: config.gitlab.project,
        token: await token.read(),
        allowedAssetHosts: config.gitlab.allowedAssetHosts,
        cloneUrl: config.gitlab.cloneUrl,
        callTimeoutMs: FORGE_CALL_TIMEOUT_MS,
      }),
    startRun: launcherInvoker(new LambdaClient({}), requireEnv(ENV.launcherFunction)),
    relaunchAfterMs: numberEnv(ENV.staleRunMinutes, 24 * 60) * 60_000,
    logger,
    metrics,
  };
  wired = { deps, metrics };
  return wired;
}

export const handler = async (): Promise<WatchResult> => {
  const { deps, metrics } = await wire();
  try {
    return await watch(deps);
  } finally {
    metrics.publishStoredMetrics();
  }
};
