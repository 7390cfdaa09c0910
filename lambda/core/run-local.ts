/**
 * One whole run on one machine: plan, builds in parallel (bounded), a check per target as each
 * build ends, the summary, the records (with the run's unsigned in-toto statement) and the alert.
 * The Lambdas do the same steps across CodeBuild and EventBridge with the same functions (planRun,
 * checkTarget, summarize).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertFor, type AlertLinks } from './alert';
import { auditForPlan } from './audit';
import { recordAudit } from './audit-history';
import { HISTORY_KEYS, regenerateHistory } from './history';
import { attestationKeys, statementBytes } from './attestation';
import { policyRef, vsaBytes, vsaKeys } from './vsa';
import { priceTable } from './cost/prices';
import { checkTarget, type CheckDeps } from './check-target';
import type { Config } from './config/schema';
import { errorMessage, VerifierError } from './errors';
import { guardRun, lastResortReport, runDeadlineMs } from './last-resort';
import { finding, worseOf } from './findings';
import type { FormatOps } from './format-ops';
import { newRunId, planRun, type RunPlan } from './run/plan';
import type { Builder, BuildResult, Forge, Notifier, Store } from './ports';
import { renderHtml } from './render-html';
import type { AuditReport, RunReport, TargetReport } from './report';
import { failedRunReport, runKeys, summarize } from './run/summary';
import { loadLedger, saveLedger } from './ledger-store';
import { updatedLedger, type Ledger } from './ledger';

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
   * Set when the builds run as bare host processes (`--unsafe-host-build`): every target then carries
   * a BUILD_NOT_SANDBOXED finding with this message — such a build could have altered the
   * verifier's own files, so its target is never VERIFIED (comparisons are still reported). Only the
   * wording: a build whose result says `sandbox: 'none'` gets the finding without it.
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

/**
 * One whole run behind the last line of defence (last-resort.ts): it always ends with a report and
 * its records. An unhandled rejection/exception anywhere in the process while it runs, any error the
 * steps let through, or the run's hard deadline (`deadlineMs`, default runDeadlineMs(config)) makes
 * it INCOMPLETE with INTERNAL_ERROR / RUN_TIMED_OUT — written, alerted and returned like any report.
 */
export async function runVerification(config: Config, ports: LocalRunPorts, options: LocalRunOptions = {}): Promise<{ report: RunReport; reportKey: string }> {
  const runId = options.runId ?? newRunId(options.now);
  const startedAt = (options.now ?? new Date()).toISOString();
  try {
    return await guardRun(() => runSteps(config, ports, { ...options, runId }), { deadlineMs: options.deadlineMs ?? runDeadlineMs(config) });
  } catch (err) {
    options.progress?.(`the run ended without a verdict: ${errorMessage(err)}`);
    const report = lastResortReport(config, runId, { mode: 'local', startedAt }, err, options.tag);
    return { report, reportKey: await recordFailedRun(ports, report) };
  }
}

/** Writes what it can of a failed run (summary, HTML, alert); each step's failure is survived. */
async function recordFailedRun(ports: LocalRunPorts, report: RunReport): Promise<string> {
  const reportKey = runKeys.summary(report.runId);
  const attempt = (step: () => Promise<unknown>) => step().catch(() => undefined);
  // a summary the run already wrote stays (write-once); the caller still gets this report
  await attempt(() => ports.store.put(reportKey, JSON.stringify(report, null, 2), { ifNoneMatch: true }));
  await attempt(() => ports.store.put(runKeys.html(report.runId), renderHtml(report), { ifNoneMatch: true }));
  await attempt(() => regenerateHistory(ports.store, { project: String(report.project.project), current: report }));
  await attempt(() =>
    ports.notifier.notify(alertFor(report, { reportLocation: ports.store.locate(reportKey), links: readerLinks(ports.store, report.runId) })),
  );
  return reportKey;
}

/** Where a person reads the run: its HTML report and the history page (file paths locally). */
function readerLinks(store: Store, runId: string): AlertLinks {
  return { report: store.locate(runKeys.html(runId)), history: store.locate(HISTORY_KEYS.html) };
}

