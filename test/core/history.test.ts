/**
 * The run history (history.ts, history-html.ts): runs/index.json and runs/index.html regenerated
 * from the summaries after each run — every run with its verdict per target and links, a timeline
 * per release (first seen, last verified, what changed) — in a local store directory and, through
 * the Lambdas' fan-in, in the results bucket (S3 API on loopback), with the alert linking both.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import type { Alert } from '../../lambda/core/alert';
import { finding } from '../../lambda/core/findings';
import { buildRunIndex, entryFor, HISTORY_KEYS, MAX_SUMMARY_READS, regenerateHistory, timelines, type RunIndex } from '../../lambda/core/history';
import { releaseAnchor } from '../../lambda/core/history-html';
import { parseConfig } from '../../lambda/core/config/load';
import { ForgeError } from '../../lambda/core/errors';
import type { Store } from '../../lambda/core/ports';
import { runVerification } from '../../lambda/core/run/in-process';
import type { RunReport } from '../../lambda/core/report';
import { runKeys } from '../../lambda/core/run/summary';
import { awsEngine } from '../../lambda/handlers/aws-engine';
import { IMAGE, testConfig } from '../handlers/support';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { oneAssetBuilder, oneAssetForge, oneReleaseOf } from '../support/one-asset-ports';
import { incompleteReport, RUN_IDS, tamperedReport, verifiedReport } from './report-html/fixtures';

/** A deployed configuration for the fan-in (its targets do not matter to finishing a run). */
const fanInConfig = () =>
  testConfig({
    targets: [{ name: 'one', image: IMAGE, command: 'make', artifacts: [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }] }],
  });

/** Four runs of v1.2.0 (first verified, verified, tampered by history, incomplete) and one of v1.3.0 that finds v1.2.0's tag moved. */
function runs(): RunReport[] {
  const first = { ...verifiedReport(), runId: RUN_IDS.first, startedAt: '2026-11-24T06:00:00Z', finishedAt: '2026-11-24T06:00:42Z' };
  first.release = { ...first.release!, commitSha: 'a'.repeat(40) };
  const next = { ...verifiedReport(), runId: '20261201T100000Z-5e6f70', startedAt: '2026-12-01T10:00:00Z', finishedAt: '2026-12-01T10:00:42Z' };
  next.release = { ...next.release!, tag: 'v1.3.0', webUrl: 'https://gitlab.example.com/acme/app/-/releases/v1.3.0' };
  next.findings = [
    ...next.findings,
    finding('TAG_MOVED', `tag v1.2.0 moved from ${'a'.repeat(40)} to ${'b'.repeat(40)}`, {
      evidence: { tag: 'v1.2.0', was: 'a'.repeat(40), now: 'b'.repeat(40) },
    }),
  ];
  next.verdict = 'TAMPERED';
  return [first, verifiedReport(), tamperedReport(), incompleteReport(), next];
}

async function storeWith(store: Store, reports: RunReport[]): Promise<void> {
  for (const r of reports) await store.put(runKeys.summary(r.runId), JSON.stringify(r, null, 2), { ifNoneMatch: true });
}

/** A store that counts reads. */
function counting(store: Store): Store & { gets: string[] } {
  const gets: string[] = [];
  return Object.assign(Object.create(store) as Store, {
    gets,
    get: (k: string) => {
      gets.push(k);
      return store.get(k);
    },
    put: store.put.bind(store),
    list: store.list.bind(store),
    locate: store.locate.bind(store),
  });
}

