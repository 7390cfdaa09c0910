/**
 * Timestamps on an Authenticode signature (signatures.md §1.5), in either of the two forms found in
 * the wild. Both bind the SignerInfo's signature VALUE (not the file):
 *
 * - RFC 3161 (`signtool /tr`, osslsigncode `-ts`): a token in the unsigned attribute
 *   1.3.6.1.4.1.311.3.3.1 whose message imprint hashes the signature value. pkijs checks the imprint,
 *   the TSA's messageDigest and signature; we add the EKU, the chain and a genTime not in the future.
 * - Legacy PKCS#9 countersignature (`signtool /t`, osslsigncode `-t`): a SignerInfo in the unsigned
 *   attribute 1.2.840.113549.1.9.6, signed by the TSA, with signed attributes contentType = data,
 *   signingTime, and messageDigest = H(signature value); the TSA's certificates travel in the outer
 *   SignedData's certificate set. We check each of these, the TSA signature over the signed
 *   attributes (pkijs, over a SignedData we assemble around the countersignature), EKU
 *   timeStamping, a chain to a trusted anchor valid at signingTime, and a signingTime not in the
 *   future; the signer certificate is then judged at signingTime.
 *   SHA-1 countersignatures are accepted (deliberately, unlike SHA-1 file signatures): every legacy
 *   timestamp server answers with SHA-1, and the only attacker-chosen input, H(signature value), is
 *   a hash output inside TSA-chosen attributes, which leaves no room for collision blocks. MD5
 *   countersignatures are refused.
 *
 * An unusable timestamp is not an error: the signature is then judged as if untimestamped (at
 * "now"), which can only make a verdict stricter.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { certificatesWithDer, findSignerCertificate, rawCertificates, type AuthenticodePkcs7 } from './pkcs7';
import { extendedKeyUsages, formatName, sha256Hex, verifyChain } from './certs';
import { HASH_BY_OID, INSECURE_HASH_BY_OID, OID } from './oids';

/** What a timestamp is read from: a SignerInfo and the SignedData (certificates) around it. */
export type TimestampSource = Pick<AuthenticodePkcs7, 'signedData' | 'certificatesDer' | 'signerInfo'>;

/** Clock skew tolerated between the TSA and us. */
const MAX_FUTURE_MS = 5 * 60 * 1000;

export interface TimestampReport {
  /** 'rfc3161' when a token is present, 'countersignature' for the legacy form, 'none' otherwise */
  kind: 'rfc3161' | 'countersignature' | 'none';
  /** the time to judge the signer certificate at, only when the token verified and its TSA is trusted */
  genTime?: Date;
  /** the time the token claims, even when unusable */
  claimedTime?: string;
  tsa?: string;
  /** why the timestamp is not used */
  problem?: string;
}

/**
 * Reads and verifies the timestamp of `p7`'s SignerInfo. Never throws for bad tokens (see `problem`).
 * An RFC 3161 token takes precedence over a legacy countersignature when a signature carries both.
 */
/** Trust anchors, or a function giving them: parsing the system root store is only worth it once a
 * timestamp's chain is actually checked (issue 14: most checks have no timestamp). */
export type Anchors = pkijs.Certificate[] | (() => pkijs.Certificate[]);

function anchorList(anchors: Anchors): pkijs.Certificate[] {
  return typeof anchors === 'function' ? anchors() : anchors;
}

export async function readTimestamp(source: TimestampSource | pkijs.SignerInfo, anchors: Anchors, now: Date): Promise<TimestampReport> {
  // A bare SignerInfo (Apple's reader passes one) has no certificate set: RFC 3161 tokens only.
  const p7 = 'signerInfo' in source ? source : undefined;
  const signerInfo = p7 ? p7.signerInfo : (source as pkijs.SignerInfo);
  const unsigned = signerInfo.unsignedAttrs?.attributes ?? [];
  const tokens = unsigned.filter((a) => a.type === OID.rfc3161Timestamp);
  if (tokens.length === 0) {
    const counter = unsigned.filter((a) => a.type === OID.counterSignature);
    if (counter.length > 0) {
      if (!p7) return { kind: 'countersignature', problem: "a legacy countersignature needs the signature's certificate set" };
      return readCountersignature(p7, counter, anchors, now);
    }
    return { kind: 'none' };
  }
  if (tokens.length !== 1 || tokens[0].values.length !== 1) return { kind: 'rfc3161', problem: 'more than one RFC 3161 timestamp' };
  const report: TimestampReport = { kind: 'rfc3161' };
  try {
    const token = tokens[0].values[0] as asn1js.BaseBlock;
    const contentInfo = new pkijs.ContentInfo({ schema: token });
    if (contentInfo.contentType !== OID.signedData) return { ...report, problem: 'timestamp token is not SignedData' };
    const sd = new pkijs.SignedData({ schema: contentInfo.content });
    if (sd.encapContentInfo.eContentType !== OID.tstInfo) return { ...report, problem: 'timestamp token does not hold a TSTInfo' };
    if (sd.signerInfos.length !== 1) return { ...report, problem: `timestamp token has ${sd.signerInfos.length} signers` };
    const eContent = sd.encapContentInfo.eContent;
    if (!eContent) return { ...report, problem: 'timestamp token has no TSTInfo content' };
    const tstInfo = pkijs.TSTInfo.fromBER(eContent.getValue());
    report.claimedTime = tstInfo.genTime.toISOString();

    const certsDer = rawCertificates(contentInfo.content, sd);
    const { cert: tsaCert, der: tsaDer } = findSignerCertificate({ signedData: sd, certificatesDer: certsDer }, sd.signerInfos[0]);
    report.tsa = `${formatName(tsaCert.subject)} (sha256 ${sha256Hex(tsaDer)})`;

    const imprintData = Uint8Array.from(signerInfo.signature.valueBlock.valueHexView);
    const result = await sd.verify({ signer: 0, data: imprintData.buffer, checkChain: false, extendedMode: true });
    if (result.signatureVerified !== true) return { ...report, problem: 'timestamp signature does not verify' };

    if (!(extendedKeyUsages(tsaCert) ?? []).includes(OID.ekuTimeStamping)) return { ...report, problem: 'TSA certificate lacks EKU timeStamping' };
    if (tstInfo.genTime.getTime() > now.getTime() + MAX_FUTURE_MS) return { ...report, problem: `timestamp ${report.claimedTime} is in the future` };
    const others = certificatesWithDer({ signedData: sd, certificatesDer: certsDer }).map((c) => c.cert);
    const chain = await verifyChain(tsaCert, others, anchorList(anchors), tstInfo.genTime);
    if (!chain.ok) return { ...report, problem: `TSA not trusted: ${chain.message}` };
    return { ...report, genTime: tstInfo.genTime };
  } catch (err) {
    const e = err as { message?: string };
    return { ...report, problem: `timestamp does not verify: ${e.message ?? String(err)}` };
  }
}

