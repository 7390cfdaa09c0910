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
import { errorMessage, VerifierError } from '../core/errors';
import type { FormatOps } from '../core/format-ops';
import { newRunId, planRun, type RunPlan } from '../core/run/plan';
import { auditForPlan } from '../core/audit';
import { recordAudit } from '../core/audit-history';
import type { Forge, Notifier, Release, Store } from '../core/ports';
import type { Finding, Verdict } from '../core/findings';
import { failedRunReport, runKeys } from '../core/run/summary';
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
  // a dry run asked for must never start anything, whoever calls launch() with it
  if (isDryRun(rawEvent)) throw new VerifierError('DRY_RUN_MISROUTED', 'a dry-run event reached launch(); dryRun() answers it');
  const event: LauncherEvent = LauncherEventSchema.safeParse(rawEvent ?? {}).success ? LauncherEventSchema.parse(rawEvent ?? {}) : {};
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
  let plan: RunPlan = {
    ...planned,
    runId: event.fresh ? newRunId(now) : await runIdForRelease(store, now, deps.runWindowMs, [...project, r.tag, r.tagCommitSha, r.commitSha]),
  };
  // the repository and forge audit (advisory NOTICEs, never throws): its findings join the plan's
  const audited = await auditForPlan(forge, plan);
  plan = { ...plan, findings: [...plan.findings, ...audited.findings] };
  const planCreated = await store.put(runKeys.plan(plan.runId), JSON.stringify(plan, null, 2), { ifNoneMatch: true });
  // … and the audit block, with what changed since the last run, is stored with the run (runs/<id>/audit.json)
  if (planCreated)
    await recordAudit(store, { runId: plan.runId, release: plan.release.tag, createdAt: plan.createdAt, findings: plan.findings }, audited.report, (line) =>
      logger?.warn(line),
    );
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
      {
        target,
        buildId: '(not started)',
        status: 'NOT_STARTED',
        message: reason,
        image: { ref: image, enforced: true, note: 'no build ran' },
        artifacts: NO_ARTIFACTS,
      },
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

// ───────────────────────── dry run (`run-now --dry-run`, `doctor`) ─────────────────────────

export interface DryRunResult {
  dryRun: true;
  /** the run a launch now would create or join */
  runId?: string;
  /** true when that run's plan exists already (a launch now would join it, starting only missing targets) */
  planExists?: boolean;
  release?: Pick<Release, 'tag' | 'name' | 'commitSha' | 'tagCommitSha' | 'releasedAt' | 'webUrl'>;
  version?: string;
  /** what a launch now would build: targets, images, the commit, the expected assets */
  targets: { name: string; image: string; alreadyStarted: boolean; artifacts: { asset: string; path: string; source: string; signature: string }[] }[];
  /** findings already known at planning time */
  findings: Pick<Finding, 'level' | 'code' | 'message'>[];
  /** why the release could not be resolved (a launch now would send an INCOMPLETE alert) */
  error?: string;
  /** the deployed configuration, for `doctor` (no secret is in it: the token lives in Secrets Manager) */
  config: DeployedConfig;
}

export interface DeployedConfig {
  gitlab: { url: string; project: string | number; tokenSecretName?: string };
  release: Config['release'];
  schedule: string;
  alerts: Config['alerts'];
  aws: Config['aws'];
  targets: { name: string; platform: string; image: string; fleetArn?: string; computeType?: string }[];
}

/** Any `dryRun` other than absent or `false` is a dry run: a malformed one ("true", 1) must not launch. */
export function isDryRun(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const v = (event as { dryRun?: unknown }).dryRun;
  return v !== undefined && v !== false && v !== null;
}

export function deployedConfig(config: Config): DeployedConfig {
  return {
    gitlab: {
      url: config.gitlab.url,
      project: config.gitlab.project,
      ...(config.gitlab.token.secretName ? { tokenSecretName: config.gitlab.token.secretName } : {}),
    },
    release: config.release,
    schedule: config.schedule,
    alerts: config.alerts,
    aws: config.aws,
    targets: config.targets.map((t) => ({
      name: t.name,
      platform: t.platform,
      image: t.image,
      ...(t.fleetArn ? { fleetArn: t.fleetArn } : {}),
      ...(t.computeType ? { computeType: t.computeType } : {}),
    })),
  };
}

/**
 * Resolves the release and plans the run exactly as a launch would (same forge, token, ledger and
 * planner) and answers what it would build. Reads only: no plan, launch record, staged source,
 * summary or ledger is written, no build started, nothing published — a planning failure is
 * answered, not alerted.
 */
export async function dryRun(rawEvent: unknown, deps: LauncherDeps): Promise<DryRunResult> {
  const parsed = LauncherEventSchema.safeParse(rawEvent ?? {});
  const event: LauncherEvent = parsed.success ? parsed.data : {};
  const { config, store } = deps;
  const now = (deps.now ?? (() => new Date()))();
  const answer: DryRunResult = { dryRun: true, targets: [], findings: [], config: deployedConfig(config) };
  let planned: RunPlan;
  try {
    const ledger = await loadLedger(store);
    const forge = await deps.forge();
    planned = await planRun(config, forge, { runId: 'unassigned', tag: event.tag, now, ledger });
  } catch (err) {
    answer.error = errorMessage(err);
    return answer;
  }
  const r = planned.release;
  const project = [config.gitlab.url, String(config.gitlab.project)];
  const runId = event.fresh ? undefined : await runIdForRelease(store, now, deps.runWindowMs, [...project, r.tag, r.tagCommitSha, r.commitSha]);
  const existing = runId ? await readPlan(store, runId) : null;
  const started = new Set<string>();
  if (runId && existing) {
    for (const k of await store.list(`runs/${runId}/builds/`)) started.add(k.slice(k.lastIndexOf('/') + 1, -'.json'.length));
    for (const t of await reportedTargets(store, runId)) started.add(t);
  }
  // a launch now would judge against the plan already fixed in this window, if there is one
  const plan = existing ?? planned;
  answer.runId = runId;
  answer.planExists = Boolean(existing);
  answer.release = {
    tag: plan.release.tag,
    name: plan.release.name,
    commitSha: plan.release.commitSha,
    tagCommitSha: plan.release.tagCommitSha,
    releasedAt: plan.release.releasedAt,
    webUrl: plan.release.webUrl,
  };
  answer.version = plan.version;
  answer.targets = plan.targets.map((t) => ({
    name: t.name,
    image: t.image,
    alreadyStarted: started.has(t.name),
    artifacts: t.artifacts.map((a) => ({ asset: a.asset, path: a.path, source: a.source.type, signature: a.signature.scheme })),
  }));
  answer.findings = plan.findings.map((f) => ({ level: f.level, code: f.code, message: f.message }));
  return answer;
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