describe('history in a local store', () => {
  let dir: string;
  let store: DirectoryStore;
  let index: RunIndex;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rv-history-'));
    store = new DirectoryStore(dir);
    await storeWith(store, runs());
    // records that are not summaries are ignored
    await store.put(runKeys.plan(RUN_IDS.verified), '{}');
    await store.put('runs/not-a-run-id/summary.json', '{}');
    index = await regenerateHistory(store, { project: 'acme/app', now: new Date('2026-12-01T11:00:00Z') });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every run, newest first, with its verdict per target and its records', () => {
    expect(index.runs.map((r) => r.runId)).toEqual(['20261201T100000Z-5e6f70', RUN_IDS.incomplete, RUN_IDS.tampered, RUN_IDS.verified, RUN_IDS.first]);
    const incomplete = index.runs.find((r) => r.runId === RUN_IDS.incomplete)!;
    expect(incomplete.targets).toEqual([
      { name: 'linux', verdict: 'VERIFIED' },
      { name: 'macos', verdict: 'INCOMPLETE' },
      { name: 'windows', verdict: 'INCOMPLETE' },
    ]);
    expect(incomplete.problems.map((p) => p.code).sort()).toEqual(['BUILD_FAILED', 'NOT_CHECKED', 'TARGET_NOT_REPORTED']);
    // a target's verdict raised by a run-level history finding naming it, as in the report
    const raised = verifiedReport();
    raised.findings.push(
      finding('PAST_ASSET_CHANGED', 'app-setup.exe of v1.2.0 changed', {
        target: 'windows',
        artifact: 'app-setup.exe',
        evidence: { firstSeenRunId: RUN_IDS.first },
      }),
    );
    expect(raised.targets.map((t) => t.verdict)).toEqual(['VERIFIED', 'VERIFIED']);
    expect(entryFor(raised).targets).toEqual([
      { name: 'linux', verdict: 'VERIFIED' },
      { name: 'windows', verdict: 'TAMPERED' },
    ]);
    expect(incomplete.links).toEqual({ summary: `runs/${RUN_IDS.incomplete}/summary.json`, html: `runs/${RUN_IDS.incomplete}/report.html` });
    // written as JSON, the same index
    expect(JSON.parse(readFileSync(join(dir, HISTORY_KEYS.json), 'utf8'))).toEqual(index);
  });

  it('keeps a timeline per release: first seen, last verified, what changed (with changes found by runs of other releases)', () => {
    const v12 = index.releases.find((t) => t.tag === 'v1.2.0')!;
    expect(v12.firstSeen).toEqual({ runId: RUN_IDS.first, at: '2026-11-24T06:00:00Z' });
    expect(v12.lastVerified).toEqual({ runId: RUN_IDS.verified, at: '2026-12-01T06:00:00Z' });
    expect(v12.latest).toMatchObject({ runId: RUN_IDS.incomplete, verdict: 'INCOMPLETE' });
    expect(v12.runs).toBe(4);
    const events = v12.events.map((e) => `${e.runId} ${e.kind} ${e.code ?? ''} ${e.text}`);
    expect(events[0]).toMatch(new RegExp(`^${RUN_IDS.first} first-seen  first run: VERIFIED at commit a{12}$`));
    expect(events).toContain(`${RUN_IDS.verified} commit  tag now at commit c0ffee111111 (was aaaaaaaaaaaa)`);
    expect(events).toContain(`${RUN_IDS.tampered} verdict  verdict VERIFIED → TAMPERED`);
    expect(
      events.some((e) => e.startsWith(`${RUN_IDS.tampered} history PAST_ASSET_CHANGED app-linux-x86_64.tar.gz of v1.2.0 changed since run ${RUN_IDS.first}`)),
    ).toBe(true);
    expect(events).toContain(`${RUN_IDS.incomplete} verdict  verdict TAMPERED → INCOMPLETE`);
    expect(events.some((e) => e.startsWith('20261201T100000Z-5e6f70 history TAG_MOVED tag v1.2.0 moved'))).toBe(true);
    const v13 = index.releases.find((t) => t.tag === 'v1.3.0')!;
    expect(v13.lastVerified).toBeNull();
    expect(v13.events.map((e) => e.kind)).toEqual(['first-seen']);
  });

  it('renders runs/index.html: every run, the timelines, links to each report and JSON, same CSP', () => {
    const html = readFileSync(join(dir, HISTORY_KEYS.html), 'utf8');
    for (const id of [RUN_IDS.first, RUN_IDS.verified, RUN_IDS.tampered, RUN_IDS.incomplete]) {
      expect(html).toContain(`href="${id}/report.html"`);
      expect(html).toContain(`href="${id}/summary.json"`);
    }
    expect(html).toContain(`id="${releaseAnchor('v1.2.0')}"`);
    expect(html).toContain(`href="#${releaseAnchor('v1.2.0')}"`);
    expect(html).toMatch(/last verified<\/dt><dd>2026-12-01T06:00:00Z/);
    expect(html).toMatch(/last verified<\/dt><dd><span class="differs">never<\/span>/);
    expect(html).toContain('macos <span class="v v-INCOMPLETE">INCOMPLETE</span>');
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/<script|\sstyle=|\ssrc=/);
  });

  it('the next regeneration reads only the new summary; a damaged index is rebuilt from the summaries', async () => {
    const extra = { ...verifiedReport(), runId: '20261202T060000Z-6f7081', startedAt: '2026-12-02T06:00:00Z' };
    await storeWith(store, [extra]);
    const c = counting(store);
    const again = await regenerateHistory(c, { project: 'acme/app' });
    expect(again.runs).toHaveLength(6);
    expect(c.gets.filter((k) => k.endsWith('summary.json'))).toEqual([runKeys.summary(extra.runId)]);
    await store.put(HISTORY_KEYS.json, '{"runs": [ broken');
    const c2 = counting(store);
    const rebuilt = await regenerateHistory(c2, { project: 'acme/app' });
    expect(rebuilt.runs.map((r) => r.runId)).toEqual(again.runs.map((r) => r.runId));
    expect(c2.gets.filter((k) => k.endsWith('summary.json'))).toHaveLength(6);
  });

  it('an unreadable summary is listed as such (never dropped), and read again next time', async () => {
    await store.put('runs/20261203T060000Z-708192/summary.json', 'not json');
    const idx = await regenerateHistory(store, { project: 'acme/app' });
    const bad = idx.runs.find((r) => r.runId === '20261203T060000Z-708192')!;
    expect(bad.verdict).toBe('INCOMPLETE');
    expect(bad.unreadable).toMatch(/could not be read/);
    expect(readFileSync(join(dir, HISTORY_KEYS.html), 'utf8')).toContain('20261203T060000Z-708192');
  });
});