function attributeValues(si: pkijs.SignerInfo, type: string): unknown[] | undefined {
  const found = (si.signedAttrs?.attributes ?? []).filter((a) => a.type === type);
  return found.length === 1 ? found[0].values : undefined;
}

/** A legacy PKCS#9 countersignature (see the module comment). */
async function readCountersignature(p7: TimestampSource, attrs: pkijs.Attribute[], anchors: Anchors, now: Date): Promise<TimestampReport> {
  const report: TimestampReport = { kind: 'countersignature' };
  if (attrs.length !== 1 || attrs[0].values.length !== 1) return { ...report, problem: 'more than one countersignature' };
  try {
    const csi = new pkijs.SignerInfo({ schema: attrs[0].values[0] as asn1js.BaseBlock });
    if (!csi.signedAttrs) return { ...report, problem: 'countersignature has no signed attributes' };
    const contentType = attributeValues(csi, OID.contentType);
    if (contentType?.length !== 1 || !(contentType[0] instanceof asn1js.ObjectIdentifier) || contentType[0].valueBlock.toString() !== OID.data) {
      return { ...report, problem: 'countersignature contentType is not pkcs7-data' };
    }
    const timeValues = attributeValues(csi, OID.signingTime);
    const timeBlock = timeValues?.length === 1 ? timeValues[0] : undefined;
    if (!(timeBlock instanceof asn1js.UTCTime) && !(timeBlock instanceof asn1js.GeneralizedTime))
      return { ...report, problem: 'countersignature has no single signingTime' };
    const signingTime = timeBlock.toDate();
    if (Number.isNaN(signingTime.getTime())) return { ...report, problem: 'countersignature signingTime is not a time' };
    report.claimedTime = signingTime.toISOString();

    const digestOid = csi.digestAlgorithm.algorithmId;
    if (INSECURE_HASH_BY_OID[digestOid] === 'md5') return { ...report, problem: 'countersignature uses the insecure digest algorithm MD5' };
    const hash = HASH_BY_OID[digestOid];
    if (!hash) return { ...report, problem: `countersignature digest algorithm ${digestOid} is not supported` };
    const digestValues = attributeValues(csi, OID.messageDigest);
    const digestBlock = digestValues?.length === 1 ? digestValues[0] : undefined;
    if (!(digestBlock instanceof asn1js.OctetString)) return { ...report, problem: 'countersignature has no single messageDigest' };
    const signatureValue = Uint8Array.from(p7.signerInfo.signature.valueBlock.valueHexView);
    const expected = createHash(hash).update(signatureValue).digest();
    if (!expected.equals(Buffer.from(digestBlock.valueBlock.valueHexView)))
      return { ...report, problem: 'countersignature messageDigest does not match the signature it countersigns' };

    const { cert: tsaCert, der: tsaDer } = findSignerCertificate(p7, csi);
    report.tsa = `${formatName(tsaCert.subject)} (sha256 ${sha256Hex(tsaDer)})`;
    // pkijs verifies a SignerInfo inside a SignedData: wrap the countersignature in one whose
    // detached content is the countersigned signature value (messageDigest is re-checked there).
    const wrapper = new pkijs.SignedData({
      version: 1,
      digestAlgorithms: [csi.digestAlgorithm],
      encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
      certificates: [tsaCert],
      signerInfos: [csi],
    });
    const result = await wrapper.verify({ signer: 0, data: signatureValue.buffer, checkChain: false, extendedMode: true });
    if (result.signatureVerified !== true) return { ...report, problem: 'countersignature signature does not verify' };

    if (!(extendedKeyUsages(tsaCert) ?? []).includes(OID.ekuTimeStamping)) return { ...report, problem: 'TSA certificate lacks EKU timeStamping' };
    if (signingTime.getTime() > now.getTime() + MAX_FUTURE_MS) return { ...report, problem: `timestamp ${report.claimedTime} is in the future` };
    const others = certificatesWithDer(p7).map((c) => c.cert);
    const chain = await verifyChain(tsaCert, others, anchorList(anchors), signingTime);
    if (!chain.ok) return { ...report, problem: `TSA not trusted: ${chain.message}` };
    return { ...report, genTime: signingTime };
  } catch (err) {
    const e = err as { message?: string; userMessage?: string };
    return { ...report, problem: `countersignature does not verify: ${e.userMessage ?? e.message ?? String(err)}` };
  }
}
