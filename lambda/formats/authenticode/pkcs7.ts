/**
 * Structural reading of an Authenticode PKCS#7 (signatures.md §1.4) with pkijs/asn1js, plus the
 * checks pkijs leaves to the caller: exactly one SignerInfo, SignedData v1 with SPC_INDIRECT_DATA
 * content as a SEQUENCE (OCTET-STRING-wrapped v3 content is refused, as osslsigncode does), the
 * contentType attribute's VALUE, a single messageDigest, and the SpcIndirectDataContent
 * (data type + DigestInfo). Cryptographic verification lives in verify.ts.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { FormatError } from '../../base/errors';
import { assertStrictEncoding } from '../der';
import type { AuthenticodeHash } from '../pe/authenticode-digest';
import { HASH_BY_OID, HASH_LENGTH, INSECURE_HASH_BY_OID, OID, insecureDigestReason } from './oids';

/** Bounds for untrusted signatures. */
const MAX_CERTIFICATES = 64;

export interface AuthenticodePkcs7 {
  signedData: pkijs.SignedData;
  signerInfo: pkijs.SignerInfo;
  /** the original DER of each entry of signedData.certificates (same order; non-X.509 entries too) */
  certificatesDer: Uint8Array[];
  /** SpcIndirectDataContent.data.type: SpcPeImageData (PE) or SpcSipInfo (MSI) */
  dataType: string;
  /** DigestInfo of the SpcIndirectDataContent: the Authenticode digest the signer vouches for */
  digestAlgorithm: AuthenticodeHash;
  digest: Buffer;
  /** the SpcIndirectDataContent content octets (without tag and length): what messageDigest covers */
  contentOctets: Uint8Array;
  /** SignerInfo.digestAlgorithm (hashes contentOctets for the messageDigest attribute) */
  signerDigestAlgorithm: AuthenticodeHash;
  /** the messageDigest signed attribute */
  messageDigest: Buffer;
}

function bad(message: string): FormatError {
  return new FormatError('authenticode', `malformed Authenticode signature: ${message}`);
}

function oidOf(block: unknown): string | undefined {
  return block instanceof asn1js.ObjectIdentifier ? block.valueBlock.toString() : undefined;
}

function octets(block: unknown, what: string): Buffer {
  if (!(block instanceof asn1js.OctetString) || block.idBlock.isConstructed) throw bad(`${what} is not a primitive OCTET STRING`);
  return Buffer.from(block.valueBlock.valueHexView);
}

/** Parses a DER ContentInfo/SignedData holding an Authenticode signature. Throws FormatError. */
export function parseAuthenticodePkcs7(der: Uint8Array, expectedDataType?: string): AuthenticodePkcs7 {
  const { contentInfo, signedData } = readSignedData(der);
  const signerInfo = readSignerInfo(signedData);
  const content = readIndirectDataContent(signedData.encapContentInfo, expectedDataType);
  const messageDigest = readMessageDigestAttribute(signerInfo);
  const signerDigestAlgorithm = readSignerAlgorithms(signerInfo);

  return {
    signedData,
    signerInfo,
    certificatesDer: rawCertificates(contentInfo.content, signedData),
    ...content,
    signerDigestAlgorithm,
    messageDigest,
  };
}

