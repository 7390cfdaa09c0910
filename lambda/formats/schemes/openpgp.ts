/** OpenPGP: a detached `.asc` (or a cleartext-signed manifest), pinned by primary key fingerprint. */
import { openpgpManifestPolicy, openpgpPolicy, type OpenpgpPolicy } from './policy/openpgp';
import { CLI_MAX_KEY_FILE, reason, type PolicyIssue, type SignatureScheme } from './scheme';

/** openpgp.ts's bound on a detached signature; equals MAX_OPENPGP_SIGNATURE_BYTES in ../openpgp (a test holds that) */
export const OPENPGP_SIGNATURE_MAX_BYTES = 256 * 1024;

async function checkKeys(policy: OpenpgpPolicy, path: string): Promise<PolicyIssue[]> {
  if (policy.publicKey === undefined) return [];
  // a keyring is allowed (formats/openpgp.ts verifies with the ring's pinned key): the pinned
  // fingerprint must be a primary key of the ring exactly once — never "some key of the ring"
  const { primaryFingerprint, readOpenpgpKeys } = await import('../openpgp');
  let fprs: string[];
  try {
    fprs = (await readOpenpgpKeys(policy.publicKey)).map(primaryFingerprint);
  } catch (err) {
    return [{ path: `${path}.publicKey`, message: `is not a usable OpenPGP public key: ${reason(err)}` }];
  }
  const pinned = policy.fingerprint.toUpperCase();
  const hits = fprs.filter((f) => f === pinned).length;
  if (hits === 1) return [];
  if (hits > 1)
    return [
      {
        path: `${path}.publicKey`,
        message: `holds the pinned key ${pinned} ${hits} times: export the ring again (gpg --armor --export) so each key appears once`,
      },
    ];
  if (fprs.length === 1) return [{ path: `${path}.fingerprint`, message: `pins ${pinned}, but the public key's primary fingerprint is ${fprs[0]}` }];
  return [
    {
      path: `${path}.fingerprint`,
      message: `pins ${pinned}, but none of the ${fprs.length} keys of the keyring has that primary fingerprint (${fprs.join(', ').slice(0, 600)})`,
    },
  ];
}

export const openpgpScheme: SignatureScheme<OpenpgpPolicy> = {
  name: 'openpgp',
  policySchema: openpgpPolicy,
  manifestPolicySchema: openpgpManifestPolicy,
  usableForManifest: true,
  keyFields: [{ field: 'publicKey', required: true }],
  checkKeys,
  // a cleartext-signed manifest carries its signature inside: no signature asset is read
  companion: { field: 'signatureAsset', maxBytes: OPENPGP_SIGNATURE_MAX_BYTES, embeddedWhen: (p) => p.cleartext === true },
  verify: async (input) => (await import('../openpgp')).verifyOpenpgp(input),
  cli: {
    help: `  --fingerprint HEX     openpgp: pinned primary key fingerprint (default: the key file's own)
  --text                openpgp: accept a text-mode (0x01) signature, for text files such as
                        SHA256SUMS (line endings are then not signed)
  --cleartext           openpgp: --file is cleartext-signed (gpg --clearsign); no --signature.
                        Text outside the signed block is not covered: a warning on stderr
                        (and "unsignedTextOutsideBlock": true with --json) when there is any`,
    flags: { key: { type: 'string' }, fingerprint: { type: 'string' }, text: { type: 'boolean' }, cleartext: { type: 'boolean' } },
    signatureSuffixes: ['.asc', '.sig'],
    async policy({ values, readBytes, required, usage, note }) {
      const keyPath = required('key');
      const bytes = await readBytes(keyPath, CLI_MAX_KEY_FILE, 'key file');
      // openpgp is loaded only for this scheme (issue 14: startup)
      const { primaryFingerprint, readOpenpgpKeys, selectPinnedKey } = await import('../openpgp');
      const keys = await readOpenpgpKeys(bytes);
      let fingerprint = typeof values.fingerprint === 'string' ? values.fingerprint.replace(/\s+/g, '') : undefined;
      if (!fingerprint) {
        if (keys.length !== 1)
          throw usage(`key file ${keyPath} holds ${keys.length} keys (${keys.map(primaryFingerprint).join(', ')}): name the pinned one with --fingerprint`);
        fingerprint = primaryFingerprint(keys[0]!);
        note(`no --fingerprint given: pinned the primary fingerprint of ${keyPath} (${fingerprint})`);
      }
      if (values.cleartext && values.signature) throw usage('--cleartext takes no --signature: the signature is inside --file');
      // The pinned key of a keyring (or the one key, which verifyOpenpgp then finds not pinned).
      const key = selectPinnedKey(keys, fingerprint) ?? keys[0]!;
      return {
        raw: { scheme: 'openpgp', publicKey: key.armor(), fingerprint, ...(values.text ? { allowTextMode: true } : {}) },
        // A cleartext-signed file carries its signature (a manifest-only option in the config schema).
        ...(values.cleartext ? { extra: { cleartext: true } } : {}),
      };
    },
  },
};
