import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../lambda/core/errors';
import { parseMinisignPublicKey, parseMinisignSignature, verifyMinisign } from '../../lambda/formats/minisign';
import { verifySignature } from '../../lambda/formats/signature';
import type { SignatureResult } from '../../lambda/formats/types';
import { toolsAvailable } from '../support/tools';
import { minisignKeygen, minisignSign, minisignVerdict, type MinisignKey } from './support/signing-fixtures';

describe.skipIf(!toolsAvailable('minisign'))('minisign', () => {
  let dir: string;
  let keyA: MinisignKey;
  let keyB: MinisignKey;
  let file: string;
  let sig: string;
  let legacySig: string;

  const policy = (publicKey: string, prehashedOnly = false) => ({ scheme: 'minisign' as const, publicKey, signatureAsset: '{asset}.minisig', prehashedOnly });
  const verify = (publicKey: string, assetPath: string, signaturePath: string, prehashedOnly = false): Promise<SignatureResult> =>
    verifyMinisign({ assetPath, signaturePath, policy: policy(publicKey, prehashedOnly) });
  /** copies `src` to a new file in the temp dir, optionally transformed */
  const variant = (name: string, content: Buffer | string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-minisign-'));
    keyA = minisignKeygen(dir, 'a');
    keyB = minisignKeygen(dir, 'b');
    file = variant('asset.bin', randomBytes(3 * 1024 * 1024 + 17)); // several stream chunks
    sig = minisignSign(keyA, file, { trustedComment: 'timestamp:1700000000\tfile:asset.bin\tversion:1.2.3' });
    legacySig = minisignSign(keyA, file, { legacy: true, out: join(dir, 'asset.bin.legacy.minisig') });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a genuine prehashed signature, as minisign -V does, and names the key id as minisign shows it', async () => {
    const r = await verify(keyA.pubText, file, sig);
    expect(minisignVerdict(keyA.pubPath, file, sig)).toBe(true);
    expect(r.valid).toBe(true);
    // minisign prints the id with %PRIX64, i.e. without leading zeros (1 key in 16); we always show 16 digits
    const shown = /minisign public key ([0-9A-F]{1,16})\b/.exec(keyA.pubText)![1]!;
    expect(r.signer).toBe(shown.padStart(16, '0'));
    expect(r.reason).toContain('version:1.2.3');
    expect(parseMinisignSignature(readFileSync(sig)).algorithm).toBe('ED');
  });

  it('takes the key as the bare "RW…" line as well as the whole .pub file', async () => {
    expect((await verify(keyA.keyLine, file, sig)).valid).toBe(true);
    expect(parseMinisignPublicKey(keyA.keyLine).keyIdHex).toBe(parseMinisignPublicKey(keyA.pubText).keyIdHex);
  });

  it('accepts CRLF line endings and a missing final newline, as minisign does', async () => {
    const text = readFileSync(sig, 'utf8');
    const crlf = variant('crlf.minisig', text.replace(/\n/g, '\r\n'));
    const nonl = variant('nonl.minisig', text.replace(/\n$/, ''));
    for (const s of [crlf, nonl]) {
      expect(minisignVerdict(keyA.pubPath, file, s)).toBe(true);
      expect((await verify(keyA.pubText, file, s)).valid).toBe(true);
    }
  });

  it('accepts a legacy "Ed" signature by default, as minisign -V does, and refuses it with prehashedOnly, as minisign -V -H does', async () => {
    expect(parseMinisignSignature(readFileSync(legacySig)).algorithm).toBe('Ed');
    expect(minisignVerdict(keyA.pubPath, file, legacySig)).toBe(true);
    expect((await verify(keyA.pubText, file, legacySig)).valid).toBe(true);
    expect(minisignVerdict(keyA.pubPath, file, legacySig, true)).toBe(false);
    const r = await verify(keyA.pubText, file, legacySig, true);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/legacy.*prehashedOnly/);
    // prehashed signatures are what prehashedOnly is for
    expect((await verify(keyA.pubText, file, sig, true)).valid).toBe(true);
  });

  it('reads an older configuration: allowLegacy: false refuses legacy signatures, allowLegacy: true accepts them', async () => {
    // (prehashedOnly: false is what the schema fills in when only allowLegacy is written)
    const old = (allowLegacy: boolean, prehashedOnly = false) =>
      verifyMinisign({
        assetPath: file,
        signaturePath: legacySig,
        policy: { scheme: 'minisign', publicKey: keyA.pubText, signatureAsset: '{asset}.minisig', allowLegacy, prehashedOnly },
      });
    expect((await old(false)).valid).toBe(false);
    expect((await old(true)).valid).toBe(true);
    // the two spellings disagreeing: refused (fail closed)
    expect((await old(true, true)).valid).toBe(false);
    expect((await old(false, false)).valid).toBe(false);
  });

  it('rejects a file with one flipped byte', async () => {
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0x01;
    const tampered = variant('tampered.bin', bytes);
    for (const s of [sig, legacySig]) {
      expect(minisignVerdict(keyA.pubPath, tampered, s)).toBe(false);
      const r = await verify(keyA.pubText, tampered, s);
      expect(r.valid).toBe(false);
      expect(r.reason).toMatch(/does not match the file/);
    }
  });

  it('rejects a signature checked against another key (key id mismatch → unpinned signer)', async () => {
    expect(minisignVerdict(keyB.pubPath, file, sig)).toBe(false);
    const r = await verify(keyB.pubText, file, sig);
    expect(r.valid).toBe(false);
    expect(r.unpinnedSigner).toBe(true);
  });

  it("rejects a different key that claims the signer's key id", async () => {
    // key B's Ed25519 key under key A's id: the id matches, the signature must not.
    const a = Buffer.from(keyA.keyLine, 'base64');
    const b = Buffer.from(keyB.keyLine, 'base64');
    const impostor = Buffer.concat([a.subarray(0, 10), b.subarray(10)]).toString('base64');
    const impostorPub = variant('impostor.pub', `untrusted comment: impostor\n${impostor}\n`);
    expect(minisignVerdict(impostorPub, file, sig)).toBe(false);
    const r = await verify(impostor, file, sig);
    expect(r.valid).toBe(false);
    expect(r.unpinnedSigner).toBeUndefined();
  });

  it('rejects an edited trusted comment (the global signature covers it)', async () => {
    const edited = variant('edited.minisig', readFileSync(sig, 'utf8').replace('version:1.2.3', 'version:9.9.9'));
    expect(minisignVerdict(keyA.pubPath, file, edited)).toBe(false);
    const r = await verify(keyA.pubText, file, edited);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/global signature/);
  });

  it('accepts an edited untrusted comment (it is not signed), as minisign does', async () => {
    const edited = variant('untrusted.minisig', readFileSync(sig, 'utf8').replace(/^untrusted comment: .*$/m, 'untrusted comment: anything at all'));
    expect(minisignVerdict(keyA.pubPath, file, edited)).toBe(true);
    expect((await verify(keyA.pubText, file, edited)).valid).toBe(true);
  });

  it('rejects a downgrade of the algorithm bytes from ED to Ed', async () => {
    const text = readFileSync(sig, 'utf8').split('\n');
    const blob = Buffer.from(text[1]!, 'base64');
    blob.write('Ed', 0, 'latin1');
    text[1] = blob.toString('base64');
    const downgraded = variant('downgraded.minisig', text.join('\n'));
    expect(minisignVerdict(keyA.pubPath, file, downgraded)).toBe(false);
    expect((await verify(keyA.pubText, file, downgraded)).valid).toBe(false);
  });

  it('a prehashed signature relabelled "Ed" over the 64-byte BLAKE2b-512 of the file: minisign -V accepts it, we refuse it by its "hashed" trusted comment', async () => {
    // minisign writes "…\thashed" into the (globally signed) trusted comment of every prehashed
    // signature; the algorithm bytes are signed by nothing. Relabelled legacy, the signature over
    // BLAKE2b-512(file) verifies as a pure Ed25519 signature over a 64-byte "asset" holding that hash.
    const genuine = minisignSign(keyA, file, { out: join(dir, 'asset.bin.default.minisig') });
    const text = readFileSync(genuine, 'utf8').split('\n');
    expect(text[2]).toMatch(/\thashed$/);
    const blob = Buffer.from(text[1]!, 'base64');
    blob.write('Ed', 0, 'latin1');
    text[1] = blob.toString('base64');
    const relabelled = variant('relabelled.minisig', text.join('\n'));
    const hashAsset = variant('hash-asset.bin', createHash('blake2b512').update(readFileSync(file)).digest());
    expect(minisignVerdict(keyA.pubPath, hashAsset, relabelled)).toBe(true); // the reference tool is fooled
    const r = await verify(keyA.pubText, hashAsset, relabelled);
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/relabelled/);
    // a genuine legacy signature (no "hashed" in its trusted comment) still verifies
    expect((await verify(keyA.pubText, file, legacySig)).valid).toBe(true);
  });

  it('rejects truncated signatures (malformed → invalid, never thrown)', async () => {
    const full = readFileSync(sig);
    for (const len of [0, 10, full.length >> 1, full.length - 20]) {
      const cut = variant(`cut${len}.minisig`, full.subarray(0, len));
      expect(minisignVerdict(keyA.pubPath, file, cut)).toBe(false);
      const r = await verify(keyA.pubText, file, cut);
      expect(r.valid).toBe(false);
    }
  });

  it('refuses bytes after the fourth line, a lone trailing CR included — a deliberate disagreement with minisign -V', async () => {
    // minisign -V reads four lines with fgets and never looks further (minisign.c sig_load), and
    // minisign-verify (Tauri) takes four lines() and drops the rest: both accept. No signer writes
    // such bytes and none of them is signed, so we refuse them (this input made `npm run fuzz` fail).
    const text = readFileSync(sig, 'latin1');
    for (const [name, tail] of [
      ['cr', '\r'],
      ['extra-line', 'untrusted comment: more\n'],
      ['blank', '\n'],
    ] as const) {
      const s = variant(`trailing-${name}.minisig`, Buffer.from(text + tail, 'latin1'));
      expect(minisignVerdict(keyA.pubPath, file, s), name).toBe(true);
      const r = await verify(keyA.pubText, file, s);
      expect(r.valid, name).toBe(false);
      expect(r.reason).toMatch(/malformed signature: signature file has 5 lines/);
    }
    // while a CR that ends the fourth line (CRLF, or CR without LF at the very end) is a line ending
    const lastCr = variant('last-cr.minisig', Buffer.from(text.replace(/\n$/, '\r'), 'latin1'));
    expect(minisignVerdict(keyA.pubPath, file, lastCr)).toBe(true);
    expect((await verify(keyA.pubText, file, lastCr)).valid).toBe(true);
  });

  it('treats a malformed pinned key as a configuration error, a missing asset as "could not check"', async () => {
    await expect(verify('RWnotakey', file, sig)).rejects.toBeInstanceOf(FormatError);
    expect(() => parseMinisignPublicKey('untrusted comment: x\nRW' + 'A'.repeat(54))).toThrow(FormatError);
    await expect(verify(keyA.pubText, join(dir, 'missing.bin'), sig)).rejects.toThrow(/ENOENT/);
  });

  it('is reachable through the dispatcher', async () => {
    const r = await verifySignature({ assetPath: file, signaturePath: sig, policy: policy(keyA.pubText) });
    expect(r).toMatchObject({ valid: true, scheme: 'minisign' });
  });
});
