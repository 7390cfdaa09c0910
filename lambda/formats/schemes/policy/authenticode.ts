import { z } from 'zod';
import { certSha256List } from './fields';

export const authenticodePolicy = z.strictObject({
  scheme: z.literal('authenticode'),
  certSha256: certSha256List().optional().describe('pinned signer certificate SHA-256 fingerprints (any one may sign)'),
  caCertificate: z.string().min(1).optional().describe('PEM of a pinned issuing CA (with subject)'),
  caCertificateFile: z.string().min(1).optional(),
  subject: z.string().min(1).optional().describe('required signer subject when pinning by CA, e.g. "CN=Mealplanner Maintainer"'),
  tsaCertificate: z
    .string()
    .min(1)
    .optional()
    .describe('PEM of CA(s) trusted for timestamps (RFC 3161 tokens and legacy PKCS#9 countersignatures), in addition to the system roots'),
  tsaCertificateFile: z.string().min(1).optional(),
  signatures: z
    .enum(['primary', 'any-pinned'])
    .optional()
    .describe(
      'which signature must verify: "primary" (default: the first SignerInfo; nested signatures never stand in for it) or "any-pinned" (the primary or any nested signature, e.g. the SHA-256 one of a dual-signed file)',
    ),
});
export type AuthenticodePolicy = z.output<typeof authenticodePolicy>;