/** Strict DER → ContentInfo → SignedData (version 1). */
function readSignedData(der: Uint8Array): { contentInfo: pkijs.ContentInfo; signedData: pkijs.SignedData } {
  const asn = asn1js.fromBER(der);
  if (asn.offset === -1) throw bad(`not DER (${asn.result.error || 'parse error'})`);
  if (asn.offset !== der.byteLength) throw bad(`${der.byteLength - asn.offset} bytes follow the PKCS#7 structure`);
  assertStrictEncoding(asn.result, bad);

  let contentInfo: pkijs.ContentInfo;
  let signedData: pkijs.SignedData;
  try {
    contentInfo = new pkijs.ContentInfo({ schema: asn.result });
  } catch (err) {
    throw bad(`not a ContentInfo (${(err as Error).message})`);
  }
  if (contentInfo.contentType !== OID.signedData) throw bad(`content type ${contentInfo.contentType} is not SignedData`);
  try {
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (err) {
    throw bad(`SignedData does not parse (${(err as Error).message})`);
  }
  if (signedData.version !== 1) throw bad(`SignedData version ${signedData.version} (Authenticode uses 1)`);
  return { contentInfo, signedData };
}

/** The one SignerInfo, with a version that fits its signer identifier. */
function readSignerInfo(signedData: pkijs.SignedData): pkijs.SignerInfo {
  if (signedData.signerInfos.length !== 1) throw bad(`${signedData.signerInfos.length} SignerInfos (exactly one required)`);
  const signerInfo = signedData.signerInfos[0];
  // CMS: version 1 goes with issuerAndSerialNumber, 3 with subjectKeyIdentifier.
  const bySerial = signerInfo.sid instanceof pkijs.IssuerAndSerialNumber;
  if (signerInfo.version !== (bySerial ? 1 : 3)) throw bad(`SignerInfo version ${signerInfo.version} does not fit its signer identifier`);
  return signerInfo;
}

type IndirectDataContent = Pick<AuthenticodePkcs7, 'dataType' | 'digestAlgorithm' | 'digest' | 'contentOctets'>;

/** The encapsulated content: SpcIndirectDataContent, as a SEQUENCE (not wrapped in an OCTET STRING). */
function readIndirectDataContent(eci: pkijs.EncapsulatedContentInfo, expectedDataType: string | undefined): IndirectDataContent {
  if (eci.eContentType !== OID.spcIndirectData) throw bad(`content type ${eci.eContentType} is not SPC_INDIRECT_DATA`);
  const eContent = eci.eContent as unknown;
  if (!(eContent instanceof asn1js.Sequence)) throw bad('SpcIndirectDataContent is missing or not a SEQUENCE');
  const idc = eContent.valueBlock.value;
  if (idc.length !== 2) throw bad(`SpcIndirectDataContent has ${idc.length} elements (2 expected)`);
  const [data, digestInfo] = idc;
  if (!(data instanceof asn1js.Sequence) || data.valueBlock.value.length < 1 || data.valueBlock.value.length > 2) {
    throw bad('SpcIndirectDataContent.data is not a SEQUENCE { type, value }');
  }
  const dataType = oidOf(data.valueBlock.value[0]);
  if (!dataType) throw bad('SpcIndirectDataContent.data.type is not an OID');
  if (expectedDataType && dataType !== expectedDataType) throw bad(`signed data type ${dataType} is not ${expectedDataType}`);
  const { digestAlgorithm, digest } = readDigestInfo(digestInfo);
  return { dataType, digestAlgorithm, digest, contentOctets: eContent.valueBlock.valueBeforeDecodeView };
}

/** DigestInfo { algorithm, digest }: the Authenticode digest the signer vouches for. */
function readDigestInfo(digestInfo: unknown): { digestAlgorithm: AuthenticodeHash; digest: Buffer } {
  if (!(digestInfo instanceof asn1js.Sequence) || digestInfo.valueBlock.value.length !== 2) throw bad('DigestInfo is not a SEQUENCE { algorithm, digest }');
  const [alg, digestBlock] = digestInfo.valueBlock.value;
  if (!(alg instanceof asn1js.Sequence) || alg.valueBlock.value.length < 1 || alg.valueBlock.value.length > 2)
    throw bad('DigestInfo.algorithm is not an AlgorithmIdentifier');
  const algOid = oidOf(alg.valueBlock.value[0]) ?? '?';
  const digestAlgorithm = HASH_BY_OID[algOid];
  // MD5 cannot even be computed here (AuthenticodeHash has no MD5): refused while parsing, with the
  // same reason verify.ts gives for SHA-1. SHA-1 parses, so that a SHA-256 nested signature can
  // still be found under it; verify.ts refuses SHA-1 when it judges a signature.
  if (INSECURE_HASH_BY_OID[algOid] === 'md5') throw new FormatError('authenticode', insecureDigestReason('md5'));
  if (!digestAlgorithm) throw bad(`unsupported digest algorithm ${algOid}`);
  const digest = octets(digestBlock, 'DigestInfo.digest');
  if (digest.length !== HASH_LENGTH[digestAlgorithm]) throw bad(`${digestAlgorithm} digest of ${digest.length} bytes`);
  return { digestAlgorithm, digest };
}

/** Signed attributes: contentType (by value) and messageDigest, each exactly once with one value. */
function readMessageDigestAttribute(signerInfo: pkijs.SignerInfo): Buffer {
  const attrs = signerInfo.signedAttrs?.attributes;
  if (!attrs) throw bad('SignerInfo has no signed attributes');
  const contentTypeAttrs = attrs.filter((a) => a.type === OID.contentType);
  const messageDigestAttrs = attrs.filter((a) => a.type === OID.messageDigest);
  if (contentTypeAttrs.length !== 1 || contentTypeAttrs[0].values.length !== 1) throw bad('contentType attribute missing or repeated');
  if (oidOf(contentTypeAttrs[0].values[0]) !== OID.spcIndirectData) throw bad('contentType attribute is not SPC_INDIRECT_DATA');
  if (messageDigestAttrs.length !== 1 || messageDigestAttrs[0].values.length !== 1) throw bad('messageDigest attribute missing or repeated');
  return octets(messageDigestAttrs[0].values[0], 'messageDigest attribute');
}

/** SignerInfo.digestAlgorithm, after checking neither algorithm smuggles parameters. */
function readSignerAlgorithms(signerInfo: pkijs.SignerInfo): AuthenticodeHash {
  // Unsigned fields must not carry data a verifier would ignore: hash and (non-PSS) signature
  // algorithm parameters are absent or NULL.
  requireNoParameters(signerInfo.digestAlgorithm, 'SignerInfo digest algorithm');
  if (signerInfo.signatureAlgorithm.algorithmId !== RSASSA_PSS) requireNoParameters(signerInfo.signatureAlgorithm, 'SignerInfo signature algorithm');
  if (INSECURE_HASH_BY_OID[signerInfo.digestAlgorithm.algorithmId] === 'md5') throw new FormatError('authenticode', insecureDigestReason('md5'));
  const signerDigestAlgorithm = HASH_BY_OID[signerInfo.digestAlgorithm.algorithmId];
  if (!signerDigestAlgorithm) throw bad(`unsupported SignerInfo digest algorithm ${signerInfo.digestAlgorithm.algorithmId}`);
  return signerDigestAlgorithm;
}

const RSASSA_PSS = '1.2.840.113549.1.1.10';

function requireNoParameters(alg: pkijs.AlgorithmIdentifier, what: string): void {
  const params = alg.algorithmParams as unknown;
  if (params !== undefined && !(params instanceof asn1js.Null)) throw bad(`${what} has unexpected parameters`);
}

/** The original encodings of the certificates [0] set, so fingerprints hash the bytes as signed. */
export function rawCertificates(signedDataSchema: unknown, signedData: pkijs.SignedData): Uint8Array[] {
  const count = signedData.certificates?.length ?? 0;
  if (count > MAX_CERTIFICATES) throw bad(`${count} certificates (limit ${MAX_CERTIFICATES})`);
  if (count === 0) return [];
  if (!(signedDataSchema instanceof asn1js.Sequence)) throw bad('SignedData is not a SEQUENCE');
  const set = signedDataSchema.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0);
  if (!set || !(set instanceof asn1js.Constructed)) throw bad('certificates set not found');
  const raw = set.valueBlock.value.map((b) => b.valueBeforeDecodeView);
  if (raw.length !== count) throw bad('certificates set does not match its parsed form');
  return raw;
}

