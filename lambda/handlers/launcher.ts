/**
 * Launcher Lambda (weekly schedule, or `release-verifier run-now`): finds the release, fixes the
 * run plan in S3 and starts one CodeBuild build per target, in parallel.
 *
 * Re-invocation within a run window (Lambda's async retries, a duplicated schedule delivery, a
 * second run-now) does not start duplicate builds: the run id is derived from the release and the
 * window, the plan is written once (If-None-Match), and a target whose build was recorded as
 * started — or that has already reported — is not started again. StartBuild's idempotency token
 * covers the remaining gap (two launches racing within 5 minutes). `{"fresh": true}` asks for a new
 * run regardless.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { checkTarget } from '../core/check-target';
import type { Config } from '../core/config/schema';
import { errorMessage } from '../core/errors';
import type { FormatOps } from '../core/format-ops';
import { newRunId, planRun, type RunPlan } from '../core/plan';
import type { Forge, Notifier, Store } from '../core/ports';
import type { Verdict } from '../core/findings';
import { failedRunReport, runKeys } from '../core/summary';
import { loadLedger } from '../core/ledger-store';
import type { StartedBuild } from '../adapters/builder/codebuild-launcher';
import { sourceRecordKey, type StagedSource } from '../adapters/builder/source-stager';
import { NO_ARTIFACTS } from '../adapters/builder/codebuild-results';
import { finishRun, launchKey, readPlan, recordTargetReport, reportedTargets, windowedRunId, type FanInDeps, type LaunchRecord } from './run-records';
import { METRIC, SERVICE } from './metric-names';

export const LauncherEventSchema = z
  .object({
    /** a release tag instead of the configured one */
    tag: z.string().min(1).max(255).optional(),
    /** a new run even if this release was already launched in the current window */
    fresh: z.boolean().optional(),
  })
  .loose();
export type LauncherEvent = z.infer<typeof LauncherEventSchema>;

export interface LauncherDeps {
  config: Config;
  store: Store;
  notifier: Notifier;
  /** the forge, built with the token (read lazily: a failure becomes an INCOMPLETE report) */
  forge: () => Promise<Forge>;
  builds: { start(plan: RunPlan, target: string, cloneUrl: string, options?: { sourceS3?: string }): Promise<StartedBuild> };
  /** aws.stageSource: fetches the source at the plan's commit with the token and stages it in S3
   * (adapters/builder/source-stager.ts); builds then download it instead of cloning */
  stageSource?: (plan: RunPlan, cloneUrl: string) => Promise<StagedSource>;
  /** only needed to judge a target whose build could not start (its published assets are still checked) */
  formats: () => Promise<FormatOps>;
  /** length of the de-duplication window */
  runWindowMs: number;
  logger?: Logger;
  metrics?: Metrics;
  workRoot?: string;
  now?: () => Date;
}

export interface LaunchResult {
  runId: string;
  release?: string;
  /** false when the plan already existed (a re-invocation) */
  planCreated: boolean;
  started: { target: string; buildId: string }[];
  alreadyStarted: string[];
  notStarted: { target: string; reason: string }[];
  /** set when the run could not be planned: the failure report's verdict */
  failedVerdict?: Verdict;
}

