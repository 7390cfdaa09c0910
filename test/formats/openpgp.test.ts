import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../lambda/core/errors';
import { verifyOpenpgp } from '../../lambda/formats/openpgp';
import { verifySignature } from '../../lambda/formats/signature';
import { toolsAvailable } from '../support/tools';
import { gpgGenKey, gpgHome, gpgSign, gpgVerdict, type GpgHome, type GpgKey } from './support/signing-fixtures';

const UID = 'Release Signer <release@example.org>';

describe.skipIf(!toolsAvailable('gpg', 'gpgconf'))('OpenPGP detached signatures', () => {
  let dir: string;
  let homes: GpgHome[];
  let alice: GpgKey; // primary (certify) + signing subkey
  let carol: GpgKey; // primary key signs itself
  let impostor: GpgKey; // another key, same user id
  let expiring: GpgKey; // key whose validity ends between two signatures
  let file: string;
  const sigs: Record<string, string> = {};

  const write = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const verify = (key: GpgKey, signaturePath: string, assetPath = file, fingerprint = key.fingerprint) =>
    verifyOpenpgp({ assetPath, signaturePath, policy: { scheme: 'openpgp', fingerprint, publicKey: key.armoredPublic, signatureAsset: '{asset}.asc' } });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-openpgp-'));
    const h1 = gpgHome(dir, 'alice');
    const h2 = gpgHome(dir, 'impostor');
    const h3 = gpgHome(dir, 'expiring');
    homes = [h1, h2, h3];
    file = write('release-1.2.3.tar.gz', randomBytes(3 * 1024 * 1024 + 5)); // several stream chunks
    alice = gpgGenKey(h1, UID, { signingSubkey: true });
    carol = gpgGenKey(h1, 'Carol <carol@example.org>');
    impostor = gpgGenKey(h2, UID, { signingSubkey: true });
    sigs.binary = gpgSign(h1, file, join(dir, 'subkey.sig'), { signer: alice.subkeyFingerprint });
    sigs.armored = gpgSign(h1, file, join(dir, 'subkey.asc'), { signer: alice.subkeyFingerprint, armor: true });
    sigs.primary = gpgSign(h1, file, join(dir, 'primary.sig'), { signer: carol.fingerprint });
    sigs.text = gpgSign(h1, file, join(dir, 'text.asc'), { signer: alice.subkeyFingerprint, armor: true, textmode: true });
    sigs.impostor = gpgSign(h2, file, join(dir, 'impostor.asc'), { armor: true });

    // Expiry: key made 2024-01-01 without expiry; one signature on 01-02, one on 01-11; then (at 01-02)
    // the key's expiry is set to 01-04. The first was made while valid, the second after expiry.
    expiring = gpgGenKey(h3, 'Expiring <exp@example.org>', { signingSubkey: true, fakedTime: '20240101T000000' });
    sigs.beforeExpiry = gpgSign(h3, file, join(dir, 'before.sig'), { fakedTime: '20240102T000000' });
    sigs.afterExpiry = gpgSign(h3, file, join(dir, 'after.sig'), { fakedTime: '20240111T000000' });
    h3.gpg(['--quick-set-expire', expiring.fingerprint, '2d'], '20240102T000000');
    h3.gpg(['--quick-set-expire', expiring.fingerprint, '2d', '*'], '20240102T000000');
    expiring = { ...expiring, armoredPublic: h3.gpg(['--armor', '--export', expiring.fingerprint]) };
  });
  afterAll(() => {
    for (const h of homes ?? []) h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a binary subkey signature, pinned by the primary fingerprint (gpg agrees)', async () => {
    expect(gpgVerdict(dir, alice.armoredPublic, file, sigs.binary!)).toBe(true);
    const r = await verify(alice, sigs.binary!);
    expect(r).toMatchObject({ valid: true, scheme: 'openpgp', signer: alice.fingerprint.toUpperCase() });
    expect(r.reason).toMatch(/subkey/);
  });

  it('accepts the armored form of the same signature', async () => {
    expect(gpgVerdict(dir, alice.armoredPublic, file, sigs.armored!)).toBe(true);
    expect((await verify(alice, sigs.armored!)).valid).toBe(true);
  });

  it('accepts a signature by the primary key itself', async () => {
    expect(gpgVerdict(dir, carol.armoredPublic, file, sigs.primary!)).toBe(true);
    expect(await verify(carol, sigs.primary!)).toMatchObject({ valid: true, signer: carol.fingerprint });
  });

  it('accepts a lower-case pinned fingerprint', async () => {
    expect((await verify(alice, sigs.binary!, file, alice.fingerprint.toLowerCase())).valid).toBe(true);
  });

  it('rejects a flipped byte in the file', async () => {
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0x01;
    const tampered = write('tampered.tar.gz', bytes);
    expect(gpgVerdict(dir, alice.armoredPublic, tampered, sigs.binary!)).toBe(false);
    const r = await verify(alice, sigs.binary!, tampered);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/does not verify/);
  });

  it('rejects a signature by another key with the same user id', async () => {
    expect(gpgVerdict(dir, alice.armoredPublic, file, sigs.impostor!)).toBe(false);
    const r = await verify(alice, sigs.impostor!);
    expect(r.valid).toBe(false);
    expect(r.unpinnedSigner).toBe(true);
  });

  it('rejects when the configured key is not the pinned fingerprint, or the pin is a subkey fingerprint', async () => {
    const wrongKey = await verify(impostor, sigs.impostor!, file, alice.fingerprint);
    expect(wrongKey).toMatchObject({ valid: false, unpinnedSigner: true });
    const subkeyPin = await verify(alice, sigs.binary!, file, alice.subkeyFingerprint!);
    expect(subkeyPin).toMatchObject({ valid: false, unpinnedSigner: true });
  });

  it('rejects truncated signatures', async () => {
    const full = readFileSync(sigs.binary!);
    for (const len of [0, 1, full.length >> 1, full.length - 1]) {
      const cut = write(`cut${len}.sig`, full.subarray(0, len));
      expect(gpgVerdict(dir, alice.armoredPublic, file, cut)).toBe(false);
      expect((await verify(alice, cut)).valid).toBe(false);
    }
  });

  it('rejects a text-mode (0x01) signature although gpg accepts it: only binary-document signatures', async () => {
    expect(gpgVerdict(dir, alice.armoredPublic, file, sigs.text!)).toBe(true);
    const r = await verify(alice, sigs.text!);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/text-mode/);
  });

  it('judges key expiry at the signature time: valid before, invalid after (gpg at that time agrees)', async () => {
    expect(gpgVerdict(dir, expiring.armoredPublic, file, sigs.beforeExpiry!, '20240102T000000')).toBe(true);
    expect(gpgVerdict(dir, expiring.armoredPublic, file, sigs.afterExpiry!, '20240111T000000')).toBe(false);
    expect((await verify(expiring, sigs.beforeExpiry!)).valid).toBe(true);
    const after = await verify(expiring, sigs.afterExpiry!);
    expect(after.valid).toBe(false);
    expect(after.reason).toMatch(/expired/i);
  });

  it('refuses unusable key material (configuration) and an unreadable asset (could not check)', async () => {
    await expect(verify({ ...alice, armoredPublic: 'not a key' }, sigs.binary!)).rejects.toBeInstanceOf(FormatError);
    await expect(verify(alice, sigs.binary!, join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
  });

  it('is reachable through the dispatcher', async () => {
    const r = await verifySignature({
      assetPath: file,
      signaturePath: sigs.armored!,
      policy: { scheme: 'openpgp', fingerprint: alice.fingerprint, publicKey: alice.armoredPublic, signatureAsset: '{asset}.asc' },
    });
    expect(r).toMatchObject({ valid: true, scheme: 'openpgp' });
  });
});
