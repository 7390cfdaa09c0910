/**
 * The engine's steps as the Lambdas take them, across events and invocations (the CLI takes the
 * same steps in one process: in-process.ts):
 *
 *   launchRun       (launcher) plan once per release state and window, stage the source, start one
 *                   remote build per target not yet started or reported; a build that cannot start
 *                   is judged at once (its assets and signatures are still checked)
 *   concludeBuild   (checker) a build ended: identify it by the builder's own record, accept only
 *                   the build the launcher recorded for that run and target, judge it, record it
 *   closeStaleRuns  (dead-man) a run whose targets never all reported is summarized with the
 *                   missing ones as TARGET_NOT_REPORTED
 *
 * Re-invocation is safe everywhere: plans, launch records, target reports and the summary are
 * write-once, and only the summary's writer finishes the run (engine.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckDeps } from '../check-target';
import type { BuildBilling } from '../cost/types';
import { errorMessage, VerifierError } from '../errors';
import type { FormatOps } from '../format-ops';
import type { Forge, Release } from '../ports';
import type { LambdaUsage } from '../cost/types';
import type { RunReport, TargetReport } from '../report';
import type { LaunchRecord, RecordOutcome, RunEngine } from './engine';
import type { RemoteBuilder, SourceStaging, StartedRemoteBuild } from './remote-builder';
import { newRunId, releaseIdentity, runIdForRelease, windowedRunId } from './run-id';
import type { RunPlan } from './run-plan';
import { namesUnder, runKeys, runRecordOf, STORE_PREFIXES } from './store-layout';

/** What the remote steps need besides the engine. */
export interface RemoteDeps {
  /** the forge, built with the token (read lazily: a failure becomes an INCOMPLETE report) */
  forge: () => Promise<Forge>;
  formats: () => Promise<FormatOps>;
  /** scratch for downloads. @default the OS temp dir */
  workRoot?: string;
  now?: () => Date;
}

function checkDeps(engine: RunEngine, forge: Forge, formats: FormatOps, workDir: string, now?: Date): CheckDeps {
  const { limits } = engine.config;
  return { forge, workDir, formats, now, limits: { maxBytes: limits.maxAssetBytes, timeoutMs: limits.downloadTimeoutSeconds * 1000 } };
}

