import * as z from 'zod/mini';
import { assetName, nonEmpty, optionalDescribed } from './fields';

export const sigstorePolicy = z
  .strictObject({
    scheme: z.literal('sigstore'),
    bundleAsset: z._default(assetName, '{asset}.sigstore.json'),
    issuer: optionalDescribed(z.url(), 'OIDC issuer, compared exactly (keyless bundles; with san)'),
    san: optionalDescribed(nonEmpty(), 'certificate subject alternative name, compared exactly (escaped and anchored; keyless bundles; with issuer)'),
    publicKey: optionalDescribed(
      nonEmpty(),
      'pinned signing key, PEM "PUBLIC KEY" (key-based bundles: cosign sign-blob --key … --bundle); instead of issuer + san',
    ),
    publicKeyFile: z.optional(nonEmpty()),
    trustedRoot: optionalDescribed(nonEmpty(), 'pinned trusted_root.json content'),
    trustedRootFile: z.optional(nonEmpty()),
  })
  .check(
    z.refine((p) => (p.issuer !== undefined) === (p.san !== undefined), { message: 'issuer and san go together: give both (keyless bundles)', path: ['san'] }),
    z.refine((p) => (p.issuer !== undefined) !== (p.publicKey !== undefined || p.publicKeyFile !== undefined), {
      message: 'pin the signer one way: issuer + san (keyless, Fulcio certificate) or publicKey / publicKeyFile (key-based bundle), not both and not neither',
      path: ['issuer'],
    }),
  );
export type SigstorePolicy = z.output<typeof sigstorePolicy>;
