import { z } from 'zod';
import { assetName } from './fields';

export const sigstorePolicy = z
  .strictObject({
    scheme: z.literal('sigstore'),
    bundleAsset: assetName.default('{asset}.sigstore.json'),
    issuer: z.string().url().optional().describe('OIDC issuer, compared exactly (keyless bundles; with san)'),
    san: z.string().min(1).optional().describe('certificate subject alternative name, compared exactly (escaped and anchored; keyless bundles; with issuer)'),
    publicKey: z
      .string()
      .min(1)
      .optional()
      .describe('pinned signing key, PEM "PUBLIC KEY" (key-based bundles: cosign sign-blob --key … --bundle); instead of issuer + san'),
    publicKeyFile: z.string().min(1).optional(),
    trustedRoot: z.string().min(1).optional().describe('pinned trusted_root.json content'),
    trustedRootFile: z.string().min(1).optional(),
  })
  .refine((p) => (p.issuer !== undefined) === (p.san !== undefined), { message: 'issuer and san go together: give both (keyless bundles)', path: ['san'] })
  .refine((p) => (p.issuer !== undefined) !== (p.publicKey !== undefined || p.publicKeyFile !== undefined), {
    message: 'pin the signer one way: issuer + san (keyless, Fulcio certificate) or publicKey / publicKeyFile (key-based bundle), not both and not neither',
    path: ['issuer'],
  });
export type SigstorePolicy = z.output<typeof sigstorePolicy>;
