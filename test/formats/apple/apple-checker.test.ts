/**
 * The `apple` scheme through the configuration and the checker (issue 12): the policy is parsed
 * with its defaults and pin rule, and an artifact with it is checked with the real format
 * operations, with no signature companion downloaded (the signature is embedded, as for
 * Authenticode). The asset is the real Developer ID app of fixtures/apple (ORIGIN.md).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/core/config/load';
import { checkTarget } from '../../../lambda/core/check-target';
import { ConfigError, ForgeError } from '../../../lambda/core/errors';
import { planTargets, type RunPlan } from '../../../lambda/core/run/plan';
import type { BuildResult, Forge, Release } from '../../../lambda/core/ports';
import { formatOps } from '../../../lambda/formats/ops';

const APP = readFileSync(join(__dirname, '../fixtures/apple/DevSignedApp.zip'));
const DMG = readFileSync(join(__dirname, '../fixtures/apple/SparkleTestCodeSignApp.dmg'));
const COMMIT = 'c'.repeat(40);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function config(signature: unknown) {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.example.com', project: 'g/app' },
    targets: [
      {
        name: 'mac',
        platform: 'macos',
        image: 'aws/codebuild/macos-arm-base:15',
        fleetArn: 'arn:aws:codebuild:us-east-1:111111111111:fleet/mac:1',
        command: 'make',
        artifacts: [{ path: 'out/app-{version}.zip', asset: 'app-{version}.zip', signature }],
      },
    ],
  });
}

async function check(asset: Buffer, signature: unknown) {
  const cfg = config(signature);
  const release: Release = { tag: 'v1.0.0', name: 'v1.0.0', commitSha: COMMIT, tagCommitSha: COMMIT, links: [] };
  const { version, targets } = planTargets(cfg, release);
  const plan: RunPlan = {
    schemaVersion: 1,
    runId: 'r1',
    createdAt: new Date().toISOString(),
    project: { gitlabUrl: cfg.gitlab.url, project: cfg.gitlab.project },
    release,
    version,
    targets,
    findings: [],
  };
  const requested: string[] = [];
  // the checker only downloads from the forge; the rest of the port is not reached
  const forge = {
    async downloadAsset(req: { name: string }, dest: string) {
      requested.push(req.name);
      if (req.name !== 'app-1.0.0.zip') throw new ForgeError('not-found', `no asset named ${req.name}`);
      writeFileSync(dest, asset);
      return { path: dest, sha256: sha(asset), size: asset.length, url: `https://gitlab.example.com/${req.name}` };
    },
  } as unknown as Forge;
  const build: BuildResult = {
    target: 'mac',
    buildId: 'b1',
    sandbox: 'docker' as const,
    status: 'SUCCEEDED',
    image: { ref: 'aws/codebuild/macos-arm-base:15', enforced: true },
    checkedOutSha: COMMIT,
    artifacts: {
      async fetch(_rel, dest) {
        writeFileSync(dest, asset);
        return { path: dest, sha256: sha(asset), size: asset.length };
      },
    },
  };
  const report = await checkTarget(plan, 'mac', build, {
    forge,
    workDir: mkdtempSync(join(tmpdir(), 'apple-ct-')),
    limits: { maxBytes: 64 << 20, timeoutMs: 60_000 },
    formats: formatOps,
  });
  return { report, requested, codes: [...report.findings, ...report.artifacts.flatMap((a) => a.findings)].map((f) => f.code) };
}

describe('apple policy: configuration', () => {
  it('defaults requireDeveloperId to true and has no signature asset', () => {
    const s = config({ scheme: 'apple', teamId: 'ZCK58M894E' }).targets[0]!.artifacts[0]!.signature;
    expect(s).toEqual({ scheme: 'apple', teamId: 'ZCK58M894E', requireDeveloperId: true });
  });
  it('refuses a policy without a pin, a malformed Team ID, and unknown fields', () => {
    const issues = (sig: unknown) => {
      try {
        config(sig);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).issues;
      }
      throw new Error('expected a ConfigError');
    };
    expect(issues({ scheme: 'apple' })[0]).toMatchObject({
      path: 'targets[0].artifacts[0].signature.teamId',
      message: expect.stringMatching(/pin the signer/),
    });
    expect(issues({ scheme: 'apple', teamId: 'abc' })[0]!.message).toMatch(/10-character Apple Team ID/);
    expect(issues({ scheme: 'apple', teamId: 'ZCK58M894E', signatureAsset: 'x.sig' }).length).toBeGreaterThan(0);
  });
});

describe('apple policy: the checker', () => {
  it('VERIFIED with the embedded signature, no companion downloaded', async () => {
    const { report, requested } = await check(APP, { scheme: 'apple', teamId: 'ZCK58M894E' });
    expect(report.artifacts[0]!.signature).toMatchObject({ scheme: 'apple', valid: true });
    expect(report.artifacts[0]!.signature!.signer).toContain('Developer ID Application: Mayur Pawashe');
    expect(requested).toEqual(['app-1.0.0.zip']);
    expect(report.verdict).toBe('VERIFIED');
  });
  it('another Team ID: SIGNER_NOT_PINNED; an unsigned DMG: UNSIGNED', async () => {
    expect((await check(APP, { scheme: 'apple', teamId: 'ABCDE12345' })).codes).toContain('SIGNER_NOT_PINNED');
    const dmg = await check(DMG, { scheme: 'apple', teamId: 'ZCK58M894E' });
    expect(dmg.codes).toContain('UNSIGNED');
    expect(dmg.report.verdict).not.toBe('VERIFIED');
  });
});
