/**
 * OpenPGP: mutations of a binary and an armored subkey signature, and of the signed file.
 * The equivalence test for signatures needs openpgp.js (async) while the FuzzCase contract's
 * `isEquivalent` is synchronous: `check` computes it when the verdict is "valid" and leaves it in a
 * WeakMap keyed by the mutated buffer, which `isEquivalent` then reads.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyOpenpgp } from '../../../lambda/formats/openpgp';
import { gpgGenKey, gpgHome, gpgSign } from '../../formats/support/signing-fixtures';
import { openpgpEquivalent, sameBytes } from '../equivalence';
import type { FuzzCase, FuzzTarget } from '../fuzz-target';
import { checkWith } from '../target-support';

const target: FuzzTarget = {
  name: 'openpgp',
  async setup(dir) {
    const h = gpgHome(dir, 'gnupg');
    const asset = join(dir, 'release.tar.gz');
    const original = randomBytes(4096);
    writeFileSync(asset, original);
    let key: ReturnType<typeof gpgGenKey>;
    let binary: Buffer;
    let armored: Buffer;
    try {
      key = gpgGenKey(h, 'Release <release@example.org>', { signingSubkey: true });
      binary = readFileSync(gpgSign(h, asset, join(dir, 'release.sig'), { signer: key.subkeyFingerprint }));
      armored = readFileSync(gpgSign(h, asset, join(dir, 'release.asc'), { signer: key.subkeyFingerprint, armor: true }));
    } finally {
      h.close();
    }
    const policy = { scheme: 'openpgp' as const, fingerprint: key.fingerprint, publicKey: key.armoredPublic, signatureAsset: '{asset}.asc' };
    const genuineSig = join(dir, 'genuine.sig');
    writeFileSync(genuineSig, binary);
    const mutSig = join(dir, 'mut.sig');
    const mutAsset = join(dir, 'mut.tar.gz');
    const sigCase = (sig: Buffer): FuzzCase => {
      const equivalent = new WeakMap<Uint8Array, boolean>();
      return {
        bytes: sig,
        async check(m) {
          const outcome = await checkWith(mutSig, m, () => verifyOpenpgp({ assetPath: asset, signaturePath: mutSig, policy }));
          if (outcome === 'valid') equivalent.set(m, await openpgpEquivalent(sig, m));
          return outcome;
        },
        isEquivalent: (m) => equivalent.get(m) ?? sameBytes(sig, m),
      };
    };
    const cases: FuzzCase[] = [
      sigCase(binary),
      sigCase(armored),
      {
        bytes: original,
        check: (m) => checkWith(mutAsset, m, () => verifyOpenpgp({ assetPath: mutAsset, signaturePath: genuineSig, policy })),
        isEquivalent: (m) => sameBytes(original, m),
      },
    ];
    return cases;
  },
};
export default target;
