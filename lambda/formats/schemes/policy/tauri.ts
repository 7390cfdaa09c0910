import { z } from 'zod';
import { MINISIGN_KEY_ID, assetName } from './fields';

export const tauriPolicy = z.strictObject({
  scheme: z.literal('tauri'),
  publicKey: z
    .string()
    .min(1)
    .optional()
    .describe('the updater "pubkey" as in tauri.conf.json (base64 of the minisign .pub file), or the .pub file itself, or its "RW…" line'),
  publicKeyFile: z.string().min(1).optional(),
  keyId: z
    .string()
    .regex(MINISIGN_KEY_ID, 'must be the key id in hex, as minisign shows it')
    .optional()
    .describe('optional pin: the minisign key id inside publicKey, checked when the configuration is loaded'),
  signatureAsset: assetName.default('{asset}.sig'),
});
export type TauriPolicy = z.output<typeof tauriPolicy>;
