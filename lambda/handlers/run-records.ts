/**
 * The run's records in the store and the "last target in → summary exactly once → alert" fan-in,
 * shared by the launcher (planning failed, a build could not start), the checker (a build ended)
 * and the dead-man Lambda (a run whose targets never all reported).
 *
 * Exactly once: every record is written with If-None-Match, and only the writer that creates
 * summary.json publishes. A duplicate or late event finds the summary there and does nothing.
 */
import { createHash } from 'node:crypto';
import { alertFor } from '../core/alert';
import { attestationKeys, signedAttestation, signedStatement, type AttestationSigner } from '../core/attestation';
import { vsaBytes, vsaKeys, type PolicyRef } from '../core/vsa';
import type { PriceTable } from '../core/cost/prices';
import { errorMessage } from '../core/errors';
import { finding } from '../core/findings';
import { updatedLedger, type Ledger } from '../core/ledger';
import { loadLedger, saveLedger } from '../core/ledger-store';
import type { RunPlan } from '../core/run/plan';
import type { Notifier, Store } from '../core/ports';
import { renderHtml } from '../core/render-html';
import { HISTORY_KEYS, regenerateHistory } from '../core/history';
import { readRunAudit } from '../core/audit-history';
import { consoleLinkFor } from '../adapters/builder/codebuild-diff-env';
import type { RunReport, TargetReport } from '../core/report';
import { runKeys, summarize } from '../core/run/summary';

/** Record of a started build, written by the launcher after StartBuild succeeded. */
export const launchKey = (runId: string, target: string) => `runs/${runId}/builds/${target}.json`;

export interface LaunchRecord {
  target: string;
  buildId: string;
  projectName: string;
  startedAt: string;
}

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * A run id that is the same for every launch of the same release state within one window, so a
 * re-invoked launcher (Lambda retry, double schedule delivery, a second `run-now`) finds the run
 * it already planned instead of starting duplicate builds. It sorts by time and matches the core's
 * RUN_ID_PATTERN: `<window start>-<6 hex of the release identity>`.
 */
export function windowedRunId(now: Date, windowMs: number, identity: readonly (string | number | undefined)[]): string {
  const start = new Date(Math.floor(now.getTime() / windowMs) * windowMs);
  const hash = createHash('sha256')
    .update(JSON.stringify([stamp(start), ...identity]))
    .digest('hex');
  return `${stamp(start)}-${hash.slice(0, 6)}`;
}

export interface FanInDeps {
  store: Store;
  notifier: Notifier;
  /** publish a notice for VERIFIED runs too (config alerts.notifyOnVerified) */
  notifyOnVerified: boolean;
  /** called once when this invocation wrote the summary (metrics) */
  onCompleted?: (report: RunReport) => void;
  now?: () => Date;
  /**
   * Sign the run's in-toto statement (DSSE) and store it as runs/<runId>/attestation.dsse.json —
   * the checker only (it alone may use the KMS key). `onError` is told when signing or storing
   * failed (the Lambda logs it); the alert then carries an ATTESTATION_UNSIGNED notice.
   * @default no attestation (launcher, dead-man)
   */
  attestation?: {
    signer: AttestationSigner;
    onError?: (error: unknown) => void;
    /** the configuration the run was checked against: with it, the run's SLSA VSA is signed too (runs/<runId>/vsa.dsse.json) */
    policy?: PolicyRef;
  };
  /** prices for the summary's `cost` (the configuration's pricing over the defaults). @default DEFAULT_PRICES */
  prices?: PriceTable;
  /** told when the history page could not be regenerated (the run and its alert stand) */
  onHistoryError?: (error: unknown) => void;
}

export type FinishOutcome = 'published' | 'completed-quietly' | 'already-summarized';

/**
 * Writes the summary if nobody has, and only then records what the run saw in the ledger (as the
 * CLI does) and alerts. `planned` is absent for a run that could not be planned: no ledger update.
 */
