/**
 * One whole run in one process (the CLI's `verify`): the engine's steps back to back — plan, the
 * builds in parallel (bounded), each target judged and recorded as its build ends, and the summary
 * written by whichever target came in last. The Lambdas run the very same engine steps across
 * events (remote.ts); the equivalence test (test/core/run/cli-vs-lambda.test.ts) holds them together.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckDeps } from '../check-target';
import type { Config } from '../config/schema';
import { priceTable } from '../cost/prices';
import { errorMessage } from '../errors';
import { worseOf } from '../findings';
import type { FormatOps } from '../format-ops';
import { guardRun, lastResortReport, runDeadlineMs } from '../last-resort';
import type { Builder, Forge, Notifier, Store } from '../ports';
import type { RunReport, TargetReport } from '../report';
import { policyRef } from '../vsa';
import { type EngineDeps, RunEngine } from './engine';
import { newRunId } from './run-plan';
import { runKeys } from './store-layout';

export interface LocalRunPorts {
  forge: Forge;
  builder: Builder;
  store: Store;
  notifier: Notifier;
  formats: FormatOps;
}

export interface LocalRunOptions {
  tag?: string;
  runId?: string;
  /** progress lines (stderr in the CLI) */
  progress?: (line: string) => void;
  /** scratch directory for downloads. @default a new temp dir, removed afterwards */
  workDir?: string;
  keepFiles?: boolean;
  now?: Date;
  /** see CheckDeps.explainMismatch; gets the run id to place reports next to the run */
  explainMismatch?: (runId: string) => CheckDeps['explainMismatch'];
  /** hard deadline of the whole run in ms. @default runDeadlineMs(config) */
  deadlineMs?: number;
  /**
   * Set when the builds run as bare host processes (`--unsafe-host-build`): the wording of the
   * BUILD_NOT_SANDBOXED finding every such target carries (the builder's `sandbox: 'none'` is what
   * raises it).
   */
  unsandboxedBuilds?: string;
  /** where the configuration was read from (a file: URL), named as the VSA's policy. @default a URN of its digest */
  policyUri?: string;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function fmtDuration(ms: number | undefined): string {
  if (ms === undefined) return '?';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** The engine as the CLI wires it: a laptop's store and console, unsigned statements. */
export function localEngine(
  config: Config,
  ports: Pick<LocalRunPorts, 'store' | 'notifier'>,
  options: Pick<LocalRunOptions, 'progress' | 'now' | 'policyUri'>,
): RunEngine {
  const deps: EngineDeps = {
    store: ports.store,
    notifier: ports.notifier,
    mode: 'local',
    notifyOnVerified: config.alerts.notifyOnVerified,
    policy: policyRef(config, options.policyUri),
    prices: priceTable(config.pricing),
    now: options.now ? () => options.now! : undefined,
    events: { progress: options.progress, warn: (message) => options.progress?.(message) },
  };
  return new RunEngine(config, deps);
}

/**
 * One whole run behind the last line of defence (last-resort.ts): it always ends with a report and
 * its records. An unhandled rejection/exception anywhere in the process while it runs, any error the
 * steps let through, or the run's hard deadline (`deadlineMs`, default runDeadlineMs(config)) makes
 * it INCOMPLETE with INTERNAL_ERROR / RUN_TIMED_OUT — written, alerted and returned like any report.
 */
export async function runVerification(config: Config, ports: LocalRunPorts, options: LocalRunOptions = {}): Promise<{ report: RunReport; reportKey: string }> {
  const runId = options.runId ?? newRunId(options.now);
  const startedAt = (options.now ?? new Date()).toISOString();
  const engine = localEngine(config, ports, options);
  try {
    return await guardRun(() => runSteps(engine, ports, { ...options, runId }), { deadlineMs: options.deadlineMs ?? runDeadlineMs(config) });
  } catch (err) {
    options.progress?.(`the run ended without a verdict: ${errorMessage(err)}`);
    const failed = lastResortReport(config, runId, { mode: 'local', startedAt }, err, options.tag);
    const stored = await engine.readSummary(runId).catch(() => null);
    if (!stored) {
      await engine.finish(failed).catch((recordError) => options.progress?.(`the failed run could not be recorded: ${errorMessage(recordError)}`));
      return { report: failed, reportKey: runKeys.summary(runId) };
    }
    // The summary was written and then the run failed (the alert, the deadline): nobody else is
    // finishing this run in this process, so its alert goes out now if it has not; the answer is
    // the stored verdict made no better than INCOMPLETE, with the reason.
    await engine.alertIfLost(runId, { graceMs: 0 }).catch((alertError) => options.progress?.(`the run's alert could not be sent: ${errorMessage(alertError)}`));
    const report: RunReport = { ...stored, verdict: worseOf(stored.verdict, failed.verdict), findings: [...stored.findings, ...failed.findings] };
    return { report, reportKey: runKeys.summary(runId) };
  }
}

async function runSteps(
  engine: RunEngine,
  ports: LocalRunPorts,
  options: LocalRunOptions & { runId: string },
): Promise<{ report: RunReport; reportKey: string }> {
  const progress = options.progress ?? (() => {});
  const { config } = engine;
  const runId = options.runId;
  const planned = await engine.plan(ports.forge, { tag: options.tag, runIdFor: () => runId });
  const reportKey = runKeys.summary(runId);
  if (planned.status === 'failed') return { report: planned.report, reportKey };
  const { plan } = planned;

  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'relverify-check-')));
  const check: CheckDeps = {
    forge: ports.forge,
    workDir,
    limits: { maxBytes: config.limits.maxAssetBytes, timeoutMs: config.limits.downloadTimeoutSeconds * 1000 },
    formats: ports.formats,
    keepFiles: options.keepFiles,
    now: options.now,
    explainMismatch: options.explainMismatch?.(runId),
  };
  try {
    const cloneUrl = ports.forge.cloneUrl();
    // the plan's targets (a run joined through its id keeps the targets it was planned with)
    const targets = config.targets.filter((t) => plan.targets.some((p) => p.name === t.name));
    await mapLimited(targets, config.limits.parallelBuilds, async (target) => {
      const t0 = Date.now();
      progress(`[${target.name}] build started (${target.image})`);
      let report: TargetReport;
      try {
        const build = await ports.builder.run({ runId, target, cloneUrl, commitSha: plan.release.tagCommitSha, tag: plan.release.tag, version: plan.version });
        progress(
          `[${target.name}] build finished ${build.status} in ${fmtDuration(build.durationMs ?? Date.now() - t0)}${build.message ? ` (${build.message})` : ''}`,
        );
        report = await engine.judge(plan, build, check, { unsandboxedReason: options.unsandboxedBuilds });
      } catch (err) {
        progress(`[${target.name}] build could not run: ${errorMessage(err)}`);
        report = await engine.judgeUnstarted(plan, target.name, err, check);
      }
      progress(`[${target.name}] ${report.verdict} (checked in ${fmtDuration(Date.now() - t0)} total)`);
      await engine.recordTarget(plan, report);
    });
  } finally {
    if (!options.workDir && !options.keepFiles) await rm(workDir, { recursive: true, force: true });
  }
  // the last target in wrote the summary; a run whose summary another process wrote reports that one
  let report = await engine.readSummary(runId);
  if (!report) {
    // every target reported, yet no summary: a record write was lost; summarize what is there
    await engine.summarizeIfComplete(plan, { force: true });
    report = await engine.readSummary(runId);
  }
  if (!report) throw new Error(`run ${runId} has no summary after all targets reported`);
  return { report, reportKey };
}
