/** Sigstore bundles: a `.sigstore.json` beside the asset, pinned by identity (issuer + SAN) or key, and a trusted root. */
import { sigstorePolicy, type SigstorePolicy } from './policy/sigstore';
import { CLI_MAX_KEY_FILE, CLI_MAX_TRUSTED_ROOT, reason, type PolicyIssue, type SignatureScheme } from './scheme';

/** sigstore.ts's bound on a bundle; equals MAX_BUNDLE_BYTES in ../sigstore (a test holds that) */
export const BUNDLE_MAX_BYTES = 1024 * 1024;

async function checkKeys(policy: SigstorePolicy, path: string): Promise<PolicyIssue[]> {
  const out: PolicyIssue[] = [];
  if (policy.publicKey !== undefined) {
    // a key-based bundle's pinned key: a PEM "PUBLIC KEY" node can read
    const { createPublicKey } = await import('node:crypto');
    try {
      if (!/-----BEGIN PUBLIC KEY-----/.test(policy.publicKey)) throw new Error('no "-----BEGIN PUBLIC KEY-----" block');
      createPublicKey(policy.publicKey);
    } catch (err) {
      out.push({ path: `${path}.publicKey`, message: `is not a usable PEM public key: ${reason(err)}` });
    }
  }
  if (policy.trustedRoot === undefined) return out;
  const { parseTrustedRoot } = await import('../sigstore');
  try {
    parseTrustedRoot(policy.trustedRoot);
  } catch (err) {
    out.push({ path: `${path}.trustedRoot`, message: `is not a usable sigstore trusted root: ${reason(err)}` });
  }
  return out;
}

export const sigstoreScheme: SignatureScheme<SigstorePolicy> = {
  name: 'sigstore',
  policySchema: sigstorePolicy,
  usableForManifest: true,
  keyFields: [
    { field: 'trustedRoot', required: true },
    { field: 'publicKey', required: false },
  ],
  checkKeys,
  companion: { field: 'bundleAsset', maxBytes: BUNDLE_MAX_BYTES },
  verify: async (input) => (await import('../sigstore')).verifySigstore(input),
  cli: {
    help: `  --trusted-root FILE   sigstore: pinned trusted_root.json
  --issuer URL          sigstore: OIDC issuer, compared exactly
  --san STRING          sigstore: certificate SAN, compared exactly
  --public-key FILE     sigstore: pinned signing key (PEM, e.g. cosign.pub) for key-based
                        bundles (cosign sign-blob --key … --bundle); instead of --issuer/--san`,
    flags: { 'trusted-root': { type: 'string' }, issuer: { type: 'string' }, san: { type: 'string' }, 'public-key': { type: 'string' } },
    signatureSuffixes: ['.sigstore.json'],
    async policy({ values, readText, required, usage }) {
      const trustedRoot = await readText(required('trusted-root'), CLI_MAX_TRUSTED_ROOT, 'trusted root');
      const publicKey = values['public-key'];
      if (typeof publicKey === 'string') {
        // key-based bundle (cosign sign-blob --key … --bundle): the key is the pin, not an identity
        if (values.issuer !== undefined || values.san !== undefined)
          throw usage('--public-key pins a key-based bundle: give it instead of --issuer and --san, not with them');
        return { raw: { scheme: 'sigstore', trustedRoot, publicKey: await readText(publicKey, CLI_MAX_KEY_FILE, 'public key') } };
      }
      return { raw: { scheme: 'sigstore', trustedRoot, issuer: required('issuer'), san: required('san') } };
    },
  },
};
