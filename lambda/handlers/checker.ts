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
 * second report nor publishes a second alert (core/run/engine.ts: write-once records, one summary writer).
 */
import { pathToFileURL } from 'node:url';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { AttestationSigner } from '../core/attestation';
import type { CheckDeps } from '../core/check-target';
import type { Config } from '../core/config/schema';
import type { FormatOps } from '../core/format-ops';
import type { BuildResult, Forge, Notifier, Store } from '../core/ports';
import type { LambdaUsage } from '../core/cost/types';
import { concludeBuild, type ConcludeOutcome } from '../core/run/remote';
import { windowedRunId } from '../core/run/run-id';
import type { BuildRecord, LaunchedWith } from '../adapters/builder/codebuild-results';
import { BuildStateChangeSchema, buildRefOf, CodeBuildBuilder } from '../adapters/builder/codebuild-builder';
import type { DiffJobRequest } from '../adapters/builder/codebuild-diff-job';
import { awsEngine } from './aws-engine';
import { METRIC, SERVICE } from './metric-names';

export { BuildStateChangeSchema };

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

export type CheckOutcome = ConcludeOutcome;

/** A build ended: parse nothing ourselves — the builder identifies the build, the engine judges it (core/run/remote.ts). */
export async function check(rawEvent: unknown, deps: CheckerDeps): Promise<CheckOutcome> {
  const invokedAt = Date.now();
  const { logger, metrics } = deps;
  const engine = awsEngine(deps.config, {
    store: deps.store,
    notifier: deps.notifier,
    signer: deps.signer,
    configUri: deps.configUri,
    now: deps.now,
    sleep: deps.sleep,
    logger,
    onCompleted: () => metrics?.addMetric(METRIC.runCompleted, MetricUnit.Count, 1),
  });
  const builder = new CodeBuildBuilder({ results: deps.results, stillRunningRetries: deps.stillRunningRetries, sleep: deps.sleep });
  const outcome = await concludeBuild(engine, rawEvent, {
    builder,
    forge: deps.forge,
    formats: deps.formats,
    workRoot: deps.workRoot,
    now: deps.now,
    explainMismatch: deps.diffJobs ? (runId) => diffExplainer(deps, runId) : undefined,
    usage: () => lambdaUsage(deps, Date.now() - invokedAt),
  });
  if (outcome.status === 'ignored') {
    logger?.warn('event ignored', { reason: outcome.reason });
    metrics?.addMetric(METRIC.eventsIgnored, MetricUnit.Count, 1);
  } else if (outcome.status === 'duplicate') {
    logger?.info('target already reported', { runId: outcome.runId, target: outcome.target, outcome: outcome.outcome });
  } else {
    metrics?.addMetric(METRIC.targetsChecked, MetricUnit.Count, 1);
    logger?.info('target checked', { ...outcome });
  }
  return outcome;
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
    { CodeBuildResults, recipesOf },
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
      recipes: recipesOf(config),
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
    const buildRef = buildRefOf(event) ?? 'unknown-event';
    const runId = windowedRunId(new Date(), 24 * 3_600_000, ['check-internal-error', buildRef]);
    return await withLastResort(() => check(event, deps), deps, { runId, deadlineMs: lambdaDeadlineMs(context) });
  } finally {
    metrics.publishStoredMetrics();
  }
};
