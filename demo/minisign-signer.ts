/**
 * A minimal minisign *signer* for the offline demo only: the demo must run with nothing but Node and
 * npm packages, so it cannot call the minisign tool. It writes the exact minisign file formats
 * (prehashed "ED" signatures, trusted comment, global signature); test/demo/minisign-signer.test.ts
 * checks its output with the real `minisign -V`. Verification lives in lambda/formats/minisign.ts.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export interface MinisignKeyPair {
  keyId: Buffer; // 8 bytes
  privateKey: KeyObject;
  publicKeyFile: string; // the .pub file text
  publicKeyLine: string; // the "RW…" line
}

export function generateMinisignKey(): MinisignKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const keyId = randomBytes(8);
  const line = Buffer.concat([Buffer.from('Ed'), keyId, raw]).toString('base64');
  const idHex = Buffer.from(keyId).reverse().toString('hex').toUpperCase();
  return { keyId, privateKey, publicKeyLine: line, publicKeyFile: `untrusted comment: minisign public key ${idHex}\n${line}\n` };
}

export function minisignSign(key: MinisignKeyPair, data: Buffer, trustedComment: string): string {
  const digest = createHash('blake2b512').update(data).digest();
  const sig = sign(null, digest, key.privateKey);
  const global = sign(null, Buffer.concat([sig, Buffer.from(trustedComment)]), key.privateKey);
  return [
    'untrusted comment: signature from minisign secret key',
    Buffer.concat([Buffer.from('ED'), key.keyId, sig]).toString('base64'),
    `trusted comment: ${trustedComment}`,
    global.toString('base64'),
    '',
  ].join('\n');
}
