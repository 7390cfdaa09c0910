/**
 * RFC 3161 timestamps on an Authenticode signature (signatures.md §1.5): the token sits in the
 * unsigned attribute 1.3.6.1.4.1.311.3.3.1 of the SignerInfo, and its message imprint is the hash
 * of the SignerInfo's signature VALUE (not of the file). pkijs checks the imprint, the TSA's
 * messageDigest and signature; we add: TSA certificate with EKU timeStamping, a path from the TSA
 * to a trusted anchor valid at genTime, and a genTime that is not in the future.
 *
 * An unusable timestamp is not an error: the signature is then judged as if untimestamped (at
 * "now"), which can only make a verdict stricter. The legacy countersignature (1.2.840.113549.1.9.6)
 * is reported but never used.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { certificatesWithDer, findSignerCertificate, rawCertificates } from './pkcs7';
import { extendedKeyUsages, formatName, sha256Hex, verifyChain } from './certs';
import { OID } from './oids';

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

/** Reads and verifies the timestamp of `signerInfo`. Never throws for bad tokens (see `problem`). */
export async function readTimestamp(signerInfo: pkijs.SignerInfo, anchors: pkijs.Certificate[], now: Date): Promise<TimestampReport> {
  const unsigned = signerInfo.unsignedAttrs?.attributes ?? [];
  const tokens = unsigned.filter((a) => a.type === OID.rfc3161Timestamp);
  if (tokens.length === 0) {
    if (unsigned.some((a) => a.type === OID.counterSignature)) {
      return { kind: 'countersignature', problem: 'legacy countersignature timestamps are not verified; judged as untimestamped' };
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
    const chain = await verifyChain(tsaCert, others, anchors, tstInfo.genTime);
    if (!chain.ok) return { ...report, problem: `TSA not trusted: ${chain.message}` };
    return { ...report, genTime: tstInfo.genTime };
  } catch (err) {
    const e = err as { message?: string };
    return { ...report, problem: `timestamp does not verify: ${e.message ?? String(err)}` };
  }
}