export async function launch(rawEvent: unknown, deps: LauncherDeps): Promise<LaunchResult> {
  const event = LauncherEventSchema.safeParse(rawEvent ?? {}).success ? LauncherEventSchema.parse(rawEvent ?? {}) : {};
  const { config, store, logger } = deps;
  const now = (deps.now ?? (() => new Date()))();
  const fanIn: FanInDeps = {
    store,
    notifier: deps.notifier,
    notifyOnVerified: config.alerts.notifyOnVerified,
    onCompleted: () => deps.metrics?.addMetric(METRIC.runCompleted, MetricUnit.Count, 1),
    now: deps.now,
  };
  const project = [config.gitlab.url, String(config.gitlab.project)];

  // 1. Release and plan.
  let forge: Forge;
  let planned: RunPlan;
  try {
    // The release history is judged against the ledger at planning time (moved tags, changed links).
    const ledger = await loadLedger(store);
    forge = await deps.forge();
    planned = await planRun(config, forge, { runId: 'unassigned', tag: event.tag, now, ledger });
  } catch (err) {
    const runId = event.fresh ? newRunId(now) : windowedRunId(now, deps.runWindowMs, [...project, 'unplanned', event.tag ?? 'latest']);
    logger?.error('run could not be planned', { runId, error: errorMessage(err) });
    const report = failedRunReport(config, runId, { mode: 'aws', startedAt: now.toISOString() }, err, event.tag);
    await finishRun(report, fanIn);
    return { runId, release: event.tag, planCreated: false, started: [], alreadyStarted: [], notStarted: [], failedVerdict: report.verdict };
  }

  const r = planned.release;
  let plan: RunPlan = { ...planned, runId: event.fresh ? newRunId(now) : await runIdForRelease(store, now, deps.runWindowMs, [...project, r.tag, r.tagCommitSha, r.commitSha]) };
  const planCreated = await store.put(runKeys.plan(plan.runId), JSON.stringify(plan, null, 2), { ifNoneMatch: true });
  if (!planCreated) {
    // Judge against the plan that was fixed first, never a newer forge answer.
    plan = (await readPlan(store, plan.runId)) ?? plan;
    logger?.info('run already planned in this window; starting only targets without a build', { runId: plan.runId });
  }

  // 2. Builds, in parallel; skip targets already started or already reported.
  const launched = new Set((await store.list(`runs/${plan.runId}/builds/`)).map((k) => k.slice(k.lastIndexOf('/') + 1, -'.json'.length)));
  const reported = await reportedTargets(store, plan.runId);
  const cloneUrl = forge.cloneUrl();
  const result: LaunchResult = { runId: plan.runId, release: plan.release.tag, planCreated, started: [], alreadyStarted: [], notStarted: [] };
  const p = plan;

  // 2a. aws.stageSource: once per launch that starts anything, before any build. A failure to
  // stage means no build can start (never a fallback to an anonymous clone): each target is
  // judged as not started, with the reason.
  let sourceS3: string | undefined;
  let stagingFailure: string | undefined;
  if (config.aws.stageSource && p.targets.some(({ name }) => !launched.has(name) && !reported.has(name))) {
    try {
      if (!deps.stageSource) throw new Error('aws.stageSource is set but this launcher has no source stager');
      const staged = await deps.stageSource(p, cloneUrl);
      sourceS3 = staged.uri;
      await store.put(sourceRecordKey(p.runId), JSON.stringify(staged, null, 2));
      logger?.info('source staged', { runId: p.runId, key: staged.key, sha256: staged.sha256, size: staged.size });
    } catch (err) {
      stagingFailure = `source could not be staged: ${errorMessage(err)}`;
      logger?.error('source could not be staged', { runId: p.runId, error: errorMessage(err) });
    }
  }

  await Promise.all(
    p.targets.map(async ({ name, image }) => {
      if (launched.has(name) || reported.has(name)) {
        result.alreadyStarted.push(name);
        return;
      }
      let started: StartedBuild;
      try {
        if (stagingFailure) throw new Error(stagingFailure);
        started = await deps.builds.start(p, name, cloneUrl, sourceS3 ? { sourceS3 } : undefined);
      } catch (err) {
        const reason = errorMessage(err);
        logger?.error('build could not start', { runId: p.runId, target: name, error: reason });
        result.notStarted.push({ target: name, reason });
        deps.metrics?.addMetric(METRIC.buildsNotStarted, MetricUnit.Count, 1);
        await judgeUnstarted(p, name, image, reason, forge, deps, fanIn);
        return;
      }
      const record: LaunchRecord = { target: name, buildId: started.buildId, projectName: started.projectName, startedAt: new Date().toISOString() };
      await store.put(launchKey(p.runId, name), JSON.stringify(record, null, 2), { ifNoneMatch: true });
      result.started.push({ target: name, buildId: started.buildId });
      deps.metrics?.addMetric(METRIC.buildsStarted, MetricUnit.Count, 1);
      logger?.info('build started', { runId: p.runId, target: name, buildId: started.buildId });
    }),
  );
  return result;
}

