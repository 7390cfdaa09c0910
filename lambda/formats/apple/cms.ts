/**
 * The CMS signature of an Apple code signature (issue 12): a detached SignedData over the bytes of
 * the first CodeDirectory (CSSLOT_CODEDIRECTORY), stored in the SuperBlob's CSSLOT_SIGNATURESLOT
 * blob wrapper. A signature is accepted only when every one of these holds:
 * - one SignerInfo with signed attributes; the messageDigest binds the CodeDirectory and the
 *   signature over the signed attributes verifies (pkijs);
 * - every CodeDirectory of the signature is bound: the CMS content is the first one, and each
 *   other is listed in the cdhashes attributes (1.2.840.113635.100.9.1 plist of truncated hashes,
 *   1.2.840.113635.100.9.2 full digests) — a listed hash that does not match is refused;
 * - no MD5 / SHA-1 in the signer's digest;
 * - the signer certificate has EKU codeSigning and chains to a pinned Apple root (roots.ts) at the
 *   verified Apple timestamp's time, or now without one;
 * - with requireDeveloperId: the leaf is a Developer ID Application certificate
 *   (1.2.840.113635.100.6.1.13) issued by a Developer ID CA (1.2.840.113635.100.6.2.6);
 * - the pin: Team ID (leaf subject OU, which must equal the CodeDirectory's team ID when it has
 *   one) or the leaf certificate's SHA-256.
 */
import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { parse as parsePlist } from 'plist';
import { FormatError } from '../../base/errors';
import { parseStrictDerSequence } from '../der';
import { describeValidity, extendedKeyUsages, formatName, sha256Hex, validAt, verifyChain } from '../authenticode/certs';
import { OID } from '../authenticode/oids';
import { certificatesWithDer, findSignerCertificate, rawCertificates } from '../authenticode/pkcs7';
import { HASH_TYPES, type CodeDirectory } from '../macho/codesign';
import { APPLE_OID, DIGEST_OID } from './oids';
import { readAppleTimestamp } from './timestamp';

export interface ApplePin {
  teamId?: string;
  certSha256?: string[];
  /** default true: only Developer ID Application leaves (what Gatekeeper accepts outside the App Store) */
  requireDeveloperId?: boolean;
}

export interface CmsOptions {
  /** trust anchors instead of the pinned Apple roots — tests only (a test CA mimicking Apple's structure) */
  anchors: pkijs.Certificate[];
  now: Date;
}

export interface CmsVerdict {
  ok: boolean;
  reason?: string;
  signer?: string;
  teamId?: string;
  /** the signer was identified (valid chain) but is not the pinned one */
  unpinned?: boolean;
  details: Record<string, unknown>;
}

const MAX_CDHASHES = 16;
const MAX_PLIST_ATTRIBUTE = 64 * 1024;
const INSECURE_DIGESTS: Record<string, string> = { '1.2.840.113549.2.5': 'MD5', '1.3.14.3.2.26': 'SHA-1' };
const INSECURE_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSASignature',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
};

/** CodeDirectory hash type 1 is SHA-1: page hashes an attacker with a chosen-prefix collision could match. */
export function isStrongCodeDirectory(cd: CodeDirectory): boolean {
  return cd.hashType !== 1;
}

function bad(message: string): FormatError {
  return new FormatError('apple', `CMS signature: ${message}`);
}

/**
 * The CMS blob: one ContentInfo, followed at most by zero padding (codesign reserves room for it).
 * Apple writes the CMS in BER (indefinite lengths), so only the certificates — whose bytes the
 * fingerprints and chain hash — are held to strict DER; the signed attributes are re-encoded by
 * the verification anyway.
 */
export function parseCms(blob: Buffer): { signedData: pkijs.SignedData; certificatesDer: Uint8Array[] } {
  const asn = asn1js.fromBER(blob);
  if (asn.offset === -1) throw bad(`not DER (${asn.result.error || 'parse error'})`);
  if (blob.subarray(asn.offset).some((b) => b !== 0)) throw bad('non-zero bytes follow the CMS structure');
  const ci = new pkijs.ContentInfo({ schema: asn.result });
  if (ci.contentType !== OID.signedData) throw bad('not SignedData');
  const signedData = new pkijs.SignedData({ schema: ci.content });
  if (signedData.signerInfos.length !== 1) throw bad(`${signedData.signerInfos.length} signers, expected 1`);
  if (signedData.encapContentInfo.eContent) throw bad('content is embedded, expected a detached signature over the CodeDirectory');
  const certificatesDer = rawCertificates(ci.content, signedData);
  for (const der of certificatesDer) parseStrictDerSequence(der, (m) => bad(`certificate: ${m}`));
  return { signedData, certificatesDer };
}

