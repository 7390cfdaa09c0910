/**
 * Issue 15, the process-level last line of defence: guardRun (core/last-resort.ts) and its Lambda
 * wiring (handlers/runtime.ts withLastResort). An unhandled rejection or uncaught exception while a
 * run is active, or the run's deadline, ends the run with a report instead of a crash or a hang; in
 * a Lambda the run is recorded as failed (summary + one alert) and the invocation still fails.
 * (The CLI's end of this — JSON on stdout, exit 2 — is in hostile-forge-truncated.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';
import type { Alert } from '../../../lambda/core/alert';
import { guardActive, guardRun, InternalError, lastResortReport, RunDeadlineError, runDeadlineMs } from '../../../lambda/core/last-resort';
import { lambdaDeadlineMs, withLastResort } from '../../../lambda/handlers/runtime';
import { hostileConfig } from './hostile-forge-support';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-last-resort-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** work that lets a rejection escape (no handler anywhere), then never settles */
const escapingRejection = () => {
  void Promise.reject(new Error('nobody listens to this'));
  return new Promise<never>(() => undefined);
};
/** work whose callback throws outside any promise chain, then never settles */
const escapingException = () => {
  setTimeout(() => {
    throw new Error('thrown from a timer');
  }, 5);
  return new Promise<never>(() => undefined);
};

describe('guardRun', () => {
  it('an unhandled rejection during the run trips it with an InternalError naming the message', async () => {
    const err = await guardRun(escapingRejection).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).userMessage).toBe('unhandled promise rejection: nobody listens to this');
  });

  it('an uncaught exception during the run trips it too', async () => {
    const err = await guardRun(escapingException).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).userMessage).toBe('uncaught exception: thrown from a timer');
  });

  it('the deadline trips a run that never settles; results and ordinary errors pass through', async () => {
    const t0 = Date.now();
    await expect(guardRun(() => new Promise(() => undefined), { deadlineMs: 200 })).rejects.toBeInstanceOf(RunDeadlineError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect(guardRun(async () => 42, { deadlineMs: 1_000 })).resolves.toBe(42);
    await expect(guardRun(async () => Promise.reject(new TypeError('plain')))).rejects.toThrow(TypeError);
  });

  it('hands the process listeners back when the run settles, also when runs overlap', async () => {
    const before = { r: process.listeners('unhandledRejection'), e: process.listeners('uncaughtException') };
    const inner = guardRun(() => new Promise((r) => setTimeout(() => r('inner'), 50)));
    const outer = guardRun(() => new Promise((r) => setTimeout(() => r('outer'), 100)));
    expect(guardActive()).toBe(true);
    expect(process.listeners('unhandledRejection')).toHaveLength(1); // only ours while a run is active
    expect(await inner).toBe('inner');
    expect(guardActive()).toBe(true);
    expect(await outer).toBe('outer');
    expect(guardActive()).toBe(false);
    expect(process.listeners('unhandledRejection')).toEqual(before.r);
    expect(process.listeners('uncaughtException')).toEqual(before.e);
  });

  it('the report of a tripped run is INCOMPLETE with one INTERNAL_ERROR / RUN_TIMED_OUT finding', () => {
    const config = hostileConfig('https://gitlab.example.com', 'g/p', [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }]);
    const meta = { mode: 'local' as const, startedAt: new Date().toISOString() };
    const internal = lastResortReport(config, 'run-1', meta, new InternalError('unhandled promise rejection: boom'));
    expect(internal).toMatchObject({ verdict: 'INCOMPLETE', findings: [{ code: 'INTERNAL_ERROR', level: 'INCOMPLETE' }] });
    expect(internal.findings[0]!.message).toContain('boom');
    const late = lastResortReport(config, 'run-2', meta, new RunDeadlineError(1_000));
    expect(late.findings.map((f) => f.code)).toEqual(['RUN_TIMED_OUT']);
    // the default run deadline covers builds and downloads, so it never cuts a run that is only slow
    const ms = runDeadlineMs(config);
    expect(ms).toBeGreaterThan(config.targets[0]!.timeoutMinutes * 60_000 + config.limits.downloadTimeoutSeconds * 1000);
  });
});

describe('Lambda: withLastResort', () => {
  const config = hostileConfig('https://gitlab.example.com', 'g/p', [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }]);
  const deps = (name: string) => {
    const alerts: Alert[] = [];
    const logged: string[] = [];
    return {
      alerts,
      logged,
      config,
      store: new DirectoryStore(join(dir, name)),
      notifier: { notify: async (a: Alert) => void alerts.push(a) },
      logger: { error: (m: string) => void logged.push(m) },
    };
  };

  it('a tripped invocation records the run as failed, alerts once, and still fails; its retry does not alert again', async () => {
    const d = deps('lambda-trip');
    await expect(withLastResort(escapingRejection, d, { runId: 'run-trip' })).rejects.toBeInstanceOf(InternalError);
    const summary = JSON.parse((await d.store.get('runs/run-trip/summary.json'))!);
    expect(summary).toMatchObject({ runId: 'run-trip', verdict: 'INCOMPLETE', mode: 'aws', findings: [{ code: 'INTERNAL_ERROR' }] });
    expect(d.alerts).toHaveLength(1);
    expect(JSON.stringify(d.alerts[0])).toContain('INTERNAL_ERROR');
    // Lambda retries the failed invocation: same run id, the summary exists, no second alert
    await expect(withLastResort(escapingException, d, { runId: 'run-trip' })).rejects.toBeInstanceOf(InternalError);
    expect(d.alerts).toHaveLength(1);
  });

  it('the invocation deadline: RUN_TIMED_OUT recorded; ordinary errors and results pass through unrecorded', async () => {
    const d = deps('lambda-deadline');
    await expect(withLastResort(() => new Promise(() => undefined), d, { runId: 'run-late', deadlineMs: 200 })).rejects.toBeInstanceOf(RunDeadlineError);
    expect(JSON.parse((await d.store.get('runs/run-late/summary.json'))!).findings[0].code).toBe('RUN_TIMED_OUT');
    await expect(withLastResort(async () => Promise.reject(new Error('S3 is down')), d, { runId: 'run-plain' })).rejects.toThrow('S3 is down');
    await expect(withLastResort(async () => 'ok', d, { runId: 'run-ok' })).resolves.toBe('ok');
    expect(await d.store.get('runs/run-plain/summary.json')).toBeNull();
    expect(d.alerts).toHaveLength(1);
    expect(lambdaDeadlineMs({ getRemainingTimeInMillis: () => 900_000 })).toBe(870_000);
    expect(lambdaDeadlineMs(undefined)).toBeUndefined();
  });
});