/**
 * The run this launch belongs to: the current window's id — unless the previous window already
 * planned this very release less than one window ago (a launch just across a window boundary
 * joins that run instead of starting duplicate builds).
 */
async function runIdForRelease(store: Store, now: Date, windowMs: number, identity: string[]): Promise<string> {
  const current = windowedRunId(now, windowMs, identity);
  const previous = windowedRunId(new Date(now.getTime() - windowMs), windowMs, identity);
  if (previous !== current) {
    const earlier = await readPlan(store, previous);
    if (earlier && now.getTime() - Date.parse(earlier.createdAt) < windowMs) return previous;
  }
  return current;
}

/** A target whose build could not start is still judged by the shared checker: its published
 * assets and signatures are checked, and the report says BUILD_NOT_STARTED. */
async function judgeUnstarted(plan: RunPlan, target: string, image: string, reason: string, forge: Forge, deps: LauncherDeps, fanIn: FanInDeps): Promise<void> {
  const workDir = await mkdtemp(join(deps.workRoot ?? tmpdir(), 'relverify-launch-'));
  try {
    const report = await checkTarget(
      plan,
      target,
      { target, buildId: '(not started)', status: 'NOT_STARTED', message: reason, image: { ref: image, enforced: true, note: 'no build ran' }, artifacts: NO_ARTIFACTS },
      {
        forge,
        workDir,
        limits: { maxBytes: deps.config.limits.maxAssetBytes, timeoutMs: deps.config.limits.downloadTimeoutSeconds * 1000 },
        formats: await deps.formats(),
        now: deps.now?.(),
      },
    );
    await recordTargetReport(plan, report, fanIn);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

// ───────────────────────── Lambda wiring ─────────────────────────

let wired: { deps: LauncherDeps; logger: Logger; metrics: Metrics } | undefined;

async function wire() {
  if (wired) return wired;
  const [{ loadRuntimeConfig, powertools, requireEnv, projectsFromEnv, numberEnv, ENV }, { S3Store }, { SnsNotifier }, { GitLabTokenReader }, { CodeBuildLauncher }, { forgeFromConfig }, { SourceStager }] =
    await Promise.all([
      import('./runtime'),
      import('../adapters/store/s3-store'),
      import('../adapters/notifier/sns-notifier'),
      import('../adapters/secrets'),
      import('../adapters/builder/codebuild-launcher'),
      import('../adapters/forge/from-config'),
      import('../adapters/builder/source-stager'),
    ]);
  const { logger, metrics } = powertools(SERVICE.launcher);
  const config = loadRuntimeConfig();
  const token = new GitLabTokenReader(requireEnv(ENV.tokenSecret));
  const deps: LauncherDeps = {
    config,
    store: new S3Store({ bucket: requireEnv(ENV.resultsBucket) }),
    notifier: new SnsNotifier({ topicArn: requireEnv(ENV.topicArn) }),
    forge: async () => forgeFromConfig(config, await token.read()),
    builds: new CodeBuildLauncher({ projects: projectsFromEnv() }),
    formats: async () => (await import('../formats/ops')).formatOps,
    stageSource: config.aws.stageSource
      ? (() => {
          const stager = new SourceStager({
            bucket: requireEnv(ENV.artifactsBucket),
            gitlabUrl: config.gitlab.url,
            token: () => token.read(),
            maxBytes: config.limits.maxAssetBytes,
            // leave the launcher (15 min) time to start the builds after staging
            timeoutMs: Math.min(config.limits.downloadTimeoutSeconds, 600) * 1000,
          });
          return (plan: RunPlan, cloneUrl: string) => stager.stage(plan, cloneUrl);
        })()
      : undefined,
    runWindowMs: numberEnv(ENV.runWindowMinutes, 12 * 60) * 60_000,
    logger,
    metrics,
  };
  wired = { deps, logger, metrics };
  return wired;
}

export const handler = async (event: unknown): Promise<LaunchResult> => {
  const { deps, logger, metrics } = await wire();
  try {
    const result = await launch(event, deps);
    logger.info('launch finished', { ...result });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
};
