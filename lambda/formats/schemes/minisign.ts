/** minisign: a detached `.minisig` beside the asset, pinned by public key (and optionally key id). */
import { minisignPolicy, type MinisignPolicy } from './policy/minisign';
import { CLI_MAX_KEY_FILE, reason, type PolicyIssue, type SignatureScheme } from './scheme';

/** minisign's bound on a signature file; equals MAX_SIGNATURE_FILE_BYTES in ../minisign (a test holds that) */
export const MINISIG_MAX_BYTES = 16 * 1024;

/** Minisign shows key ids without leading zeros; compare them as numbers written in hex. */
export function sameKeyId(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .trim()
      .toUpperCase()
      .replace(/^0+(?=.)/, '');
  return norm(a) === norm(b);
}

/** The minisign and tauri key check: the key parses; a pinned keyId is the key's. */
export async function checkMinisignKey(
  policy: { scheme: string; publicKey?: string; keyId?: string },
  path: string,
  keyIdOf: (publicKey: string) => Promise<string>,
): Promise<PolicyIssue[]> {
  if (policy.publicKey === undefined) return []; // "is required" is reported at load (keyFields)
  let keyIdHex: string;
  try {
    keyIdHex = await keyIdOf(policy.publicKey);
  } catch (err) {
    return [{ path: `${path}.publicKey`, message: `is not a usable ${policy.scheme} public key: ${reason(err)}` }];
  }
  if (policy.keyId !== undefined && !sameKeyId(policy.keyId, keyIdHex))
    return [{ path: `${path}.keyId`, message: `pins key id ${policy.keyId}, but the public key has key id ${keyIdHex}` }];
  return [];
}

export const minisignScheme: SignatureScheme<MinisignPolicy> = {
  name: 'minisign',
  policySchema: minisignPolicy,
  usableForManifest: true,
  keyFields: [{ field: 'publicKey', required: true }],
  checkKeys: (policy, path) => checkMinisignKey(policy, path, async (key) => (await import('../minisign')).parseMinisignPublicKey(key).keyIdHex),
  companion: { field: 'signatureAsset', maxBytes: MINISIG_MAX_BYTES },
  verify: async (input) => (await import('../minisign')).verifyMinisign(input),
  cli: {
    help: `  --prehashed-only      minisign: refuse legacy non-prehashed "Ed" signatures (minisign -V -H);
                        by default they are accepted, as minisign -V and Tauri's updater do
  --allow-legacy        minisign: accepted for older scripts (legacy signatures are the default)`,
    flags: { key: { type: 'string' }, 'allow-legacy': { type: 'boolean' }, 'prehashed-only': { type: 'boolean' } },
    signatureSuffixes: ['.minisig'],
    async policy({ values, readText, required, usage }) {
      if (values['allow-legacy'] && values['prehashed-only']) throw usage('--allow-legacy and --prehashed-only contradict each other');
      return { raw: { scheme: 'minisign', publicKey: await readText(required('key'), CLI_MAX_KEY_FILE, 'key file'), prehashedOnly: values['prehashed-only'] } };
    },
  },
};