async function withWorkDir<T>(root: string | undefined, prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(root ?? tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ───────────────────────── launch ─────────────────────────

export interface LaunchOptions {
  tag?: string;
  /** a new run even if this release was already launched in the current window */
  fresh?: boolean;
  /** length of the de-duplication window */
  runWindowMs: number;
}

export interface LaunchDeps extends RemoteDeps {
  builder: RemoteBuilder;
  /** aws.stageSource: builds read the staged source instead of cloning */
  stager?: SourceStaging;
  /** told about each start, failure and skip (logs and metrics) */
  events?: {
    started?(target: string, buildId: string): void;
    notStarted?(target: string, reason: string): void;
    sourceStaged?(staged: { key: string; sha256: string; size: number }): void;
    alreadyPlanned?(runId: string): void;
  };
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
  failedVerdict?: RunReport['verdict'];
}

/** The run id a launch gets: windowed by release state (joins a run already planned), or fresh. */
export function launchRunIdFor(engine: RunEngine, now: Date, options: LaunchOptions): (release: Release | null) => Promise<string> {
  const project = { url: engine.config.gitlab.url, project: engine.config.gitlab.project };
  return async (release) => {
    if (options.fresh) return newRunId(now);
    if (!release) return windowedRunId(now, options.runWindowMs, [project.url, String(project.project), 'unplanned', options.tag ?? 'latest']);
    return runIdForRelease(engine.deps.store, now, options.runWindowMs, releaseIdentity(project, release));
  };
}

export async function launchRun(engine: RunEngine, deps: LaunchDeps, options: LaunchOptions): Promise<LaunchResult> {
  const now = (deps.now ?? (() => new Date()))();
  const store = engine.deps.store;
  const planned = await engine.plan(deps.forge, { tag: options.tag, runIdFor: launchRunIdFor(engine, now, options) });
  if (planned.status === 'failed') {
    return {
      runId: planned.runId,
      release: options.tag,
      planCreated: false,
      started: [],
      alreadyStarted: [],
      notStarted: [],
      failedVerdict: planned.report.verdict,
    };
  }
  const { plan, created, forge: f } = planned;
  if (!created) deps.events?.alreadyPlanned?.(plan.runId);
  const launched = namesUnder(runKeys.launchesPrefix(plan.runId), await store.list(runKeys.launchesPrefix(plan.runId)));
  const reported = await engine.reportedTargets(plan.runId);
  const cloneUrl = f.cloneUrl();
  const result: LaunchResult = { runId: plan.runId, release: plan.release.tag, planCreated: created, started: [], alreadyStarted: [], notStarted: [] };
  const toStart = plan.targets.filter(({ name }) => !launched.has(name) && !reported.has(name));
  result.alreadyStarted.push(...plan.targets.filter((t) => !toStart.includes(t)).map((t) => t.name));

  // aws.stageSource: once per launch that starts anything, before any build. A failure to stage
  // means no build can start (never a fallback to an anonymous clone): each target is judged as
  // not started, with the reason.
  let sourceS3: string | undefined;
  let stagingFailure: string | undefined;
  if (engine.config.aws.stageSource && toStart.length > 0) {
    try {
      if (!deps.stager) throw new Error('aws.stageSource is set but this launcher has no source stager');
      const staged = await deps.stager.stage(plan, cloneUrl);
      sourceS3 = staged.uri;
      await store.put(runKeys.source(plan.runId), JSON.stringify(staged, null, 2));
      deps.events?.sourceStaged?.(staged);
    } catch (err) {
      stagingFailure = `source could not be staged: ${errorMessage(err)}`;
    }
  }

  await Promise.all(
    toStart.map(async ({ name }) => {
      let started: StartedRemoteBuild;
      try {
        if (stagingFailure) throw new Error(stagingFailure);
        started = await deps.builder.start(plan, name, cloneUrl, sourceS3 ? { sourceS3 } : undefined);
      } catch (err) {
        const reason = errorMessage(err);
        result.notStarted.push({ target: name, reason });
        deps.events?.notStarted?.(name, reason);
        const formats = await deps.formats();
        await withWorkDir(deps.workRoot, 'relverify-launch-', async (dir) => {
          const report = await engine.judgeUnstarted(plan, name, err, checkDeps(engine, f, formats, dir, deps.now?.()));
          await engine.recordTarget(plan, report);
        });
        return;
      }
      const record: LaunchRecord = { target: name, buildId: started.buildId, projectName: started.projectName, startedAt: new Date().toISOString() };
      await store.put(runKeys.launch(plan.runId, name), JSON.stringify(record, null, 2), { ifNoneMatch: true });
      result.started.push({ target: name, buildId: started.buildId });
      deps.events?.started?.(name, started.buildId);
    }),
  );
  return result;
}

// ───────────────────────── conclude ─────────────────────────

export interface ConcludeDeps extends RemoteDeps {
  builder: Pick<RemoteBuilder, 'resolve'>;
  /** on a mismatch, start a deeper explanation (a diff job) and return where its report will be */
  explainMismatch?: (runId: string) => CheckDeps['explainMismatch'];
  /** what this invocation is billed as, recorded with the target (the run's cost) */
  usage?: () => LambdaUsage | undefined;
}

export type ConcludeOutcome =
  | { status: 'ignored'; reason: string }
  | { status: 'duplicate'; runId: string; target: string; outcome: RecordOutcome }
  | { status: 'checked'; runId: string; target: string; verdict: string; outcome: RecordOutcome };

/** A build the builder says is not finished yet: the event is retried (Lambda's own retry). */
export class BuildNotFinishedError extends VerifierError {
  constructor(reason: string) {
    super('BUILD_STILL_RUNNING', reason);
  }
}

/**
 * A build ended. The event is only a hint: the builder re-reads the build; the run, the target and
 * the plan come from the store; only the build the launcher recorded for that target is judged. A
 * duplicate or late event does not download gigabytes again — it only makes sure the run finishes.
 */
export async function concludeBuild(engine: RunEngine, event: unknown, deps: ConcludeDeps): Promise<ConcludeOutcome> {
  const resolution = await deps.builder.resolve(event);
  if (resolution.status === 'ignore') return { status: 'ignored', reason: resolution.reason };
  if (resolution.status === 'retry') throw resolution.error ?? new BuildNotFinishedError(resolution.reason);
  const ended = resolution.build;
  const { runId, target } = ended;
  const plan = await engine.readPlan(runId);
  if (!plan) return { status: 'ignored', reason: `run ${runId} has no plan in the results bucket` };
  if (!plan.targets.some((t) => t.name === target)) return { status: 'ignored', reason: `target ${target} is not in the plan of run ${runId}` };

  // The launcher records the build it started; another build carrying the same run variables is not
  // this run's (the run id is predictable). Without a record — a lost write, a launcher that timed out
  // mid-launch, a build started by someone else — no build is this run's: the event is ignored and
  // the target, never reported, is closed by the dead-man as TARGET_NOT_REPORTED.
  const launchedText = await engine.deps.store.get(runKeys.launch(runId, target));
  if (launchedText === null)
    return { status: 'ignored', reason: `build ${ended.buildId} has no launch record for ${target} in run ${runId}: not a build the launcher started` };
  const launched = JSON.parse(launchedText) as LaunchRecord;
  if (launched.buildId !== ended.buildId)
    return { status: 'ignored', reason: `build ${ended.buildId} is not the build the launcher started for ${target} (${launched.buildId})` };

  if (await engine.hasTargetReport(runId, target)) return { status: 'duplicate', runId, target, outcome: await engine.summarizeIfComplete(plan) };

  const forge = await deps.forge();
  const stagedSource = engine.config.aws.stageSource;
  const build = ended.result({ plan, cloneUrl: forge.cloneUrl(), stagedSource });
  const formats = await deps.formats();
  const report: TargetReport = await withWorkDir(deps.workRoot, 'relverify-check-', (dir) =>
    engine.judge(plan, build, { ...checkDeps(engine, forge, formats, dir, deps.now?.()), explainMismatch: deps.explainMismatch?.(runId) }),
  );
  // what this target cost: the build as the builder bills it, this invocation as Lambda bills it
  if (report.build && ended.billing) report.build = { ...report.build, billing: ended.billing as BuildBilling };
  const usage = deps.usage?.();
  if (usage) report.lambda = usage;
  const { written, outcome } = await engine.recordTarget(plan, report);
  if (!written) return { status: 'duplicate', runId, target, outcome };
  return { status: 'checked', runId, target, verdict: report.verdict, outcome };
}

// ───────────────────────── close ─────────────────────────

/** Lost alerts older than this are not re-sent by the sweep. */
export const LOST_ALERT_HORIZON_MS = 7 * 86_400_000;

/**
 * Runs whose plan is older than `staleMs` and that have no summary are summarized now, the missing
 * targets as TARGET_NOT_REPORTED (INCOMPLETE), and alerted — through the same write-once summary, so
 * a late checker cannot alert twice. A summarized run whose alert never went out is alerted now.
 * Returns the ids it closed, the ids it re-alerted and the ids that have a summary.
 */
export async function closeStaleRuns(
  engine: RunEngine,
  now: Date,
  staleMs: number,
): Promise<{ closed: string[]; realerted: string[]; failed: { runId: string; error: string }[]; summaries: Set<string> }> {
  const records = { plan: new Set<string>(), summary: new Set<string>(), alerted: new Set<string>() };
  for (const k of await engine.deps.store.list(STORE_PREFIXES.runs)) {
    const r = runRecordOf(k);
    if (r) records[r.kind].add(r.runId);
  }
  const { plan: plans, summary: summaries } = records;
  // a summary whose alert never went out (the writer died between them): sent now
  const realerted: string[] = [];
  for (const runId of [...summaries].filter((r) => !records.alerted.has(r)).sort()) {
    // recent runs only: a week-old lost alert is stale news (the summary age alarm covers silence)
    const summary = await engine.readSummary(runId).catch(() => null);
    const age = summary ? now.getTime() - Date.parse(summary.finishedAt) : Number.NaN;
    if (!(age < LOST_ALERT_HORIZON_MS)) continue;
    try {
      if ((await engine.alertIfLost(runId, { waitMs: 0 })) === 'published') realerted.push(runId);
    } catch (err) {
      engine.deps.events?.warn?.(`the lost alert of run ${runId} could not be re-sent: ${errorMessage(err)}`, err);
    }
  }
  const closed: string[] = [];
  const failed: { runId: string; error: string }[] = [];
  for (const runId of [...plans].filter((r) => !summaries.has(r)).sort()) {
    // one unreadable run must not keep the others from being closed (each failure is named)
    try {
      const plan: RunPlan | null = await engine.readPlan(runId);
      if (!plan || now.getTime() - Date.parse(plan.createdAt) < staleMs) continue;
      const outcome = await engine.summarizeIfComplete(plan, { force: true });
      if (outcome !== 'already-summarized') closed.push(runId);
      summaries.add(runId);
    } catch (err) {
      failed.push({ runId, error: errorMessage(err) });
      engine.deps.events?.warn?.(`stale run ${runId} could not be closed: ${errorMessage(err)}`, err);
    }
  }
  return { closed, realerted, failed, summaries };
}
