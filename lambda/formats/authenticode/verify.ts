/**
 * Authenticode verification against a pinned signer (issue 4, signatures.md §1.4–1.5, §9).
 *
 * A signature is valid only when every one of these holds:
 * - the PE certificate table is strictly formed (authenticode-digest.ts `readCertificateTable`);
 * - the PKCS#7 is SignedData v1 with one SignerInfo and SPC_INDIRECT_DATA content (pkcs7.ts);
 * - SpcIndirectDataContent's digest equals the digest we compute from the file;
 * - the messageDigest attribute equals the hash of the SpcIndirectDataContent content octets, and
 *   the signature over the signed attributes verifies (pkijs SignedData.verify);
 * - the signer certificate has EKU codeSigning (and keyUsage digitalSignature when it has keyUsage);
 * - the signer is pinned: its SHA-256 fingerprint is in `certSha256`, or it chains to the pinned
 *   CA and its subject equals the pinned subject exactly;
 * - the signer certificate (and, for CA pinning, its chain) is valid at the verified RFC 3161
 *   timestamp's genTime, or at `now` without one — and always at `now` for Lifetime Signing.
 * Nested signatures (unsigned attributes) are reported in `details` and never stand in for the
 * primary signer. MSI files (CFB magic) are verified the same way over the MSI digest.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { VerifierError, errorMessage } from '../../core/errors';
import type { DirectSignaturePolicy } from '../../core/config/schema';
import type { SignatureInput, SignatureResult } from '../types';
import { computeAuthenticodeDigest, readCertificateTable, type AuthenticodeHash } from '../pe/authenticode-digest';
import { parsePe } from '../pe/parse';
import { isCfb, readMsi } from '../msi/digest';
import {
  describeValidity,
  extendedKeyUsages,
  formatName,
  hasDigitalSignatureUsage,
  normaliseSubject,
  parsePemCertificates,
  sha256Hex,
  systemRootCertificates,
  validAt,
  verifyChain,
} from './certs';
import { OID } from './oids';
import { certificatesWithDer, findSignerCertificate, parseAuthenticodePkcs7, type AuthenticodePkcs7 } from './pkcs7';
import { readTimestamp } from './timestamp';

type AuthenticodePolicy = Extract<DirectSignaturePolicy, { scheme: 'authenticode' }>;

export interface VerifyAuthenticodeOptions {
  /**
   * Extra trust anchors (PEM) for timestamping authorities, besides the pinned CA and Node's bundled
   * root store. A timestamp from an untrusted TSA is ignored (the signer is then judged at `now`).
   */
  tsaTrustAnchors?: string[];
}

/** Nested signatures reported at most (they are unsigned attributes: anyone can add them). */
const MAX_NESTED_REPORTED = 16;

export async function verifyAuthenticode(input: SignatureInput, options: VerifyAuthenticodeOptions = {}): Promise<SignatureResult> {
  const policy = input.policy;
  if (policy.scheme !== 'authenticode') return invalid(`policy scheme "${policy.scheme}" is not authenticode`);
  const now = input.now ?? new Date();
  const fh = await open(input.assetPath, 'r'); // unreadable file: throws — "could not check"
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead === 8 && isCfb(head)) return await verifyMsiSignature(input.assetPath, policy, now, options);
    return await verifyPeSignature(fh, policy, now, options);
  } catch (err) {
    if (isIoError(err)) throw err;
    return invalid(errorMessage(err));
  } finally {
    await fh.close();
  }
}

function invalid(reason: string, extra: Partial<SignatureResult> = {}): SignatureResult {
  return { valid: false, scheme: 'authenticode', reason, ...extra };
}

/** File-system failures propagate ("could not check"); everything else about the input is "invalid". */
function isIoError(err: unknown): boolean {
  return !(err instanceof VerifierError) && typeof (err as { syscall?: unknown })?.syscall === 'string';
}

