/**
 * Checker Lambda: triggered by "CodeBuild Build State Change" (any status but IN_PROGRESS) for
 * the target projects. The event is only a hint: the build is re-read with BatchGetBuilds, its
 * run and target come from the build's launcher-set environment and its project, the plan comes
 * from S3, and the verdict comes from the shared `checkTarget` — which downloads the published
 * assets and the rebuilt artifacts and digests, compares and verifies them itself.
 *
 * A mismatch starts a diffoscope job in CodeBuild (codebuild-diff-job.ts) whose report location
 * becomes a DIFFOSCOPE_REPORT notice; the verdict never depends on it.
 *
 * Idempotent: a target's report is written once; a duplicate or late event neither writes a
 * second report nor publishes a second alert (see run-records.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import type { AttestationSigner } from '../core/attestation';
import { policyRef } from '../core/vsa';
import { checkTarget, type CheckDeps } from '../core/check-target';
import type { Config } from '../core/config/schema';
import type { FormatOps } from '../core/format-ops';
import type { BuildResult, Forge, Notifier, Store } from '../core/ports';
import { runKeys } from '../core/run/summary';
import { billingOf, BuildStillRunningError, ForeignBuildError, type BuildRecord, type LaunchedWith } from '../adapters/builder/codebuild-results';
import { priceTable } from '../core/cost/prices';
import type { LambdaUsage } from '../core/cost/types';
import type { DiffJobRequest } from '../adapters/builder/codebuild-diff-job';
import {
  launchKey,
  readPlan,
  recordTargetReport,
  summarizeIfComplete,
  windowedRunId,
  type FanInDeps,
  type LaunchRecord,
  type RecordOutcome,
} from './run-records';
import { METRIC, SERVICE } from './metric-names';

/** The parts of the EventBridge event the checker reads — as a lookup key only. */
export const BuildStateChangeSchema = z.object({
  source: z.literal('aws.codebuild'),
  'detail-type': z.literal('CodeBuild Build State Change'),
  detail: z.object({ 'build-id': z.string().min(1), 'build-status': z.string().optional(), 'project-name': z.string().optional() }).loose(),
});

export interface CheckerDeps {
  config: Config;
  store: Store;
  notifier: Notifier;
  results: { read(buildIdOrArn: string): Promise<BuildRecord>; toBuildResult(record: BuildRecord, plannedImage: string, launched: LaunchedWith): BuildResult };
  forge: () => Promise<Forge>;
  formats: () => Promise<FormatOps>;
  /** signs the run's attestation when this checker writes the summary (KMS in AWS). @default none: no attestation */
  signer?: AttestationSigner;
  /** where `config` was read from (a file: URL), named as the policy of the run's VSA. @default a URN of its digest */
  configUri?: string;
  /** on a mismatch, start a diff job and return where its report will be. @default none (no diff jobs) */
  diffJobs?: { start(request: DiffJobRequest): Promise<{ buildId: string; location: string }> };
  logger?: Logger;
  metrics?: Metrics;
  workRoot?: string;
  now?: () => Date;
  /**
   * This invocation's billed memory and architecture, recorded with its duration in each target's
   * report for the run's cost. @default from the Lambda environment (AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
   * process.arch); outside Lambda none is recorded
   */
  lambda?: { memoryMb: number; architecture: LambdaUsage['architecture'] };
  /** re-reads of a build the API still shows running, before failing for a retry. @default 3 */
  stillRunningRetries?: number;
  sleep?: (ms: number) => Promise<void>;
}

export type CheckOutcome =
  | { status: 'ignored'; reason: string }
  | { status: 'duplicate'; runId: string; target: string; outcome: RecordOutcome }
  | { status: 'checked'; runId: string; target: string; verdict: string; outcome: RecordOutcome };

