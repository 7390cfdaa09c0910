/**
 * Issue 10 item 3: asset source types own their registration — schema, placeholder expansion and
 * where a companion file (signature, manifest) of an asset is fetched from.
 */
import { describe, expect, it } from 'vitest';
import { ASSET_SOURCE_TYPES, type AssetSource, companionSource, expandSource } from '../../../lambda/core/asset-sources/registry';
import { configJsonSchema } from '../../../lambda/core/config/json-schema';
import { AssetSourceSchema } from '../../../lambda/core/config/schema';
import { planTargets } from '../../../lambda/core/run/plan';
import { parseConfig } from '../../../lambda/core/config/load';

const expand = (t: string) => t.replaceAll('{version}', '1.2.3').replaceAll('{tag}', 'v1.2.3');

/** one source of each type, as configured, and what the plan and the checker must make of it */
const CASES: Record<AssetSource['type'], { source: Record<string, unknown>; expanded: AssetSource; companion: AssetSource }> = {
  'release-link': { source: { type: 'release-link' }, expanded: { type: 'release-link' }, companion: { type: 'release-link' } },
  'generic-package': {
    source: { type: 'generic-package', packageName: 'app-{version}' },
    expanded: { type: 'generic-package', packageName: 'app-1.2.3', packageVersion: '1.2.3', fileName: 'app.tar.gz' },
    companion: { type: 'generic-package', packageName: 'app-1.2.3', packageVersion: '1.2.3', fileName: 'app.tar.gz.minisig' },
  },
  'job-artifact': {
    source: { type: 'job-artifact', job: 'build', path: 'out/{version}/app.tar.gz' },
    expanded: { type: 'job-artifact', ref: 'v1.2.3', job: 'build', path: 'out/1.2.3/app.tar.gz' },
    companion: { type: 'job-artifact', ref: 'v1.2.3', job: 'build', path: 'out/1.2.3/app.tar.gz.minisig' },
  },
};

describe('asset source types', () => {
  it('are the configuration union, in registry order, in the JSON Schema', () => {
    expect(ASSET_SOURCE_TYPES).toEqual(['release-link', 'generic-package', 'job-artifact']);
    const json = JSON.stringify(configJsonSchema());
    for (const t of ASSET_SOURCE_TYPES) expect(json).toContain(`"const":"${t}"`);
    expect(AssetSourceSchema.safeParse({ type: 'ftp' }).success).toBe(false);
  });

  for (const type of ASSET_SOURCE_TYPES) {
    it(`${type}: expanded for the plan, and its companions fetched beside the asset`, () => {
      const c = CASES[type];
      const parsed = AssetSourceSchema.parse(c.source);
      const expanded = expandSource(parsed, expand, 'app.tar.gz');
      expect(expanded).toEqual(c.expanded);
      expect(companionSource(expanded, 'app.tar.gz.minisig')).toEqual(c.companion);
      // the planner expands sources the same way
      const config = parseConfig({
        version: 1,
        gitlab: { project: 'g/app' },
        targets: [
          {
            name: 'linux',
            image: `debian@sha256:${'a'.repeat(64)}`,
            command: 'make',
            artifacts: [{ path: 'dist/app.tar.gz', asset: 'app.tar.gz', source: c.source, signature: { scheme: 'none', reason: 'test' } }],
          },
        ],
      });
      expect(planTargets(config, { tag: 'v1.2.3' }).targets[0]?.artifacts[0]?.source).toEqual(c.expanded);
    });
  }

  it('a job artifact at the archive root has its companions at the root', () => {
    const source: AssetSource = { type: 'job-artifact', ref: 'main', job: 'b', path: 'app.zip' };
    expect(companionSource(source, 'SHA256SUMS')).toEqual({ ...source, path: 'SHA256SUMS' });
  });
});
