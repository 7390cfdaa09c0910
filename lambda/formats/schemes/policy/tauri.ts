import * as z from 'zod/mini';
import { MINISIGN_KEY_ID, assetName, nonEmpty, optionalDescribed } from './fields';

export const tauriPolicy = z.strictObject({
  scheme: z.literal('tauri'),
  publicKey: optionalDescribed(
    nonEmpty(),
    'the updater "pubkey" as in tauri.conf.json (base64 of the minisign .pub file), or the .pub file itself, or its "RW…" line',
  ),
  publicKeyFile: z.optional(nonEmpty()),
  keyId: optionalDescribed(
    z.string().check(z.regex(MINISIGN_KEY_ID, 'must be the key id in hex, as minisign shows it')),
    'optional pin: the minisign key id inside publicKey, checked when the configuration is loaded',
  ),
  signatureAsset: z._default(assetName, '{asset}.sig'),
});
export type TauriPolicy = z.output<typeof tauriPolicy>;
