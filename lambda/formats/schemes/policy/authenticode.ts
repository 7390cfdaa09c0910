import * as z from 'zod/mini';
import { certSha256List, nonEmpty, optionalDescribed } from './fields';

export const authenticodePolicy = z.strictObject({
  scheme: z.literal('authenticode'),
  certSha256: optionalDescribed(certSha256List(), 'pinned signer certificate SHA-256 fingerprints (any one may sign)'),
  caCertificate: optionalDescribed(nonEmpty(), 'PEM of a pinned issuing CA (with subject)'),
  caCertificateFile: z.optional(nonEmpty()),
  subject: optionalDescribed(nonEmpty(), 'required signer subject when pinning by CA, e.g. "CN=Mealplanner Maintainer"'),
  tsaCertificate: optionalDescribed(
    nonEmpty(),
    'PEM of CA(s) trusted for timestamps (RFC 3161 tokens and legacy PKCS#9 countersignatures), in addition to the system roots',
  ),
  tsaCertificateFile: z.optional(nonEmpty()),
  signatures: optionalDescribed(
    z.enum(['primary', 'any-pinned']),
    'which signature must verify: "primary" (default: the first SignerInfo; nested signatures never stand in for it) or "any-pinned" (the primary or any nested signature, e.g. the SHA-256 one of a dual-signed file)',
  ),
});
export type AuthenticodePolicy = z.output<typeof authenticodePolicy>;
