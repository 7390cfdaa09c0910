import * as z from 'zod/mini';
import { OPENPGP_FPR, assetName, nonEmpty, optionalDescribed } from './fields';

export const openpgpPolicy = z.strictObject({
  scheme: z.literal('openpgp'),
  fingerprint: z
    .string()
    .check(z.regex(OPENPGP_FPR, 'must be the primary key fingerprint: 40 (v4) or 64 (v6) hex digits, no spaces'), z.describe('pinned primary key fingerprint')),
  publicKey: optionalDescribed(nonEmpty(), 'armored public key'),
  publicKeyFile: z.optional(nonEmpty()),
  signatureAsset: z._default(assetName, '{asset}.asc'),
  allowTextMode: optionalDescribed(
    z.boolean(),
    'accept text-mode (0x01) signatures, which sign the text with canonical CRLF line endings rather than the bytes: for text assets only (default: true for a sha256sums manifest, false for other assets)',
  ),
});

/** A manifest is a text asset: text-mode signatures by default, and it may be cleartext-signed. */
export const openpgpManifestPolicy = z.extend(openpgpPolicy, {
  allowTextMode: z
    ._default(z.boolean(), true)
    .check(z.describe('accept text-mode (0x01) signatures over the manifest (line endings are not signed; the manifest parser ignores them)')),
  cleartext: optionalDescribed(
    z.boolean(),
    'the manifest asset is itself cleartext-signed (-----BEGIN PGP SIGNED MESSAGE-----, gpg --clearsign): verified, then read from the signed text only; no signature asset',
  ),
});
/** An OpenPGP policy as the checker sees it: `cleartext` is set only for manifests (and by check-signature --cleartext). */
export type OpenpgpPolicy = z.output<typeof openpgpPolicy> & { cleartext?: boolean };
