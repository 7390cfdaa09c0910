import { z } from 'zod';
import { certSha256List } from './fields';

export const applePolicy = z
  .strictObject({
    scheme: z.literal('apple'),
    teamId: z
      .string()
      .regex(/^[A-Z0-9]{10}$/, 'must be the 10-character Apple Team ID, e.g. ZCK58M894E (the OU of the signing certificate)')
      .optional()
      .describe('pinned Apple Team ID: the signing certificate subject OU (and the CodeDirectory team ID)'),
    certSha256: certSha256List().optional().describe('pinned leaf certificate SHA-256 fingerprints (any one may sign)'),
    requireDeveloperId: z
      .boolean()
      .default(true)
      .describe(
        'accept only Developer ID Application certificates (default); false accepts any Apple-issued code signing identity chaining to the Apple roots',
      ),
  })
  .refine((p) => p.teamId !== undefined || p.certSha256 !== undefined, { message: 'pin the signer: give teamId and/or certSha256', path: ['teamId'] })
  .describe('Apple code signature embedded in the asset (Mach-O, .app in zip/tar, DMG); no signature asset');
export type ApplePolicy = z.output<typeof applePolicy>;
