/**
 * The run engine: the one place that knows how a run goes from a plan to an alert. The CLI drives
 * it in one process (in-process.ts); the Lambdas drive it across events (remote.ts: the launcher
 * plans and starts builds, the checker concludes each build, the dead-man closes what never
 * finished). Both get the same records, in the same store layout, with the same rules:
 *
 *   plan        once per run id, write-once, with the audit stored beside it
 *   judge       a target's build (or its failure to start) by the shared checker
 *   record      each target's report exactly once (write-once)
 *   summarize   when the last planned target is in (or, forced, with the missing ones INCOMPLETE)
 *   finish      only the writer of summary.json: ledger, HTML, statements (signed when a signer is
 *               given), history, then the alert — and the alert marker, so a lost publish is re-sent
 *               by whoever touches the run next
 *
 * Every step that can fail without losing the verdict (history page, attestation signing, audit
 * bookkeeping) is survived and named; nothing here ever turns an error into VERIFIED.
 */
import { alertFor, type AlertLinks } from '../alert';
import { attestationKeys, signedAttestation, signedStatement, statementBytes, type AttestationSigner } from '../attestation';
import type { AuditReport } from '../report';
import { readRunAudit, recordAudit } from '../audit-history';
import { auditForPlan } from '../audit';
import { checkTarget, type CheckDeps } from '../check-target';
import type { Config } from '../config/schema';
import type { PriceTable } from '../cost/prices';
import { errorMessage, VerifierError } from '../errors';
import { finding, verdictOf, worseOf } from '../findings';
import { regenerateHistory } from '../history';
import { updatedLedger, type Ledger } from '../ledger';
import { loadLedger, saveLedger } from '../ledger-store';
import type { BuildResult, Forge, Notifier, Release, Store } from '../ports';
import { renderHtml } from '../render-html';
import type { RunReport, TargetReport } from '../report';
import { vsaBytes, vsaKeys, type PolicyRef } from '../vsa';
import { planRun } from './plan';
import type { RunPlan } from './run-plan';
import { HISTORY_KEYS, LEDGER_KEY, namesUnder, runKeys } from './store-layout';
import { failedRunReport, summarize, type RunMeta } from './summary';

/** What the engine tells its driver as it goes: progress lines locally, structured logs in Lambda. */
export interface RunEvents {
  progress?(line: string): void;
  /** a step failed that costs a convenience (history page, audit bookkeeping), never the verdict */
  warn?(message: string, error?: unknown): void;
  /** the attestation could not be signed or stored (the alert then carries ATTESTATION_UNSIGNED) */
  attestationError?(error: unknown): void;
  /** once, by the writer of the summary */
  completed?(report: RunReport): void;
}

export interface EngineDeps {
  store: Store;
  notifier: Notifier;
  /** reported in every summary; picks the cost model (a laptop's builds cost nothing) */
  mode: RunMeta['mode'];
  /** publish an alert for VERIFIED runs too (config `alerts.notifyOnVerified`) */
  notifyOnVerified: boolean;
  /** the configuration the run is checked against, as the SLSA VSA names it */
  policy: PolicyRef;
  /** prices for the summary's `cost`. @default DEFAULT_PRICES */
  prices?: PriceTable;
  /** signs the detailed attestation and the VSA (the checker Lambda: KMS). @default none: unsigned statements only */
  signer?: AttestationSigner;
  /** a link for people to a stored record (the S3 console in AWS). @default none: `store.locate` */
  recordUrl?: (key: string) => string | undefined;
  now?: () => Date;
  /** how the engine waits (alertIfLost polling). @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  events?: RunEvents;
}

export type FinishOutcome = 'published' | 'completed-quietly' | 'already-summarized';

/** How long after its summary a run's alert is left to the summary's writer before anyone re-sends it. */
export const ALERT_GRACE_MS = 3 * 60_000;
/** How often a racer looks for the writer's alert marker while it waits. */
export const ALERT_POLL_MS = 1_000;
export type RecordOutcome = 'waiting' | FinishOutcome;

export type PlanOutcome =
  | { status: 'planned'; plan: RunPlan; created: boolean; forge: Forge }
  | { status: 'failed'; runId: string; report: RunReport; outcome: FinishOutcome };

export interface PlanOptions {
  tag?: string;
  /**
   * The run's id, once the release is known (`null`: it could not be found). The CLI gives each run a
   * fresh id; the launcher derives it from the release state and the window, so a re-invocation
   * joins the run it already planned.
   */
  runIdFor: (release: Release | null) => string | Promise<string>;
}

/** What a remote build's launch record says (runs/<id>/builds/<target>.json). */
export interface LaunchRecord {
  target: string;
  buildId: string;
  projectName: string;
  startedAt: string;
}

export class RunEngine {
  constructor(
    readonly config: Config,
    readonly deps: EngineDeps,
  ) {}

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  private get store(): Store {
    return this.deps.store;
  }