export async function check(rawEvent: unknown, deps: CheckerDeps): Promise<CheckOutcome> {
  const invokedAt = Date.now();
  const { store, logger } = deps;
  const ignore = (reason: string, extra: Record<string, unknown> = {}): CheckOutcome => {
    logger?.warn('event ignored', { reason, ...extra });
    deps.metrics?.addMetric(METRIC.eventsIgnored, MetricUnit.Count, 1);
    return { status: 'ignored', reason };
  };
  const parsed = BuildStateChangeSchema.safeParse(rawEvent);
  if (!parsed.success) return ignore('not a CodeBuild build state-change event');
  const buildRef = parsed.data.detail['build-id'];

  let record: BuildRecord | undefined;
  for (let attempt = 0; !record; attempt++) {
    try {
      record = await deps.results.read(buildRef);
    } catch (err) {
      if (err instanceof ForeignBuildError) return ignore(err.userMessage, { build: buildRef });
      // The event can race the API's view of the build: wait a little, then let Lambda retry.
      if (err instanceof BuildStillRunningError && attempt < (deps.stillRunningRetries ?? 3)) {
        await (deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(5000 * (attempt + 1));
        continue;
      }
      throw err;
    }
  }
  const { runId, target } = record;
  const plan = await readPlan(store, runId);
  if (!plan) return ignore(`run ${runId} has no plan in the results bucket`, { build: buildRef, runId });
  const planned = plan.targets.find((t) => t.name === target);
  if (!planned) return ignore(`target ${target} is not in the plan of run ${runId}`, { build: buildRef, runId });

  const fanIn: FanInDeps = {
    store,
    notifier: deps.notifier,
    notifyOnVerified: deps.config.alerts.notifyOnVerified,
    prices: priceTable(deps.config.pricing),
    onCompleted: (report) => {
      deps.metrics?.addMetric(METRIC.runCompleted, MetricUnit.Count, 1);
      logger?.info('run completed', { runId, verdict: report.verdict });
    },
    now: deps.now,
    onHistoryError: (error) => logger?.warn('run history not regenerated', { runId, error: error instanceof Error ? error : String(error) }),
    attestation: deps.signer && {
      signer: deps.signer,
      policy: policyRef(deps.config, deps.configUri),
      // the summary and the alert stand; the alert carries an ATTESTATION_UNSIGNED notice
      onError: (error) => logger?.error('attestation not signed', { runId, keyId: deps.signer!.keyId, error: error instanceof Error ? error : String(error) }),
    },
  };

  // The launcher records the build it started; another build carrying the same run variables is not
  // this run's (the run id is predictable). Without a record — a lost write, a launcher that timed out
  // mid-launch, a StartBuild by someone else — no build is this run's: the event is ignored and the
  // target, never reported, is closed by the dead-man as TARGET_NOT_REPORTED.
  const launchedText = await store.get(launchKey(runId, target));
  if (launchedText === null)
    return ignore(`build ${record.build.id} has no launch record for ${target} in run ${runId}: not a build the launcher started`, {
      build: record.build.id,
      runId,
      target,
    });
  const launched = JSON.parse(launchedText) as LaunchRecord;
  if (launched.buildId !== record.build.id)
    return ignore(`build ${record.build.id} is not the build the launcher started for ${target} (${launched.buildId})`, { runId });

  // Duplicate or late event: do not download gigabytes again; just make sure the run gets finished.
  if ((await store.get(runKeys.target(runId, target))) !== null) {
    const outcome = await summarizeIfComplete(plan, fanIn);
    logger?.info('target already reported', { runId, target, outcome });
    return { status: 'duplicate', runId, target, outcome };
  }

  const forge = await deps.forge();
  // the build's variables must be exactly the ones the launcher set from this plan (BUILD_OVERRIDDEN)
  const build = deps.results.toBuildResult(record, planned.image, { plan, cloneUrl: forge.cloneUrl(), stagedSource: deps.config.aws.stageSource });
  const workDir = await mkdtemp(join(deps.workRoot ?? tmpdir(), 'relverify-check-'));
  let report;
  try {
    report = await checkTarget(plan, target, build, {
      forge,
      workDir,
      limits: { maxBytes: deps.config.limits.maxAssetBytes, timeoutMs: deps.config.limits.downloadTimeoutSeconds * 1000 },
      formats: await deps.formats(),
      explainMismatch: deps.diffJobs ? diffExplainer(deps, runId) : undefined,
      now: deps.now?.(),
    });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  // what this target cost: the build as CodeBuild bills it, this invocation as Lambda bills it
  if (report.build) report.build = { ...report.build, billing: billingOf(record.build) };
  const usage = lambdaUsage(deps, Date.now() - invokedAt);
  if (usage) report.lambda = usage;
  const { written, outcome } = await recordTargetReport(plan, report, fanIn);
  deps.metrics?.addMetric(METRIC.targetsChecked, MetricUnit.Count, 1);
  logger?.info('target checked', { runId, target, buildId: build.buildId, status: build.status, verdict: report.verdict, written, outcome });
  if (!written) return { status: 'duplicate', runId, target, outcome };
  return { status: 'checked', runId, target, verdict: report.verdict, outcome };
}

/** This invocation's usage, when it runs in Lambda (or the deps say what it would be billed as). */
function lambdaUsage(deps: CheckerDeps, durationMs: number): LambdaUsage | undefined {
  const memoryMb = deps.lambda?.memoryMb ?? Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  if (!Number.isFinite(memoryMb) || memoryMb <= 0) return undefined;
  return { function: 'checker', durationMs, memoryMb, architecture: deps.lambda?.architecture ?? (process.arch === 'arm64' ? 'arm64' : 'x86_64') };
}

/** The core's explainMismatch hook: upload both files, start the diff job, report its location. */
function diffExplainer(deps: CheckerDeps, runId: string): NonNullable<CheckDeps['explainMismatch']> {
  return async (publishedPath, rebuiltPath, { target, asset }) => {
    try {
      const job = await deps.diffJobs!.start({ runId, target, asset, publishedPath, rebuiltPath });
      deps.logger?.info('diff job started', { runId, target, asset, diffBuildId: job.buildId });
      return job.location;
    } catch (err) {
      // The core records the failure as a notice; the verdict stays what the comparison said.
      deps.logger?.warn('diff job not started', { runId, target, asset, error: String((err as Error)?.message ?? err) });
      throw err;
    }
  };
}

// ───────────────────────── Lambda wiring ─────────────────────────

let wired: { deps: CheckerDeps; logger: Logger; metrics: Metrics } | undefined;

async function wire() {
  if (wired) return wired;
  const [
    { loadRuntimeConfig, powertools, requireEnv, projectsFromEnv, ENV, DEFAULT_CONFIG_FILE },
    { S3Store },
    { SnsNotifier },
    { GitLabTokenReader },
    { CodeBuildResults },
    { forgeFromConfig },
    { KmsAttestationSigner },
  ] = await Promise.all([
    import('./runtime'),
    import('../adapters/store/s3-store'),
    import('../adapters/notifier/sns-notifier'),
    import('../adapters/secrets'),
    import('../adapters/builder/codebuild-results'),
    import('../adapters/forge/from-config'),
    import('../adapters/signer/kms-signer'),
  ]);
  const { logger, metrics } = powertools(SERVICE.checker);
  const config = loadRuntimeConfig();
  const token = new GitLabTokenReader(requireEnv(ENV.tokenSecret));
  const projects = projectsFromEnv(); // target → project
  const diffProject = process.env[ENV.diffProject];
  const diffJobs = diffProject
    ? new (await import('../adapters/builder/codebuild-diff-job')).CodeBuildDiffJobs({ projectName: diffProject, bucket: requireEnv(ENV.artifactsBucket) })
    : undefined;
  const deps: CheckerDeps = {
    config,
    store: new S3Store({ bucket: requireEnv(ENV.resultsBucket) }),
    notifier: new SnsNotifier({ topicArn: requireEnv(ENV.topicArn) }),
    results: new CodeBuildResults({
      projects: Object.fromEntries(Object.entries(projects).map(([t, p]) => [p, t])),
      artifactsBucket: requireEnv(ENV.artifactsBucket),
      // the build's record is compared with what the stack fixed (BUILD_OVERRIDDEN)
      recipes: Object.fromEntries(config.targets.map((t) => [t.name, { command: t.command, env: t.env, privileged: t.privileged }])),
    }),
    forge: async () => forgeFromConfig(config, await token.read()),
    formats: async () => (await import('../formats/ops')).formatOps,
    signer: new KmsAttestationSigner({ keyArn: requireEnv(ENV.attestationKey) }),
    configUri: pathToFileURL(process.env[ENV.configFile] || DEFAULT_CONFIG_FILE).href,
    diffJobs,
    logger,
    metrics,
  };
  wired = { deps, logger, metrics };
  return wired;
}

export const handler = async (event: unknown, context?: { getRemainingTimeInMillis?: () => number }): Promise<CheckOutcome> => {
  const { deps, metrics } = await wire();
  const { withLastResort, lambdaDeadlineMs } = await import('./runtime');
  try {
    // keyed by the build: Lambda's retries of one tripped event record and alert once
    const buildRef = BuildStateChangeSchema.safeParse(event).data?.detail['build-id'] ?? 'unknown-event';
    const runId = windowedRunId(new Date(), 24 * 3_600_000, ['check-internal-error', buildRef]);
    return await withLastResort(() => check(event, deps), deps, { runId, deadlineMs: lambdaDeadlineMs(context) });
  } finally {
    metrics.publishStoredMetrics();
  }
};
