/**
 * What every handler needs from its environment: the resolved configuration (a JSON file shipped
 * in a Lambda layer — Lambda environment variables are limited to 4 KiB in total, and pinned keys
 * and trusted roots are larger), resource names from environment variables, Powertools logger and
 * metrics. Nothing here decides anything.
 */
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Config } from '../core/config/schema';
import { parseConfig } from '../core/config/load';
import { errorMessage, VerifierError } from '../core/errors';
import { guardRun, isLastResortError, lastResortReport } from '../core/last-resort';
import type { Notifier, Store } from '../core/ports';
import { awsEngine } from './aws-engine';
import { METRIC_NAMESPACE } from './metric-names';

export { DEFAULT_CONFIG_FILE, ENV } from './env';
import { DEFAULT_CONFIG_FILE, ENV } from './env';

export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[name];
  if (!v) throw new VerifierError('ENV_MISSING', `environment variable ${name} is not set (the stack sets it; is this the deployed function?)`);
  return v;
}

export function numberEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new VerifierError('ENV_INVALID', `environment variable ${name} must be a positive number, got "${v}"`);
  return n;
}

export function projectsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const raw = requireEnv(ENV.projects, env);
  const parsed = JSON.parse(raw) as unknown;
  if (!parsed || typeof parsed !== 'object' || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new VerifierError('ENV_INVALID', `${ENV.projects} must be a JSON object of target → project name`);
  }
  return parsed as Record<string, string>;
}

let cachedConfig: { file: string; config: Config } | undefined;
/** The resolved configuration, validated again on load (the same schema as the CLI). */
export function loadRuntimeConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env[ENV.configFile] || DEFAULT_CONFIG_FILE;
  if (cachedConfig?.file === file) return cachedConfig.config;
  const config = parseConfig(JSON.parse(readFileSync(file, 'utf8')), { source: file });
  cachedConfig = { file, config };
  return config;
}

export function powertools(serviceName: string): { logger: Logger; metrics: Metrics } {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ namespace: METRIC_NAMESPACE, serviceName }),
  };
}

// ───────────────────────── last line of defence ─────────────────────────

/** What a handler needs to record a run the last resort ended. */
export interface LastResortDeps {
  config: Config;
  store: Store;
  notifier: Notifier;
  logger?: Pick<Logger, 'error'>;
}

/** Time left for the run: the invocation's remaining time less a margin to write the report and alert. */
export function lambdaDeadlineMs(context?: { getRemainingTimeInMillis?: () => number }, marginMs = 30_000): number | undefined {
  const left = context?.getRemainingTimeInMillis?.();
  return left === undefined ? undefined : Math.max(1_000, left - marginMs);
}

/**
 * Runs a handler's work behind the last line of defence (core/last-resort.ts). When an unhandled
 * rejection or uncaught exception strikes while it runs, or its deadline passes, the run is recorded
 * as failed — an INCOMPLETE summary with INTERNAL_ERROR / RUN_TIMED_OUT under `runId`, written once
 * and alerted (RunEngine.finish) — and the error is rethrown, so the invocation counts as failed too (the
 * function's Errors alarm). Ordinary errors pass through untouched: Lambda's retry handles them as
 * before. `runId` should be stable across Lambda's retries of one event, so a retry that trips again
 * finds the summary written and does not alert twice.
 */
export async function withLastResort<T>(work: () => Promise<T>, deps: LastResortDeps, options: { runId: string; deadlineMs?: number; now?: Date }): Promise<T> {
  const startedAt = (options.now ?? new Date()).toISOString();
  try {
    return await guardRun(work, { deadlineMs: options.deadlineMs });
  } catch (err) {
    if (!isLastResortError(err)) throw err;
    const report = lastResortReport(deps.config, options.runId, { mode: 'aws', startedAt }, err);
    try {
      deps.logger?.error('the run was ended by the last line of defence', { runId: options.runId, error: errorMessage(err) });
      const outcome = await awsEngine(deps.config, { store: deps.store, notifier: deps.notifier }).finish(report);
      deps.logger?.error('failed run recorded', { runId: options.runId, outcome });
    } catch (recordError) {
      // the invocation still fails below: the Errors alarm is the alert of last resort
      deps.logger?.error('the failed run could not be recorded', { runId: options.runId, error: errorMessage(recordError) });
    }
    throw err;
  }
}