  // ───────────────────────── plan ─────────────────────────

  /**
   * Finds the release and fixes the plan (write-once). When the plan already exists (a re-invoked
   * launcher), the stored plan is the one judged against, never a newer forge answer. A run that
   * cannot be planned is finished at once as INCOMPLETE and alerted.
   */
  async plan(forgeOf: Forge | (() => Promise<Forge>), options: PlanOptions): Promise<PlanOutcome> {
    const now = this.now();
    let planned: RunPlan;
    let forge: Forge;
    try {
      // a forge built lazily (the token is read from a secret) fails inside planning: INCOMPLETE, alerted
      forge = typeof forgeOf === 'function' ? await forgeOf() : forgeOf;
      // The release history is judged against the ledger at planning time (moved tags, changed links).
      const ledger = await loadLedger(this.store);
      this.deps.events?.progress?.(
        `finding release ${options.tag ?? (this.config.release === 'latest' ? '(latest)' : this.config.release.tag)} of ${this.config.gitlab.project} at ${this.config.gitlab.url}`,
      );
      planned = await planRun(this.config, forge, { runId: 'unassigned', tag: options.tag, now, ledger });
    } catch (err) {
      const runId = await options.runIdFor(null);
      this.deps.events?.progress?.(`could not plan the run: ${errorMessage(err)}`);
      const report = failedRunReport(this.config, runId, this.meta(now.toISOString()), err, options.tag);
      return { status: 'failed', runId, report, outcome: await this.finish(report) };
    }
    let plan: RunPlan = { ...planned, runId: await options.runIdFor(planned.release) };
    // the repository and forge audit: advisory NOTICEs that join the plan's findings (never throws)
    this.deps.events?.progress?.(`auditing the repository at ${plan.release.tagCommitSha} and the forge's write paths`);
    const audited = await auditForPlan(forge, plan);
    plan = { ...plan, findings: [...plan.findings, ...audited.findings] };
    const created = await this.store.put(runKeys.plan(plan.runId), JSON.stringify(plan, null, 2), { ifNoneMatch: true });
    if (created) {
      // … and the audit block, with what changed since the last run, is stored with the run
      await recordAudit(
        this.store,
        { runId: plan.runId, release: plan.release.tag, createdAt: plan.createdAt, findings: plan.findings },
        audited.report,
        (line) => this.deps.events?.warn?.(line),
      );
    } else {
      plan = (await this.readPlan(plan.runId)) ?? plan;
    }
    this.deps.events?.progress?.(`release ${plan.release.tag} → commit ${plan.release.tagCommitSha}; ${plan.targets.length} target(s)`);
    return { status: 'planned', plan, created, forge };
  }

  async readPlan(runId: string): Promise<RunPlan | null> {
    const text = await this.store.get(runKeys.plan(runId));
    return text === null ? null : (JSON.parse(text) as RunPlan);
  }

  // ───────────────────────── judge ─────────────────────────

  /**
   * Judges one target's build against the plan with the shared checker. A build that ran on the
   * bare host (`sandbox: 'none'`) could have altered the verifier's own files: BUILD_NOT_SANDBOXED,
   * never VERIFIED (`unsandboxedReason` words it; the CLI's `--unsafe-host-build`).
   */
  async judge(plan: RunPlan, build: BuildResult, check: CheckDeps, options: { unsandboxedReason?: string } = {}): Promise<TargetReport> {
    const report = await checkTarget(plan, build.target, build, check);
    if (build.sandbox === 'none') {
      const why = options.unsandboxedReason ?? 'the builder ran it as a bare host process (unsafeHostBuild)';
      report.findings.push(
        finding('BUILD_NOT_SANDBOXED', `build of ${build.target} ran on the host without a sandbox: ${why}`, {
          target: build.target,
          evidence: { buildId: build.buildId, sandbox: build.sandbox },
        }),
      );
      report.verdict = worseOf(report.verdict, 'INCOMPLETE');
    }
    return report;
  }

