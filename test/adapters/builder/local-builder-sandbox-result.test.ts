/**
 * The build result itself says how the build was isolated (BuildResult.sandbox), and the run makes
 * an unsandboxed build INCOMPLETE from that — not from a flag only the CLI passes. A caller that
 * constructs LocalBuilder({ unsafeHostBuild }) directly and runs runVerification without
 * `unsandboxedBuilds` must still never see VERIFIED for a bare host build.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalBuilder } from '../../../lambda/adapters/builder/local-builder';
import { parseConfig } from '../../../lambda/core/config/load';
import { bwrapReady, buildRequest, makeRepo, sha256 as sha, stubForge, verifyLocally } from './sandbox-support';

const repo = makeRepo();
const bytes = '1.0.0\n'; // what `cp VERSION out/app` builds, and what the release publishes
const dirs: string[] = [repo.repo];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cfg = parseConfig({
  version: 1,
  gitlab: { url: 'https://gitlab.example', project: 'g/app' },
  targets: [
    {
      name: 'linux',
      image: `debian@sha256:${'d'.repeat(64)}`,
      command: 'mkdir -p out && cp VERSION out/app',
      artifacts: [{ path: 'out/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }],
    },
  ],
});
const forge = stubForge(repo, { app: bytes });
const hostOnly = { bwrap: '/nonexistent/bwrap', unsafeHostBuild: true };
const codes = (t: { findings: Array<{ code: string }> }) => t.findings.map((f) => f.code);

describe('BuildResult.sandbox', () => {
  it('a bare host build says sandbox "none"', { timeout: 30_000 }, async () => {
    const builder = new LocalBuilder({ docker: 'never', maxTimeoutMs: 20_000, ...hostOnly });
    try {
      const r = await builder.run(buildRequest(repo, 'mkdir -p out && cp VERSION out/app'));
      expect(r.status).toBe('SUCCEEDED');
      expect(r.sandbox).toBe('none');
    } finally {
      await builder.dispose();
    }
  });

  it('runVerification with a LocalBuilder({ unsafeHostBuild }) and no unsandboxedBuilds option: BUILD_NOT_SANDBOXED, INCOMPLETE', {
    timeout: 30_000,
  }, async () => {
    const { report, storeDir } = await verifyLocally(cfg, forge, hostOnly);
    dirs.push(storeDir);
    const linux = report.targets[0]!;
    expect(linux.build?.status).toBe('SUCCEEDED');
    // the comparison itself matched: only the missing sandbox keeps it from VERIFIED
    expect(linux.artifacts[0]!.rebuilt?.sha256).toBe(sha(bytes));
    expect(linux.artifacts[0]!.verdict).toBe('VERIFIED');
    expect(codes(linux).filter((c) => c === 'BUILD_NOT_SANDBOXED')).toHaveLength(1);
    expect(linux.verdict).toBe('INCOMPLETE');
    expect(report.verdict).toBe('INCOMPLETE');
  });

  it("the CLI's message, when given as well, does not add a second finding", { timeout: 30_000 }, async () => {
    const { report, storeDir } = await verifyLocally(cfg, forge, hostOnly, {
      unsandboxedBuilds: 'neither Docker nor bubblewrap is usable and --unsafe-host-build was given',
    });
    dirs.push(storeDir);
    const linux = report.targets[0]!;
    expect(codes(linux).filter((c) => c === 'BUILD_NOT_SANDBOXED')).toHaveLength(1);
    expect(linux.findings.find((f) => f.code === 'BUILD_NOT_SANDBOXED')!.message).toMatch(/--unsafe-host-build was given/);
    expect(linux.verdict).toBe('INCOMPLETE');
  });

  it.skipIf(!bwrapReady())('a bubblewrap build says sandbox "bwrap" and is not flagged', { timeout: 30_000 }, async () => {
    const builder = new LocalBuilder({ docker: 'never', maxTimeoutMs: 20_000 });
    try {
      const r = await builder.run(buildRequest(repo, 'mkdir -p out && cp VERSION out/app'));
      expect(r.sandbox).toBe('bwrap');
    } finally {
      await builder.dispose();
    }
  });
});
