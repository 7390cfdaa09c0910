/**
 * BUILD_NOT_SANDBOXED through a whole local run (run-local with the real LocalBuilder): with
 * neither Docker nor bubblewrap the build is refused (INCOMPLETE, nothing built); with
 * --unsafe-host-build it runs on the host and its target is at best INCOMPLETE, its comparison
 * still reported; in the bubblewrap sandbox the same release is VERIFIED. And the CLI knows the flag.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { LocalBuilderOptions } from '../../../lambda/adapters/builder/local-builder';
import { run as verifyCli } from '../../../lambda/cli/verify';
import { parseConfig } from '../../../lambda/core/config/load';
import { bwrapReady, makeRepo, sha256 as sha, stubForge, verifyLocally } from './sandbox-support';

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

async function verifyWith(options: LocalBuilderOptions, unsandboxedBuilds?: string) {
  const { report, storeDir } = await verifyLocally(cfg, forge, options, { unsandboxedBuilds });
  dirs.push(storeDir);
  return report;
}
const codes = (t: { findings: Array<{ code: string }> }) => t.findings.map((f) => f.code);
const noSandbox = { bwrap: '/nonexistent/bwrap' };

describe('BUILD_NOT_SANDBOXED', () => {
  it('without Docker or bubblewrap the build is refused: INCOMPLETE, nothing built (the published assets still checked)', { timeout: 30_000 }, async () => {
    const report = await verifyWith(noSandbox);
    expect(report.verdict).toBe('INCOMPLETE');
    const linux = report.targets[0]!;
    expect(codes(linux)).toEqual(['BUILD_NOT_SANDBOXED']);
    expect(linux.findings[0]!.message).toMatch(/--unsafe-host-build/);
    // nothing was built or compared; the published asset is still fetched and checked (as in AWS)
    expect(linux.build?.status).toBe('NOT_STARTED');
    expect(linux.artifacts.map((a) => [a.rebuilt, a.findings.map((f) => f.code)])).toEqual([[undefined, expect.arrayContaining(['NOT_CHECKED'])]]);
  });

  it('with --unsafe-host-build it builds on the host, reports the comparison, and is never VERIFIED', { timeout: 30_000 }, async () => {
    const report = await verifyWith({ ...noSandbox, unsafeHostBuild: true }, 'neither Docker nor bubblewrap is usable and --unsafe-host-build was given');
    const linux = report.targets[0]!;
    expect(linux.build?.status).toBe('SUCCEEDED');
    expect(linux.artifacts[0]!.rebuilt?.sha256).toBe(sha(bytes));
    expect(linux.artifacts[0]!.verdict).toBe('VERIFIED');
    expect(codes(linux)).toContain('BUILD_NOT_SANDBOXED');
    expect(linux.verdict).toBe('INCOMPLETE');
    expect(report.verdict).toBe('INCOMPLETE');
  });

  it.skipIf(!bwrapReady())('in the bubblewrap sandbox the same release is VERIFIED', { timeout: 30_000 }, async () => {
    const report = await verifyWith({});
    expect(report.verdict).toBe('VERIFIED');
    expect(codes(report.targets[0]!)).not.toContain('BUILD_NOT_SANDBOXED');
    expect(report.targets[0]!.findings.find((f) => f.code === 'IMAGE_NOT_ENFORCED')?.message).toMatch(/bubblewrap sandbox/);
  });
});

describe('verify CLI', () => {
  it('drops the token from its own environment once read, so no child process inherits it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'sandbox-cli-'));
    dirs.push(d);
    // a forge that refuses connections: the run ends quickly, INCOMPLETE
    writeFileSync(
      join(d, 'c.json'),
      JSON.stringify({
        ...cfg,
        $schema: undefined,
        forge: undefined,
        gitlab: { url: 'http://127.0.0.1:1', project: 'g/app', token: { env: 'RV_SANDBOX_TEST_TOKEN' } },
      }),
    );
    process.env.RV_SANDBOX_TEST_TOKEN = 'glpat-read-once';
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await verifyCli(['--config', join(d, 'c.json'), '--quiet', '--store', d, '--docker', 'never'])).toBe(2);
      expect(process.env.RV_SANDBOX_TEST_TOKEN).toBeUndefined();
    } finally {
      err.mockRestore();
      out.mockRestore();
      delete process.env.RV_SANDBOX_TEST_TOKEN;
    }
  });

  it('accepts --unsafe-host-build (a usage error names the missing --config, not an unknown option) and documents it', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await verifyCli(['--unsafe-host-build'])).toBe(3);
      expect(String(err.mock.calls[0]?.[0])).toMatch(/--config is required/);
      expect(await verifyCli(['--help'])).toBe(0);
      expect(String(out.mock.calls[0]?.[0])).toMatch(/--unsafe-host-build/);
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});