  /**
   * A target whose build could not start is still judged: its published assets and signatures are
   * checked, and the report says why nothing was built (BUILD_NOT_STARTED, or BUILD_NOT_SANDBOXED
   * when the builder refused to run it without a sandbox).
   */
  async judgeUnstarted(plan: RunPlan, target: string, error: unknown, check: CheckDeps): Promise<TargetReport> {
    const planned = plan.targets.find((t) => t.name === target);
    const reason = errorMessage(error);
    const build: BuildResult = {
      target,
      buildId: '(not started)',
      status: 'NOT_STARTED',
      message: reason,
      image: { ref: planned?.image ?? '(not planned)', enforced: true, note: 'no build ran' },
      sandbox: 'not-run',
      artifacts: NO_ARTIFACTS,
    };
    const report = await checkTarget(plan, target, build, check);
    if (error instanceof VerifierError && error.code === 'BUILD_NOT_SANDBOXED') {
      // the refusal is the reason nothing was built: it replaces the generic BUILD_NOT_STARTED
      const refused = finding('BUILD_NOT_SANDBOXED', `build of ${target} refused: ${error.userMessage}`, { target });
      report.findings = [refused, ...report.findings.filter((f) => f.code !== 'BUILD_NOT_STARTED')];
      report.verdict = worseOf(report.verdict, 'INCOMPLETE');
    }
    return report;
  }

  // ───────────────────────── record, summarize ─────────────────────────

  /**
   * Records one target's report (write-once) and summarizes when it was the last one. A duplicate
   * (the key exists) is not written again but still triggers the completeness check, so a run whose
   * summary write was interrupted is finished by the redelivered event.
   */
  async recordTarget(plan: RunPlan, report: TargetReport): Promise<{ written: boolean; outcome: RecordOutcome }> {
    const written = await this.store.put(runKeys.target(plan.runId, report.name), JSON.stringify(report, null, 2), { ifNoneMatch: true });
    return { written, outcome: await this.summarizeIfComplete(plan) };
  }

  async hasTargetReport(runId: string, target: string): Promise<boolean> {
    return (await this.store.get(runKeys.target(runId, target))) !== null;
  }

  /** Names of the targets that have reported. */
  async reportedTargets(runId: string): Promise<Set<string>> {
    const prefix = runKeys.targetsPrefix(runId);
    return namesUnder(prefix, await this.store.list(prefix));
  }

  /**
   * Summarizes the run when every planned target has reported (or, with `force`, now: the missing
   * ones become TARGET_NOT_REPORTED). 'waiting' while targets are outstanding.
   */
  async summarizeIfComplete(plan: RunPlan, options: { force?: boolean } = {}): Promise<RecordOutcome> {
    const reported = await this.reportedTargets(plan.runId);
    const complete = plan.targets.every((t) => reported.has(t.name));
    if (!complete && !options.force) return 'waiting';
    if ((await this.store.get(runKeys.summary(plan.runId))) !== null) return this.alertIfLost(plan.runId);
    const reports: TargetReport[] = [];
    for (const t of plan.targets) {
      if (!reported.has(t.name)) continue;
      const text = await this.store.get(runKeys.target(plan.runId, t.name));
      if (text !== null) reports.push(JSON.parse(text) as TargetReport);
    }
    // The ledger as earlier runs left it: assets whose bytes changed since first seen are TAMPERED.
    // Unreadable now (it was readable at planning): the run is still summarized and alerted, the
    // asset history is unchecked (INCOMPLETE at worst), and the ledger is left as it is for a human.
    let ledger: Ledger | null = null;
    let ledgerError: unknown;
    try {
      ledger = await loadLedger(this.store);
    } catch (err) {
      ledgerError = err;
    }
    let report = summarize(plan, reports, { ...this.meta(plan.createdAt), finishedAt: this.now().toISOString() }, ledger);
    if (ledgerError !== undefined) {
      const f = finding('HISTORY_UNCHECKED', `asset history could not be checked: ${errorMessage(ledgerError)}`, {
        evidence: { error: errorMessage(ledgerError) },
      });
      report = { ...report, findings: [...report.findings, f], verdict: worseOf(report.verdict, verdictOf([f], true)) };
    }
    // the run's audit (stored at planning, with what changed since the last run) goes into the report
    const audit: AuditReport | null = await readRunAudit(this.store, plan.runId);
    if (audit) report = { ...report, audit };
    return this.finish(report, ledgerError === undefined ? { plan, ledger } : undefined);
  }