async function runSteps(config: Config, ports: LocalRunPorts, options: LocalRunOptions): Promise<{ report: RunReport; reportKey: string }> {
  const progress = options.progress ?? (() => {});
  const startedAt = (options.now ?? new Date()).toISOString();
  const runId = options.runId ?? newRunId(options.now);
  const meta = { mode: 'local' as const, startedAt, prices: priceTable(config.pricing) };
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'relverify-check-')));
  const limits = { maxBytes: config.limits.maxAssetBytes, timeoutMs: config.limits.downloadTimeoutSeconds * 1000 };

  let report: RunReport;
  let plan: RunPlan | undefined;
  let ledger: Ledger | null = null;
  let audit: Omit<AuditReport, 'changes'> | undefined;
  try {
    try {
      ledger = await loadLedger(ports.store);
      progress(
        `finding release ${options.tag ?? (config.release === 'latest' ? '(latest)' : config.release.tag)} of ${config.gitlab.project} at ${config.gitlab.url}`,
      );
      plan = await planRun(config, ports.forge, { runId, tag: options.tag, now: options.now, ledger });
      // the repository and forge audit (advisory NOTICEs; never throws), stored with the run's plan
      progress(`auditing the repository at ${plan.release.tagCommitSha} and the forge's write paths`);
      const audited = await auditForPlan(ports.forge, plan);
      plan.findings.push(...audited.findings);
      audit = audited.report;
      await ports.store.put(runKeys.plan(runId), JSON.stringify(plan, null, 2), { ifNoneMatch: true });
      progress(`release ${plan.release.tag} → commit ${plan.release.tagCommitSha}; ${plan.targets.length} target(s)`);
    } catch (err) {
      progress(`could not plan the run: ${errorMessage(err)}`);
      report = failedRunReport(config, runId, meta, err, options.tag);
    }

    if (plan) {
      const p = plan;
      const cloneUrl = ports.forge.cloneUrl();
      const targets = await mapLimited(config.targets, config.limits.parallelBuilds, async (target): Promise<TargetReport> => {
        const t0 = Date.now();
        progress(`[${target.name}] build started (${target.image})`);
        let build: BuildResult;
        try {
          build = await ports.builder.run({ runId, target, cloneUrl, commitSha: p.release.tagCommitSha, tag: p.release.tag, version: p.version });
        } catch (err) {
          progress(`[${target.name}] build could not run: ${errorMessage(err)}`);
          if (err instanceof VerifierError && err.code === 'BUILD_NOT_SANDBOXED') {
            const f = finding('BUILD_NOT_SANDBOXED', `build of ${target.name} refused: ${err.userMessage}`, { target: target.name });
            return { name: target.name, verdict: 'INCOMPLETE', artifacts: [], findings: [f] };
          }
          const f = finding('BUILD_NOT_STARTED', `build of ${target.name} could not run: ${errorMessage(err)}`, { target: target.name });
          return { name: target.name, verdict: 'INCOMPLETE', artifacts: [], findings: [f] };
        }
        progress(
          `[${target.name}] build finished ${build.status} in ${fmtDuration(build.durationMs ?? Date.now() - t0)}${build.message ? ` (${build.message})` : ''}`,
        );
        const result = await checkTarget(p, target.name, build, {
          forge: ports.forge,
          workDir,
          limits,
          formats: ports.formats,
          keepFiles: options.keepFiles,
          now: options.now,
          explainMismatch: options.explainMismatch?.(runId),
        });
        // from the build's own result (any caller of LocalBuilder({ unsafeHostBuild })), or the CLI's word
        if (build.sandbox === 'none' || options.unsandboxedBuilds) {
          const why = options.unsandboxedBuilds ?? 'the builder ran it as a bare host process (unsafeHostBuild)';
          result.findings.push(
            finding('BUILD_NOT_SANDBOXED', `build of ${target.name} ran on the host without a sandbox: ${why}`, {
              target: target.name,
              evidence: { buildId: build.buildId, sandbox: build.sandbox },
            }),
          );
          result.verdict = worseOf(result.verdict, 'INCOMPLETE');
        }
        await ports.store.put(runKeys.target(runId, target.name), JSON.stringify(result, null, 2), { ifNoneMatch: true });
        progress(`[${target.name}] ${result.verdict} (checked in ${fmtDuration(Date.now() - t0)} total)`);
        return result;
      });
      report = summarize(p, targets, meta, ledger);
      // over time: what appeared or disappeared since the last run's audit (audit-history.ts)
      if (audit)
        report = {
          ...report,
          audit: await recordAudit(ports.store, { runId, release: p.release.tag, createdAt: p.createdAt, findings: report.findings }, audit, progress),
        };
    }
  } finally {
    if (!options.workDir && !options.keepFiles) await rm(workDir, { recursive: true, force: true });
  }

  const reportKey = runKeys.summary(runId);
  const won = await ports.store.put(reportKey, JSON.stringify(report!, null, 2), { ifNoneMatch: true });
  // Only the run that wrote the summary records what it saw; history already recorded is kept.
  if (won && plan) await saveLedger(ports.store, updatedLedger(ledger, plan, plan.history ?? null, report!));
  // … and writes its in-toto statement, unsigned: a laptop has no key a third party could pin (AWS signs it).
  if (won) await ports.store.put(attestationKeys.statement(runId), statementBytes(report!), { ifNoneMatch: true, contentType: 'application/json' });
  // … and the standard SLSA Verification Summary of the same run (vsa.ts), unsigned too
  if (won)
    await ports.store.put(vsaKeys.statement(runId), vsaBytes(report!, policyRef(config, options.policyUri)), {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
  await ports.store.put(runKeys.html(runId), renderHtml(report!), { ifNoneMatch: true });
  // runs/index.json + index.html from the store's summaries; a failure costs the page, not the run
  await regenerateHistory(ports.store, { project: String(report!.project.project), current: report!, now: options.now }).catch((err) =>
    progress(`the run history (${ports.store.locate(HISTORY_KEYS.html)}) could not be regenerated: ${errorMessage(err)}`),
  );
  await ports.notifier.notify(alertFor(report!, { reportLocation: ports.store.locate(reportKey), links: readerLinks(ports.store, runId) }));
  return { report: report!, reportKey };
}