describe('bounds', () => {
  it(`reads at most ${MAX_SUMMARY_READS} summaries per regeneration (newest first) and says how many wait`, async () => {
    const keys = Array.from(
      { length: MAX_SUMMARY_READS + 7 },
      (_, i) => `runs/20261201T${String(Math.floor(i / 60)).padStart(2, '0')}${String(i % 60).padStart(2, '0')}00Z-aaaaaa/summary.json`,
    );
    const base = verifiedReport();
    let gets = 0;
    const store: Store = {
      put: async () => true,
      list: async () => keys,
      locate: (k) => k,
      get: async (k) => {
        if (k === HISTORY_KEYS.json) return null;
        gets++;
        const runId = k.split('/')[1]!;
        return JSON.stringify({ ...base, runId });
      },
    };
    const idx = await buildRunIndex(store, { project: 'p' });
    expect(gets).toBe(MAX_SUMMARY_READS);
    expect(idx.pending).toBe(7);
    expect(idx.runs[0]!.runId).toBe(keys.at(-1)!.split('/')[1]);
  });

  it('timelines of no runs are empty', () => {
    expect(timelines([])).toEqual([]);
  });
});

describe('history in the results bucket (S3 API on loopback), through the fan-in', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('results-bucket');
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('finishRun writes the report, regenerates runs/index.json and index.html, and the alert links both with console links (no presigned URL)', async () => {
    const store = new S3Store({ bucket: 'results-bucket', client: s3.conditionalClient(), checksumAlgorithm: 'none' });
    const [earlier, report] = [verifiedReport(), tamperedReport()];
    await store.put(runKeys.summary(earlier.runId), JSON.stringify(earlier), { ifNoneMatch: true });
    const alerts: Alert[] = [];
    const region = process.env.AWS_REGION;
    process.env.AWS_REGION = 'eu-west-1';
    try {
      const outcome = await awsEngine(fanInConfig(), { store, notifier: { notify: async (a) => void alerts.push(a) } }).finish(report);
      expect(outcome).toBe('published');
    } finally {
      if (region === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = region;
    }
    const index = JSON.parse((await store.get(HISTORY_KEYS.json))!) as RunIndex;
    expect(index.runs.map((r) => [r.runId, r.verdict])).toEqual([
      [RUN_IDS.tampered, 'TAMPERED'],
      [RUN_IDS.verified, 'VERIFIED'],
    ]);
    const html = (await store.get(HISTORY_KEYS.html))!;
    expect(html).toContain(`href="${RUN_IDS.tampered}/report.html"`);
    // beside each relative link, the S3 console
    expect(html).toContain(
      'href="https://eu-west-1.console.aws.amazon.com/s3/object/results-bucket?region=eu-west-1&amp;bucketType=general&amp;prefix=runs%2Findex.json"',
    );
    const page = (await store.get(runKeys.html(report.runId)))!;
    expect(page).toContain('prefix=runs%2F20261201T080000Z-3c4d5e%2Fsummary.json');

    expect(alerts).toHaveLength(1);
    const body = alerts[0]!.body;
    expect(body).toContain(
      `Report:   https://eu-west-1.console.aws.amazon.com/s3/object/results-bucket?region=eu-west-1&bucketType=general&prefix=runs%2F${RUN_IDS.tampered}%2Freport.html`,
    );
    expect(body).toContain(
      'History:  https://eu-west-1.console.aws.amazon.com/s3/object/results-bucket?region=eu-west-1&bucketType=general&prefix=runs%2Findex.html',
    );
    expect(body).toContain(`s3://results-bucket/runs/${RUN_IDS.tampered}/summary.json`);
    expect(body).not.toMatch(/X-Amz-(Signature|Credential|Expires)/i);
    expect(alerts[0]!.links?.history).toContain('prefix=runs%2Findex.html');
  });

  it('a history that cannot be written costs the page, not the alert', async () => {
    const store = new S3Store({ bucket: 'results-bucket', client: s3.conditionalClient(), checksumAlgorithm: 'none' });
    const failing: Store = {
      put: (k, b, o) => (k.startsWith('runs/index') ? Promise.reject(new Error('AccessDenied')) : store.put(k, b, o)),
      get: (k) => store.get(k),
      list: (p) => store.list(p),
      locate: (k) => store.locate(k),
    };
    const report = { ...incompleteReport() };
    const alerts: Alert[] = [];
    const errors: unknown[] = [];
    const engine = awsEngine(fanInConfig(), {
      store: failing,
      notifier: { notify: async (a) => void alerts.push(a) },
      logger: { info: () => {}, error: () => {}, warn: (_message, fields) => void errors.push(fields?.error) },
    });
    const outcome = await engine.finish(report);
    expect(outcome).toBe('published');
    expect(alerts).toHaveLength(1);
    expect(String(errors[0])).toContain('AccessDenied');
  });
});

