/** Object identifiers of Apple code signing (issue 12). */
export const APPLE_OID = {
  /** signed attribute: plist {cdhashes: [20-byte hashes]} of every CodeDirectory, in slot order */
  cdhashesPlist: '1.2.840.113635.100.9.1',
  /** signed attribute: SET of SEQUENCE { digest algorithm, full CodeDirectory hash } */
  cdhashesDigests: '1.2.840.113635.100.9.2',
  /** unsigned attribute: RFC 3161 timestamp token over the signature value (id-aa-timeStampToken) */
  timeStampToken: '1.2.840.113549.1.9.16.2.14',
  /** leaf extension: Developer ID Application */
  developerIdApplication: '1.2.840.113635.100.6.1.13',
  /** intermediate extension: Developer ID Certification Authority */
  developerIdCa: '1.2.840.113635.100.6.2.6',
  /** leaf extensions Apple uses for other signing identities (reported only) */
  appleDevelopment: '1.2.840.113635.100.6.1.12',
  macAppStore: '1.2.840.113635.100.6.1.9',
  appleSoftwareSigning: '1.2.840.113635.100.6.22',
  organizationalUnit: '2.5.4.11',
} as const;

/** CodeDirectory hash types and the digest OIDs that name them in the cdhashes attribute. */
export const DIGEST_OID: Readonly<Record<string, string>> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
