/** Object identifiers used by Authenticode (signatures.md §1.4–1.5, §2). */
import type { AuthenticodeHash } from '../pe/authenticode-digest';

export const OID = {
  signedData: '1.2.840.113549.1.7.2',
  spcIndirectData: '1.3.6.1.4.1.311.2.1.4',
  spcPeImageData: '1.3.6.1.4.1.311.2.1.15',
  spcSipInfo: '1.3.6.1.4.1.311.2.1.30',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  counterSignature: '1.2.840.113549.1.9.6',
  rfc3161Timestamp: '1.3.6.1.4.1.311.3.3.1',
  nestedSignature: '1.3.6.1.4.1.311.2.4.1',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  data: '1.2.840.113549.1.7.1',
  signingTime: '1.2.840.113549.1.9.5',
  extKeyUsage: '2.5.29.37',
  keyUsage: '2.5.29.15',
  ekuCodeSigning: '1.3.6.1.5.5.7.3.3',
  ekuTimeStamping: '1.3.6.1.5.5.7.3.8',
  ekuLifetimeSigning: '1.3.6.1.4.1.311.10.3.13',
} as const;

export const HASH_BY_OID: Readonly<Record<string, AuthenticodeHash>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export const HASH_LENGTH: Readonly<Record<AuthenticodeHash, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/**
 * Digest algorithms refused with the reason "insecure digest algorithm" (collisions are practical),
 * and signature algorithms that name one of them. Windows still accepts SHA-1 Authenticode; we do
 * not (issue 12): a dual-signed file can be checked by its SHA-256 nested signature instead.
 */
export const INSECURE_HASH_BY_OID: Readonly<Record<string, 'md5' | 'sha1'>> = {
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
};
export const INSECURE_SIGNATURE_ALGORITHMS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSASignature',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
};

export function insecureDigestReason(name: string): string {
  return `insecure digest algorithm ${name.toUpperCase().replace(/^SHA(\d)/, 'SHA-$1')}: refused (collisions are practical)`;
}
