/**
 * The process-level last line of defence (issue 15): a run always ends with a report.
 *
 * Every error is meant to be caught where it happens and become a finding. This module is for the
 * ones that are not — an 'error' event nobody listens to, a promise rejected with no handler, a
 * step that never settles — which would otherwise kill the process (no report, no JSON on stdout,
 * no alert) or hang it. `guardRun` runs a whole verification so that it settles, always:
 *
 * - an unhandled rejection or uncaught exception while the run is active trips the run with an
 *   InternalError (→ INCOMPLETE `INTERNAL_ERROR` with the message), instead of crashing;
 * - a hard deadline trips it with a RunDeadlineError (→ INCOMPLETE `RUN_TIMED_OUT`);
 * - an ordinary error thrown by the run is passed on as it is.
 *
 * While a guarded run is active it owns the process's 'unhandledRejection' and 'uncaughtException'
 * handling: other listeners (a test runner's, the AWS Lambda runtime's, which would post the error
 * and exit before we could write the report and alert) are set aside and put back when the run
 * settles. The caller writes the report and, in a Lambda, rethrows so the invocation still counts as
 * failed (its Errors alarm). Outside a guarded run the process keeps its normal behaviour.
 */
import { errorMessage, VerifierError } from './errors';
import { finding, type Finding } from './findings';
import type { Config } from './config/schema';
import type { RunReport } from './report';
import { failedRunReport } from './run/summary';

/** Something nobody caught ended the run. Its message goes into the report as INTERNAL_ERROR. */
export class InternalError extends VerifierError {
  constructor(message: string, cause?: unknown) {
    super('INTERNAL_ERROR', message, { cause });
  }
}

/** The run passed its hard deadline. */
export class RunDeadlineError extends VerifierError {
  readonly deadlineMs: number;
  constructor(deadlineMs: number) {
    super('RUN_TIMED_OUT', `the run did not finish within its deadline of ${formatMs(deadlineMs)}; what had not finished is unchecked`);
    this.deadlineMs = deadlineMs;
  }
}

type FaultEvent = 'unhandledRejection' | 'uncaughtException';
const FAULT_EVENTS: readonly FaultEvent[] = ['unhandledRejection', 'uncaughtException'];
type Listener = (...args: unknown[]) => void;

const active = new Set<(err: InternalError) => void>();
let setAside: Map<FaultEvent, Listener[]> | undefined;

const onUnhandledRejection = (reason: unknown) => trip(new InternalError(`unhandled promise rejection: ${errorMessage(reason)}`, reason));
const onUncaughtException = (err: unknown) => trip(new InternalError(`uncaught exception: ${errorMessage(err)}`, err));

function trip(err: InternalError): void {
  for (const fail of active) fail(err);
}

function takeOver(): void {
  if (setAside) return;
  setAside = new Map();
  for (const event of FAULT_EVENTS) {
    setAside.set(event, process.listeners(event as 'unhandledRejection') as unknown as Listener[]);
    process.removeAllListeners(event);
  }
  process.on('unhandledRejection', onUnhandledRejection);
  process.on('uncaughtException', onUncaughtException);
}

function handBack(): void {
  if (!setAside || active.size > 0) return;
  process.removeListener('unhandledRejection', onUnhandledRejection);
  process.removeListener('uncaughtException', onUncaughtException);
  for (const [event, listeners] of setAside) for (const l of listeners) process.on(event as 'unhandledRejection', l as NodeJS.UnhandledRejectionListener);
  setAside = undefined;
}

/** Whether a guarded run is active (tests, diagnostics). */
export function guardActive(): boolean {
  return active.size > 0;
}

/**
 * Runs `work` so that it settles: its result, its own error, an InternalError (an unhandled
 * rejection/exception anywhere in the process while it ran) or a RunDeadlineError. Abandoned work
 * keeps running in the background; its late rejection is swallowed.
 */
export async function guardRun<T>(work: () => Promise<T>, options: { deadlineMs?: number } = {}): Promise<T> {
  let fail!: (err: VerifierError) => void;
  const tripped = new Promise<never>((_, reject) => (fail = reject));
  tripped.catch(() => undefined);
  const onFault = (err: InternalError) => fail(err);
  active.add(onFault);
  takeOver();
  const timer = options.deadlineMs === undefined ? undefined : setTimeout(() => fail(new RunDeadlineError(options.deadlineMs!)), options.deadlineMs);
  try {
    const running = Promise.resolve().then(work);
    running.catch(() => undefined);
    return await Promise.race([running, tripped]);
  } finally {
    clearTimeout(timer);
    active.delete(onFault);
    handBack();
  }
}

/** True for the errors guardRun trips with. */
export function isLastResortError(err: unknown): err is InternalError | RunDeadlineError {
  return err instanceof InternalError || err instanceof RunDeadlineError;
}

/** The finding for an error that ended a run: RUN_TIMED_OUT for the deadline, INTERNAL_ERROR for anything else. */
export function lastResortFinding(err: unknown): Finding {
  if (err instanceof RunDeadlineError) return finding('RUN_TIMED_OUT', err.userMessage, { evidence: { deadlineMs: err.deadlineMs } });
  const message = errorMessage(err);
  const stack = err instanceof Error ? (err.cause instanceof Error ? err.cause.stack : err.stack) : undefined;
  return finding('INTERNAL_ERROR', `the run failed with an internal error: ${message}`, {
    evidence: { error: message, ...(stack ? { stack: stack.split('\n').slice(0, 8).join('\n') } : {}) },
  });
}

/** The report of a run that a last-resort error (or any unexpected error) ended: INCOMPLETE, one finding. */
export function lastResortReport(
  config: Pick<Config, 'gitlab'>,
  runId: string,
  meta: { mode: 'local' | 'aws'; startedAt: string },
  err: unknown,
  tag?: string,
): RunReport {
  const base = failedRunReport(config, runId, meta, err, tag);
  return { ...base, verdict: 'INCOMPLETE', findings: [lastResortFinding(err)] };
}

/** The hard deadline of a whole local run: the forge phase, every build batch at its timeout, every download at its limit, and a margin. */
export function runDeadlineMs(config: Pick<Config, 'targets' | 'limits'>): number {
  const FORGE_PHASE_MS = 45 * 60_000; // release, history, protections: 15 min each at most (GitLabForge)
  const MARGIN_MS = 10 * 60_000;
  const batches = Math.ceil(config.targets.length / config.limits.parallelBuilds);
  const buildMs = Math.max(0, ...config.targets.map((t) => t.timeoutMinutes)) * 60_000;
  // each artifact: the asset, its signature, a manifest and its signature
  const downloads = config.targets.reduce((n, t) => n + t.artifacts.length, 0) * 4;
  return FORGE_PHASE_MS + batches * buildMs + downloads * config.limits.downloadTimeoutSeconds * 1000 + MARGIN_MS;
}

function formatMs(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 100) / 10} s`;
}
