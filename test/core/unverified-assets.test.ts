/**
 * Assets nobody verified (issue 9 item 4): a release link the configuration does not cover is
 * UNVERIFIED_ASSET (INCOMPLETE) unless an ignoreAssets glob names it; suspicious names (path
 * separators, control/bidi characters, lookalike Unicode) are named as such. Raised by planRun, so
 * the CLI and the AWS launcher (both plan with it) report the same.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import { verdictOf } from '../../lambda/core/findings';
import { planRun, planTargets } from '../../lambda/core/run/plan';
import type { Forge, Release, ReleaseLink } from '../../lambda/core/ports';
import { suspiciousNameReasons, unverifiedAssetFindings } from '../../lambda/core/unverified-assets';

const IMG = `debian@sha256:${'a'.repeat(64)}`;
const MINISIGN_PUB = 'RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3';
const FPR = 'B'.repeat(40);
const GITLAB = 'https://gitlab.example.com';

function config(extra: Record<string, unknown> = {}) {
  return parseConfig({
    version: 1,
    gitlab: { url: GITLAB, project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: IMG,
        command: 'make',
        artifacts: [
          { path: 'dist/app.tar.gz', asset: 'app-{version}.tar.gz', signature: { scheme: 'minisign', publicKey: MINISIGN_PUB } },
          {
            path: 'dist/web.js',
            asset: 'web-{version}.js',
            signature: { scheme: 'sha256sums', manifestSignature: { scheme: 'openpgp', fingerprint: FPR, publicKey: 'k', signatureAsset: 'SHA256SUMS.asc' } },
          },
          {
            path: 'dist/tool',
            asset: 'tool',
            source: { type: 'generic-package', packageName: 'app', packageVersion: '{version}' },
            signature: { scheme: 'sigstore', issuer: 'https://issuer.example', san: 'x', trustedRoot: '{}' },
          },
          { path: 'dist/app.exe', asset: 'app.exe', signature: { scheme: 'authenticode', certSha256: ['c'.repeat(64)] } },
        ],
      },
    ],
    ...extra,
  });
}

let nextId = 1;
const link = (name: string, url = `https://cdn.example/${encodeURIComponent(name)}`): ReleaseLink => ({ id: nextId++, name, url });

/** The links the configuration covers for v1.2.0. */
const COVERED = ['app-1.2.0.tar.gz', 'app-1.2.0.tar.gz.minisig', 'web-1.2.0.js', 'SHA256SUMS', 'SHA256SUMS.asc', 'app.exe'];

function release(extra: ReleaseLink[]): Release {
  return { tag: 'v1.2.0', name: 'v1.2.0', commitSha: 'c'.repeat(40), tagCommitSha: 'c'.repeat(40), links: [...COVERED.map((n) => link(n)), ...extra] };
}

function check(rel: Release, cfg = config()) {
  return unverifiedAssetFindings(rel, planTargets(cfg, rel).targets, { ignoreAssets: cfg.ignoreAssets, gitlabUrl: cfg.gitlab.url });
}

