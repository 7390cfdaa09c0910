/**
 * The run engine as the Lambdas wire it: the results bucket, the SNS topic, console links for
 * people (never presigned URLs), the configuration's prices, and — for the checker only — the KMS
 * key that signs the attestations. Wiring, no decisions: those are the engine's (core/run/engine.ts).
 */
import { consoleLinkFor } from '../adapters/builder/codebuild-diff-env';
import type { AttestationSigner } from '../core/attestation';
import type { Config } from '../core/config/schema';
import { priceTable } from '../core/cost/prices';
import type { Notifier, Store } from '../core/ports';
import type { RunReport } from '../core/report';
import { RunEngine } from '../core/run/engine';
import { policyRef } from '../core/vsa';

/** The part of Powertools' Logger the engine's events use. */
export interface EngineLogger {
  info(message: string, ...fields: Record<string, unknown>[]): void;
  warn(message: string, ...fields: Record<string, unknown>[]): void;
  error(message: string, ...fields: Record<string, unknown>[]): void;
}

export interface AwsEngineDeps {
  store: Store;
  notifier: Notifier;
  /** signs the run's attestation and VSA when this invocation writes the summary (the checker). @default unsigned only */
  signer?: AttestationSigner;
  /** where the configuration was read from (a file: URL), named as the VSA's policy */
  configUri?: string;
  logger?: EngineLogger;
  onCompleted?: (report: RunReport) => void;
  now?: () => Date;
  /** how the engine waits for a racing summary writer. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A console link for a key in the results bucket (the reader signs in; nothing in the mail grants
 * access by itself). `undefined` for a store that is not S3 (a directory).
 */
export function consoleUrlFor(store: Store, key: string): string | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(store.locate(key));
  return m ? consoleLinkFor(m[1]!, m[2]!, process.env.AWS_REGION) : undefined;
}

export function awsEngine(config: Config, deps: AwsEngineDeps): RunEngine {
  const { logger, signer } = deps;
  return new RunEngine(config, {
    store: deps.store,
    notifier: deps.notifier,
    mode: 'aws',
    notifyOnVerified: config.alerts.notifyOnVerified,
    policy: policyRef(config, deps.configUri),
    prices: priceTable(config.pricing),
    signer,
    recordUrl: (key) => consoleUrlFor(deps.store, key),
    now: deps.now,
    sleep: deps.sleep,
    events: {
      warn: (message, error) => logger?.warn(message, { error: error instanceof Error ? error : error === undefined ? undefined : String(error) }),
      attestationError: (error) => logger?.error('attestation not signed', { keyId: signer?.keyId, error: error instanceof Error ? error : String(error) }),
      completed: (report) => {
        logger?.info('run completed', { runId: report.runId, verdict: report.verdict });
        deps.onCompleted?.(report);
      },
    },
  });
}
