/**
 * `npx cdk synth` from a fresh clone of the committed tree with the example configuration:
 * offline (local esbuild, no Docker — CDK_DOCKER points nowhere, so any Docker bundling would
 * fail), and the bundled ESM handlers load under Node with the pinned AWS SDK inside them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths';

describe('cdk synth from a fresh clone, offline', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('synthesizes the stack and bundles three handlers with the local esbuild, no Docker', { timeout: 240_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'relverify-clone-'));
    const clone = join(dir, 'repo');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone]);
    // npm ci needs the registry; the installed tree stands in for it
    await symlink(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
    // the example is deployed only when named: without a configuration the app refuses (test/core/config-keys.test.ts)
    const r = spawnSync(
      'npx',
      ['--no-install', 'cdk', 'synth', '-c', 'config=examples/release-verifier.example.yaml', '--quiet', '--no-notices', '--output', 'cdk.out'],
      {
        cwd: clone,
        env: { ...process.env, CDK_DOCKER: '/nonexistent/docker', CDK_DISABLE_VERSION_CHECK: '1', AWS_REGION: 'eu-west-1', RELEASE_VERIFIER_CONFIG: '' },
        encoding: 'utf8',
        timeout: 220_000,
      },
    );
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = join(clone, 'cdk.out');
    const template = JSON.parse(readFileSync(join(out, 'ReleaseVerifier.template.json'), 'utf8')) as { Resources: Record<string, { Type: string }> };
    const types = Object.values(template.Resources).map((x) => x.Type);
    expect(types.filter((t) => t === 'AWS::CodeBuild::Project')).toHaveLength(4); // the example's three targets + the diff job
    const bundles = readdirSync(out)
      .filter((d) => d.startsWith('asset.') && existsSync(join(out, d, 'index.mjs')))
      .map((d) => join(out, d, 'index.mjs'));
    // launcher, checker, dead-man (the trigger provider is CDK's own, not bundled here)
    expect(bundles.length).toBeGreaterThanOrEqual(3);
    for (const b of bundles) {
      const text = readFileSync(b, 'utf8');
      // the pinned SDK is bundled, not the runtime's: no import of @aws-sdk/*, and the pinned
      // client version (its user agent carries it) is inside
      expect(text).not.toMatch(/from\s*"@aws-sdk\//);
      // one optional require stays: the CRT signer (SigV4a, multi-region access points only),
      // which the SDK loads in a try/catch and this code never needs
      expect(text.replace(/require\("@aws-sdk\/signature-v4-crt"\)/g, '')).not.toMatch(/require\(\s*"@aws-sdk\//);
      const pinned = (pkg: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
      expect(text).toContain(`"${pinned('@aws-sdk/client-s3')}"`);
      expect(text.startsWith("import { createRequire as __rvCreateRequire } from 'node:module';")).toBe(true); // ESM with the require banner
      const load = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', `const m = await import(${JSON.stringify(b)}); if (typeof m.handler !== 'function') process.exit(2);`],
        { encoding: 'utf8', cwd: clone },
      );
      expect(load.status, load.stderr).toBe(0);
    }
    // the configuration travels as a layer file, validated again at cold start
    const layer = readdirSync(out).find((d) => existsSync(join(out, d, 'release-verifier', 'config.json')));
    expect(layer).toBeDefined();
    expect(JSON.parse(readFileSync(join(out, layer!, 'release-verifier', 'config.json'), 'utf8')).gitlab.project).toBe('mealplanner/mealplanner');
  });
});
