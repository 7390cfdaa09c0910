/** Tauri: mutations of the base64 `.sig` and of the signed bundle. */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyTauri } from '../../../lambda/formats/tauri';
import { minisignKeygen, minisignSign, tauriEncode } from '../../formats/support/signing-fixtures';
import { sameBytes, tauriEquivalent } from '../equivalence';
import type { FuzzCase, FuzzTarget } from '../fuzz-target';
import { checkWith } from '../target-support';

const target: FuzzTarget = {
  name: 'tauri',
  async setup(dir) {
    const key = minisignKeygen(dir, 'k');
    const asset = join(dir, 'app.tar.gz');
    const original = randomBytes(4096);
    writeFileSync(asset, original);
    const sig = Buffer.from(tauriEncode(readFileSync(minisignSign(key, asset, { trustedComment: 'timestamp:1700000000\tfile:app.tar.gz' }))));
    const genuineSig = join(dir, 'genuine.sig');
    writeFileSync(genuineSig, sig);
    const mutSig = join(dir, 'mut.sig');
    const mutAsset = join(dir, 'mut.tar.gz');
    const policy = { scheme: 'tauri' as const, publicKey: tauriEncode(key.pubText), signatureAsset: '{asset}.sig' };
    const cases: FuzzCase[] = [
      {
        bytes: sig,
        check: (m) => checkWith(mutSig, m, () => verifyTauri({ assetPath: asset, signaturePath: mutSig, policy })),
        isEquivalent: (m) => tauriEquivalent(sig, m),
      },
      {
        bytes: original,
        check: (m) => checkWith(mutAsset, m, () => verifyTauri({ assetPath: mutAsset, signaturePath: genuineSig, policy })),
        isEquivalent: (m) => sameBytes(original, m),
      },
    ];
    return cases;
  },
};
export default target;