/** The CodeDirectory hash by its own hash type (the "cdhash"; full length). */
export function cdHash(cd: CodeDirectory): Buffer {
  return createHash(HASH_TYPES[cd.hashType]!.algorithm).update(cd.blob).digest();
}

function attribute(signerInfo: pkijs.SignerInfo, oid: string): pkijs.Attribute[] {
  return (signerInfo.signedAttrs?.attributes ?? []).filter((a) => a.type === oid);
}

/** Checks the cdhashes attributes against every CodeDirectory; returns a problem or undefined. */
function checkCdHashes(signerInfo: pkijs.SignerInfo, cds: CodeDirectory[], details: Record<string, unknown>): string | undefined {
  const plistAttrs = attribute(signerInfo, APPLE_OID.cdhashesPlist);
  const digestAttrs = attribute(signerInfo, APPLE_OID.cdhashesDigests);
  if (plistAttrs.length > 1 || digestAttrs.length > 1) return 'more than one cdhashes attribute';
  const hashes = cds.map(cdHash);
  const bound = new Set<number>([0]); // the first CodeDirectory is the signed content itself
  if (plistAttrs[0]) {
    const value = plistAttrs[0].values[0];
    if (plistAttrs[0].values.length !== 1 || !(value instanceof asn1js.OctetString)) return 'cdhashes plist attribute is not one OCTET STRING';
    const bytes = Buffer.from(value.valueBlock.valueHexView);
    if (bytes.length > MAX_PLIST_ATTRIBUTE) return 'cdhashes plist attribute too large';
    let list: unknown;
    try {
      list = (parsePlist(bytes.toString('utf8')) as { cdhashes?: unknown }).cdhashes;
    } catch (err) {
      return `cdhashes plist does not parse: ${(err as Error).message}`;
    }
    if (!Array.isArray(list) || list.length > MAX_CDHASHES || !list.every((h) => h instanceof Uint8Array)) return 'cdhashes plist has no list of hashes';
    if (list.length !== cds.length) return `cdhashes plist lists ${list.length} CodeDirectories, the signature has ${cds.length}`;
    for (let i = 0; i < cds.length; i++) {
      if (!Buffer.from(list[i] as Uint8Array).equals(hashes[i]!.subarray(0, 20)))
        return `cdhashes plist entry ${i} does not match CodeDirectory slot 0x${cds[i]!.slot.toString(16)}`;
      bound.add(i);
    }
    details.cdhashesPlist = (list as Uint8Array[]).map((h) => Buffer.from(h).toString('hex'));
  }
  if (digestAttrs[0]) {
    const values = digestAttrs[0].values;
    if (values.length > MAX_CDHASHES) return 'too many cdhashes digests';
    const listed: string[] = [];
    for (const v of values) {
      const [algSeq, digest] = v instanceof asn1js.Sequence ? v.valueBlock.value : [];
      const oid = algSeq instanceof asn1js.ObjectIdentifier ? algSeq.valueBlock.toString() : undefined;
      if (!oid || !(digest instanceof asn1js.OctetString)) return 'cdhashes digest entry is not { OID, OCTET STRING }';
      const d = Buffer.from(digest.valueBlock.valueHexView);
      const i = cds.findIndex((cd, k) => DIGEST_OID[HASH_TYPES[cd.hashType]!.algorithm] === oid && hashes[k]!.equals(d));
      if (i < 0) return `cdhashes digest ${oid}:${d.toString('hex')} matches no CodeDirectory`;
      bound.add(i);
      listed.push(`${oid}:${d.toString('hex')}`);
    }
    details.cdhashesDigests = listed;
  }
  const unbound = cds.filter((_, i) => !bound.has(i));
  if (unbound.length)
    return `CodeDirectory slot(s) ${unbound.map((c) => `0x${c.slot.toString(16)}`).join(', ')} not bound by the CMS signature (no cdhashes attribute lists them)`;
  return undefined;
}

function extension(cert: pkijs.Certificate, oid: string): boolean {
  return !!cert.extensions?.some((e) => e.extnID === oid);
}

function subjectValues(cert: pkijs.Certificate, oid: string): string[] {
  return cert.subject.typesAndValues.filter((t) => t.type === oid).map((t) => String(t.value.valueBlock.value));
}

function identityKind(cert: pkijs.Certificate): string {
  if (extension(cert, APPLE_OID.developerIdApplication)) return 'Developer ID Application';
  if (extension(cert, APPLE_OID.appleDevelopment)) return 'Apple Development';
  if (extension(cert, APPLE_OID.macAppStore)) return 'Mac App Store';
  if (extension(cert, APPLE_OID.appleSoftwareSigning)) return 'Apple Software Signing';
  return 'unknown Apple identity';
}