  private meta(startedAt: string): RunMeta {
    return { mode: this.deps.mode, startedAt, prices: this.deps.prices };
  }

  // ───────────────────────── finish ─────────────────────────

  /**
   * Writes the summary if nobody has, and only then records what the run saw in the ledger, renders
   * the HTML, stores the statements, regenerates the history and alerts. `planned` is absent for a
   * run that could not be planned (no ledger update). The loser of the race does none of it — it
   * only re-sends an alert that never went out.
   */
  async finish(report: RunReport, planned?: { plan: RunPlan; ledger: Ledger | null }): Promise<FinishOutcome> {
    const { store } = this;
    const won = await store.put(runKeys.summary(report.runId), JSON.stringify(report, null, 2), { ifNoneMatch: true });
    if (!won) return this.alertIfLost(report.runId);
    const recordUrl = this.deps.recordUrl;
    // Between the summary and the alert, every step is survived: a store that refuses the ledger,
    // the HTML or the history page costs that record (named in the log), never the alert.
    const survive = async (what: string, step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (err) {
        this.deps.events?.warn?.(`${what} could not be written: ${errorMessage(err)}`, err);
      }
    };
    if (planned)
      await survive(`the ledger (${store.locate(LEDGER_KEY)})`, () =>
        saveLedger(store, updatedLedger(planned.ledger, planned.plan, planned.plan.history ?? null, report)),
      );
    // the HTML rendering is a convenience copy; the JSON summary is the record
    await survive('the HTML report', () =>
      store.put(runKeys.html(report.runId), renderHtml(report, { recordUrl }), { ifNoneMatch: true, contentType: 'text/html; charset=utf-8' }),
    );
    const alerted = await this.attest(report);
    this.deps.events?.completed?.(report);
    // the alert before the history page (it links the page, which follows seconds later): the
    // shorter the way from the summary to the alert, the smaller the window a racer must wait out
    const outcome = await this.sendAlert(alerted);
    await survive(`the run history (${store.locate(HISTORY_KEYS.html)})`, () =>
      regenerateHistory(store, { project: String(report.project.project), current: report, now: this.deps.now?.(), recordUrl }),
    );
    return outcome;
  }

  /**
   * The in-toto statements: unsigned always (a laptop has no key a third party could pin), and
   * signed as DSSE when a signer is given. A signing failure loses neither the summary (written) nor
   * the alert: the alert carries an ATTESTATION_UNSIGNED notice (the summary is not rewritten).
   */
  private async attest(report: RunReport): Promise<RunReport> {
    const { store } = this;
    const json = { ifNoneMatch: true, contentType: 'application/json' };
    try {
      await store.put(attestationKeys.statement(report.runId), statementBytes(report), json);
      await store.put(vsaKeys.statement(report.runId), vsaBytes(report, this.deps.policy), json);
    } catch (err) {
      this.deps.events?.warn?.(`the run's unsigned statements could not be written: ${errorMessage(err)}`, err);
    }
    const signer = this.deps.signer;
    if (!signer) return report;
    let detailed = false;
    try {
      const envelope = await signedAttestation(report, signer);
      await store.put(attestationKeys.envelope(report.runId), JSON.stringify(envelope, null, 2), json);
      detailed = true;
      const vsa = await signedStatement(vsaBytes(report, this.deps.policy), signer);
      await store.put(vsaKeys.envelope(report.runId), JSON.stringify(vsa, null, 2), json);
      return report;
    } catch (err) {
      try {
        this.deps.events?.attestationError?.(err);
      } catch {
        // logging must not cost the alert
      }
      const what = detailed
        ? `the detailed attestation is signed, but not the SLSA VSA (${vsaKeys.envelope(report.runId)})`
        : 'no signed attestation for this run';
      const note = finding('ATTESTATION_UNSIGNED', `${what}: ${errorMessage(err)}`, { evidence: { key: signer.keyId, error: errorMessage(err) } });
      return { ...report, findings: [...report.findings, note] };
    }
  }

