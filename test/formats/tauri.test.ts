import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../lambda/core/errors';
import { parseTauriPublicKey, verifyTauri } from '../../lambda/formats/tauri';
import { verifySignature } from '../../lambda/formats/signature';
import { toolsAvailable } from '../support/tools';
import { minisignKeygen, minisignSign, minisignVerdict, tauriEncode, type MinisignKey } from './support/signing-fixtures';

describe.skipIf(!toolsAvailable('minisign'))('Tauri updater signatures', () => {
  let dir: string;
  let keyA: MinisignKey;
  let keyB: MinisignKey;
  let file: string;
  let minisig: string; // the inner minisign signature (for minisign's own verdict)
  let tauriSig: string; // base64 of it, as `tauri signer sign` writes `<bundle>.sig`
  let legacyTauriSig: string;
  let pubkeyA: string; // as in tauri.conf.json
  let pubkeyB: string;

  const write = (name: string, content: string | Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const verify = (pubkey: string, assetPath: string, signaturePath: string) =>
    verifyTauri({ assetPath, signaturePath, policy: { scheme: 'tauri', publicKey: pubkey, signatureAsset: '{asset}.sig' } });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-tauri-'));
    keyA = minisignKeygen(dir, 'a');
    keyB = minisignKeygen(dir, 'b');
    pubkeyA = tauriEncode(keyA.pubText);
    pubkeyB = tauriEncode(keyB.pubText);
    file = write('app_1.2.3_x64.AppImage.tar.gz', randomBytes(200_000));
    minisig = minisignSign(keyA, file, { trustedComment: 'timestamp:1700000000\tfile:app_1.2.3_x64.AppImage.tar.gz', out: join(dir, 'inner.minisig') });
    tauriSig = write('app.sig', tauriEncode(readFileSync(minisig)));
    const legacyInner = minisignSign(keyA, file, { legacy: true, out: join(dir, 'inner-legacy.minisig') });
    legacyTauriSig = write('app-legacy.sig', tauriEncode(readFileSync(legacyInner)));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the genuine .sig with the tauri.conf.json pubkey, as minisign does on the decoded files', async () => {
    expect(minisignVerdict(keyA.pubPath, file, minisig)).toBe(true);
    const r = await verify(pubkeyA, file, tauriSig);
    expect(r).toMatchObject({ valid: true, scheme: 'tauri', signer: parseTauriPublicKey(pubkeyA).keyIdHex });
    expect(r.reason).toContain('file:app_1.2.3_x64.AppImage.tar.gz');
  });

  it('accepts legacy signatures, as the Tauri updater does (and rejects them over a changed file)', async () => {
    expect((await verify(pubkeyA, file, legacyTauriSig)).valid).toBe(true);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0x01;
    expect((await verify(pubkeyA, write('legacy-tampered.tar.gz', bytes), legacyTauriSig)).valid).toBe(false);
  });

  it('accepts one trailing newline after the base64, nothing else', async () => {
    expect((await verify(pubkeyA, file, write('nl.sig', readFileSync(tauriSig, 'utf8') + '\n'))).valid).toBe(true);
    expect((await verify(pubkeyA, file, write('sp.sig', ' ' + readFileSync(tauriSig, 'utf8')))).valid).toBe(false);
  });

  it('rejects a flipped byte in the bundle', async () => {
    const bytes = readFileSync(file);
    bytes[1234]! ^= 0x80;
    const tampered = write('tampered.tar.gz', bytes);
    expect(minisignVerdict(keyA.pubPath, tampered, minisig)).toBe(false);
    expect((await verify(pubkeyA, tampered, tauriSig)).valid).toBe(false);
  });

  it('rejects the wrong key', async () => {
    expect(minisignVerdict(keyB.pubPath, file, minisig)).toBe(false);
    const r = await verify(pubkeyB, file, tauriSig);
    expect(r.valid).toBe(false);
    expect(r.unpinnedSigner).toBe(true);
  });

  it('rejects an edited trusted comment inside the base64 layer', async () => {
    const edited = readFileSync(minisig, 'utf8').replace('timestamp:1700000000', 'timestamp:1800000000');
    const editedInner = write('edited.minisig', edited);
    expect(minisignVerdict(keyA.pubPath, file, editedInner)).toBe(false);
    expect((await verify(pubkeyA, file, write('edited.sig', tauriEncode(edited)))).valid).toBe(false);
  });

  it('rejects truncated and non-base64 signatures, and a bare minisign file where base64 is expected', async () => {
    const b64 = readFileSync(tauriSig, 'utf8');
    for (const cut of [0, 4, b64.length >> 1, b64.length - 4]) {
      expect((await verify(pubkeyA, file, write(`cut${cut}.sig`, b64.slice(0, cut)))).valid).toBe(false);
    }
    expect((await verify(pubkeyA, file, minisig)).valid).toBe(false); // one base64 layer missing
  });

  it('takes the pinned key as Tauri stores it (base64 of the .pub file), as the .pub file itself, or as its "RW…" line', async () => {
    for (const form of [pubkeyA, keyA.pubText, keyA.keyLine, `  ${pubkeyA}\n`, keyA.pubText.replace(/\n/g, '\r\n')]) {
      expect(parseTauriPublicKey(form).keyIdHex).toBe(parseTauriPublicKey(pubkeyA).keyIdHex);
      expect((await verify(form, file, tauriSig)).valid).toBe(true);
    }
    // every form of the other key still names the other key
    for (const form of [pubkeyB, keyB.pubText, keyB.keyLine]) expect((await verify(form, file, tauriSig)).unpinnedSigner).toBe(true);
  });

  it('refuses a pubkey that is none of these forms (configuration error)', async () => {
    for (const bad of ['RWnotakey', tauriEncode(keyA.keyLine), tauriEncode('untrusted comment: x\n'), 'dW50cnVzdGVkIGNvbW1lbnQ6', keyA.keyLine.slice(0, -1)]) {
      await expect(verify(bad, file, tauriSig), bad).rejects.toBeInstanceOf(FormatError);
    }
  });

  it('refuses bytes after the fourth line of the decoded signature, a lone CR included (npm run fuzz -- --seed 113 found it)', async () => {
    // minisign -V and Tauri's minisign-verify read four lines and ignore the rest: a deliberate
    // disagreement, see minisign.ts. The mutation "Cg==" → "Cg0=" decodes to "…\n\r".
    const inner = readFileSync(minisig, 'latin1');
    const withCr = write('inner-cr.minisig', Buffer.from(inner + '\r', 'latin1'));
    expect(minisignVerdict(keyA.pubPath, file, withCr)).toBe(true);
    const r = await verify(pubkeyA, file, write('cr.sig', tauriEncode(Buffer.from(inner + '\r', 'latin1'))));
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/5 lines/);
    // a CRLF inner text is still fine
    expect((await verify(pubkeyA, file, write('crlf.sig', tauriEncode(inner.replace(/\n/g, '\r\n'))))).valid).toBe(true);
  });

  it('is reachable through the dispatcher', async () => {
    const r = await verifySignature({
      assetPath: file,
      signaturePath: tauriSig,
      policy: { scheme: 'tauri', publicKey: pubkeyA, signatureAsset: '{asset}.sig' },
    });
    expect(r).toMatchObject({ valid: true, scheme: 'tauri' });
  });
});
