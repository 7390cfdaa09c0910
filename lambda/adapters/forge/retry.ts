/**
 * Retry policy for everything the forge adapter sends to GitLab (API calls and asset downloads).
 *
 * Why our own: gitbeaker 43.8's default requester retries only 429 and 502, up to 10 times, with
 * delays of 2^i * 0.25 *milliseconds* (a busy loop, not a backoff), ignores `Retry-After`, and
 * turns other 5xx into an immediate error. The issue wants: bounded retries, exponential backoff,
 * `Retry-After` honoured (seconds or HTTP date) but capped, then a typed error that the core maps
 * to INCOMPLETE. One policy serves both the gitbeaker requester and the safe downloader.
 *
 * Honouring `Retry-After` means never retrying *earlier* than the server asked. When it asks for
 * longer than `maxDelayMs`, waiting the cap and retrying would be disobedient and pointless, so we
 * stop right away with 'rate-limited' / 'server-error' and say how long the server wanted.
 */
import { ForgeError } from '../../core/errors';

export interface RetryPolicy {
  /** total attempts including the first (≥ 1) */
  attempts: number;
  /** first backoff delay; doubles each retry */
  baseDelayMs: number;
  /** cap for one wait, for the backoff and for `Retry-After` alike */
  maxDelayMs: number;
}

/** 4 attempts, 1 s → 2 s → 4 s (± jitter), one wait at most 60 s: a flaky GitLab gets ~7 s, an
 * explicit `Retry-After` up to a minute. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ attempts: 4, baseDelayMs: 1000, maxDelayMs: 60_000 });

/** Hard ceilings, whatever a caller configures: bounded means bounded. */
const MAX_ATTEMPTS = 10;
const MAX_ONE_WAIT_MS = 10 * 60_000;

export function resolveRetryPolicy(partial?: Partial<RetryPolicy>): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...stripUndefined(partial ?? {}) };
  const attempts = Math.min(MAX_ATTEMPTS, Math.max(1, Math.floor(p.attempts)));
  const maxDelayMs = Math.min(MAX_ONE_WAIT_MS, Math.max(0, p.maxDelayMs));
  const baseDelayMs = Math.min(maxDelayMs, Math.max(0, p.baseDelayMs));
  return { attempts, baseDelayMs, maxDelayMs };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** 429 and every 5xx are worth another try; 501/505 mean "never going to work". */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds (`120`) or an HTTP date. Undefined when
 * absent or unparseable (then the exponential backoff applies). Dates in the past give 0.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) {
    const seconds = Number(v);
    return Number.isSafeInteger(seconds) ? seconds * 1000 : undefined;
  }
  // IMF-fixdate / RFC 850 / asctime all parse with Date.parse; require a weekday-ish shape so a
  // stray number like "1.5" is not read as a year.
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff for retry number `retry` (0 for the wait after the first failure), with
 * "equal jitter" (half fixed, half random) so that parallel runs do not retry in lockstep. */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Thrown by an attempt to ask for another try (the response was 429/5xx). */
export class RetryableStatusError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    /** parsed `Retry-After`, if the server sent one */
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status} from ${url}`);
    this.name = 'RetryableStatusError';
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryHooks {
  /** aborts waits between attempts (the attempt itself must watch the signal too) */
  signal?: AbortSignal;
  /** called before each wait, e.g. for logging */
  onRetry?: (info: { attempt: number; status: number; url: string; delayMs: number }) => void;
  random?: () => number;
}

/**
 * Runs `attempt(n)` (n = 1…attempts). An attempt that throws RetryableStatusError is retried after
 * the backoff (or `Retry-After`); any other error propagates at once. When the attempts are used
 * up, or the server asks to wait longer than the cap, throws ForgeError 'rate-limited' (429) or
 * 'server-error' (5xx).
 */
export async function withRetries<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, hooks: RetryHooks = {}): Promise<T> {
  for (let n = 1; ; n += 1) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof RetryableStatusError)) throw err;
      const kind = err.status === 429 ? 'rate-limited' : 'server-error';
      const what = err.status === 429 ? 'rate-limited (HTTP 429)' : `answered HTTP ${err.status}`;
      if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxDelayMs) {
        throw new ForgeError(
          kind,
          `GitLab ${what} at ${err.url} and asked to retry after ${Math.ceil(err.retryAfterMs / 1000)} s, ` +
            `longer than the ${Math.ceil(policy.maxDelayMs / 1000)} s we wait; try again later`,
          { url: err.url, status: err.status, cause: err },
        );
      }
      if (n >= policy.attempts) {
        throw new ForgeError(kind, `GitLab ${what} at ${err.url}; gave up after ${n} attempt${n === 1 ? '' : 's'}`, {
          url: err.url,
          status: err.status,
          cause: err,
        });
      }
      const backoff = backoffDelayMs(policy, n - 1, hooks.random);
      // never earlier than Retry-After, never longer than the cap
      const delayMs = Math.min(policy.maxDelayMs, Math.max(backoff, err.retryAfterMs ?? 0));
      hooks.onRetry?.({ attempt: n, status: err.status, url: err.url, delayMs });
      await sleep(delayMs, hooks.signal);
    }
  }
}