export async function finishRun(report: RunReport, deps: FanInDeps, planned?: { plan: RunPlan; ledger: Ledger | null }): Promise<FinishOutcome> {
  const key = runKeys.summary(report.runId);
  const won = await deps.store.put(key, JSON.stringify(report, null, 2), { ifNoneMatch: true });
  if (!won) return alertIfLost(report.runId, deps);
  if (planned) await saveLedger(deps.store, updatedLedger(planned.ledger, planned.plan, planned.plan.history ?? null, report));
  // The HTML rendering is a convenience copy; the JSON summary is the record.
  const recordUrl = (k: string) => consoleUrlFor(deps.store, k);
  await deps.store.put(runKeys.html(report.runId), renderHtml(report, { recordUrl }), { ifNoneMatch: true, contentType: 'text/html; charset=utf-8' });
  const alerted = deps.attestation ? await attest(report, deps.store, deps.attestation) : report;
  // runs/index.json + index.html, regenerated from the summaries; a failure costs the page, never the alert
  await regenerateHistory(deps.store, { project: String(report.project.project), current: report, now: deps.now?.(), recordUrl }).catch((err) =>
    deps.onHistoryError?.(err),
  );
  deps.onCompleted?.(report);
  return sendAlert(alerted, deps);
}

/** Alerts for a summarized run (unless it is VERIFIED and those are not notified), then marks it alerted. */
async function sendAlert(report: RunReport, deps: FanInDeps): Promise<FinishOutcome> {
  const quiet = report.verdict === 'VERIFIED' && !deps.notifyOnVerified;
  if (!quiet) {
    const recordUrl = (k: string) => consoleUrlFor(deps.store, k);
    const links = {
      report: recordUrl(runKeys.html(report.runId)) ?? deps.store.locate(runKeys.html(report.runId)),
      history: recordUrl(HISTORY_KEYS.html) ?? deps.store.locate(HISTORY_KEYS.html),
    };
    await deps.notifier.notify(alertFor(report, { reportLocation: deps.store.locate(runKeys.summary(report.runId)), links }));
  }
  await deps.store.put(runKeys.alerted(report.runId), JSON.stringify({ runId: report.runId, verdict: report.verdict, alerted: !quiet }), {
    ifNoneMatch: true,
    contentType: 'application/json',
  });
  return quiet ? 'completed-quietly' : 'published';
}

/**
 * The summary exists already. If its alert never went out (SNS throttled, the invocation died
 * between the summary and the publish), send it now from the stored summary: the redelivered event
 * is the retry of the alert, so a lost publish is never silence. A duplicate alert (the marker write
 * failed after a publish) is the accepted cost of that.
 */
async function alertIfLost(runId: string, deps: FanInDeps): Promise<FinishOutcome> {
  if ((await deps.store.get(runKeys.alerted(runId))) !== null) return 'already-summarized';
  const stored = await deps.store.get(runKeys.summary(runId));
  if (stored === null) return 'already-summarized';
  const outcome = await sendAlert(JSON.parse(stored) as RunReport, deps);
  return outcome === 'published' ? 'published' : 'already-summarized';
}

/**
 * A console link for a key in the results bucket (the reader signs in; nothing in the mail grants
 * access by itself — no presigned URLs). `undefined` for a store that is not S3 (a directory).
 */
export function consoleUrlFor(store: Store, key: string): string | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(store.locate(key));
  return m ? consoleLinkFor(m[1]!, m[2]!, process.env.AWS_REGION) : undefined;
}

/**
 * Signs and stores the run's attestation, write-once like the summary. A failure must lose neither
 * the summary (already written) nor the alert: it returns the report to alert with, which then
 * carries an ATTESTATION_UNSIGNED notice (the summary itself is not rewritten).
 */