  /** Where a person reads the run: its HTML report and the history page. */
  private links(runId: string): AlertLinks {
    const at = (key: string) => this.deps.recordUrl?.(key) ?? this.store.locate(key);
    return { report: at(runKeys.html(runId)), history: at(HISTORY_KEYS.html) };
  }

  /** Alerts for a summarized run (unless it is VERIFIED and those are not notified), then marks it alerted. */
  private async sendAlert(report: RunReport): Promise<FinishOutcome> {
    const quiet = report.verdict === 'VERIFIED' && !this.deps.notifyOnVerified;
    if (!quiet) {
      await this.deps.notifier.notify(alertFor(report, { reportLocation: this.store.locate(runKeys.summary(report.runId)), links: this.links(report.runId) }));
    }
    await this.store.put(runKeys.alerted(report.runId), JSON.stringify({ runId: report.runId, verdict: report.verdict, alerted: !quiet }), {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    return quiet ? 'completed-quietly' : 'published';
  }

  /**
   * The summary exists already. If its alert never went out (SNS throttled, the process died
   * between the summary and the publish), send it now from the stored summary: whoever touches the
   * run next retries the alert, so a lost publish is never silence.
   *
   * A summary younger than `graceMs` has a writer that may still be finishing it (ledger, HTML,
   * statements, then the alert): a second target coming in at the same moment must not alert twice.
   * So this waits — polling for the writer's alert marker — until the summary is `graceMs` old, at
   * most `waitMs`, and sends only if the marker never came. Lambda's retry of a failed publish thus
   * re-sends it (it waits out the grace), and the in-process race costs a poll. A duplicate alert
   * (a writer slower than the grace, or a marker write that failed after a publish) is the accepted
   * cost of never being silent.
   */
  async alertIfLost(runId: string, options: { graceMs?: number; waitMs?: number } = {}): Promise<FinishOutcome> {
    const graceMs = options.graceMs ?? ALERT_GRACE_MS;
    let waitLeft = options.waitMs ?? graceMs;
    const sleep = this.deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (;;) {
      if ((await this.store.get(runKeys.alerted(runId))) !== null) return 'already-summarized';
      const stored = await this.store.get(runKeys.summary(runId));
      if (stored === null) return 'already-summarized';
      const report = JSON.parse(stored) as RunReport;
      const young = graceMs - (this.now().getTime() - Date.parse(report.finishedAt));
      if (!(young > 0)) {
        const outcome = await this.sendAlert(await this.withMissingAttestations(report));
        return outcome === 'published' ? 'published' : 'already-summarized';
      }
      if (waitLeft <= 0) return 'already-summarized';
      const step = Math.min(ALERT_POLL_MS, young, waitLeft);
      await sleep(step);
      waitLeft -= step;
    }
  }

  /**
   * A re-sent alert says what the lost writer left undone that the reader relies on: with a signer
   * configured, a signed statement missing from the store is an ATTESTATION_UNSIGNED notice, as in
   * the writer's own alert (the summary stays as it was written).
   */
  private async withMissingAttestations(report: RunReport): Promise<RunReport> {
    const signer = this.deps.signer;
    if (!signer) return report;
    const missing: string[] = [];
    for (const key of [attestationKeys.envelope(report.runId), vsaKeys.envelope(report.runId)]) {
      try {
        if ((await this.store.get(key)) === null) missing.push(key);
      } catch (err) {
        missing.push(`${key} (unreadable: ${errorMessage(err)})`);
      }
    }
    if (missing.length === 0) return report;
    const note = finding('ATTESTATION_UNSIGNED', `the run's writer stopped before its signed statements were stored; missing: ${missing.join(', ')}`, {
      evidence: { key: signer.keyId, missing },
    });
    return { ...report, findings: [...report.findings, note] };
  }

  /** The stored summary of a run, or null. */
  async readSummary(runId: string): Promise<RunReport | null> {
    const text = await this.store.get(runKeys.summary(runId));
    return text === null ? null : (JSON.parse(text) as RunReport);
  }
}

/** The artifacts of a build that never ran: there are none. */
export const NO_ARTIFACTS: BuildResult['artifacts'] = { fetch: async () => null };
