import * as z from 'zod/mini';
import { certSha256List, optionalDescribed } from './fields';

export const applePolicy = z
  .strictObject({
    scheme: z.literal('apple'),
    teamId: optionalDescribed(
      z.string().check(z.regex(/^[A-Z0-9]{10}$/, 'must be the 10-character Apple Team ID, e.g. ZCK58M894E (the OU of the signing certificate)')),
      'pinned Apple Team ID: the signing certificate subject OU (and the CodeDirectory team ID)',
    ),
    certSha256: optionalDescribed(certSha256List(), 'pinned leaf certificate SHA-256 fingerprints (any one may sign)'),
    requireDeveloperId: z
      ._default(z.boolean(), true)
      .check(
        z.describe(
          'accept only Developer ID Application certificates (default); false accepts any Apple-issued code signing identity chaining to the Apple roots',
        ),
      ),
  })
  .check(
    z.refine((p) => p.teamId !== undefined || p.certSha256 !== undefined, { message: 'pin the signer: give teamId and/or certSha256', path: ['teamId'] }),
    z.describe('Apple code signature embedded in the asset (Mach-O, .app in zip/tar, DMG); no signature asset'),
  );
export type ApplePolicy = z.output<typeof applePolicy>;
