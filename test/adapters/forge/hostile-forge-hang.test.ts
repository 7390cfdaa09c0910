/**
 * Issue 9 item 1: a hung GitLab never hangs the run. Requests and downloads against servers that
 * accept and never answer (or trickle a byte at a time) end with ForgeError 'timeout' within their
 * deadline every time — also under GC pressure in a child process (`--expose-gc`), where on Node 20
 * an `AbortSignal.timeout` inside `AbortSignal.any` can be collected and never fire. And a whole run
 * against a silent forge, or a forge call that never settles, still ends with an INCOMPLETE report.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitLabStandIn, type GitLabStandIn } from '../../../demo/gitlab-standin';
import { GitLabForge } from '../../../lambda/adapters/forge/gitlab-forge';
import type { Forge } from '../../../lambda/core/ports';
import { runVerification } from '../../../lambda/core/run/in-process';
import { hostileConfig, hostilePorts } from './hostile-forge-support';

const CHILD = fileURLToPath(new URL('./hostile-forge-hang.child.ts', import.meta.url));

describe('hung forge requests under GC pressure (child process, --expose-gc)', () => {
  it('every request and download against a silent or trickling server ends with a timeout, none hangs', () => {
    const TIMEOUT_MS = 300;
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], {
      env: { ...process.env, HANG_TIMEOUT_MS: String(TIMEOUT_MS), HANG_SENTINEL_MS: '20000', HANG_N: '40' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.status, child.stderr).toBe(0);
    const { outcomes } = JSON.parse(child.stdout.trim().split('\n').pop()!) as { outcomes: { what: string; ended: string; ms: number }[] };
    expect(outcomes.length).toBe(70);
    const hung = outcomes.filter((o) => o.ended === 'HUNG');
    expect(hung, `hung: ${JSON.stringify(hung.slice(0, 3))}`).toEqual([]);
    for (const o of outcomes) {
      expect(o.ended, o.what).toBe('timeout');
      // the deadline plus scheduling slack on a busy machine (GC runs every 20 ms), well below the 20 s sentinel
      expect(o.ms, o.what).toBeLessThan(12_000);
    }
    expect(new Set(outcomes.map((o) => o.what))).toEqual(new Set(['api-silent', 'api-trickle', 'download-silent', 'download-trickle']));
  }, 90_000);
});

describe('a whole run against a hung forge ends with a report', () => {
  let gl: GitLabStandIn;
  let dir: string;
  beforeAll(async () => {
    gl = await startGitLabStandIn();
    gl.model.addProject({ path: 'group/app', id: 7 });
    dir = await mkdtemp(join(tmpdir(), 'hostile-hang-run-'));
  });
  afterAll(async () => {
    await gl.close();
    await rm(dir, { recursive: true, force: true });
  });

  const config = () => hostileConfig(gl.url, 'group/app', [{ path: 'dist/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }]);
  const ports = (forge: Forge) => hostilePorts(forge, join(dir, `store-${Math.random().toString(36).slice(2)}`));

  it('every API request hangs: INCOMPLETE FORGE_UNREACHABLE within the request deadline', async () => {
    gl.faults.inject(() => true, [{ hang: true }], { repeatLast: true });
    const forge = new GitLabForge({ url: gl.url, project: 'group/app', requestTimeoutMs: 300, retry: { attempts: 1 } });
    const t0 = Date.now();
    const { report } = await runVerification(config(), ports(forge), { deadlineMs: 20_000 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toEqual(['FORGE_UNREACHABLE']);
    expect(report.findings[0]!.message).toMatch(/did not answer/);
    gl.faults.clear();
  });

  it('a forge call that never settles: the run deadline ends it, INCOMPLETE RUN_TIMED_OUT, records written', async () => {
    const never: Forge = {
      getRelease: () => new Promise(() => undefined),
      getHistory: () => new Promise(() => undefined),
      getProtections: () => new Promise(() => undefined),
      downloadAsset: () => new Promise(() => undefined),
      cloneUrl: () => 'http://127.0.0.1:1/x.git',
    };
    const p = ports(never);
    const t0 = Date.now();
    const { report, reportKey } = await runVerification(config(), p, { deadlineMs: 500 });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toEqual(['RUN_TIMED_OUT']);
    expect(JSON.parse((await p.store.get(reportKey))!).verdict).toBe('INCOMPLETE');
  });
});