/** The X.509 certificates of a SignedData with their original DER. */
export function certificatesWithDer(p7: Pick<AuthenticodePkcs7, 'signedData' | 'certificatesDer'>): Array<{ cert: pkijs.Certificate; der: Uint8Array }> {
  const out: Array<{ cert: pkijs.Certificate; der: Uint8Array }> = [];
  (p7.signedData.certificates ?? []).forEach((c, i) => {
    if (c instanceof pkijs.Certificate) out.push({ cert: c, der: p7.certificatesDer[i] });
  });
  return out;
}

/**
 * The certificate the SignerInfo names (issuerAndSerialNumber, or subjectKeyIdentifier = SHA-1 of
 * the public key as pkijs computes it). Exactly one certificate must match; none or several → error.
 */
export function findSignerCertificate(
  p7: Pick<AuthenticodePkcs7, 'signedData' | 'certificatesDer'>,
  signerInfo: pkijs.SignerInfo,
): { cert: pkijs.Certificate; der: Uint8Array } {
  const sid = signerInfo.sid as unknown;
  const all = certificatesWithDer(p7);
  let matches: typeof all;
  if (sid instanceof pkijs.IssuerAndSerialNumber) {
    matches = all.filter(({ cert }) => cert.issuer.isEqual(sid.issuer) && cert.serialNumber.isEqual(sid.serialNumber));
  } else {
    const block = sid as asn1js.BaseBlock & { valueBlock: { value?: Array<{ valueBlock: { valueHexView: Uint8Array } }>; valueHexView?: Uint8Array } };
    const keyId = block.idBlock?.isConstructed ? block.valueBlock.value?.[0]?.valueBlock.valueHexView : block.valueBlock?.valueHexView;
    if (!keyId) throw bad('SignerInfo.sid is neither issuerAndSerialNumber nor subjectKeyIdentifier');
    matches = all.filter(({ cert }) =>
      Buffer.from(createHash('sha1').update(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest()).equals(Buffer.from(keyId)),
    );
  }
  // The same certificate included twice (TSA tokens often do) is one candidate; different ones are ambiguous.
  matches = matches.filter((m, i) => matches.findIndex((o) => Buffer.from(o.der).equals(Buffer.from(m.der))) === i);
  if (matches.length === 0) throw bad('the signer certificate is not included in the signature');
  if (matches.length > 1) throw bad('several different certificates match the SignerInfo');
  return matches[0];
}