async function attest(report: RunReport, store: Store, attestation: NonNullable<FanInDeps['attestation']>): Promise<RunReport> {
  let detailed = false;
  try {
    const envelope = await signedAttestation(report, attestation.signer);
    await store.put(attestationKeys.envelope(report.runId), JSON.stringify(envelope, null, 2), { ifNoneMatch: true, contentType: 'application/json' });
    detailed = true;
    if (attestation.policy) {
      const vsa = await signedStatement(vsaBytes(report, attestation.policy), attestation.signer);
      await store.put(vsaKeys.envelope(report.runId), JSON.stringify(vsa, null, 2), { ifNoneMatch: true, contentType: 'application/json' });
    }
    return report;
  } catch (err) {
    try {
      attestation.onError?.(err);
    } catch {
      // logging must not cost the alert
    }
    const what = detailed
      ? `the detailed attestation is signed, but not the SLSA VSA (${vsaKeys.envelope(report.runId)})`
      : 'no signed attestation for this run';
    const note = finding('ATTESTATION_UNSIGNED', `${what}: ${errorMessage(err)}`, { evidence: { key: attestation.signer.keyId, error: errorMessage(err) } });
    return { ...report, findings: [...report.findings, note] };
  }
}

export type RecordOutcome = 'waiting' | FinishOutcome;

/** Names of the targets that have reported, from the keys under runs/<runId>/targets/. */
export async function reportedTargets(store: Store, runId: string): Promise<Set<string>> {
  const prefix = runKeys.targetsPrefix(runId);
  const keys = await store.list(prefix);
  return new Set(keys.filter((k) => k.endsWith('.json')).map((k) => k.slice(prefix.length, -'.json'.length)));
}

/**
 * Summarizes the run when every planned target has reported (or, with `force`, now: the missing
 * ones become TARGET_NOT_REPORTED). Returns 'waiting' while targets are outstanding.
 */
export async function summarizeIfComplete(plan: RunPlan, deps: FanInDeps, options: { force?: boolean } = {}): Promise<RecordOutcome> {
  const reported = await reportedTargets(deps.store, plan.runId);
  const complete = plan.targets.every((t) => reported.has(t.name));
  if (!complete && !options.force) return 'waiting';
  if ((await deps.store.get(runKeys.summary(plan.runId))) !== null) return alertIfLost(plan.runId, deps);
  const reports: TargetReport[] = [];
  for (const t of plan.targets) {
    if (!reported.has(t.name)) continue;
    const text = await deps.store.get(runKeys.target(plan.runId, t.name));
    if (text !== null) reports.push(JSON.parse(text) as TargetReport);
  }
  const now = (deps.now ?? (() => new Date()))();
  // The ledger as earlier runs left it: assets whose bytes changed since first seen are TAMPERED.
  const ledger = await loadLedger(deps.store);
  let report = summarize(plan, reports, { mode: 'aws', startedAt: plan.createdAt, finishedAt: now.toISOString(), prices: deps.prices }, ledger);
  // the launcher stored the run's audit (with what changed since the last run); the JSON report carries it, as locally
  const audit = await readRunAudit(deps.store, plan.runId);
  if (audit) report = { ...report, audit };
  return finishRun(report, deps, { plan, ledger });
}

/**
 * Records one target's report (write-once) and summarizes when it was the last one. A duplicate
 * report (the key exists) is not written again, but still triggers the completeness check, so a
 * run whose summary write was interrupted gets finished by the redelivered event.
 */
export async function recordTargetReport(plan: RunPlan, report: TargetReport, deps: FanInDeps): Promise<{ written: boolean; outcome: RecordOutcome }> {
  const written = await deps.store.put(runKeys.target(plan.runId, report.name), JSON.stringify(report, null, 2), { ifNoneMatch: true });
  const outcome = await summarizeIfComplete(plan, deps);
  return { written, outcome };
}

export async function readPlan(store: Store, runId: string): Promise<RunPlan | null> {
  const text = await store.get(runKeys.plan(runId));
  return text === null ? null : (JSON.parse(text) as RunPlan);
}