async function verifyPeSignature(fh: FileHandle, policy: AuthenticodePolicy, now: Date, options: VerifyAuthenticodeOptions): Promise<SignatureResult> {
  const layout = await parsePe(fh);
  const table = await readCertificateTable(fh, layout);
  if (!table) return invalid('the file carries no Authenticode signature', { unsigned: true });
  const p7 = parseAuthenticodePkcs7(table.pkcs7, OID.spcPeImageData);
  const computed = (await computeAuthenticodeDigest(fh, layout, [p7.digestAlgorithm]))[p7.digestAlgorithm];
  return judgeSignature(p7, computed, policy, now, options, { format: 'pe', certificateTable: { offset: table.offset, size: table.size } });
}

async function verifyMsiSignature(path: string, policy: AuthenticodePolicy, now: Date, options: VerifyAuthenticodeOptions): Promise<SignatureResult> {
  let p7: AuthenticodePkcs7 | undefined;
  const msi = await readMsi(path, (signature) => {
    if (!signature) return [];
    p7 = parseAuthenticodePkcs7(signature, OID.spcSipInfo);
    return [p7.digestAlgorithm];
  });
  if (!msi.signature || !p7) return invalid('the MSI carries no Authenticode signature (no \\x05DigitalSignature stream)', { unsigned: true });
  if (msi.hasSignatureEx) return invalid('MSI signatures with MsiDigitalSignatureEx (metadata pre-hash) are not supported; cannot confirm the signed digest');
  return judgeSignature(p7, msi.digest(p7.digestAlgorithm), policy, now, options, { format: 'msi' });
}

