/**
 * The CLI's driver (core/run/in-process.ts) when the run fails after its summary was written: the
 * alert still goes out (nobody else is finishing the run in this process), and the answer is the
 * stored verdict made no better than INCOMPLETE — never a silent VERIFIED, never a milder verdict.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';
import type { Alert } from '../../../lambda/core/alert';
import { parseConfig } from '../../../lambda/core/config/load';
import { runVerification } from '../../../lambda/core/run/in-process';
import { runKeys } from '../../../lambda/core/run/store-layout';
import { oneAssetBuilder, oneAssetForge, oneReleaseOf } from '../../support/one-asset-ports';

const COMMIT = 'd'.repeat(40);
const config = parseConfig({
  version: 1,
  forge: { type: 'gitlab', url: 'https://gitlab.example', project: 'g/app' },
  targets: [
    {
      name: 'one',
      image: `debian@sha256:${'a'.repeat(64)}`,
      command: 'make',
      artifacts: [{ path: 'one.bin', asset: 'one.bin', signature: { scheme: 'none', reason: 'test' } }],
    },
  ],
});
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function runWith(published: string, rebuilt: string, notify: (a: Alert) => Promise<void>) {
  const root = mkdtempSync(join(tmpdir(), 'relverify-inprocess-'));
  dirs.push(root);
  const store = new DirectoryStore(root);
  const ports = {
    forge: oneAssetForge(oneReleaseOf(COMMIT), published),
    builder: oneAssetBuilder(COMMIT, rebuilt),
    store,
    notifier: { notify },
    formats: (await import('../../../lambda/formats/ops')).formatOps,
  };
  const out = await runVerification(config, ports, { runId: '20260302T030000Z-abcdef' });
  return { ...out, store };
}

describe('runVerification after the summary', () => {
  it('the alert fails once: it is sent again at once, and the answer is INCOMPLETE beside the stored VERIFIED', async () => {
    const delivered: Alert[] = [];
    let calls = 0;
    const { report, store } = await runWith('same\n', 'same\n', async (a) => {
      calls++;
      if (calls === 1) throw new Error('alert file not writable');
      delivered.push(a);
    });
    expect(JSON.parse((await store.get(runKeys.summary(report.runId)))!).verdict).toBe('VERIFIED');
    expect(delivered.map((a) => a.verdict)).toEqual(['VERIFIED']);
    expect(await store.get(runKeys.alerted(report.runId))).not.toBeNull();
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toContain('INTERNAL_ERROR');
  });

  it('a stored MISMATCH stays MISMATCH in the answer (never milder), and its alert goes out', async () => {
    const delivered: Alert[] = [];
    let calls = 0;
    const { report } = await runWith('published\n', 'rebuilt\n', async (a) => {
      if (++calls === 1) throw new Error('console closed');
      delivered.push(a);
    });
    expect(report.verdict).toBe('MISMATCH');
    expect(delivered.map((a) => a.verdict)).toEqual(['MISMATCH']);
  });
});
