/**
 * OpenPGP as it exists in the wild (issue 12), on files made here by gpg and checked against gpg's
 * own verdict: text-mode signatures over a SHA256SUMS manifest, cleartext-signed manifests
 * (`gpg --clearsign`) read from their signed text only, keyrings holding several keys (selected by
 * the pinned fingerprint), and refused algorithms named in the reason (where gpg still says GOODSIG,
 * the test says so).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTarget } from '../../lambda/core/check-target';
import { parseConfig } from '../../lambda/core/config/load';
import { SignaturePolicySchema } from '../../lambda/core/config/schema';
import { ForgeError } from '../../lambda/core/errors';
import { planTargets, type RunPlan } from '../../lambda/core/run/plan';
import type { BuildResult, Forge } from '../../lambda/core/ports';
import { formatOps } from '../../lambda/formats/ops';
import { readCleartextSignedText, verifyOpenpgp } from '../../lambda/formats/openpgp';
import { checkManifestFile } from '../../lambda/formats/sha256sums';
import type { SignatureInput } from '../../lambda/formats/types';
import { toolsAvailable } from '../support/tools';
import { checkSignatureCli } from './support/authenticode-fixtures';
import * as S from './support/signing-fixtures';

type OpenpgpPolicy = Extract<SignatureInput['policy'], { scheme: 'openpgp' }> & { cleartext?: boolean };

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!toolsAvailable('gpg', 'gpgconf'))('OpenPGP in the wild (gpg fixtures)', () => {
  let dir: string;
  let h: S.GpgHome;
  let alice: S.GpgKey;
  let bob: S.GpgKey;
  let stranger: S.GpgKey;
  let ring: Buffer; // alice + bob, armored
  let binaryRing: Buffer;
  let asset: Buffer;
  let manifestText: string;
  let manifest: string;
  const write = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  /** The manifest role's openpgp policy as the config schema makes it (allowTextMode defaults to true there). */
  const manifestPolicy = (fingerprint: string, extra: Record<string, unknown> = {}, publicKey: string | Buffer = ring): OpenpgpPolicy => {
    const parsed = SignaturePolicySchema.parse({
      scheme: 'sha256sums',
      manifestSignature: { scheme: 'openpgp', fingerprint, publicKey: publicKey.toString(), ...extra },
    });
    if (parsed.scheme !== 'sha256sums') throw new Error('unreachable');
    return parsed.manifestSignature as OpenpgpPolicy;
  };
  const assetPolicy = (fingerprint: string, extra: Record<string, unknown> = {}, publicKey: string | Buffer = ring): OpenpgpPolicy =>
    SignaturePolicySchema.parse({ scheme: 'openpgp', fingerprint, publicKey: publicKey.toString(), ...extra }) as OpenpgpPolicy;
  const verify = (assetPath: string, policy: OpenpgpPolicy, signaturePath?: string) => verifyOpenpgp({ assetPath, signaturePath, policy });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-openpgp-wild-'));
    h = S.gpgHome(dir, 'signer');
    alice = S.gpgGenKey(h, 'Alice Release <alice@example.org>', { signingSubkey: true });
    bob = S.gpgGenKey(h, 'Bob Release <bob@example.org>');
    stranger = S.gpgGenKey(h, 'Stranger <stranger@example.org>');
    ring = S.gpgExportKeyring(h, [alice.fingerprint, bob.fingerprint]);
    binaryRing = S.gpgExportKeyring(h, [alice.fingerprint, bob.fingerprint], false);
    asset = Buffer.from('pretend this is app-1.2.3.tar.gz\n');
    write('app-1.2.3.tar.gz', asset);
    manifestText = `${sha256(asset)}  app-1.2.3.tar.gz\n${sha256('other')} *other-1.2.3.zip\n`;
    manifest = write('SHA256SUMS', manifestText);
  });
  afterAll(() => {
    h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('keyrings', () => {
    it('selects the pinned key from an armored keyring; a signature by another key of the ring is not pinned', async () => {
      const byAlice = S.gpgSign(h, manifest, join(dir, 'ring-alice.sig'), { signer: alice.subkeyFingerprint });
      const byBob = S.gpgSign(h, manifest, join(dir, 'ring-bob.sig'), { signer: bob.fingerprint });
      // gpg, with the whole ring, finds a good signature by each — the pin is ours to enforce
      expect(S.gpgValidSigner(dir, ring, byAlice, manifest)).toBe(alice.fingerprint);
      expect(S.gpgValidSigner(dir, ring, byBob, manifest)).toBe(bob.fingerprint);
      expect(await verify(manifest, assetPolicy(alice.fingerprint), byAlice)).toMatchObject({ valid: true, signer: alice.fingerprint });
      expect(await verify(manifest, assetPolicy(bob.fingerprint), byBob)).toMatchObject({ valid: true, signer: bob.fingerprint });
      const crossed = await verify(manifest, assetPolicy(alice.fingerprint), byBob);
      expect(crossed).toMatchObject({ valid: false, unpinnedSigner: true });
      expect(crossed.reason).toMatch(/not by the pinned key/);
    });

    it('reads a binary keyring (gpg --export without --armor)', async () => {
      const { readOpenpgpKeys, selectPinnedKey, primaryFingerprint } = await import('../../lambda/formats/openpgp');
      const keys = await readOpenpgpKeys(binaryRing);
      expect(keys.map(primaryFingerprint).sort()).toEqual([alice.fingerprint, bob.fingerprint].sort());
      expect(primaryFingerprint(selectPinnedKey(keys, bob.fingerprint.toLowerCase())!)).toBe(bob.fingerprint);
      // as configuration text, key material must be armored (binary bytes do not survive as text)
      await expect(readOpenpgpKeys(binaryRing.toString('latin1'))).rejects.toThrow(/not an armored key block/);
    });

    it('a pin that no key of the ring has is SIGNER_NOT_PINNED, naming the keys it holds', async () => {
      const sig = S.gpgSign(h, manifest, join(dir, 'ring-stranger.sig'), { signer: stranger.fingerprint });
      const r = await verify(manifest, assetPolicy(stranger.fingerprint), sig);
      expect(r).toMatchObject({ valid: false, unpinnedSigner: true });
      expect(r.reason).toContain(alice.fingerprint);
      expect(r.reason).toContain(bob.fingerprint);
      expect(S.gpgValidSigner(dir, ring, sig, manifest)).toBeNull(); // gpg: no key for it in the ring either
    });
  });

  describe('text-mode (0x01) signatures', () => {
    let textSig: string;
    beforeAll(() => {
      textSig = S.gpgSign(h, manifest, join(dir, 'SHA256SUMS.tsig'), { signer: alice.subkeyFingerprint, textmode: true });
    });

    it('accepts a text-mode signature over the manifest (manifest role), as gpg does, with LF or CRLF line endings', async () => {
      expect(S.gpgValidSigner(dir, ring, textSig, manifest)).toBe(alice.fingerprint);
      const r = await verify(manifest, manifestPolicy(alice.fingerprint), textSig);
      expect(r).toMatchObject({ valid: true, signer: alice.fingerprint });
      expect(r.details?.signatureType).toBe('text');
      expect(r.reason).toMatch(/text-mode signature/);
      const crlf = write('SHA256SUMS.crlf', manifestText.replace(/\n/g, '\r\n'));
      expect(S.gpgValidSigner(dir, ring, textSig, crlf)).toBe(alice.fingerprint);
      expect((await verify(crlf, manifestPolicy(alice.fingerprint), textSig)).valid).toBe(true);
      // and the manifest parser reads the CRLF form the same
      expect(await checkManifestFile(crlf, 'app-1.2.3.tar.gz', sha256(asset))).toMatchObject({ status: 'ok' });
    });

    it('rejects a text-mode signature over an edited manifest (gpg agrees)', async () => {
      const edited = write(
        'SHA256SUMS.edited',
        manifestText.replace(/^./, (c) => (c === '0' ? '1' : '0')),
      );
      expect(S.gpgValidSigner(dir, ring, textSig, edited)).toBeNull();
      expect((await verify(edited, manifestPolicy(alice.fingerprint), textSig)).valid).toBe(false);
    });

    it('rejects a text-mode signature over a binary asset unless the policy names it a text asset (deliberately stricter than gpg)', async () => {
      const sig = S.gpgSign(h, join(dir, 'app-1.2.3.tar.gz'), join(dir, 'app.tsig'), { signer: alice.subkeyFingerprint, textmode: true });
      expect(S.gpgValidSigner(dir, ring, sig, join(dir, 'app-1.2.3.tar.gz'))).toBe(alice.fingerprint);
      const r = await verify(join(dir, 'app-1.2.3.tar.gz'), assetPolicy(alice.fingerprint), sig);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/text-mode \(0x01\) signature: only binary-document signatures .*allowTextMode/);
      expect((await verify(join(dir, 'app-1.2.3.tar.gz'), assetPolicy(alice.fingerprint, { allowTextMode: true }), sig)).valid).toBe(true);
      // a manifest policy may opt out
      expect((await verify(manifest, manifestPolicy(alice.fingerprint, { allowTextMode: false }), textSig)).valid).toBe(false);
    });

    it('binary signatures keep signing the bytes: a CRLF copy of the manifest fails (gpg agrees)', async () => {
      const bin = S.gpgSign(h, manifest, join(dir, 'SHA256SUMS.bsig'), { signer: alice.subkeyFingerprint });
      expect((await verify(manifest, manifestPolicy(alice.fingerprint), bin)).valid).toBe(true);
      const crlf = write('SHA256SUMS.crlf2', manifestText.replace(/\n/g, '\r\n'));
      expect(S.gpgValidSigner(dir, ring, bin, crlf)).toBeNull();
      expect((await verify(crlf, manifestPolicy(alice.fingerprint), bin)).valid).toBe(false);
    });
  });

  describe('cleartext-signed manifests', () => {
    let signed: string;
    beforeAll(() => {
      signed = S.gpgClearsign(h, manifest, join(dir, 'SHA256SUMS.asc'), { signer: alice.subkeyFingerprint });
    });

    it('verifies a gpg --clearsign manifest and reads the manifest from its signed text (gpg agrees)', async () => {
      expect(readFileSync(signed, 'utf8')).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
      expect(S.gpgValidSigner(dir, ring, signed)).toBe(alice.fingerprint);
      const r = await verify(signed, manifestPolicy(alice.fingerprint, { cleartext: true }));
      expect(r).toMatchObject({ valid: true, signer: alice.fingerprint });
      expect(r.reason).toMatch(/^cleartext-signed/);
      expect(await checkManifestFile(signed, 'app-1.2.3.tar.gz', sha256(asset))).toMatchObject({ status: 'ok' });
      expect(await checkManifestFile(signed, 'app-1.2.3.tar.gz', sha256('tampered'))).toMatchObject({ status: 'mismatch' });
      // the signed text is what gpg says was signed
      expect((await readCleartextSignedText(readFileSync(signed))).trimEnd()).toBe(S.gpgSignedText(dir, ring, signed).trimEnd());
    });

    it('ignores and never trusts anything outside the signed block', async () => {
      const evil = `${sha256('evil')}  evil.exe\n`;
      const wrapped = write('SHA256SUMS.wrapped.asc', `${evil}${readFileSync(signed, 'utf8')}${evil}`);
      expect(S.gpgValidSigner(dir, ring, wrapped)).toBe(alice.fingerprint); // gpg ignores it too
      expect((await verify(wrapped, manifestPolicy(alice.fingerprint, { cleartext: true }))).valid).toBe(true);
      expect(await checkManifestFile(wrapped, 'evil.exe', sha256('evil'))).toMatchObject({ status: 'missing' });
      expect(await checkManifestFile(wrapped, 'app-1.2.3.tar.gz', sha256(asset))).toMatchObject({ status: 'ok' });
    });

    it('rejects an edited signed text (gpg agrees) and a file with two signed blocks', async () => {
      const text = readFileSync(signed, 'utf8');
      const edited = write('SHA256SUMS.edited.asc', text.replace('app-1.2.3.tar.gz', 'app-1.2.4.tar.gz'));
      expect(S.gpgValidSigner(dir, ring, edited)).toBeNull();
      const r = await verify(edited, manifestPolicy(alice.fingerprint, { cleartext: true }));
      expect(r.valid).toBe(false);
      const twice = write('SHA256SUMS.twice.asc', `${text}\n${text}`);
      const t = await verify(twice, manifestPolicy(alice.fingerprint, { cleartext: true }));
      expect(t.valid).toBe(false);
      expect(t.reason).toMatch(/2 cleartext-signed blocks/);
      expect(await checkManifestFile(twice, 'app-1.2.3.tar.gz', sha256(asset))).toMatchObject({ status: 'malformed' });
    });

    it('undoes dash-escaping as gpg does', async () => {
      const withDashes = write('notes.txt', '- a line gpg escapes\n-----BEGIN PGP SIGNATURE-----\nplain\n');
      const s = S.gpgClearsign(h, withDashes, join(dir, 'notes.txt.asc'), { signer: alice.subkeyFingerprint });
      expect(readFileSync(s, 'utf8')).toContain('- -----BEGIN PGP SIGNATURE-----');
      expect((await verify(s, manifestPolicy(alice.fingerprint, { cleartext: true }))).valid).toBe(true);
      expect((await readCleartextSignedText(readFileSync(s))).trimEnd()).toBe(S.gpgSignedText(dir, ring, s).trimEnd());
    });

    it('a cleartext manifest signed by another key of the ring is not pinned', async () => {
      const s = S.gpgClearsign(h, manifest, join(dir, 'SHA256SUMS.bob.asc'), { signer: bob.fingerprint });
      expect(S.gpgValidSigner(dir, ring, s)).toBe(bob.fingerprint);
      expect(await verify(s, manifestPolicy(alice.fingerprint, { cleartext: true }))).toMatchObject({ valid: false, unpinnedSigner: true });
    });

    it('cleartext is a manifest-only option: the asset policy refuses the key', () => {
      expect(SignaturePolicySchema.safeParse({ scheme: 'openpgp', fingerprint: alice.fingerprint, publicKey: ring.toString(), cleartext: true }).success).toBe(
        false,
      );
    });
  });

  describe('the sha256sums scheme with a cleartext-signed manifest (checkTarget, real format operations)', () => {
    const COMMIT = 'c'.repeat(40);
    const run = async (files: Record<string, Buffer | string>, fingerprint = alice.fingerprint) => {
      const cfg = parseConfig({
        version: 1,
        gitlab: { url: 'https://gitlab.example.com', project: 'g/app' },
        targets: [
          {
            name: 'linux',
            image: `debian@sha256:${'a'.repeat(64)}`,
            command: 'make',
            artifacts: [
              {
                path: 'out/app-{version}.tar.gz',
                asset: 'app-{version}.tar.gz',
                signature: {
                  scheme: 'sha256sums',
                  manifestAsset: 'SHA256SUMS.asc',
                  manifestSignature: { scheme: 'openpgp', fingerprint, publicKey: ring.toString(), cleartext: true },
                },
              },
            ],
          },
        ],
      });
      const release = { tag: 'v1.2.3', name: 'v1.2.3', commitSha: COMMIT, tagCommitSha: COMMIT, links: [] };
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
      const forge = {
        async downloadAsset(req: { name: string }, dest: string) {
          requested.push(req.name);
          const f = files[req.name];
          if (f === undefined) throw new ForgeError('not-found', `no asset named ${req.name}`);
          writeFileSync(dest, f);
          return { path: dest, sha256: sha256(Buffer.from(f)), size: Buffer.from(f).length, url: `https://gitlab.example.com/${req.name}` };
        },
      } as unknown as Forge;
      const build = {
        target: 'linux',
        buildId: 'b1',
        status: 'SUCCEEDED',
        image: { ref: `debian@sha256:${'a'.repeat(64)}`, enforced: true },
        checkedOutSha: COMMIT,
        artifacts: {
          async fetch(_rel: string, dest: string) {
            writeFileSync(dest, asset);
            return { path: dest, sha256: sha256(asset), size: asset.length };
          },
        },
      } as unknown as BuildResult;
      const report = await checkTarget(plan, 'linux', build, {
        forge,
        workDir: mkdtempSync(join(dir, 'ct-')),
        limits: { maxBytes: 1 << 20, timeoutMs: 10_000 },
        formats: formatOps,
      });
      return { report, requested, codes: report.artifacts.flatMap((a) => a.findings.map((f) => f.code)) };
    };

    it('VERIFIED from the signed text; no companion signature is fetched; an asset listed only outside the block is not trusted', async () => {
      const signed = readFileSync(S.gpgClearsign(h, manifest, join(dir, 'e2e.asc'), { signer: alice.subkeyFingerprint }));
      const ok = await run({ 'app-1.2.3.tar.gz': asset, 'SHA256SUMS.asc': signed });
      expect(ok.report.verdict).toBe('VERIFIED');
      expect(ok.report.artifacts[0]!.signature).toMatchObject({ scheme: 'sha256sums+openpgp', valid: true, signer: alice.fingerprint });
      expect(ok.requested.sort()).toEqual(['SHA256SUMS.asc', 'app-1.2.3.tar.gz']);
      // the published asset swapped, its new digest listed only OUTSIDE the signed block
      const evil = Buffer.from('evil build\n');
      const wrapped = Buffer.concat([Buffer.from(`${sha256(evil)}  app-1.2.3.tar.gz\n`), signed]);
      const bad = await run({ 'app-1.2.3.tar.gz': evil, 'SHA256SUMS.asc': wrapped });
      expect(bad.report.verdict).toBe('TAMPERED');
      expect(bad.codes).toContain('MANIFEST_DIGEST_MISMATCH');
      // signed by the other key of the ring
      const byBob = readFileSync(S.gpgClearsign(h, manifest, join(dir, 'e2e-bob.asc'), { signer: bob.fingerprint }));
      const unpinned = await run({ 'app-1.2.3.tar.gz': asset, 'SHA256SUMS.asc': byBob });
      expect(unpinned.report.verdict).toBe('TAMPERED');
      expect(unpinned.codes).toContain('SIGNER_NOT_PINNED');
    });
  });

  describe('check-signature --scheme openpgp', () => {
    it('--cleartext verifies a cleartext-signed file; --text accepts a text-mode signature; a keyring needs --fingerprint', async () => {
      const ringFile = write('ring.asc', ring);
      const signed = S.gpgClearsign(h, manifest, join(dir, 'cli.asc'), { signer: alice.subkeyFingerprint });
      const clear = await checkSignatureCli([
        '--scheme',
        'openpgp',
        '--file',
        signed,
        '--key',
        ringFile,
        '--fingerprint',
        alice.fingerprint,
        '--cleartext',
        '--json',
      ]);
      expect(clear.code).toBe(0);
      expect(JSON.parse(clear.stdout)).toMatchObject({ valid: true, signer: alice.fingerprint });
      // the other key of the ring pinned: not pinned (exit 1)
      const other = await checkSignatureCli([
        '--scheme',
        'openpgp',
        '--file',
        signed,
        '--key',
        ringFile,
        '--fingerprint',
        bob.fingerprint,
        '--cleartext',
        '--json',
      ]);
      expect(other.code).toBe(1);
      const noPin = await checkSignatureCli(['--scheme', 'openpgp', '--file', signed, '--key', ringFile, '--cleartext']);
      expect(noPin.code).toBeGreaterThanOrEqual(2);
      expect(noPin.stderr).toMatch(/holds 2 keys .*--fingerprint/);
      const textSig = S.gpgSign(h, manifest, join(dir, 'cli.tsig'), { signer: alice.subkeyFingerprint, textmode: true });
      const base = ['--scheme', 'openpgp', '--file', manifest, '--signature', textSig, '--key', ringFile, '--fingerprint', alice.fingerprint, '--json'];
      expect((await checkSignatureCli(base)).code).toBe(1);
      expect((await checkSignatureCli([...base, '--text'])).code).toBe(0);
    });
  });

  describe('refused algorithms are named (openpgp.js v6 defaults)', () => {
    it('a SHA-1 message hash: "refused hash algorithm SHA-1" (gpg still says GOODSIG)', async () => {
      const sig = S.gpgSignDigest(h, manifest, join(dir, 'sha1.sig'), bob.fingerprint, 'SHA1');
      expect(S.gpgValidSigner(dir, ring, sig, manifest)).toBe(bob.fingerprint);
      const r = await verify(manifest, assetPolicy(bob.fingerprint), sig);
      expect(r.valid).toBe(false);
      expect(r.reason).toBe('refused hash algorithm SHA-1: the signature uses an insecure message digest');
      const c = S.gpgClearsign(h, manifest, join(dir, 'sha1.asc'), { signer: bob.fingerprint, digestAlgo: 'SHA1' });
      expect((await verify(c, manifestPolicy(bob.fingerprint, { cleartext: true }))).reason).toMatch(/^refused hash algorithm SHA-1/);
    });

    it('an RSA-1024 key: "refused RSA key of 1024 bits" (gpg still says GOODSIG)', async () => {
      const weak = S.gpgGenKeyAlgo(h, 'Weak RSA <weak@example.org>', 'rsa1024');
      const sig = S.gpgSign(h, manifest, join(dir, 'rsa1024.sig'), { signer: weak.fingerprint });
      expect(S.gpgValidSigner(dir, weak.armoredPublic, sig, manifest)).toBe(weak.fingerprint);
      const r = await verify(manifest, assetPolicy(weak.fingerprint, {}, weak.armoredPublic), sig);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/^refused RSA key of 1024 bits \(primary key\)/);
    });

    it('a DSA key: "refused public-key algorithm DSA" (gpg still says GOODSIG)', async () => {
      const dsa = S.gpgGenKeyAlgo(h, 'Old DSA <dsa@example.org>', 'dsa2048');
      const sig = S.gpgSign(h, manifest, join(dir, 'dsa.sig'), { signer: dsa.fingerprint });
      expect(S.gpgValidSigner(dir, dsa.armoredPublic, sig, manifest)).toBe(dsa.fingerprint);
      const r = await verify(manifest, assetPolicy(dsa.fingerprint, {}, dsa.armoredPublic), sig);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/^refused public-key algorithm DSA/);
    });
  });
});