async function judgeSignature(
  p7: AuthenticodePkcs7,
  computed: Buffer,
  policy: AuthenticodePolicy,
  now: Date,
  options: VerifyAuthenticodeOptions,
  baseDetails: Record<string, unknown>,
): Promise<SignatureResult> {
  const details: Record<string, unknown> = {
    ...baseDetails,
    digestAlgorithm: p7.digestAlgorithm,
    signedDigest: p7.digest.toString('hex'),
    computedDigest: computed.toString('hex'),
  };
  const { cert, der } = findSignerCertificate(p7, p7.signerInfo);
  const fingerprint = sha256Hex(der);
  const subject = formatName(cert.subject);
  const signer = `${subject} (sha256 ${fingerprint})`;
  Object.assign(details, { signerSubject: subject, signerIssuer: formatName(cert.issuer), signerCertSha256: fingerprint, signerValidity: describeValidity(cert) });
  details.nestedSignatures = describeNested(p7.signerInfo);
  details.unsignedAttributes = (p7.signerInfo.unsignedAttrs?.attributes ?? []).map((a) => a.type);
  const fail = (reason: string, extra: Partial<SignatureResult> = {}) => invalid(reason, { signer, details, ...extra });

  // 1. The file is what was signed.
  if (!computed.equals(p7.digest)) {
    return fail(`${p7.digestAlgorithm} Authenticode digest of the file (${computed.toString('hex')}) differs from the signed digest (${p7.digest.toString('hex')}): modified after signing`);
  }
  // 2. The signed attributes bind that digest, and the signature covers the signed attributes.
  const contentHash = createHash(p7.signerDigestAlgorithm).update(p7.contentOctets).digest();
  if (!contentHash.equals(p7.messageDigest)) return fail('messageDigest attribute does not match the SpcIndirectDataContent');
  let verified: Awaited<ReturnType<pkijs.SignedData['verify']>>;
  try {
    verified = await p7.signedData.verify({ signer: 0, checkChain: false, extendedMode: true });
  } catch (err) {
    return fail(`signature does not verify: ${(err as { message?: string }).message ?? String(err)}`);
  }
  if (verified.signatureVerified !== true) return fail('signature over the signed attributes does not verify');
  if (!verified.signerCertificate || !Buffer.from(verified.signerCertificate.tbsView).equals(Buffer.from(cert.tbsView))) {
    return fail('the certificate that verifies the signature is not the one the SignerInfo names');
  }
  // 3. The certificate is for code signing.
  const ekus = extendedKeyUsages(cert);
  if (!ekus?.includes(OID.ekuCodeSigning)) return fail('signer certificate lacks extended key usage codeSigning');
  if (hasDigitalSignatureUsage(cert) === false) return fail('signer certificate key usage lacks digitalSignature');

  // 4. When to judge the certificate: at a verified timestamp, else now; Lifetime Signing: now.
  const caCerts = policy.caCertificate ? parsePemCertificates(policy.caCertificate) : [];
  const tsaAnchors = [...caCerts, ...(options.tsaTrustAnchors ?? []).flatMap((p) => parsePemCertificates(p)), ...systemRootCertificates()];
  const ts = await readTimestamp(p7.signerInfo, tsaAnchors, now);
  const lifetimeSigning = ekus.includes(OID.ekuLifetimeSigning);
  const judgedAt = lifetimeSigning || !ts.genTime ? now : ts.genTime;
  details.timestamp = { kind: ts.kind, claimedTime: ts.claimedTime, tsa: ts.tsa, used: !!ts.genTime && !lifetimeSigning, problem: ts.problem };
  details.lifetimeSigning = lifetimeSigning;
  details.judgedAt = judgedAt.toISOString();
  const whenJudged = lifetimeSigning
    ? 'now (Lifetime Signing EKU: a timestamp does not extend it)'
    : ts.genTime
      ? 'at the timestamp'
      : ts.problem
        ? `now (timestamp ignored: ${ts.problem})`
        : 'now (no timestamp)';

  // 5. The pinned signer.
  const pins = (policy.certSha256 ?? []).map((p) => p.toLowerCase());
  let pinnedBy: string | undefined;
  if (pins.includes(fingerprint)) {
    pinnedBy = 'certificate fingerprint';
  } else if (policy.caCertificate || policy.caCertificateFile) {
    if (!policy.caCertificate) return fail('policy names a CA file that was not loaded; cannot check the CA pin');
    if (!policy.subject) return fail('policy pins a CA without a subject; refusing to accept any certificate the CA issued');
    if (caCerts.length === 0) return fail('pinned CA certificate is not a PEM certificate');
    if (normaliseSubject(policy.subject) === subject) {
      const intermediates = certificatesWithDer(p7).map((c) => c.cert);
      const chain = await verifyChain(cert, intermediates, caCerts, judgedAt);
      if (chain.ok) pinnedBy = 'CA and subject';
      else if (chain.timeOnly) return fail(`signer chains to the pinned CA, but judged ${whenJudged}: ${chain.message}`);
      else details.chainProblem = chain.message;
    }
  } else if (pins.length === 0) {
    return fail('policy pins no signer (certSha256 or caCertificate + subject)');
  }
  if (!pinnedBy) return fail(`signer ${signer} is not the pinned signer`, { unpinnedSigner: true });
  details.pinnedBy = pinnedBy;

  // 6. The signer certificate is valid when it signed (or now).
  if (!validAt(cert, judgedAt)) {
    return fail(`signer certificate (valid ${describeValidity(cert)}) is not valid ${whenJudged}, ${judgedAt.toISOString()}`);
  }
  const when = ts.genTime && !lifetimeSigning
    ? `timestamped ${ts.genTime.toISOString()} by ${ts.tsa}`
    : `not timestamped${ts.problem ? ` (timestamp ignored: ${ts.problem})` : ''}${lifetimeSigning ? ' (lifetime signing)' : ''}; certificate valid at ${judgedAt.toISOString()}`;
  return { valid: true, scheme: 'authenticode', signer, reason: `${when}; pinned by ${pinnedBy}`, details };
}

/** Nested signatures, for the report only: signer and digest algorithm, never verified or used for pinning. */
function describeNested(signerInfo: pkijs.SignerInfo): Array<Record<string, unknown>> {
  const values = (signerInfo.unsignedAttrs?.attributes ?? []).filter((a) => a.type === OID.nestedSignature).flatMap((a) => a.values);
  return values.slice(0, MAX_NESTED_REPORTED).map((value: unknown) => {
    try {
      const der = (value as asn1js.BaseBlock).valueBeforeDecodeView;
      const nested = parseAuthenticodePkcs7(der);
      const { cert, der: certDer } = findSignerCertificate(nested, nested.signerInfo);
      return {
        signer: `${formatName(cert.subject)} (sha256 ${sha256Hex(certDer)})`,
        digestAlgorithm: nested.digestAlgorithm as AuthenticodeHash,
        signedDigest: nested.digest.toString('hex'),
        note: 'nested signature: not verified, never used for pinning',
      };
    } catch (err) {
      return { error: errorMessage(err) };
    }
  });
}

