/**
 * The forge-neutral contract (issue 10): the configuration names the forge as `forge: { type, url,
 * project, … }` — today's `gitlab: { … }` stays readable and means the same — and every plan and
 * report carries `project.forge` beside the older `gitlabUrl`.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/core/config/load';
import { ConfigError } from '../../../lambda/core/errors';
import { failedRunReport } from '../../../lambda/core/run/summary';
import { projectRefOf } from '../../../lambda/core/run/run-plan';

const target = {
  name: 'linux',
  image: `debian@sha256:${'a'.repeat(64)}`,
  command: 'make',
  artifacts: [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }],
};
const gitlab = { url: 'https://gitlab.example.com', project: 'g/app', allowedAssetHosts: ['cdn.example.com'] };

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

describe('forge-neutral configuration and report contract', () => {
  it('forge: { type: gitlab, … } and the older gitlab: { … } give the same configuration', () => {
    const older = parseConfig({ version: 1, gitlab, targets: [target] });
    const neutral = parseConfig({ version: 1, forge: { type: 'gitlab', ...gitlab }, targets: [target] });
    expect(neutral).toEqual(older);
    expect(neutral.forge).toEqual({ type: 'gitlab', url: gitlab.url, project: 'g/app' });
    expect(neutral.gitlab.allowedAssetHosts).toEqual(['cdn.example.com']);
  });

  it('a resolved configuration (both spellings, as the stack ships it) parses to itself', () => {
    const resolved = parseConfig({ version: 1, forge: { type: 'gitlab', ...gitlab }, targets: [target] });
    expect(parseConfig(JSON.parse(JSON.stringify(resolved)))).toEqual(resolved);
  });

  it('one of the two is required, and both must name the same project', () => {
    expect(issuesOf({ version: 1, targets: [target] }).join('\n')).toMatch(/forge: is required/);
    expect(issuesOf({ version: 1, gitlab, forge: { type: 'gitlab', ...gitlab, project: 'other/app' }, targets: [target] }).join('\n')).toMatch(
      /forge: names .* other\/app, but gitlab names/,
    );
    // an unknown forge type is refused, never read as GitLab
    expect(issuesOf({ version: 1, forge: { type: 'gitea', url: gitlab.url, project: 'g/app' }, targets: [target] }).join('\n')).toMatch(/forge/);
  });

  it('plans and reports carry project.forge beside gitlabUrl (compatibility)', () => {
    const config = parseConfig({ version: 1, forge: { type: 'gitlab', ...gitlab }, targets: [target] });
    expect(projectRefOf(config)).toEqual({ forge: { type: 'gitlab', url: gitlab.url, project: 'g/app' }, gitlabUrl: gitlab.url, project: 'g/app' });
    const report = failedRunReport(config, '20260302T030000Z-abcdef', { mode: 'local', startedAt: '2026-03-02T03:00:00Z' }, new Error('no'));
    expect(report.project).toEqual({ forge: { type: 'gitlab', url: gitlab.url, project: 'g/app' }, gitlabUrl: gitlab.url, project: 'g/app' });
  });
});