/**
 * Verifies the CMS blob over `cds[0]` (the slot-0 CodeDirectory), binding every CodeDirectory in
 * `cds`, and judges the signer against the pin. Never throws for a bad signature (ok: false).
 */
export async function verifyCodeSignatureCms(blob: Buffer, cds: CodeDirectory[], pin: ApplePin, options: CmsOptions): Promise<CmsVerdict> {
  const details: Record<string, unknown> = {};
  const fail = (reason: string, extra: Partial<CmsVerdict> = {}): CmsVerdict => ({ ok: false, reason, details, ...extra });
  if (!cds.some(isStrongCodeDirectory)) return fail('insecure digest algorithm SHA-1: the signature has only SHA-1 CodeDirectories (no SHA-256 one): refused');
  const read = readCmsSigner(blob);
  if ('problem' in read) return fail(read.problem);
  const { parsed, signerInfo, cert, der } = read;
  const fingerprint = sha256Hex(der);
  const subject = formatName(cert.subject);
  const signer = `${subject} (sha256 ${fingerprint})`;
  const ous = subjectValues(cert, APPLE_OID.organizationalUnit);
  const teamId = ous.length === 1 ? ous[0] : undefined;
  Object.assign(details, {
    signerSubject: subject,
    signerIssuer: formatName(cert.issuer),
    signerCertSha256: fingerprint,
    signerValidity: describeValidity(cert),
    identity: identityKind(cert),
    teamId,
  });
  const failSigner = (reason: string, extra: Partial<CmsVerdict> = {}) => fail(reason, { signer, teamId, ...extra });
  const refuse = (r: Refusal) => failSigner(r.reason, r.unpinned ? { unpinned: true } : {});

  // 1. The signature binds the first CodeDirectory …
  const cd0Problem = await cd0SignatureProblem(parsed.signedData, cert, cds[0]!);
  if (cd0Problem) return failSigner(cd0Problem);
  // … and, through the cdhashes attributes, every other one.
  const cdProblem = checkCdHashes(signerInfo, cds, details);
  if (cdProblem) return failSigner(cdProblem);

  // 2. A code-signing certificate.
  if (!(extendedKeyUsages(cert) ?? []).includes(OID.ekuCodeSigning)) return failSigner('signer certificate lacks extended key usage codeSigning');

  // 3. When: a verified Apple timestamp, else now.
  const ts = await readAppleTimestamp(signerInfo, options.anchors, options.now);
  const judgedAt = ts.genTime ?? options.now;
  details.timestamp = { kind: ts.kind, claimedTime: ts.claimedTime, tsa: ts.tsa, used: !!ts.genTime, problem: ts.problem };
  details.judgedAt = judgedAt.toISOString();
  const whenJudged = ts.genTime
    ? `at the timestamp ${judgedAt.toISOString()}`
    : `now, ${judgedAt.toISOString()} (${ts.problem ? `timestamp ignored: ${ts.problem}` : 'no timestamp'})`;

  // 4. A chain to a pinned Apple root.
  const intermediates = certificatesWithDer(parsed).map((c) => c.cert);
  const chain = await verifyChain(cert, intermediates, options.anchors, judgedAt);
  if (!chain.ok) {
    if (chain.timeOnly) return failSigner(`signer chains to a pinned Apple root, but not valid ${whenJudged}: ${chain.message}`);
    return failSigner(`signer does not chain to a pinned Apple root: ${chain.message}`, { unpinned: true });
  }
  details.chain = chain.path!.map((c) => formatName(c.subject));
  if (!validAt(cert, judgedAt)) return failSigner(`signer certificate (valid ${describeValidity(cert)}) is not valid ${whenJudged}`);

  // 5.–6. Developer ID (unless the policy accepts any Apple identity), and the CodeDirectory's Team ID.
  const identityProblem = identityRefusal(cert, chain.path!, cds, pin, teamId);
  if (identityProblem) return refuse(identityProblem);

  // 7. The pin.
  const pinned = pinRefusal(pin, teamId, fingerprint, signer);
  if ('reason' in pinned) return refuse(pinned);
  const { pinnedBy } = pinned;
  details.pinnedBy = pinnedBy;
  const when = ts.genTime
    ? `timestamped ${ts.genTime.toISOString()} by ${ts.tsa}`
    : `not timestamped${ts.problem ? ` (timestamp ignored: ${ts.problem})` : ''}; certificate valid at ${judgedAt.toISOString()}`;
  return { ok: true, signer, teamId, reason: `${identityKind(cert)}, ${when}; pinned by ${pinnedBy}`, details };
}

/** Why a signer is refused; `unpinned` when it was identified but is not the pinned one. */
interface Refusal {
  reason: string;
  unpinned?: true;
}

type CmsSigner = { parsed: ReturnType<typeof parseCms>; signerInfo: pkijs.SignerInfo; cert: pkijs.Certificate; der: Uint8Array };

