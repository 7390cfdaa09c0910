/**
 * `release-verifier verify --if-new` as a child process on the demo (the real CLI, gitbeaker over
 * HTTP to the GitLab stand-in, the local builder): a release the store has VERIFIED is skipped
 * after one lookup; no run yet, a moved tag or a bad verdict runs in full, every time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupDemo, type DemoScenario } from '../../demo/demo-scenario';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';
import { skipIfVerified } from '../../lambda/cli/if-new';
import { ForgeError } from '../../lambda/core/errors';
import type { Forge, Release } from '../../lambda/core/ports';
import { testConfig } from '../handlers/support';

let demo: DemoScenario;
const freshStore = () => mkdtempSync(join(tmpdir(), 'e2e-if-new-'));
const runDirs = (store: string) =>
  readdirSync(join(store, 'runs'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);

beforeAll(async () => {
  demo = await setupDemo(mkdtempSync(join(tmpdir(), 'e2e-if-new-demo-')));
}, 120_000);
afterAll(async () => demo?.close());

describe('verify --if-new on the demo release', () => {
  it('no run yet → a full run; VERIFIED in the store → skipped after one lookup (exit 0, one stderr line, {skipped, tag})', async () => {
    const store = freshStore();
    const first = await demo.verify({ store, args: ['--if-new'] });
    expect(first.exitCode).toBe(0);
    expect(first.report.verdict).toBe('VERIFIED');
    expect(runDirs(store)).toHaveLength(1);

    const before = demo.gitlab.requests.length;
    const second = await demo.verify({ store, args: ['--if-new', '--if-new-max-age', '7'] });
    expect(second.exitCode).toBe(0);
    expect(second.report as unknown).toEqual({ skipped: true, tag: 'v1.0.0' });
    const lines = second.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`v1\\.0\\.0 is already VERIFIED \\(run ${first.report.runId}\\)`));
    // nothing built, downloaded or written: only the release lookup went to GitLab
    expect(runDirs(store)).toHaveLength(1);
    const asked = demo.gitlab.requests.slice(before).map((r) => r.url);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.filter((u) => /downloads|packages|\/-\/releases\//.test(u))).toEqual([]);

    // without --if-new the same store runs in full, as before
    const full = await demo.verify({ store });
    expect(full.report.verdict).toBe('VERIFIED');
    expect(runDirs(store)).toHaveLength(2);
  });

  it('a release whose newest run is not VERIFIED is checked again every time (MISMATCH twice, exit 1)', async () => {
    const store = freshStore();
    demo.publishBackdooredLinuxBuild();
    try {
      for (let i = 0; i < 2; i++) {
        const r = await demo.verify({ store, args: ['--if-new'] });
        expect(r.report.verdict).toBe('MISMATCH');
        expect(r.exitCode).toBe(1);
      }
      expect(runDirs(store)).toHaveLength(2);
    } finally {
      demo.restoreLinux();
    }
    // restored: this store first saw the backdoored bytes, so the genuine ones are a change in
    // published history (PAST_ASSET_CHANGED) — TAMPERED, and checked again each time too
    for (let i = 0; i < 2; i++) {
      const r = await demo.verify({ store, args: ['--if-new'] });
      expect(r.report.verdict).toBe('TAMPERED');
      expect(r.exitCode).toBe(1);
    }
    expect(runDirs(store)).toHaveLength(4);
  });
});

describe('skipIfVerified (the decision behind --if-new)', () => {
  const config = testConfig({
    targets: [
      {
        name: 'alpha',
        image: `debian@sha256:${'c'.repeat(64)}`,
        command: 'make',
        artifacts: [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  });
  const release: Release = { tag: 'v1.0.0', name: 'v1.0.0', commitSha: 'a'.repeat(40), tagCommitSha: 'a'.repeat(40), links: [] };
  const NOW = new Date('2026-12-01T12:00:00Z');
  const at = { now: NOW };
  const forgeAnswering = (answer: Release | Error) =>
    ({ getRelease: async () => (answer instanceof Error ? Promise.reject(answer) : answer) }) as unknown as Forge;
  const summary = (runId: string, verdict: string, commitSha = release.commitSha) =>
    JSON.stringify({
      schemaVersion: 1,
      runId,
      startedAt: `2026-12-01T0${runId.slice(10, 11)}:00:00.000Z`,
      finishedAt: '2026-12-01T09:00:00.000Z',
      mode: 'local',
      verdict,
      project: { gitlabUrl: 'https://gitlab.example', project: 'g/app' },
      release: { tag: 'v1.0.0', commitSha },
      targets: [{ name: 'alpha', verdict, artifacts: [], findings: [] }],
      findings: [],
    });

  it('GitLab down → not skipped (the full run reports INCOMPLETE), never a silent exit 0', async () => {
    const store = new DirectoryStore(freshStore());
    await store.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED'));
    expect(await skipIfVerified(config, forgeAnswering(release), store, undefined, at)).toMatchObject({
      skipped: true,
      tag: 'v1.0.0',
      runId: '20261201T010000Z-aaaaaa',
    });
    expect(await skipIfVerified(config, forgeAnswering(new ForgeError('unreachable', 'ECONNREFUSED')), store, undefined, at)).toBeNull();
  });

  it('the newest run decides; a moved tag is a new release', async () => {
    const store = new DirectoryStore(freshStore());
    await store.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED'));
    await store.put('runs/20261201T020000Z-bbbbbb/summary.json', summary('20261201T020000Z-bbbbbb', 'TAMPERED'));
    expect(await skipIfVerified(config, forgeAnswering(release), store, undefined, at)).toBeNull();
    const moved = new DirectoryStore(freshStore());
    await moved.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED', 'f'.repeat(40)));
    expect(await skipIfVerified(config, forgeAnswering(release), moved, undefined, at)).toBeNull();
  });

  // review finding: tag and commit alone never notice a later asset swap
  it('a VERIFIED run older than the bound (default 7 days, --if-new-max-age) does not count', async () => {
    const store = new DirectoryStore(freshStore());
    await store.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED'));
    const eightDaysLater = new Date(Date.parse('2026-12-01T01:00:00Z') + 8 * 24 * 3600_000);
    expect(await skipIfVerified(config, forgeAnswering(release), store, undefined, { now: eightDaysLater })).toBeNull();
    expect(await skipIfVerified(config, forgeAnswering(release), store, undefined, { now: eightDaysLater, maxAgeDays: 10 })).toMatchObject({ skipped: true });
    expect(await skipIfVerified(config, forgeAnswering(release), store, undefined, { now: NOW, maxAgeDays: 0.25 })).toBeNull();
  });

  it('a tag moved while the release still names the old commit, or a release commit that is not the tag’s, runs in full', async () => {
    const store = new DirectoryStore(freshStore());
    await store.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED'));
    // the run recorded the tag's commit a…; the tag now points to b…, the release object still says a…
    expect(await skipIfVerified(config, forgeAnswering({ ...release, tagCommitSha: 'b'.repeat(40) }), store, undefined, at)).toBeNull();
    const other = new DirectoryStore(freshStore());
    await other.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED', 'b'.repeat(40)));
    expect(await skipIfVerified(config, forgeAnswering({ ...release, tagCommitSha: 'b'.repeat(40) }), other, undefined, at)).toBeNull();
  });

  it('links that differ from those the ledger recorded run in full; an unreadable ledger too', async () => {
    const store = new DirectoryStore(freshStore());
    await store.put('runs/20261201T010000Z-aaaaaa/summary.json', summary('20261201T010000Z-aaaaaa', 'VERIFIED'));
    const ledger = (links: Record<string, string>) =>
      JSON.stringify({
        schemaVersion: 1,
        project: 'g/app',
        updatedAt: '',
        updatedByRunId: '',
        releases: {
          'v1.0.0': { tagCommitSha: release.tagCommitSha, releaseCommitSha: release.commitSha, links, assets: {}, firstSeenRunId: 'r', firstSeenAt: '' },
        },
      });
    await store.put('ledger/ledger.json', ledger({ a: 'https://gitlab.example/a' }));
    const withLink = (url: string): Release => ({ ...release, links: [{ id: 1, name: 'a', url }] });
    expect(await skipIfVerified(config, forgeAnswering(withLink('https://gitlab.example/a')), store, undefined, at)).toMatchObject({ skipped: true });
    expect(await skipIfVerified(config, forgeAnswering(withLink('https://evil.example/a')), store, undefined, at)).toBeNull();
    expect(
      await skipIfVerified(
        config,
        forgeAnswering({
          ...withLink('https://gitlab.example/a'),
          links: [...withLink('https://gitlab.example/a').links, { id: 2, name: 'b', url: 'https://gitlab.example/b' }],
        }),
        store,
        undefined,
        at,
      ),
    ).toBeNull();
    await store.put('ledger/ledger.json', '{broken');
    expect(await skipIfVerified(config, forgeAnswering(withLink('https://gitlab.example/a')), store, undefined, at)).toBeNull();
  });

  it('--if-new-max-age takes a positive number of days and needs --if-new (usage error, exit 3)', () => {
    const bin = resolve(__dirname, '../../bin/release-verifier.mjs');
    for (const args of [
      ['--if-new-max-age', '3'],
      ['--if-new', '--if-new-max-age', '0'],
      ['--if-new', '--if-new-max-age', 'week'],
    ]) {
      const r = spawnSync(process.execPath, [bin, 'verify', '--config', 'none.yaml', ...args], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/--if-new-max-age takes a positive number of days and needs --if-new/);
    }
  });
});
