import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandPlaceholders, loadConfig, parseConfig, versionFromTag } from '../../../lambda/core/config/load';
import { ConfigError } from '../../../lambda/core/errors';

const DIGEST = 'a'.repeat(64);
const MINISIGN_PUB = 'RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3';

function valid(): any {
  return {
    version: 1,
    gitlab: { url: 'https://gitlab.example.com', project: 'group/app' },
    targets: [
      {
        name: 'linux-x64',
        image: `debian@sha256:${DIGEST}`,
        command: 'make dist',
        artifacts: [{ path: 'dist/app-{version}.tar.gz', asset: 'app-{version}.tar.gz', signature: { scheme: 'minisign', publicKey: MINISIGN_PUB } }],
      },
    ],
  };
}

function issuesOf(raw: unknown, baseDir?: string): { path: string; message: string }[] {
  try {
    parseConfig(raw, { baseDir });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('accepts a minimal valid file and fills documented defaults', () => {
    const c = parseConfig(valid());
    expect(c.release).toBe('latest');
    expect(c.schedule).toBe('cron(0 3 ? * MON *)');
    expect(c.gitlab.token.env).toBe('GITLAB_TOKEN');
    expect(c.targets[0]!.timeoutMinutes).toBe(60);
    expect(c.targets[0]!.artifacts[0]!.source).toEqual({ type: 'release-link' });
    expect(c.targets[0]!.artifacts[0]!.signature).toMatchObject({ scheme: 'minisign', signatureAsset: '{asset}.minisig', prehashedOnly: false });
    expect(c.targets[0]!.artifacts[0]!.signature).not.toHaveProperty('allowLegacy');
  });

  it('rejects an image pinned by tag, naming the field and the fix', () => {
    const raw = valid();
    raw.targets.push({ ...raw.targets[0], name: 'windows', image: 'rust:1.80' });
    const issues = issuesOf(raw);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('targets[1].image');
    expect(issues[0]!.message).toMatch(/must be pinned by digest, e\.g\. rust@sha256:/);
  });

  it.each([
    ['image with a short digest', (r: any) => (r.targets[0].image = 'debian@sha256:abc'), 'targets[0].image', /pinned by digest/],
    ['image with tag and no digest', (r: any) => (r.targets[0].image = 'debian:bookworm'), 'targets[0].image', /pinned by digest/],
    ['missing gitlab project', (r: any) => delete r.gitlab.project, 'gitlab.project', /.+/],
    ['bad gitlab url', (r: any) => (r.gitlab.url = 'not a url'), 'gitlab.url', /.+/],
    ['no targets', (r: any) => (r.targets = []), 'targets', /.+/],
    ['bad target name', (r: any) => (r.targets[0].name = 'Linux X64'), 'targets[0].name', /lower-case/],
    ['timeout below CodeBuild minimum', (r: any) => (r.targets[0].timeoutMinutes = 1), 'targets[0].timeoutMinutes', /.+/],
    [
      'artifact path escaping the output',
      (r: any) => (r.targets[0].artifacts[0].path = '../secret'),
      'targets[0].artifacts[0].path',
      /inside the build output/,
    ],
    ['absolute artifact path', (r: any) => (r.targets[0].artifacts[0].path = '/etc/passwd'), 'targets[0].artifacts[0].path', /relative path/],
    ['asset name with a slash', (r: any) => (r.targets[0].artifacts[0].asset = 'a/b'), 'targets[0].artifacts[0].asset', /bare file name/],
    ['missing signature policy', (r: any) => delete r.targets[0].artifacts[0].signature, 'targets[0].artifacts[0].signature', /.+/],
    [
      'unknown signature scheme',
      (r: any) => (r.targets[0].artifacts[0].signature = { scheme: 'md5' }),
      'targets[0].artifacts[0].signature.scheme',
      /unknown scheme: Expected 'minisign'/,
    ],
    [
      'openpgp fingerprint malformed',
      (r: any) => (r.targets[0].artifacts[0].signature = { scheme: 'openpgp', fingerprint: '0x5D1E7A9C4B3F2E10', publicKey: 'x' }),
      'targets[0].artifacts[0].signature.fingerprint',
      /40 \(v4\) or 64 \(v6\) hex/,
    ],
    [
      'authenticode fingerprint malformed',
      (r: any) => (r.targets[0].artifacts[0].signature = { scheme: 'authenticode', certSha256: ['abc'] }),
      'targets[0].artifacts[0].signature.certSha256[0]',
      /64 hex/,
    ],
    ['bad phone number', (r: any) => (r.alerts = { sms: ['0155 123'] }), 'alerts.sms[0]', /E\.164/],
    ['bad email', (r: any) => (r.alerts = { emails: ['nobody'] }), 'alerts.emails[0]', /.+/],
    ['bad schedule', (r: any) => (r.schedule = 'every monday'), 'schedule', /EventBridge expression/],
    ['wrong version', (r: any) => (r.version = 2), 'version', /.+/],
  ])('rejects %s', (_name, mutate, path, message) => {
    const raw = valid();
    mutate(raw);
    const issues = issuesOf(raw);
    expect(issues.map((i) => i.path)).toContain(path);
    expect(issues.find((i) => i.path === path)!.message).toMatch(message);
  });

  it('requires exactly one of a key and its file', () => {
    const raw = valid();
    raw.targets[0].artifacts[0].signature = { scheme: 'minisign' };
    expect(issuesOf(raw)[0]).toMatchObject({ path: 'targets[0].artifacts[0].signature.publicKey', message: expect.stringMatching(/publicKeyFile/) });
    raw.targets[0].artifacts[0].signature = { scheme: 'minisign', publicKey: MINISIGN_PUB, publicKeyFile: 'k.pub' };
    expect(issuesOf(raw, '/tmp')[0]!.message).toMatch(/not both/);
  });

  it('requires authenticode to pin a signer, and a subject with a CA', () => {
    const raw = valid();
    raw.targets[0].artifacts[0].signature = { scheme: 'authenticode' };
    expect(issuesOf(raw)[0]!.path).toBe('targets[0].artifacts[0].signature.certSha256');
    raw.targets[0].artifacts[0].signature = { scheme: 'authenticode', caCertificate: '-----BEGIN CERTIFICATE-----' };
    expect(issuesOf(raw)[0]!.path).toBe('targets[0].artifacts[0].signature.subject');
  });

  it('rejects duplicate target names and duplicate assets', () => {
    const raw = valid();
    raw.targets.push(structuredClone(raw.targets[0]));
    raw.targets[0].artifacts.push(structuredClone(raw.targets[0].artifacts[0]));
    const paths = issuesOf(raw).map((i) => i.path);
    expect(paths).toContain('targets[1].name');
    expect(paths).toContain('targets[0].artifacts[1].asset');
  });

  it('inlines key files relative to the config file and reports unreadable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'minisign.pub'), `untrusted comment: minisign public key\n${MINISIGN_PUB}\n`);
    const raw = valid();
    raw.targets[0].artifacts[0].signature = { scheme: 'minisign', publicKeyFile: 'minisign.pub' };
    writeFileSync(join(dir, 'c.json'), JSON.stringify(raw));
    const c = loadConfig(join(dir, 'c.json'));
    const sig = c.targets[0]!.artifacts[0]!.signature as { publicKey?: string; publicKeyFile?: string };
    expect(sig.publicKey).toContain(MINISIGN_PUB);
    expect(sig.publicKeyFile).toBeUndefined();

    raw.targets[0].artifacts[0].signature = { scheme: 'minisign', publicKeyFile: 'missing.pub' };
    writeFileSync(join(dir, 'c.json'), JSON.stringify(raw));
    expect(() => loadConfig(join(dir, 'c.json'))).toThrow(/signature\.publicKeyFile: cannot read/);
  });

  it('reads YAML and reports syntax errors as configuration errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'version: 1\ngitlab: [unclosed\n');
    expect(() => loadConfig(join(dir, 'c.yaml'))).toThrow(ConfigError);
    expect(() => loadConfig(join(dir, 'nope.yaml'))).toThrow(/cannot read configuration file/);
  });

  it('ships an example configuration that validates', () => {
    expect(() => loadConfig('examples/release-verifier.example.yaml')).not.toThrow();
  });

  it('expands placeholders and refuses unknown ones', () => {
    expect(versionFromTag('v0.4.0')).toBe('0.4.0');
    expect(versionFromTag('release-7')).toBe('release-7');
    expect(expandPlaceholders('app_{version}_{tag}', { tag: 'v1.2.0', version: '1.2.0' })).toBe('app_1.2.0_v1.2.0');
    expect(() => expandPlaceholders('app_{arch}', { tag: 'v1', version: '1' })).toThrow(/unknown placeholder \{arch\}/);
  });
});

describe('published JSON Schema', () => {
  it('is up to date with the zod schema (npm run schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const { configJsonSchema } = await import('../../../lambda/core/config/json-schema');
    expect(JSON.parse(readFileSync('schema/release-verifier.schema.json', 'utf8'))).toEqual(configJsonSchema());
  });
});
