import * as z from 'zod/mini';
import { MINISIGN_KEY_ID, assetName, nonEmpty, optionalDescribed } from './fields';

// Key material: give exactly one of the inline field or its `…File` twin; checked at load (keyFields)
// so that the message can name the field.
export const minisignPolicy = z.strictObject({
  scheme: z.literal('minisign'),
  publicKey: optionalDescribed(nonEmpty(), 'minisign public key (the "RW…" line or the whole .pub file)'),
  publicKeyFile: optionalDescribed(nonEmpty(), 'path to the minisign .pub file, relative to this config'),
  keyId: optionalDescribed(
    z.string().check(z.regex(MINISIGN_KEY_ID, 'must be the key id in hex, as minisign shows it (e.g. 7A1F5C0E2B3D4F60)')),
    'optional pin: the key id of publicKey, checked when the configuration is loaded',
  ),
  signatureAsset: z._default(assetName, '{asset}.minisig'),
  prehashedOnly: z
    ._default(z.boolean(), false)
    .check(
      z.describe(
        'refuse legacy non-prehashed "Ed" signatures (as minisign -V -H does); by default they are accepted, as minisign -V and the Tauri updater accept them',
      ),
    ),
  allowLegacy: optionalDescribed(
    z.boolean(),
    'older spelling, kept readable: allowLegacy: false is prehashedOnly: true (when the two disagree, legacy signatures are refused)',
  ),
});
export type MinisignPolicy = z.output<typeof minisignPolicy>;
