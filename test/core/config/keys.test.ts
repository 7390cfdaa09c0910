/**
 * Key files are checked when the configuration is loaded (issue 9 item 8): keys made here by the
 * reference tools (gpg, minisign, openssl) pass; a fingerprint or key id that is not the key's, a
 * key that does not parse, a CA PEM that is not a certificate, a trusted root that is not one are
 * configuration errors naming the field — `verify` exits 3 before contacting any forge, and the CDK
 * app refuses to synthesize. `cdk synth/deploy` without a configuration does not fall back to the
 * example project.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployConfigFile } from '../../../lambda/core/config/deploy-config';
import { keyMaterialIssues } from '../../../lambda/core/config/key-material';
import { loadConfig, parseConfig } from '../../../lambda/core/config/load';
import { ConfigError } from '../../../lambda/core/errors';
import { makeSigstoreDeployment } from '../../formats/support/sigstore-fixture';
import { gpgGenKey, gpgHome, minisignKeygen, tauriEncode, type GpgHome } from '../../formats/support/signing-fixtures';
import { run, toolsAvailable } from '../../support/tools';

const ROOT = resolve(__dirname, '../../..');
const BIN = join(ROOT, 'bin/release-verifier.mjs');
const IMG = `debian@sha256:${'a'.repeat(64)}`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-cfg-keys-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configWith(...signatures: unknown[]) {
  return {
    version: 1,
    gitlab: { url: 'https://gitlab.invalid', project: 'g/app' },
    targets: [{ name: 'linux', image: IMG, command: 'make', artifacts: signatures.map((signature, i) => ({ path: `dist/a${i}`, asset: `a${i}`, signature })) }],
  };
}

const issuesOf = async (...signatures: unknown[]) => keyMaterialIssues(parseConfig(configWith(...signatures)));

function spawnCapture(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe.skipIf(!toolsAvailable('gpg', 'gpgconf'))('openpgp: the pinned fingerprint is the key file’s', () => {
  let h: GpgHome;
  let fpr: string;
  let otherFpr: string;
  let armored: string;
  beforeAll(() => {
    h = gpgHome(dir, 'gnupg');
    const key = gpgGenKey(h, 'Rel <rel@example.org>');
    otherFpr = gpgGenKey(h, 'Other <o@example.org>').fingerprint;
    fpr = key.fingerprint;
    armored = key.armoredPublic;
  });
  afterAll(() => h?.close());

  it('passes with gpg’s own fingerprint, names both fingerprints otherwise', async () => {
    expect(await issuesOf({ scheme: 'openpgp', fingerprint: fpr, publicKey: armored })).toEqual([]);
    expect(await issuesOf({ scheme: 'openpgp', fingerprint: fpr.toLowerCase(), publicKey: armored })).toEqual([]);
    const wrong = await issuesOf({ scheme: 'openpgp', fingerprint: otherFpr, publicKey: armored });
    expect(wrong).toEqual([
      { path: 'targets[0].artifacts[0].signature.fingerprint', message: `pins ${otherFpr}, but the public key's primary fingerprint is ${fpr}` },
    ]);
  });

  it('a keyring gpg exported passes when it holds the pinned key; one without it is named', async () => {
    const ring = h.gpg(['--armor', '--export', fpr, otherFpr]);
    // gpg itself lists both primary keys of the ring
    const listed = run('gpg', ['--batch', '--with-colons', '--show-keys'], { env: h.env, input: ring })
      .split('\n')
      .filter((l) => l.startsWith('fpr:'))
      .map((l) => l.split(':')[9]);
    expect(listed).toEqual(expect.arrayContaining([fpr, otherFpr]));
    expect(await issuesOf({ scheme: 'openpgp', fingerprint: fpr, publicKey: ring })).toEqual([]);
    expect(await issuesOf({ scheme: 'openpgp', fingerprint: otherFpr.toLowerCase(), publicKey: ring })).toEqual([]);
    const third = gpgGenKey(h, 'Third <t@example.org>').fingerprint;
    const missing = await issuesOf({ scheme: 'openpgp', fingerprint: third, publicKey: ring });
    expect(missing).toEqual([
      { path: 'targets[0].artifacts[0].signature.fingerprint', message: expect.stringContaining(`pins ${third}, but none of the 2 keys of the keyring`) },
    ]);
  });

  it('a manifest signature key is checked too, and an unreadable key is named', async () => {
    const manifest = { scheme: 'sha256sums', manifestSignature: { scheme: 'openpgp', fingerprint: otherFpr, publicKey: armored } };
    expect((await issuesOf(manifest))[0]!.path).toBe('targets[0].artifacts[0].signature.manifestSignature.fingerprint');
    const garbage = await issuesOf({
      scheme: 'openpgp',
      fingerprint: fpr,
      publicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n',
    });
    expect(garbage[0]).toMatchObject({
      path: 'targets[0].artifacts[0].signature.publicKey',
      message: expect.stringMatching(/^is not a usable OpenPGP public key/),
    });
  });

  it('verify exits 3 on a fingerprint that is not the key’s, before contacting the forge', async () => {
    writeFileSync(join(dir, 'key.asc'), armored);
    const cfg = join(dir, 'wrong-fpr.json');
    writeFileSync(cfg, JSON.stringify(configWith({ scheme: 'openpgp', fingerprint: otherFpr, publicKeyFile: 'key.asc' })));
    // gitlab.invalid cannot resolve: had verify gone on, it would end INCOMPLETE (2), not 3
    const r = await spawnCapture(process.execPath, [BIN, 'verify', '--config', cfg, '--store', dir, '--quiet'], { ...process.env, GITLAB_TOKEN: '' });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`targets[0].artifacts[0].signature.fingerprint: pins ${otherFpr}, but the public key's primary fingerprint is ${fpr}`);
  }, 60_000);
});

describe.skipIf(!toolsAvailable('minisign'))('minisign and tauri keys', () => {
  it('a key minisign made passes; a pinned key id must be the one minisign shows', async () => {
    const key = minisignKeygen(dir, 'mini');
    const shownId = /minisign public key ([0-9A-F]+)/.exec(key.pubText)![1]!; // minisign's own display
    expect(await issuesOf({ scheme: 'minisign', publicKey: key.pubText, keyId: shownId })).toEqual([]);
    expect(await issuesOf({ scheme: 'tauri', publicKey: tauriEncode(key.pubText), keyId: shownId })).toEqual([]);
    const other = minisignKeygen(dir, 'other');
    const otherId = /minisign public key ([0-9A-F]+)/.exec(other.pubText)![1]!;
    const wrong = await issuesOf({ scheme: 'minisign', publicKey: key.pubText, keyId: otherId });
    expect(wrong).toEqual([
      { path: 'targets[0].artifacts[0].signature.keyId', message: expect.stringContaining(`pins key id ${otherId}, but the public key has key id`) },
    ]);
  });

  it('a key that does not parse is a configuration error naming the field', async () => {
    const bad = await issuesOf({ scheme: 'minisign', publicKey: 'RWQnotbase64!!' }, { scheme: 'tauri', publicKey: 'bm90IGEga2V5' });
    expect(bad.map((i) => i.path)).toEqual(['targets[0].artifacts[0].signature.publicKey', 'targets[0].artifacts[1].signature.publicKey']);
    expect(bad[0]!.message).toMatch(/^is not a usable minisign public key/);
  });
});

describe.skipIf(!toolsAvailable('openssl'))('authenticode CA PEMs', () => {
  it('a CA openssl made parses; a PEM without a certificate or with garbage inside does not', async () => {
    run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=Test CA',
      '-days',
      '2',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
    ]);
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    expect(await issuesOf({ scheme: 'authenticode', caCertificate: ca, subject: 'CN=Signer' })).toEqual([]);
    const broken = await issuesOf(
      { scheme: 'authenticode', caCertificate: 'just text', subject: 'CN=Signer' },
      { scheme: 'authenticode', certSha256: ['c'.repeat(64)], tsaCertificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
    );
    expect(broken.map((i) => i.path)).toEqual(['targets[0].artifacts[0].signature.caCertificate', 'targets[0].artifacts[1].signature.tsaCertificate']);
    expect(broken[0]!.message).toMatch(/^is not a PEM certificate/);
  });
});

describe('sigstore trusted root', () => {
  it('a trusted root of a (test) deployment parses; other JSON does not', async () => {
    const { trustedRootJson } = await makeSigstoreDeployment();
    const sig = (trustedRoot: string) => ({ scheme: 'sigstore', issuer: 'https://issuer.example', san: 'me@example.org', trustedRoot });
    expect(await issuesOf(sig(trustedRootJson))).toEqual([]);
    const bad = await issuesOf(sig('{"mediaType":"application/json"}'));
    expect(bad[0]).toMatchObject({
      path: 'targets[0].artifacts[0].signature.trustedRoot',
      message: expect.stringMatching(/^is not a usable sigstore trusted root/),
    });
  });

  it('a key-based bundle’s pinned key must be a PEM public key', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const { trustedRootJson } = await makeSigstoreDeployment();
    const keyed = (publicKey: string) => ({ scheme: 'sigstore', publicKey, trustedRoot: trustedRootJson });
    expect(await issuesOf(keyed(pem))).toEqual([]);
    const bad = await issuesOf(keyed('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'), keyed('not pem'));
    expect(bad.map((i) => i.path)).toEqual(['targets[0].artifacts[0].signature.publicKey', 'targets[0].artifacts[1].signature.publicKey']);
    expect(bad[0]!.message).toMatch(/^is not a usable PEM public key/);
  });

  it('the shipped example configuration’s keys are usable', async () => {
    expect(await keyMaterialIssues(loadConfig(join(ROOT, 'examples/release-verifier.example.yaml')))).toEqual([]);
  });
});

describe('cdk synth / deploy without a configuration', () => {
  it('names no default: the context or RELEASE_VERIFIER_CONFIG must give one', () => {
    expect(deployConfigFile('my.yaml', {})).toBe('my.yaml');
    expect(deployConfigFile(undefined, { RELEASE_VERIFIER_CONFIG: 'env.yaml' })).toBe('env.yaml');
    expect(deployConfigFile('ctx.yaml', { RELEASE_VERIFIER_CONFIG: 'env.yaml' })).toBe('ctx.yaml');
    for (const [ctx, env] of [
      [undefined, {}],
      ['', { RELEASE_VERIFIER_CONFIG: '' }],
      ['  ', { RELEASE_VERIFIER_CONFIG: ' ' }],
    ] as const) {
      expect(() => deployConfigFile(ctx, env)).toThrow(ConfigError);
      expect(() => deployConfigFile(ctx, env)).toThrow(/-c config=path\/to\/release-verifier\.yaml/);
    }
  });

  it('the CDK app exits 3 without one, and on a key that does not match its pin', async () => {
    const env = { ...process.env, RELEASE_VERIFIER_CONFIG: '', CDK_CONTEXT_JSON: undefined, CDK_DISABLE_VERSION_CHECK: '1' };
    const none = await spawnCapture(process.execPath, ['--import', 'tsx', join(ROOT, 'bin/app.ts')], env);
    expect(none.code, none.stderr).toBe(3);
    expect(none.stderr).toContain('no configuration given');

    // a minisign key whose pinned key id is not its own (a literal key: this case needs no tool)
    const cfg = join(dir, 'bad-keyid.json');
    writeFileSync(
      cfg,
      JSON.stringify(configWith({ scheme: 'minisign', publicKey: 'RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3', keyId: '0123456789ABCDEF' })),
    );
    const bad = await spawnCapture(process.execPath, ['--import', 'tsx', join(ROOT, 'bin/app.ts')], { ...env, RELEASE_VERIFIER_CONFIG: cfg });
    expect(bad.code, bad.stderr).toBe(3);
    expect(bad.stderr).toContain('targets[0].artifacts[0].signature.keyId: pins key id 0123456789ABCDEF');
  }, 120_000);
});
