/**
 * Apple timestamps: an RFC 3161 token in the SignerInfo's unsigned attribute id-aa-timeStampToken
 * (1.2.840.113549.1.9.16.2.14, as in CMS Advanced Electronic Signatures), its message imprint
 * the hash of the signature value — the same token Authenticode carries under Microsoft's OID. So
 * the Authenticode reader checks it (imprint, TSA signature, EKU timeStamping, TSA chain, not in
 * the future); we hand it the SignerInfo's signature value and only the Apple token, under the OID
 * that reader looks for. An unusable timestamp is not an error: the signer is then judged at "now".
 */
import type * as pkijs from 'pkijs';
import { OID } from '../authenticode/oids';
import { readTimestamp, type TimestampReport } from '../authenticode/timestamp';
import { APPLE_OID } from './oids';

export async function readAppleTimestamp(signerInfo: pkijs.SignerInfo, anchors: pkijs.Certificate[], now: Date): Promise<TimestampReport> {
  const tokens = (signerInfo.unsignedAttrs?.attributes ?? []).filter((a) => a.type === APPLE_OID.timeStampToken);
  if (tokens.length === 0) return { kind: 'none' };
  const view = {
    signature: signerInfo.signature,
    unsignedAttrs: { attributes: tokens.map((a) => ({ type: OID.rfc3161Timestamp, values: a.values })) },
  } as unknown as pkijs.SignerInfo;
  return readTimestamp(view, anchors, now);
}
