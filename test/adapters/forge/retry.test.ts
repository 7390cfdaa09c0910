import { describe, expect, it } from 'vitest';
import { ForgeError } from '../../../lambda/core/errors';
import {
  backoffDelayMs,
  isRetryableStatus,
  parseRetryAfter,
  resolveRetryPolicy,
  RetryableStatusError,
  withRetries,
} from '../../../lambda/adapters/forge/retry';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-14T10:00:00Z');
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });
  it('reads HTTP dates (IMF-fixdate, RFC 850, asctime); past dates are 0', () => {
    expect(parseRetryAfter('Fri, 14 Mar 2025 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Friday, 14-Mar-25 10:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Fri Mar 14 10:00:05 2025', now)).toBeGreaterThanOrEqual(0); // asctime has no zone: local time
    expect(parseRetryAfter('Fri, 14 Mar 2025 09:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or garbage values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('-3', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('policy', () => {
  it('retries 429 and 5xx except 501/505, nothing else', () => {
    expect([429, 500, 502, 503, 504, 599].every(isRetryableStatus)).toBe(true);
    expect([200, 301, 400, 401, 403, 404, 408, 501, 505].some(isRetryableStatus)).toBe(false);
  });

  it('backs off exponentially with jitter, capped', () => {
    const p = resolveRetryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000 });
    expect(backoffDelayMs(p, 0, () => 0)).toBe(50);
    expect(backoffDelayMs(p, 0, () => 1)).toBe(100);
    expect(backoffDelayMs(p, 2, () => 1)).toBe(400);
    expect(backoffDelayMs(p, 10, () => 1)).toBe(1_000);
  });

  it('clamps silly configurations to bounded ones', () => {
    expect(resolveRetryPolicy({ attempts: 1e9, maxDelayMs: 1e12 })).toMatchObject({ attempts: 10, maxDelayMs: 600_000 });
    expect(resolveRetryPolicy({ attempts: 0 }).attempts).toBe(1);
    expect(resolveRetryPolicy({ attempts: undefined })).toEqual(resolveRetryPolicy());
  });
});

describe('withRetries', () => {
  const policy = resolveRetryPolicy({ attempts: 3, baseDelayMs: 1, maxDelayMs: 500 });

  it('returns the first success, waiting at least Retry-After', async () => {
    let n = 0;
    const delays: number[] = [];
    const result = await withRetries(
      policy,
      async () => {
        n += 1;
        if (n === 1) throw new RetryableStatusError(429, 'http://x/', 200);
        return 'ok';
      },
      { onRetry: (i) => delays.push(i.delayMs) },
    );
    expect(result).toBe('ok');
    expect(delays).toEqual([200]);
  });

  it('maps exhaustion to rate-limited / server-error with the status', async () => {
    const e429 = await withRetries(policy, async () => {
      throw new RetryableStatusError(429, 'http://x/');
    }).catch((e: unknown) => e);
    expect(e429).toBeInstanceOf(ForgeError);
    expect((e429 as ForgeError).kind).toBe('rate-limited');
    expect((e429 as ForgeError).status).toBe(429);
    let calls = 0;
    const e503 = await withRetries(policy, async () => {
      calls += 1;
      throw new RetryableStatusError(503, 'http://x/');
    }).catch((e: unknown) => e);
    expect((e503 as ForgeError).kind).toBe('server-error');
    expect(calls).toBe(3);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    const boom = new Error('boom');
    await expect(
      withRetries(policy, async () => {
        calls += 1;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });

  it('stops waiting when the signal aborts', async () => {
    const ac = new AbortController();
    const slow = resolveRetryPolicy({ attempts: 3, baseDelayMs: 10_000, maxDelayMs: 10_000 });
    setTimeout(() => ac.abort(new Error('deadline')), 20);
    const t0 = Date.now();
    await expect(
      withRetries(
        slow,
        async () => {
          throw new RetryableStatusError(500, 'http://x/');
        },
        { signal: ac.signal },
      ),
    ).rejects.toThrow('deadline');
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
