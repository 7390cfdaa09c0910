/**
 * The streamed Ed25519 check (legacy minisign signatures) against node:crypto's Ed25519 (OpenSSL,
 * whole message): the same verdict on genuine signatures, on every single-bit change of the
 * signature, on changed messages, and on the edge encodings libsodium refuses.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyEd25519File } from '../../lambda/formats/ed25519-streamed';
import { parseMinisignPublicKey, verifyMinisign } from '../../lambda/formats/minisign';
import { status, toolsAvailable } from '../support/tools';

const dir = mkdtempSync(join(tmpdir(), 'rv-ed25519-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  return { publicKey, privateKey, raw };
}
let n = 0;
const file = (bytes: Uint8Array) => {
  const p = join(dir, `m${n++}`);
  writeFileSync(p, bytes);
  return p;
};

describe('Ed25519 over a streamed file', () => {
  it('agrees with node:crypto on genuine signatures over messages of many sizes (across 1 MiB chunks)', async () => {
    for (const size of [0, 1, 63, 64, 1000, 1024 * 1024 - 1, 1024 * 1024, 2 * 1024 * 1024 + 3]) {
      const k = keyPair();
      const m = randomBytes(size);
      const s = sign(null, m, k.privateKey);
      expect(await verifyEd25519File(file(m), k.raw, s), `size ${size}`).toBe(true);
    }
  });

  it('agrees with node:crypto on every single-bit change of the signature and on a changed message', async () => {
    const k = keyPair();
    const m = randomBytes(3000);
    const s = sign(null, m, k.privateKey);
    const p = file(m);
    for (let bit = 0; bit < 512; bit++) {
      const t = Buffer.from(s);
      t[bit >> 3]! ^= 1 << (bit & 7);
      expect(await verifyEd25519File(p, k.raw, t), `bit ${bit}`).toBe(verify(null, m, k.publicKey, t));
    }
    const m2 = Buffer.from(m);
    m2[2999]! ^= 0x80;
    expect(verify(null, m2, k.publicKey, s)).toBe(false);
    expect(await verifyEd25519File(file(m2), k.raw, s)).toBe(false);
    // another key
    expect(await verifyEd25519File(p, keyPair().raw, s)).toBe(false);
  });

  it('refuses a non-canonical S (S + L), small-order keys and non-canonical key encodings, as libsodium does', async () => {
    const k = keyPair();
    const m = randomBytes(100);
    const s = sign(null, m, k.privateKey);
    const p = file(m);
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let sv = 0n;
    for (let i = 63; i >= 32; i--) sv = (sv << 8n) | BigInt(s[i]!);
    const t = Buffer.from(s);
    let x = sv + L;
    for (let i = 32; i < 64; i++) {
      t[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    expect(verify(null, m, k.publicKey, t)).toBe(false);
    expect(await verifyEd25519File(p, k.raw, t)).toBe(false);

    // the identity (small order) as public key, with R = identity and S = 0: [0]B = I + [k]I holds,
    // a "signature" that fits every message — refused
    const identity = Buffer.alloc(32);
    identity[0] = 1;
    const forged = Buffer.concat([identity, Buffer.alloc(32)]);
    expect(await verifyEd25519File(p, identity, forged)).toBe(false);
    // OpenSSL (node:crypto) has no small-order check, so such a key is refused where it is pinned:
    const pub = Buffer.concat([Buffer.from('Ed'), randomBytes(8), identity]).toString('base64');
    expect(() => parseMinisignPublicKey(pub)).toThrow(/small order|not a valid Ed25519/);

    // y ≥ p: the key's y + p spelled in 255 bits (a second encoding of the same point) — refused
    const P = 2n ** 255n - 19n;
    const nonCanonical = Buffer.alloc(32);
    let v = P; // y = p ≡ 0: the encoding of y = 0 spelled as p
    for (let i = 0; i < 32; i++) {
      nonCanonical[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    expect(await verifyEd25519File(p, nonCanonical, s)).toBe(false);
    // wrong lengths
    expect(await verifyEd25519File(p, k.raw.subarray(0, 31), s)).toBe(false);
    expect(await verifyEd25519File(p, k.raw, s.subarray(0, 63))).toBe(false);
  });
});

// A key holder's signature with R = identity and S = k·a satisfies the cofactorless equation
// ([S]B = R + [k]A). OpenSSL (node:crypto), which checks the prehashed "ED" signature and every
// global signature, has no small-order check on R; libsodium (minisign -V) refuses it. Our verdict
// must be minisign's: built by hand here, checked by both.
describe.skipIf(!toolsAvailable('minisign'))('prehashed and global signatures with a small-order R (review finding)', () => {
  const P = ed25519.Point;
  const L = P.Fn.ORDER;
  const le = (b: Uint8Array) => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
  const toLE = (v: bigint) => Buffer.from(Array.from({ length: 32 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
  const h = createHash('sha512').update(randomBytes(32)).digest();
  const clamped = Buffer.from(h.subarray(0, 32));
  clamped[0]! &= 248;
  clamped[31]! &= 127;
  clamped[31]! |= 64;
  const a = le(clamped) % L;
  const A = P.BASE.multiply(a).toBytes();
  const keyId = randomBytes(8);
  const identityR = P.ZERO.toBytes();
  function edSign(message: Uint8Array, smallOrderR: boolean): Buffer {
    const r = le(createHash('sha512').update(randomBytes(32)).digest()) % L;
    const R = smallOrderR ? identityR : P.BASE.multiply(r).toBytes();
    const k = le(createHash('sha512').update(R).update(A).update(message).digest()) % L;
    return Buffer.concat([Buffer.from(R), toLE(smallOrderR ? (k * a) % L : (r + k * a) % L)]);
  }
  async function verdicts(name: string, opts: { fileR: boolean; globalR: boolean }) {
    const body = randomBytes(5000);
    const sig = edSign(createHash('blake2b512').update(body).digest(), opts.fileR);
    const global = edSign(Buffer.concat([sig, Buffer.from('hello')]), opts.globalR);
    const pub = `untrusted comment: k\n${Buffer.concat([Buffer.from('Ed'), keyId, A]).toString('base64')}\n`;
    const asset = join(dir, `${name}.bin`);
    writeFileSync(asset, body);
    writeFileSync(
      `${asset}.minisig`,
      `untrusted comment: x\n${Buffer.concat([Buffer.from('ED'), keyId, sig]).toString('base64')}\ntrusted comment: hello\n${global.toString('base64')}\n`,
    );
    writeFileSync(join(dir, `${name}.pub`), pub);
    const reference = status('minisign', ['-V', '-q', '-p', join(dir, `${name}.pub`), '-m', asset, '-x', `${asset}.minisig`]) === 0;
    const ours = await verifyMinisign({
      assetPath: asset,
      signaturePath: `${asset}.minisig`,
      policy: { scheme: 'minisign', publicKey: pub, signatureAsset: '{asset}.minisig', allowLegacy: true, prehashedOnly: false } as never,
    });
    return { reference, ours: ours.valid };
  }
  it('the hand-made genuine signature verifies in both (the construction is right)', async () => {
    expect(await verdicts('genuine', { fileR: false, globalR: false })).toEqual({ reference: true, ours: true });
  });
  it('R = identity in the file signature or the global signature: refused, as minisign -V refuses it', async () => {
    expect(await verdicts('file-r', { fileR: true, globalR: false })).toEqual({ reference: false, ours: false });
    expect(await verdicts('global-r', { fileR: false, globalR: true })).toEqual({ reference: false, ours: false });
  });
});
