/** Apple code signing: the signature embedded in a Mach-O, an .app in a zip/tar, or a DMG, pinned by Team ID or certificate. */
import { applePolicy, type ApplePolicy } from './policy/apple';
import { certFingerprints, type SignatureScheme } from './scheme';

export const appleScheme: SignatureScheme<ApplePolicy> = {
  name: 'apple',
  policySchema: applePolicy,
  // not a manifest signature today: a sha256sums manifest is a text file, not code
  usableForManifest: false,
  keyFields: [],
  checkKeys: async () => [],
  companion: 'embedded',
  // Loaded on demand, like Authenticode: Mach-O, archive and plist parsing only for macOS assets.
  verify: async (input) => (await import('../apple/verify')).verifyApple(input),
  cli: {
    help: `  --any-apple-identity  apple: accept any Apple-issued code signing certificate, not only
                        Developer ID Application (the default)`,
    flags: { 'cert-sha256': { type: 'string', multiple: true }, 'team-id': { type: 'string' }, 'any-apple-identity': { type: 'boolean' } },
    signatureSuffixes: [],
    async policy({ values, usage }) {
      if (!values['team-id'] && !values['cert-sha256']) throw usage('--team-id and/or --cert-sha256 is required for --scheme apple');
      const certSha256 = certFingerprints(values);
      return {
        raw: {
          scheme: 'apple',
          ...(values['team-id'] ? { teamId: values['team-id'] } : {}),
          ...(certSha256 ? { certSha256 } : {}),
          requireDeveloperId: !values['any-apple-identity'],
        },
      };
    },
  },
};