/** Parses the CMS, refuses insecure algorithms and unsigned attributes, and finds the signer certificate. */
function readCmsSigner(blob: Buffer): CmsSigner | { problem: string } {
  let parsed: ReturnType<typeof parseCms>;
  try {
    parsed = parseCms(blob);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  const signerInfo = parsed.signedData.signerInfos[0]!;
  const digestOid = signerInfo.digestAlgorithm.algorithmId;
  if (INSECURE_DIGESTS[digestOid]) return { problem: `insecure digest algorithm ${INSECURE_DIGESTS[digestOid]} in the CMS signer: refused` };
  const sigOid = signerInfo.signatureAlgorithm.algorithmId;
  if (INSECURE_SIGNATURES[sigOid]) return { problem: `insecure digest algorithm in the CMS signature algorithm ${INSECURE_SIGNATURES[sigOid]}: refused` };
  if (!signerInfo.signedAttrs) return { problem: 'CMS signer has no signed attributes' };
  try {
    const { cert, der } = findSignerCertificate(parsed, signerInfo);
    return { parsed, signerInfo, cert, der };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** Why the CMS signature does not verify over the slot-0 CodeDirectory by `cert`, or undefined. */
async function cd0SignatureProblem(signedData: pkijs.SignedData, cert: pkijs.Certificate, cd0: CodeDirectory): Promise<string | undefined> {
  try {
    const content = Uint8Array.from(cd0.blob);
    const result = await signedData.verify({ signer: 0, data: content.buffer, checkChain: false, extendedMode: true });
    if (result.signatureVerified !== true) return 'CMS signature over the CodeDirectory does not verify';
    if (!result.signerCertificate || !Buffer.from(result.signerCertificate.tbsView).equals(Buffer.from(cert.tbsView)))
      return 'the certificate that verifies the CMS signature is not the one the SignerInfo names';
  } catch (err) {
    return `CMS signature over the CodeDirectory does not verify: ${(err as { message?: string }).message ?? String(err)}`;
  }
  return undefined;
}

/** Steps 5–6: a Developer ID identity when required, and a CodeDirectory Team ID that is the certificate's. */
function identityRefusal(
  cert: pkijs.Certificate,
  path: pkijs.Certificate[],
  cds: CodeDirectory[],
  pin: ApplePin,
  teamId: string | undefined,
): Refusal | undefined {
  // 5. Developer ID, unless the policy accepts any Apple-issued identity.
  if (pin.requireDeveloperId !== false) {
    if (!extension(cert, APPLE_OID.developerIdApplication))
      return { reason: `signer is an ${identityKind(cert)} certificate, not Developer ID Application (requireDeveloperId)`, unpinned: true };
    if (!path.slice(1, -1).some((c) => extension(c, APPLE_OID.developerIdCa)))
      return { reason: 'Developer ID leaf not issued by a Developer ID Certification Authority', unpinned: true };
  }

  // 6. The Team ID the CodeDirectory claims is the certificate's.
  const cdTeams = [...new Set(cds.map((c) => c.teamId).filter((t): t is string => !!t))];
  if (cdTeams.length > 1 || (cdTeams[0] && cdTeams[0] !== teamId))
    return { reason: `CodeDirectory team ID ${cdTeams.join(', ')} differs from the signer certificate's (${teamId ?? 'none'})` };
  return undefined;
}

/**
 * Step 7, the pin: each of teamId and certSha256 that the policy gives must hold — both given means
 * "this team, and this certificate", never either of them.
 */
function pinRefusal(pin: ApplePin, teamId: string | undefined, fingerprint: string, signer: string): Refusal | { pinnedBy: string } {
  const pins = (pin.certSha256 ?? []).map((p) => p.toLowerCase());
  if (!pin.teamId && pins.length === 0) return { reason: 'policy pins no signer (teamId or certSha256)' };
  const teamOk = !pin.teamId || teamId === pin.teamId;
  const certOk = pins.length === 0 || pins.includes(fingerprint);
  if (!teamOk || !certOk) {
    const which =
      !teamOk && !certOk
        ? 'neither the pinned Team ID nor a pinned certificate'
        : !teamOk
          ? `a pinned certificate, but not the pinned Team ID ${pin.teamId}`
          : `the pinned Team ID, but not a pinned certificate (SHA-256 ${fingerprint})`;
    return {
      reason: `signer ${signer} (Team ID ${teamId ?? 'none'}) is not the pinned signer: ${pin.teamId && pins.length ? which : 'not pinned'}`,
      unpinned: true,
    };
  }
  return { pinnedBy: [pin.teamId ? `Team ID ${teamId}` : '', pins.length ? 'certificate fingerprint' : ''].filter(Boolean).join(' and ') };
}
