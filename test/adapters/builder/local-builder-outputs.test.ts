/**
 * Hostile build outputs through a whole local run (fault table rows, .notes/fault-table-build.md):
 * a FIFO where an artifact should be (opening it would block), an artifact over the size limit, a
 * symlink out of the checkout, an artifact never produced — each refused with its finding while
 * the genuine artifact next to them still verifies; and a build log past its bound is cut.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBuilder } from '../../../lambda/adapters/builder/local-builder';
import { parseConfig } from '../../../lambda/core/config/load';
import { buildRequest, makeRepo, stubForge, verifyLocally } from './sandbox-support';

const repo = makeRepo();
const dirs: string[] = [repo.repo];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
/** these tests are about outputs, not isolation: a host build keeps them independent of bubblewrap */
const hostBuild = { bwrap: '/nonexistent/bwrap', unsafeHostBuild: true };
const none = { scheme: 'none', reason: 'test' } as const;

describe('hostile build outputs', () => {
  it('a FIFO, an oversize file, a symlink out and a missing file are each refused; the genuine artifact verifies', { timeout: 30_000 }, async () => {
    const cfg = parseConfig({
      version: 1,
      gitlab: { url: 'https://gitlab.example', project: 'g/app' },
      limits: { maxAssetBytes: 2048 },
      targets: [
        {
          name: 'linux',
          image: `debian@sha256:${'d'.repeat(64)}`,
          command: 'mkdir -p out && cp VERSION out/app && mkfifo out/fifo && head -c 3000 /dev/zero > out/big && ln -s /etc/hostname out/link',
          artifacts: ['app', 'fifo', 'big', 'link', 'missing'].map((n) => ({ path: `out/${n}`, asset: n, signature: none })),
        },
      ],
    });
    const t0 = Date.now();
    const { report, storeDir } = await verifyLocally(cfg, stubForge(repo, { app: '1.0.0\n', fifo: 'x', big: 'x', link: 'x', missing: 'x' }), hostBuild);
    dirs.push(storeDir);
    expect(Date.now() - t0).toBeLessThan(15_000); // the FIFO was never opened for a blocking read
    const linux = report.targets[0]!;
    const byAsset = Object.fromEntries(linux.artifacts.map((a) => [a.asset, a]));
    expect(byAsset.app!.verdict).toBe('VERIFIED');
    const refusal = (asset: string) =>
      byAsset[asset]!.findings.filter((f) => f.level !== 'NOTICE')
        .map((f) => `${f.code}: ${f.message}`)
        .join('\n');
    expect(refusal('fifo')).toMatch(/^ARTIFACT_REFUSED: .*not a regular file/);
    expect(refusal('big')).toMatch(/^ARTIFACT_REFUSED: .*(limit|too large|exceed)/i);
    expect(refusal('link')).toMatch(/^ARTIFACT_REFUSED: .*outside the build output/);
    expect(refusal('missing')).toMatch(/^ARTIFACT_MISSING: /);
    for (const a of ['fifo', 'big', 'link', 'missing']) expect(byAsset[a]!.verdict).toBe('INCOMPLETE');
    expect(linux.verdict).toBe('INCOMPLETE');
  });

  it('a build log past its bound is cut, with a note, and the build still succeeds', { timeout: 30_000 }, async () => {
    const builder = new LocalBuilder({ docker: 'never', maxTimeoutMs: 20_000, maxLogBytes: 1000, ...hostBuild });
    try {
      const r = await builder.run(buildRequest(repo, 'head -c 200000 /dev/zero | tr "\\0" "y"; echo; mkdir -p out; echo ok > out/app'));
      expect(r.status).toBe('SUCCEEDED');
      const size = statSync(r.logLink!).size;
      expect(size).toBeGreaterThanOrEqual(1000);
      expect(size).toBeLessThan(1100);
      expect(readFileSync(r.logLink!, 'utf8')).toMatch(/\[log truncated by release-verifier\]\n$/);
    } finally {
      await builder.dispose();
    }
  });
});
