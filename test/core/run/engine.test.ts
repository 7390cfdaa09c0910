/**
 * The run engine's own rules (core/run/engine.ts), beside the CLI-vs-Lambda equivalence test:
 * the summary's writer alone finishes a run and alerts once even when targets race; a refused
 * record between the summary and the alert never costs the alert; a lost alert is re-sent after
 * the grace period, once.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';
import type { Alert } from '../../../lambda/core/alert';
import { parseConfig } from '../../../lambda/core/config/load';
import { VerifierError } from '../../../lambda/core/errors';
import type { Store } from '../../../lambda/core/ports';
import { ALERT_GRACE_MS, RunEngine } from '../../../lambda/core/run/engine';
import { attestationKeys, LEDGER_KEY, runKeys } from '../../../lambda/core/run/store-layout';
import { policyRef } from '../../../lambda/core/vsa';
import { oneAssetForge, oneReleaseOf } from '../../support/one-asset-ports';

const COMMIT = 'c'.repeat(40);
const IMAGE = `debian@sha256:${'a'.repeat(64)}`;
const none = { scheme: 'none', reason: 'test asset' };
const config = parseConfig({
  version: 1,
  forge: { type: 'gitlab', url: 'https://gitlab.example', project: 'g/app' },
  alerts: { notifyOnVerified: true },
  targets: ['one', 'two'].map((name) => ({ name, image: IMAGE, command: 'make', artifacts: [{ path: `${name}.bin`, asset: `${name}.bin`, signature: none }] })),
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(options: { store?: (inner: Store) => Store; now?: () => Date } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'relverify-engine-'));
  dirs.push(root);
  const inner = new DirectoryStore(root);
  const store = options.store ? options.store(inner) : inner;
  const alerts: Alert[] = [];
  const warnings: string[] = [];
  const engine = new RunEngine(config, {
    store,
    notifier: { notify: async (a) => void alerts.push(a) },
    mode: 'local',
    notifyOnVerified: true,
    policy: policyRef(config),
    now: options.now,
    events: { warn: (m) => void warnings.push(m) },
  });
  return { engine, store: inner, alerts, warnings, work: root };
}

async function planned(engine: RunEngine) {
  const forge = oneAssetForge(oneReleaseOf(COMMIT), 'published\n');
  const out = await engine.plan(forge, { runIdFor: () => '20260302T030000Z-abcdef' });
  if (out.status !== 'planned') throw new Error('not planned');
  return { plan: out.plan, forge };
}

describe('RunEngine', () => {
  it('two targets finishing at the same moment: one summary, one alert', async () => {
    const { engine, alerts, work } = setup();
    const { plan, forge } = await planned(engine);
    const check = { forge, workDir: work, limits: { maxBytes: 1 << 20, timeoutMs: 10_000 }, formats: (await import('../../../lambda/formats/ops')).formatOps };
    const reports = await Promise.all(plan.targets.map((t) => engine.judgeUnstarted(plan, t.name, new Error('no builder'), check)));
    const outcomes = await Promise.all(reports.map((r) => engine.recordTarget(plan, r)));
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['already-summarized', 'published']);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.verdict).toBe('INCOMPLETE');
  });

  it('a ledger the store refuses costs the ledger, not the alert (named in a warning)', async () => {
    const { engine, alerts, warnings, store, work } = setup({
      store: (inner) => ({
        ...inner,
        put: (k, b, o) => (k.startsWith('ledger/ledger') ? Promise.reject(new Error('AccessDenied')) : inner.put(k, b, o)),
        get: (k) => inner.get(k),
        list: (p) => inner.list(p),
        locate: (k) => inner.locate(k),
      }),
    });
    const { plan, forge } = await planned(engine);
    const check = { forge, workDir: work, limits: { maxBytes: 1 << 20, timeoutMs: 10_000 }, formats: (await import('../../../lambda/formats/ops')).formatOps };
    for (const t of plan.targets) await engine.recordTarget(plan, await engine.judgeUnstarted(plan, t.name, new Error('no builder'), check));
    expect(alerts).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/ledger .* could not be written: AccessDenied/);
    expect(await store.get(runKeys.alerted(plan.runId))).not.toBeNull();
  });

  it('a ledger unreadable at summary time: still summarized and alerted, HISTORY_UNCHECKED, the ledger left as it is', async () => {
    const { engine, alerts, store } = setup();
    const { plan } = await planned(engine);
    await store.put(LEDGER_KEY, '{ not json');
    expect(await engine.summarizeIfComplete(plan, { force: true })).toBe('published');
    const summary = (await engine.readSummary(plan.runId))!;
    expect(summary.findings.map((f) => f.code)).toContain('HISTORY_UNCHECKED');
    expect(summary.verdict).toBe('INCOMPLETE');
    expect(alerts).toHaveLength(1);
    expect(await store.get(LEDGER_KEY)).toBe('{ not json');
  });

  it('a lost alert: a waiting retry sends it once the grace is over; the sweep leaves a fresh one alone', async () => {
    let now = new Date('2026-03-02T03:00:00Z');
    let failing = true;
    const root = setup({ now: () => now });
    const engine = new RunEngine(config, {
      ...root.engine.deps,
      notifier: { notify: async (a) => (failing ? Promise.reject(new Error('SNS down')) : void root.alerts.push(a)) },
    });
    const { plan } = await planned(engine);
    await expect(engine.summarizeIfComplete(plan, { force: true })).rejects.toThrow(/SNS down/);
    failing = false;
    // the dead-man's sweep does not wait: too fresh, left alone
    expect(await engine.alertIfLost(plan.runId, { waitMs: 0 })).toBe('already-summarized');
    // a retry waits (the engine's sleep advances this clock) and sends once the grace is over
    const waiting = new RunEngine(config, { ...engine.deps, sleep: async (ms) => void (now = new Date(now.getTime() + ms)) });
    expect(await waiting.alertIfLost(plan.runId)).toBe('published');
    expect(now.getTime() - Date.parse('2026-03-02T03:00:00Z')).toBeGreaterThanOrEqual(ALERT_GRACE_MS);
    expect(await waiting.alertIfLost(plan.runId)).toBe('already-summarized');
    expect(root.alerts).toHaveLength(1);
  });

  it('a re-sent alert carries ATTESTATION_UNSIGNED when the signed statements are missing, and not when they are stored', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const working = { keyId: 'test-key', sign: async (pae: Uint8Array) => sign('sha256', pae, { key: privateKey, dsaEncoding: 'der' }) };
    const broken = { keyId: 'test-key', sign: async () => Promise.reject(new Error('KMS throttled')) };
    for (const [signer, expectNotice] of [
      [working, false],
      [broken, true],
    ] as const) {
      let now = new Date('2026-03-02T03:00:00Z');
      let failing = true;
      const root = setup({ now: () => now });
      const engine = new RunEngine(config, {
        ...root.engine.deps,
        signer,
        notifier: { notify: async (a) => (failing ? Promise.reject(new Error('SNS down')) : void root.alerts.push(a)) },
      });
      const { plan } = await planned(engine);
      await expect(engine.summarizeIfComplete(plan, { force: true })).rejects.toThrow(/SNS down/);
      expect((await root.store.get(attestationKeys.envelope(plan.runId))) !== null).toBe(!expectNotice);
      failing = false;
      now = new Date(now.getTime() + ALERT_GRACE_MS + 1);
      expect(await engine.alertIfLost(plan.runId, { waitMs: 0 })).toBe('published');
      expect(root.alerts).toHaveLength(1);
      const text = JSON.stringify(root.alerts[0]);
      expect(text.includes('ATTESTATION_UNSIGNED')).toBe(expectNotice);
      if (expectNotice) expect(text).toContain(attestationKeys.envelope(plan.runId));
    }
  });

  it('a build refused for want of a sandbox: BUILD_NOT_SANDBOXED instead of BUILD_NOT_STARTED, the asset still checked', async () => {
    const { engine, work } = setup();
    const { plan, forge } = await planned(engine);
    const check = { forge, workDir: work, limits: { maxBytes: 1 << 20, timeoutMs: 10_000 }, formats: (await import('../../../lambda/formats/ops')).formatOps };
    const report = await engine.judgeUnstarted(plan, 'one', new VerifierError('BUILD_NOT_SANDBOXED', 'neither Docker nor bubblewrap'), check);
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toEqual(['BUILD_NOT_SANDBOXED']);
    expect(report.artifacts[0]!.published?.size).toBe('published\n'.length);
  });
});