describe('history of local runs (runVerification, the CLI and the demo)', () => {
  const COMMIT = 'e'.repeat(40);
  const cfg = parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.example', project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: `debian@sha256:${'d'.repeat(64)}`,
        command: 'make',
        artifacts: [{ path: 'out/app-{version}', asset: 'app-{version}', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  });
  const release = oneReleaseOf(COMMIT);
  const bytes = 'the app 1.0.0\n';
  let forgeDown = false;
  const forge = oneAssetForge(release, bytes, {
    getRelease: async () => {
      if (forgeDown) throw new ForgeError('unreachable', 'connect ECONNREFUSED', {});
      return release;
    },
  });
  const builder = oneAssetBuilder(COMMIT, bytes);

  it('each run regenerates runs/index.json and index.html in the store, and its alert names both', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rv-history-local-'));
    try {
      const store = new DirectoryStore(root);
      const alerts: Alert[] = [];
      const ports = {
        forge,
        builder,
        store,
        formats: (await import('../../lambda/formats/ops')).formatOps,
        notifier: { notify: async (a: Alert) => void alerts.push(a) },
      };
      await runVerification(cfg, ports, { runId: '20260302T030000Z-abcdef', now: new Date('2026-03-02T03:00:00Z') });
      let index = JSON.parse(readFileSync(join(root, HISTORY_KEYS.json), 'utf8')) as RunIndex;
      expect(index.runs.map((r) => [r.runId, r.verdict])).toEqual([['20260302T030000Z-abcdef', 'VERIFIED']]);
      forgeDown = true;
      await runVerification(cfg, ports, { runId: '20260309T030000Z-abcdef', now: new Date('2026-03-09T03:00:00Z') });
      forgeDown = false;
      await runVerification(cfg, ports, { runId: '20260316T030000Z-abcdef', now: new Date('2026-03-16T03:00:00Z') });
      index = JSON.parse(readFileSync(join(root, HISTORY_KEYS.json), 'utf8')) as RunIndex;
      expect(index.runs.map((r) => [r.runId, r.verdict, r.release?.tag ?? null])).toEqual([
        ['20260316T030000Z-abcdef', 'VERIFIED', 'v1.0.0'],
        ['20260309T030000Z-abcdef', 'INCOMPLETE', null],
        ['20260302T030000Z-abcdef', 'VERIFIED', 'v1.0.0'],
      ]);
      expect(index.runs[1]!.problems).toEqual([{ code: 'FORGE_UNREACHABLE', count: 1 }]);
      expect(index.releases).toHaveLength(1);
      expect(index.releases[0]).toMatchObject({
        tag: 'v1.0.0',
        firstSeen: { runId: '20260302T030000Z-abcdef' },
        lastVerified: { runId: '20260316T030000Z-abcdef' },
        runs: 2,
      });
      expect(readFileSync(join(root, HISTORY_KEYS.html), 'utf8')).toContain('href="20260309T030000Z-abcdef/report.html"');
      expect(alerts).toHaveLength(3);
      for (const a of alerts) {
        expect(a.body).toContain(`Report:   ${join(root, 'runs', a.runId, 'report.html')}`);
        expect(a.body).toContain(`History:  ${join(root, 'runs', 'index.html')}`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
