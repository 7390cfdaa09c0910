/**
 * End to end: `release-verifier verify` as a child process on the demo — the real CLI, gitbeaker
 * over HTTP to the GitLab stand-in, the local builder, the checker — for each verdict's exit code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hasTool } from '../support/tools';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupDemo, type DemoScenario } from '../../demo/demo-scenario';

let demo: DemoScenario;
/** a fresh store (run records + ledger) per verification, unless a test means to share history */
const freshStore = () => mkdtempSync(join(tmpdir(), 'e2e-store-'));
beforeAll(async () => {
  demo = await setupDemo(mkdtempSync(join(tmpdir(), 'e2e-demo-')));
}, 120_000);
afterAll(async () => demo?.close());

describe('verify CLI on the demo release', () => {
  it('VERIFIED, exit 0, with both digests per artifact and the records on disk', async () => {
    const store = freshStore();
    const { exitCode, report } = await demo.verify({ store });
    expect(report.verdict).toBe('VERIFIED');
    expect(exitCode).toBe(0);
    expect(report.release).toMatchObject({ tag: 'v1.0.0', commitSha: demo.repo.commitSha });
    expect(report.targets.map((t) => t.name).sort()).toEqual(['linux-x64', 'web']);
    for (const t of report.targets)
      for (const a of t.artifacts) {
        expect(a.published?.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(a.rebuilt?.sha256).toBe(a.published?.sha256);
        expect(a.signature?.valid).toBe(true);
      }
    const summary = JSON.parse(readFileSync(join(store, 'runs', report.runId, 'summary.json'), 'utf8'));
    expect(summary.verdict).toBe('VERIFIED');
    expect(readFileSync(join(store, 'runs', report.runId, 'plan.json'), 'utf8')).toContain(demo.repo.commitSha);
    expect(readFileSync(join(store, 'runs', report.runId, 'report.html'), 'utf8')).toContain('VERIFIED');
    const ledger = JSON.parse(readFileSync(join(store, 'ledger', 'ledger.json'), 'utf8'));
    expect(ledger.releases['v1.0.0'].tagCommitSha).toBe(demo.repo.commitSha);
    // the token went to GitLab (the project is private in the stand-in) …
    expect(demo.gitlab.requests.some((r) => r.headers['private-token'])).toBe(true);
  });

  it('MISMATCH, exit 1, naming the differing archive member, when the asset was built from other source', async () => {
    const seenBefore = freshStore();
    expect((await demo.verify({ store: seenBefore })).report.verdict).toBe('VERIFIED');
    demo.publishBackdooredLinuxBuild();
    try {
      const withDiffoscope = hasTool('diffoscope') || !!process.env.CI;
      const { exitCode, report } = await demo.verify({ store: freshStore(), args: withDiffoscope ? ['--diffoscope'] : [] });
      expect(report.verdict).toBe('MISMATCH');
      expect(exitCode).toBe(1);
      const linux = report.targets.find((t) => t.name === 'linux-x64')!;
      expect(linux.artifacts[0]!.signature?.valid).toBe(true); // signed with the real key…
      const f = linux.artifacts[0]!.findings.find((x) => x.code === 'ARTIFACT_MISMATCH')!;
      expect(f.message).toContain('mealplanner/lib/mealplanner/app.js'); // …but not what the source builds
      if (withDiffoscope) {
        const report = linux.artifacts[0]!.findings.find((x) => x.code === 'DIFFOSCOPE_REPORT');
        expect(existsSync(String(report?.evidence?.report))).toBe(true);
        expect(readFileSync(String(report!.evidence!.report), 'utf8')).toContain('app.js');
      }
      expect(report.targets.find((t) => t.name === 'web')!.verdict).toBe('VERIFIED');

      // a verifier that saw the genuine asset before also reports that published history changed
      const again = await demo.verify({ store: seenBefore });
      expect(again.report.verdict).toBe('TAMPERED');
      expect(again.report.findings.find((f) => f.code === 'PAST_ASSET_CHANGED')?.evidence).toMatchObject({ was: expect.any(String), now: expect.any(String) });
    } finally {
      demo.restoreLinux();
    }
  });

  it('TAMPERED, exit 1, when an asset no longer matches the signed SHA256SUMS', async () => {
    demo.swapWebBundleBehindManifest();
    const { exitCode, report } = await demo.verify({ store: freshStore() });
    expect(report.verdict).toBe('TAMPERED');
    expect(exitCode).toBe(1);
    expect(JSON.stringify(report.targets.find((t) => t.name === 'web')!.artifacts[0]!.findings)).toContain('MANIFEST_DIGEST_MISMATCH');
  });

  it('TAMPERED when the release tag was moved after an earlier run recorded it', async () => {
    const store = freshStore();
    await demo.verify({ store });
    const project = demo.gitlab.model.project('demo/mealplanner');
    const original = project.tags.get('v1.0.0')!;
    demo.gitlab.model.moveTag(project, 'v1.0.0', 'e'.repeat(40));
    try {
      const { report } = await demo.verify({ store });
      expect(report.verdict).toBe('TAMPERED');
      const moved = report.findings.find((f) => f.code === 'TAG_MOVED');
      expect(moved?.evidence).toMatchObject({ tag: 'v1.0.0', was: demo.repo.commitSha, now: 'e'.repeat(40) });
    } finally {
      project.tags.set('v1.0.0', original);
    }
  });

  it('INCOMPLETE, exit 2, when GitLab cannot be reached — never VERIFIED', async () => {
    const cfg = readFileSync(demo.configPath, 'utf8').replace(/url: http:\/\/127\.0\.0\.1:\d+/, 'url: http://127.0.0.1:9');
    const path = join(demo.workspace, 'unreachable.yaml');
    writeFileSync(path, cfg);
    const r = spawnSync(process.execPath, ['bin/release-verifier.mjs', 'verify', '--config', path, '--store', demo.workspace, '--json', '--quiet'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).toBe(2);
    const report = JSON.parse(r.stdout);
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings[0].code).toBe('FORGE_UNREACHABLE');
  });

  it('exit 3 with the field named for an invalid configuration, and for usage errors', () => {
    const path = join(demo.workspace, 'bad.yaml');
    writeFileSync(path, readFileSync(demo.configPath, 'utf8').replace(/image: .*@sha256:[0-9a-f]{64}/, 'image: node:22'));
    const r = spawnSync(process.execPath, ['bin/release-verifier.mjs', 'verify', '--config', path], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/targets\[0\]\.image: must be pinned by digest/);
    expect(spawnSync(process.execPath, ['bin/release-verifier.mjs', 'verify'], { encoding: 'utf8' }).status).toBe(3);
    expect(spawnSync(process.execPath, ['bin/release-verifier.mjs', 'verify', '--config', path, '--bogus'], { encoding: 'utf8' }).status).toBe(3);
  });
});
