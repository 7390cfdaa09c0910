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
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import type { Config } from '../core/config/schema';
import { VerifierError } from '../core/errors';
import type { FormatOps } from '../core/format-ops';
import type { RunPlan } from '../core/run/plan';
import type { Forge, Notifier, Store } from '../core/ports';
import { launchRun, type LaunchResult } from '../core/run/remote';
import { isDryRun, previewLaunch, type DryRunResult } from '../core/run/preview';
import type { StartedRemoteBuild } from '../core/run/remote-builder';
import { windowedRunId } from '../core/run/run-id';
import type { StagedSource } from '../adapters/builder/source-stager';
import { awsEngine } from './aws-engine';
import { METRIC, SERVICE } from './metric-names';

export const LauncherEventSchema = z
  .object({
    /** a release tag instead of the configured one */
    tag: z.string().min(1).max(255).optional(),
    /** a new run even if this release was already launched in the current window */
    fresh: z.boolean().optional(),
    /** resolve the release and answer what the run would build: nothing written, started or sent */
    dryRun: z.boolean().optional(),
  })
  .loose();
export type LauncherEvent = z.infer<typeof LauncherEventSchema>;

export interface LauncherDeps {
  config: Config;
  store: Store;
  notifier: Notifier;
  /** the forge, built with the token (read lazily: a failure becomes an INCOMPLETE report) */
  forge: () => Promise<Forge>;
  builds: { start(plan: RunPlan, target: string, cloneUrl: string, options?: { sourceS3?: string }): Promise<StartedRemoteBuild> };
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

export type { LaunchResult } from '../core/run/remote';

/** A launch: parse the event, build the engine, let it plan and start the builds (core/run/remote.ts). */
export async function launch(rawEvent: unknown, deps: LauncherDeps): Promise<LaunchResult> {
  // a dry run asked for must never start anything, whoever calls launch() with it
  if (isDryRun(rawEvent)) throw new VerifierError('DRY_RUN_MISROUTED', 'a dry-run event reached launch(); dryRun() answers it');
  const parsed = LauncherEventSchema.safeParse(rawEvent ?? {});
  const event: LauncherEvent = parsed.success ? parsed.data : {};
  const { logger, metrics } = deps;
  const engine = awsEngine(deps.config, {
    store: deps.store,
    notifier: deps.notifier,
    now: deps.now,
    logger,
    onCompleted: () => metrics?.addMetric(METRIC.runCompleted, MetricUnit.Count, 1),
  });
  const stageSource = deps.stageSource;
  return launchRun(
    engine,
    {
      forge: deps.forge,
      formats: deps.formats,
      workRoot: deps.workRoot,
      now: deps.now,
      builder: { start: (plan, target, cloneUrl, options) => deps.builds.start(plan, target, cloneUrl, options), resolve: notResolvedHere },
      stager: stageSource ? { stage: (plan, cloneUrl) => stageSource(plan, cloneUrl) } : undefined,
      events: {
        alreadyPlanned: (runId) => logger?.info('run already planned in this window; starting only targets without a build', { runId }),
        sourceStaged: (staged) => logger?.info('source staged', { key: staged.key, sha256: staged.sha256, size: staged.size }),
        started: (target, buildId) => {
          metrics?.addMetric(METRIC.buildsStarted, MetricUnit.Count, 1);
          logger?.info('build started', { target, buildId });
        },
        notStarted: (target, reason) => {
          metrics?.addMetric(METRIC.buildsNotStarted, MetricUnit.Count, 1);
          logger?.error('build could not start', { target, error: reason });
        },
      },
    },
    { tag: event.tag, fresh: event.fresh, runWindowMs: deps.runWindowMs },
  );
}

/** The launcher only starts builds; their end events go to the checker. */
async function notResolvedHere(): Promise<never> {
  throw new VerifierError('NOT_A_CHECKER', 'the launcher does not resolve build events');
}

// ───────────────────────── dry run (`run-now --dry-run`, `doctor`) ─────────────────────────

export { deployedConfig, isDryRun, type DeployedConfig, type DryRunResult } from '../core/run/preview';

/** A dry run: answered from the planner alone (core/run/preview.ts); nothing written, started or sent. */
export async function dryRun(rawEvent: unknown, deps: LauncherDeps): Promise<DryRunResult> {
  const parsed = LauncherEventSchema.safeParse(rawEvent ?? {});
  const event: LauncherEvent = parsed.success ? parsed.data : {};
  return previewLaunch(deps.config, deps, { tag: event.tag, fresh: event.fresh, runWindowMs: deps.runWindowMs });
}

// ───────────────────────── Lambda wiring ─────────────────────────

let wired: { deps: LauncherDeps; logger: Logger; metrics: Metrics } | undefined;

async function wire() {
  if (wired) return wired;
  const [
    { loadRuntimeConfig, powertools, requireEnv, projectsFromEnv, numberEnv, ENV },
    { S3Store },
    { SnsNotifier },
    { GitLabTokenReader },
    { CodeBuildLauncher },
    { forgeFromConfig },
    { SourceStager },
  ] = await Promise.all([
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

export const handler = async (event: unknown, context?: { getRemainingTimeInMillis?: () => number }): Promise<LaunchResult | DryRunResult> => {
  const { deps, logger, metrics } = await wire();
  const { withLastResort, lambdaDeadlineMs } = await import('./runtime');
  try {
    if (isDryRun(event)) {
      const answer = await dryRun(event, deps);
      logger.info('dry run', { runId: answer.runId, release: answer.release?.tag, error: answer.error });
      return answer;
    }
    // one failure record per window for this project: Lambda's retries of a tripped launch alert once
    const runId = windowedRunId(new Date(), deps.runWindowMs, [deps.config.gitlab.url, String(deps.config.gitlab.project), 'launch-internal-error']);
    const result = await withLastResort(() => launch(event, deps), deps, { runId, deadlineMs: lambdaDeadlineMs(context) });
    logger.info('launch finished', { ...result });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
};
