/** Sigstore: mutations of a message-signature bundle, of a DSSE attestation bundle (test deployment, see formats/support/sigstore-fixture) and of the signed file. */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifySigstore } from '../../../lambda/formats/sigstore';
import { makeSigstoreDeployment } from '../../formats/support/sigstore-fixture';
import { sameBytes, sigstoreEquivalent } from '../equivalence';
import type { FuzzCase, FuzzTarget } from '../fuzz-target';
import { checkWith } from '../target-support';

const SAN = 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/tags/v1.0.0';
const ISSUER = 'https://gitlab.com';

const target: FuzzTarget = {
  name: 'sigstore',
  async setup(dir) {
    const deployment = await makeSigstoreDeployment();
    const asset = join(dir, 'app.tar.gz');
    const original = randomBytes(4096);
    writeFileSync(asset, original);
    // compact JSON: mutations then land on content more often than on indentation
    const bundle = Buffer.from(JSON.stringify(JSON.parse(await deployment.signBlob(original, { san: SAN, issuer: ISSUER }))));
    const attestation = Buffer.from(
      JSON.stringify(
        JSON.parse(
          await deployment.attest([{ name: 'app.tar.gz', sha256: createHash('sha256').update(original).digest('hex') }], { san: SAN, issuer: ISSUER }),
        ),
      ),
    );
    const genuine = join(dir, 'genuine.sigstore.json');
    writeFileSync(genuine, bundle);
    const mutBundle = join(dir, 'mut.sigstore.json');
    const mutAsset = join(dir, 'mut.tar.gz');
    const policy = { scheme: 'sigstore' as const, bundleAsset: '{asset}.sigstore.json', san: SAN, issuer: ISSUER, trustedRoot: deployment.trustedRootJson };
    const cases: FuzzCase[] = [
      {
        bytes: bundle,
        check: (m) => checkWith(mutBundle, m, () => verifySigstore({ assetPath: asset, signaturePath: mutBundle, policy })),
        isEquivalent: (m) => sigstoreEquivalent(bundle, m),
      },
      {
        bytes: attestation,
        check: (m) => checkWith(mutBundle, m, () => verifySigstore({ assetPath: asset, signaturePath: mutBundle, policy })),
        isEquivalent: (m) => sigstoreEquivalent(attestation, m),
      },
      {
        bytes: original,
        check: (m) => checkWith(mutAsset, m, () => verifySigstore({ assetPath: mutAsset, signaturePath: genuine, policy })),
        isEquivalent: (m) => sameBytes(original, m),
      },
    ];
    return cases;
  },
};
export default target;