describe('UNVERIFIED_ASSET', () => {
  it('a release whose every link is an artifact, a signature or a manifest has none', () => {
    expect(check(release([]))).toEqual([]);
  });

  it('reports each link nobody verifies, naming it, as INCOMPLETE', () => {
    const found = check(release([link('app-1.2.0-arm64.tar.gz'), link('install.sh')]));
    expect(found.map((f) => [f.code, f.level, f.artifact])).toEqual([
      ['UNVERIFIED_ASSET', 'INCOMPLETE', 'app-1.2.0-arm64.tar.gz'],
      ['UNVERIFIED_ASSET', 'INCOMPLETE', 'install.sh'],
    ]);
    expect(found[1]!.message).toContain('"install.sh"');
    expect(found[1]!.evidence).toMatchObject({ link: 'install.sh', url: 'https://cdn.example/install.sh' });
    expect(verdictOf(found, true)).toBe('INCOMPLETE');
  });

  it('a link named like a generic-package asset is not covered unless it points to that package file on the GitLab host', () => {
    const pkg = `${GITLAB}/api/v4/projects/7/packages/generic/app/1.2.0/tool`;
    expect(check(release([link('tool', pkg)]))).toEqual([]);
    expect(check(release([link('tool.sigstore.json', `${pkg}.sigstore.json`)]))).toEqual([]); // its bundle, from the same package
    expect(check(release([link('tool', 'https://evil.example/api/v4/projects/7/packages/generic/app/1.2.0/tool')]))).toHaveLength(1);
    expect(check(release([link('tool', `${GITLAB}/api/v4/projects/7/packages/generic/app/1.1.0/tool`)]))).toHaveLength(1); // another version
    expect(check(release([link('tool')]))).toHaveLength(1); // same name, other bytes: nobody checked them
  });

  it('ignoreAssets globs silence changelogs and source tarballs, and nothing else', () => {
    const cfg = config({ ignoreAssets: ['CHANGELOG*', '*-src.tar.gz'] });
    const found = check(release([link('CHANGELOG.md'), link('app-1.2.0-src.tar.gz'), link('app-1.2.0.dmg')]), cfg);
    expect(found.map((f) => f.artifact)).toEqual(['app-1.2.0.dmg']);
  });

  it('names path separators, control and bidi characters and lookalike letters as such — even when a glob matches', () => {
    const cfg = config({ ignoreAssets: ['*'] });
    const names = [
      '../../etc/cron.d/x',
      'dir\\evil.exe',
      'invoice\u202egpj.exe',
      'clear\x1b[2J',
      'аpp-1.2.0.tar.gz' /* Cyrillic а */,
      'ａｐｐ.exe' /* fullwidth */,
    ];
    const found = check(release(names.map((n) => link(n))), cfg);
    expect(found.map((f) => f.artifact)).toEqual(names);
    const messages = found.map((f) => f.message);
    expect(messages[0]).toMatch(/path separator \("\/"\).*"\.\." path segment/);
    expect(messages[1]).toContain('path separator ("\\")');
    expect(messages[2]).toContain('control or invisible characters (U+202E)');
    expect(messages[3]).toContain('control or invisible characters (U+001B)');
    expect(messages[4]).toContain('lookalike Unicode (U+0430 looks like "a")');
    expect(messages[5]).toContain('U+FF41 looks like "a"');
    // "*" does not cross "/", so only the names without one are matched by the glob, and reported anyway
    for (const m of messages.slice(1)) expect(m).toContain('reported although an ignoreAssets glob matches it');
    // the message itself carries no raw control character
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the assertion is that no raw ESC reaches the message
    expect(messages.join('')).not.toMatch(/[\u001b\u202e]/);
    expect(found[2]!.evidence?.suspiciousName).toEqual(['contains control or invisible characters (U+202E)']);
  });

  it('a cleartext-signed manifest reads no signature asset, so a link named like one is not covered', () => {
    const cfg = config();
    (cfg.targets[0]!.artifacts[1]!.signature as { manifestSignature: { cleartext?: boolean } }).manifestSignature.cleartext = true;
    expect(check(release([]), cfg).map((f) => f.artifact)).toEqual(['SHA256SUMS.asc']);
  });

  it('ordinary non-ASCII names are not lookalikes', () => {
    expect(suspiciousNameReasons('café-1.0.tar.gz')).toEqual([]);
    expect(suspiciousNameReasons('日本語.zip')).toEqual([]);
    expect(suspiciousNameReasons('app-1.2.0.tar.gz')).toEqual([]);
  });

  it('is raised by planRun (the plan the CLI and the launcher both use)', async () => {
    const rel = release([link('payload.bin')]);
    const forge = {
      getRelease: async () => rel,
      getHistory: async () => ({ releases: [], tags: [], complete: true }),
      getProtections: async () => {
        throw new Error('no audit here');
      },
      cloneUrl: () => `${GITLAB}/g/app.git`,
      downloadAsset: async () => {
        throw new Error('not used');
      },
    } as unknown as Forge;
    const plan = await planRun(config(), forge, { runId: 'r' });
    const unverified = plan.findings.filter((f) => f.code === 'UNVERIFIED_ASSET');
    expect(unverified.map((f) => f.artifact)).toEqual(['payload.bin']);
  });
});
