/** Tauri updater signatures: a `.sig` (base64 of a minisign signature file), pinned by the updater pubkey. */
import { checkMinisignKey, MINISIG_MAX_BYTES } from './minisign';
import { tauriPolicy, type TauriPolicy } from './policy/tauri';
import { CLI_MAX_KEY_FILE, type SignatureScheme } from './scheme';

/** tauri.ts's bound on a `.sig` (base64 of a minisign signature file); it does not export it */
export const TAURI_SIG_MAX_BYTES = Math.ceil((MINISIG_MAX_BYTES * 4) / 3) + 16;

export const tauriScheme: SignatureScheme<TauriPolicy> = {
  name: 'tauri',
  policySchema: tauriPolicy,
  usableForManifest: true,
  keyFields: [{ field: 'publicKey', required: true }],
  checkKeys: (policy, path) => checkMinisignKey(policy, path, async (key) => (await import('../tauri')).parseTauriPublicKey(key).keyIdHex),
  companion: { field: 'signatureAsset', maxBytes: TAURI_SIG_MAX_BYTES },
  verify: async (input) => (await import('../tauri')).verifyTauri(input),
  cli: {
    flags: { key: { type: 'string' } },
    signatureSuffixes: ['.sig'],
    async policy({ readText, required }) {
      return { raw: { scheme: 'tauri', publicKey: (await readText(required('key'), CLI_MAX_KEY_FILE, 'key file')).trim() } };
    },
  },
};
