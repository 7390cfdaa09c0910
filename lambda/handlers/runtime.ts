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
import { VerifierError } from '../core/errors';
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
