/** minisign: mutations of prehashed and legacy signature files and of the signed file. */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyMinisign } from '../../../lambda/formats/minisign';
import { minisignKeygen, minisignSign } from '../../formats/support/signing-fixtures';
import { minisignEquivalent, sameBytes } from '../equivalence';
import type { FuzzCase, FuzzTarget } from '../fuzz-target';
import { checkWith } from '../target-support';

const target: FuzzTarget = {
  name: 'minisign',
  async setup(dir) {
    const key = minisignKeygen(dir, 'k');
    const asset = join(dir, 'asset.bin');
    const original = randomBytes(4096);
    writeFileSync(asset, original);
    const sig = readFileSync(minisignSign(key, asset, { trustedComment: 'timestamp:1700000000\tfile:asset.bin' }));
    const legacy = readFileSync(minisignSign(key, asset, { legacy: true, out: join(dir, 'legacy.minisig') }));
    const mutSig = join(dir, 'mut.minisig');
    const mutAsset = join(dir, 'mut.bin');
    const genuineSig = join(dir, 'genuine.minisig');
    writeFileSync(genuineSig, sig);
    const genuineLegacy = join(dir, 'genuine-legacy.minisig');
    writeFileSync(genuineLegacy, legacy);
    const policy = (prehashedOnly: boolean) => ({ scheme: 'minisign' as const, publicKey: key.pubText, signatureAsset: '{asset}.minisig', prehashedOnly });
    const cases: FuzzCase[] = [
      {
        bytes: sig,
        check: (m) => checkWith(mutSig, m, () => verifyMinisign({ assetPath: asset, signaturePath: mutSig, policy: policy(true) })),
        isEquivalent: (m) => minisignEquivalent(sig, m),
      },
      {
        bytes: legacy,
        check: (m) => checkWith(mutSig, m, () => verifyMinisign({ assetPath: asset, signaturePath: mutSig, policy: policy(false) })),
        isEquivalent: (m) => minisignEquivalent(legacy, m),
      },
      {
        bytes: original,
        check: (m) => checkWith(mutAsset, m, () => verifyMinisign({ assetPath: mutAsset, signaturePath: genuineSig, policy: policy(true) })),
        isEquivalent: (m) => sameBytes(original, m),
      },
      {
        // the signed file under a legacy signature: the streamed Ed25519 check
        bytes: original,
        check: (m) => checkWith(mutAsset, m, () => verifyMinisign({ assetPath: mutAsset, signaturePath: genuineLegacy, policy: policy(false) })),
        isEquivalent: (m) => sameBytes(original, m),
      },
    ];
    return cases;
  },
};
export default target;
