/**
 * Issue 9 item 2: a build that leaves a background process behind must not hold the run, and
 * nothing it started may outlive it — on the host (own process group and session; processes that
 * escaped into sessions of their own found by their environment mark) and in the bubblewrap
 * sandbox (PID namespace + --die-with-parent). Each left-behind process is found by a unique
 * command line, so the test sees exactly the processes the build started.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBuilder, type LocalBuilderOptions } from '../../../lambda/adapters/builder/local-builder';
import { bwrapReady, buildRequest, makeRepo, pidsWith } from './sandbox-support';

const repo = makeRepo();
const builders: LocalBuilder[] = [];
afterAll(async () => {
  await Promise.all(builders.map((b) => b.dispose()));
  rmSync(repo.repo, { recursive: true, force: true });
});

const unique = () => `${400000 + Math.floor(Math.random() * 500000)}`;

const modes: Array<[string, LocalBuilderOptions, boolean]> = [
  ['on the host (--unsafe-host-build)', { bwrap: '/nonexistent/bwrap', unsafeHostBuild: true }, true],
  ['in the bubblewrap sandbox', {}, bwrapReady()],
];

describe.each(modes)('a build %s', (_name, mode, ready) => {
  const builder = (extra: LocalBuilderOptions = {}) => {
    const b = new LocalBuilder({ docker: 'never', outputGraceMs: 500, killGraceMs: 500, ...mode, ...extra });
    builders.push(b);
    return b;
  };

  it.skipIf(!ready)(
    'that leaves a `setsid … &` process holding its output ends when its main process does; the process is gone after',
    { timeout: 20_000 },
    async () => {
      const n = unique();
      const t0 = Date.now();
      const r = await builder({ maxTimeoutMs: 15_000 }).run(buildRequest(repo, `mkdir -p out; setsid sleep ${n} & echo built > out/app; echo done`));
      expect(r.status).toBe('SUCCEEDED');
      expect(Date.now() - t0).toBeLessThan(8_000); // not the 15 s timeout
      // on the host we had to kill it ourselves; in the sandbox the PID namespace took it with the main process
      if (mode.unsafeHostBuild) expect(r.message).toMatch(/left behind/);
      expect(r.logTail).toContain('done');
      expect(pidsWith(`sleep ${n}`)).toEqual([]);
    },
  );

  it.skipIf(!ready)('that leaves a plain background child (same group) is not held by it either', { timeout: 20_000 }, async () => {
    const n = unique();
    const t0 = Date.now();
    const r = await builder({ maxTimeoutMs: 15_000 }).run(buildRequest(repo, `mkdir -p out; sleep ${n} & echo built > out/app`));
    expect(r.status).toBe('SUCCEEDED');
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(pidsWith(`sleep ${n}`)).toEqual([]);
  });

  it.skipIf(!ready)(
    'that ignores SIGTERM and hides a process in its own session is killed at the timeout, within timeout + grace',
    { timeout: 20_000 },
    async () => {
      const n = unique();
      const m = unique();
      const t0 = Date.now();
      const r = await builder({ maxTimeoutMs: 1500 }).run(buildRequest(repo, `trap '' TERM; setsid sh -c "trap '' TERM; sleep ${m}" & sleep ${n}; echo never`));
      const took = Date.now() - t0;
      expect(r.status).toBe('TIMED_OUT');
      // 1.5 s timeout + 0.5 s kill grace + 0.5 s output grace, plus the clone and some slack
      expect(took).toBeLessThan(6_000);
      expect(pidsWith(`sleep ${n}`)).toEqual([]);
      expect(pidsWith(`sleep ${m}`)).toEqual([]);
    },
  );

  it.skipIf(!ready)('that is stopped (abort) ends STOPPED with nothing left', { timeout: 20_000 }, async () => {
    const n = unique();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 800);
    const r = await builder({ maxTimeoutMs: 15_000 }).run(buildRequest(repo, `setsid sleep ${n} & sleep ${n}`), ac.signal);
    expect(r.status).toBe('STOPPED');
    expect(pidsWith(`sleep ${n}`)).toEqual([]);
  });

  it.skipIf(!ready)('still running when the builder is disposed (the run is over) is stopped, nothing left', { timeout: 20_000 }, async () => {
    const n = unique();
    const b = builder({ maxTimeoutMs: 15_000 });
    const running = b.run(buildRequest(repo, `setsid sleep ${n} & sleep ${n}`));
    await new Promise((r) => setTimeout(r, 800));
    const t0 = Date.now();
    await b.dispose();
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await running).status).toBe('STOPPED');
    expect(pidsWith(`sleep ${n}`)).toEqual([]);
  });
});
