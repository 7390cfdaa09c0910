/**
 * Legacy ("Ed", non-prehashed) minisign signatures over large files: verified at any size in
 * bounded memory (the Ed25519 challenge hash is streamed), agreeing with `minisign -V`. The files
 * are sparse, so that 64 MiB and more cost no disk and little time.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMinisign } from '../../lambda/formats/minisign';
import { toolsAvailable } from '../support/tools';
import { minisignKeygen, minisignSign, minisignVerdict, type MinisignKey } from './support/signing-fixtures';

const MiB = 1024 * 1024;
/** the bound the verifier used to refuse legacy signatures above (it held the file in memory) */
const OLD_BOUND = 64 * MiB;

describe.skipIf(!toolsAvailable('minisign'))('minisign legacy signatures over large files', () => {
  let dir: string;
  let key: MinisignKey;
  const verify = (assetPath: string, signaturePath: string, prehashedOnly = false) =>
    verifyMinisign({ assetPath, signaturePath, policy: { scheme: 'minisign', publicKey: key.pubText, signatureAsset: '{asset}.minisig', prehashedOnly } });

  /** a sparse file of `size` bytes with a few written bytes (so that it is not all zeros) */
  const sparse = (name: string, size: number, marks: Array<[number, number]> = []): string => {
    const p = join(dir, name);
    writeFileSync(p, 'head of the file\n');
    truncateSync(p, size);
    const fd = openSync(p, 'r+');
    try {
      for (const [at, byte] of marks) writeSync(fd, Buffer.from([byte]), 0, 1, at);
    } finally {
      closeSync(fd);
    }
    return p;
  };
  /**
   * The secret key of an unencrypted (-W) minisign key file: "Ed", kdf "\0\0", checksum alg, salt[32],
   * opslimit[8], memlimit[8], then key id[8] ‖ libsodium secret key[64] (seed ‖ public key) ‖ checksum.
   */
  const secretKey = (k: MinisignKey): KeyObject => {
    const raw = Buffer.from(readFileSync(k.secPath, 'utf8').trim().split('\n')[1]!, 'base64');
    if (raw.subarray(0, 4).toString('latin1') !== 'Ed\0\0') throw new Error('expected an unencrypted minisign key (-W)');
    const seed = raw.subarray(54 + 8, 54 + 8 + 32);
    return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-minisign-legacy-'));
    key = minisignKeygen(dir, 'k');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const sizes = [OLD_BOUND - 1, OLD_BOUND + 1];
  it.each(sizes)('a %i-byte file: genuine valid, tampered invalid, as minisign -V says', async (size) => {
    const marks: Array<[number, number]> = [
      [size >> 1, 0x5a],
      [size - 1, 0xa5],
    ];
    const asset = sparse(`asset-${size}.bin`, size, marks);
    const sig = minisignSign(key, asset, { legacy: true });
    expect(minisignVerdict(key.pubPath, asset, sig)).toBe(true);
    const r = await verify(asset, sig);
    expect(r.reason).not.toMatch(/refusing/);
    expect(r).toMatchObject({ valid: true, details: { algorithm: 'Ed' } });
    // prehashedOnly refuses it, as minisign -V -H does
    expect(minisignVerdict(key.pubPath, asset, sig, true)).toBe(false);
    expect((await verify(asset, sig, true)).valid).toBe(false);

    // tampered: the last byte changed; one byte more; one byte less
    const tampered = [
      sparse(`last-${size}.bin`, size, [marks[0]!, [size - 1, 0xa4]]),
      sparse(`longer-${size}.bin`, size + 1, marks),
      sparse(`shorter-${size}.bin`, size - 1, [marks[0]!]),
    ];
    for (const t of tampered) {
      expect(minisignVerdict(key.pubPath, t, sig), t).toBe(false);
      const v = await verify(t, sig);
      expect(v.valid, t).toBe(false);
      expect(v.reason).toMatch(/does not match the file/);
    }
    for (const t of tampered) rmSync(t);
    rmSync(asset);
  });

  it('a tampered signature value (R or S changed, S pushed out of range) is invalid, as minisign -V says', async () => {
    // The global signature covers the file signature, so each tampered value gets a genuine global
    // signature (made with the secret key): the Ed25519 check over the file is what must refuse it.
    const asset = sparse('sig-tamper.bin', OLD_BOUND + 7, [[100, 1]]);
    const sigPath = minisignSign(key, asset, { legacy: true });
    const lines = readFileSync(sigPath, 'utf8').split('\n');
    const blob = Buffer.from(lines[1]!, 'base64');
    const variants: Array<[string, (b: Buffer) => void]> = [
      ['R', (b) => void (b[10 + 5]! ^= 0x01)],
      ['S', (b) => void (b[10 + 40]! ^= 0x01)],
      // S + L: the same residue mod L, a non-canonical S — refused by libsodium and by us
      [
        'S+L',
        (b) => {
          const L = 2n ** 252n + 27742317777372353535851937790883648493n;
          let s = 0n;
          for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(b[10 + i]!);
          s += L;
          for (let i = 32; i < 64; i++) {
            b[10 + i] = Number(s & 0xffn);
            s >>= 8n;
          }
        },
      ],
    ];
    for (const [name, edit] of variants) {
      const b = Buffer.from(blob);
      edit(b);
      const l = [...lines];
      l[1] = b.toString('base64');
      const trusted = Buffer.from(l[2]!.slice('trusted comment: '.length), 'utf8');
      l[3] = cryptoSign(null, Buffer.concat([b.subarray(10), trusted]), secretKey(key)).toString('base64');
      const p = join(dir, `tampered-${name}.minisig`);
      writeFileSync(p, l.join('\n'));
      expect(minisignVerdict(key.pubPath, asset, p), name).toBe(false);
      const r = await verify(asset, p);
      expect(r.valid, name).toBe(false);
      expect(r.reason, name).toMatch(/does not match the file/);
    }
    // and the same re-signing of the untouched value is accepted (the helper itself is sound)
    const l = [...lines];
    l[3] = cryptoSign(null, Buffer.concat([blob.subarray(10), Buffer.from(l[2]!.slice('trusted comment: '.length), 'utf8')]), secretKey(key)).toString(
      'base64',
    );
    const same = join(dir, 'resigned.minisig');
    writeFileSync(same, l.join('\n'));
    expect(minisignVerdict(key.pubPath, asset, same)).toBe(true);
    expect((await verify(asset, same)).valid).toBe(true);
  });

  it('verifies a 192 MiB file in bounded memory (peak RSS grows by far less than the file)', () => {
    const size = 192 * MiB;
    const asset = sparse('big.bin', size, [[size - 1, 7]]);
    const sig = minisignSign(key, asset, { legacy: true });
    expect(minisignVerdict(key.pubPath, asset, sig)).toBe(true);
    const module = resolve(__dirname, '../../lambda/formats/minisign.ts');
    const code = `
      import { readFileSync } from 'node:fs';
      const { verifyMinisign } = await import(${JSON.stringify(module)});
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      // warm up the code paths on a tiny file first, so the baseline includes them
      await verifyMinisign({ assetPath: ${JSON.stringify(key.pubPath)}, signaturePath: ${JSON.stringify(sig)}, policy: { scheme: 'minisign', publicKey: ${JSON.stringify(key.pubText)}, signatureAsset: 'x', prehashedOnly: false } });
      const before = hwm();
      const r = await verifyMinisign({ assetPath: ${JSON.stringify(asset)}, signaturePath: ${JSON.stringify(sig)}, policy: { scheme: 'minisign', publicKey: ${JSON.stringify(key.pubText)}, signatureAsset: 'x', prehashedOnly: false } });
      process.stdout.write(JSON.stringify({ valid: r.valid, before, after: hwm() }));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    const out = JSON.parse(child.stdout) as { valid: boolean; before: number; after: number };
    expect(out.valid).toBe(true);
    // holding the file would add 192 MiB; streaming adds a few 1 MiB chunks
    expect(out.after - out.before).toBeLessThan(48 * MiB);
    rmSync(asset);
  }, 90_000);
});
