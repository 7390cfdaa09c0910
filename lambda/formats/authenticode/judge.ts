/**
 * Authenticode verification against a pinned signer (issue 4, signatures.md §1.4–1.5, §9): the
 * judging part, loaded by verify.ts (which starts the file's digest first, issue 14).
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
 * - MD5 and SHA-1 (file digest, SignerInfo digest or a signature algorithm naming them) are refused
 *   with the reason "insecure digest algorithm".
 * - The timestamp is an RFC 3161 token or a legacy PKCS#9 countersignature (timestamp.ts).
 * Nested signatures (unsigned attribute 1.3.6.1.4.1.311.2.4.1) depend on `policy.signatures`:
 * under "primary" (default) they are reported in `details` and never stand in for the primary
 * signer; under "any-pinned" each one is judged exactly like the primary (its own digest over the
 * same file, its own signer, pin and timestamp) and the file is valid when one of them is. They are
 * unauthenticated attributes, so anyone can add one — which is harmless only because a nested
 * signature must itself be by the pinned signer over this file's digest.
 * MSI files (CFB magic) are verified the same way over the MSI digest.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { VerifierError, errorMessage } from '../../base/errors';
import type { SignatureInput, SignatureResult } from '../types';
import { computeAuthenticodeDigest, digestedRanges, readCertificateTable, type AuthenticodeHash } from '../pe/authenticode-digest';
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
import { INSECURE_SIGNATURE_ALGORITHMS, OID, insecureDigestReason } from './oids';
import { certificatesWithDer, findSignerCertificate, parseAuthenticodePkcs7, type AuthenticodePkcs7 } from './pkcs7';
import { readTimestamp } from './timestamp';

type AuthenticodePolicy = Extract<SignatureInput['policy'], { scheme: 'authenticode' }>;

/** A digest verify.ts started before this module loaded: valid only for the ranges it names. */
export interface EarlyDigest {
  algorithm: AuthenticodeHash;
  ranges: Array<[number, number]>;
  zeroPad: number;
  digest: Promise<Buffer | undefined>;
}

export interface VerifyAuthenticodeOptions {
  /**
   * Extra trust anchors (PEM) for timestamping authorities, besides the pinned CA and Node's bundled
   * root store. A timestamp from an untrusted TSA is ignored (the signer is then judged at `now`).
   */
  tsaTrustAnchors?: string[];
}

/** Nested signatures reported or judged at most (they are unsigned attributes: anyone can add them). */
const MAX_NESTED_REPORTED = 16;

/** A signature to judge: the primary, or (policy "any-pinned") a nested one. */
interface Candidate {
  label: string;
  p7?: AuthenticodePkcs7;
  /** why it could not be parsed */
  error?: string;
}

export async function verifyAuthenticode(input: SignatureInput, options: VerifyAuthenticodeOptions = {}, early?: EarlyDigest): Promise<SignatureResult> {
  const policy = input.policy;
  if (policy.scheme !== 'authenticode') return invalid(`policy scheme "${policy.scheme}" is not authenticode`);
  const now = input.now ?? new Date();
  const fh = await open(input.assetPath, 'r'); // unreadable file: throws — "could not check"
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead === 8 && isCfb(head)) return await verifyMsiSignature(input.assetPath, policy, now, options);
    return await verifyPeSignature(fh, policy, now, options, input.onDigest, early);
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

async function verifyPeSignature(
  fh: FileHandle,
  policy: AuthenticodePolicy,
  now: Date,
  options: VerifyAuthenticodeOptions,
  onDigest: SignatureInput['onDigest'],
  early: EarlyDigest | undefined,
): Promise<SignatureResult> {
  const layout = await parsePe(fh);
  const table = await readCertificateTable(fh, layout);
  if (!table) return invalid('the file carries no Authenticode signature', { unsigned: true });
  const candidates = candidatesFor(parseAuthenticodePkcs7(table.pkcs7, OID.spcPeImageData), policy, OID.spcPeImageData);
  const algorithms = digestAlgorithmsOf(candidates);
  // the early digest counts only when it covered exactly the ranges this layout digests
  const ranges = digestedRanges(layout);
  const fits =
    early && algorithms.includes(early.algorithm) && early.zeroPad === ranges.zeroPad && JSON.stringify(early.ranges) === JSON.stringify(ranges.ranges);
  // The file's digests are awaited by the judge only where it compares them: the signature's own
  // checks (its signed attributes, its certificate) run meanwhile (issue 14: a large file's hashing
  // is the longest part). Started on the judge's first request, so no read outlives the judgement
  // (the file is closed after it); the early digest's worker reads its own descriptor. The order of
  // the reasons a verdict gives is unchanged.
  let digests: Promise<Partial<Record<AuthenticodeHash, Buffer>>> | undefined;
  const digestsOnce = () =>
    (digests ??= (async () => {
      const earlyDigest = fits ? await early.digest : undefined;
      const rest = algorithms.filter((a) => !(earlyDigest && a === early?.algorithm));
      const out: Partial<Record<AuthenticodeHash, Buffer>> = rest.length > 0 ? await computeAuthenticodeDigest(fh, layout, rest) : {};
      if (earlyDigest && early) out[early.algorithm] = earlyDigest;
      // the comparison uses these instead of reading the release again (CompareContext.publishedDigests)
      for (const a of algorithms) if (out[a]) onDigest?.({ kind: 'authenticode-pe', algorithm: a, digest: out[a] });
      return out;
    })());
  return judgeCandidates(candidates, async (a) => (await digestsOnce())[a], policy, now, options, {
    format: 'pe',
    certificateTable: { offset: table.offset, size: table.size },
  });
}

async function verifyMsiSignature(path: string, policy: AuthenticodePolicy, now: Date, options: VerifyAuthenticodeOptions): Promise<SignatureResult> {
  let candidates: Candidate[] | undefined;
  const msi = await readMsi(path, (signature) => {
    if (!signature) return [];
    candidates = candidatesFor(parseAuthenticodePkcs7(signature, OID.spcSipInfo), policy, OID.spcSipInfo);
    return digestAlgorithmsOf(candidates);
  });
  if (!msi.signature || !candidates) return invalid('the MSI carries no Authenticode signature (no \\x05DigitalSignature stream)', { unsigned: true });
  if (msi.hasSignatureEx) return invalid('MSI signatures with MsiDigitalSignatureEx (metadata pre-hash) are not supported; cannot confirm the signed digest');
  return judgeCandidates(candidates, async (a) => msi.digest(a), policy, now, options, { format: 'msi' });
}

/** The primary signature, then (only under "any-pinned") each nested one, parsed. */
function candidatesFor(primary: AuthenticodePkcs7, policy: AuthenticodePolicy, dataType: string): Candidate[] {
  const list: Candidate[] = [{ label: 'primary signature', p7: primary }];
  if (policy.signatures !== 'any-pinned') return list;
  nestedValues(primary.signerInfo)
    .slice(0, MAX_NESTED_REPORTED)
    .forEach((value, i) => {
      const label = `nested signature ${i + 1}`;
      try {
        list.push({ label, p7: parseAuthenticodePkcs7((value as asn1js.BaseBlock).valueBeforeDecodeView, dataType) });
      } catch (err) {
        list.push({ label, error: errorMessage(err) });
      }
    });
  return list;
}

function insecureAlgorithm(p7: AuthenticodePkcs7): string | undefined {
  if (p7.digestAlgorithm === 'sha1') return 'sha1';
  if (p7.signerDigestAlgorithm === 'sha1') return 'sha1';
  return INSECURE_SIGNATURE_ALGORITHMS[p7.signerInfo.signatureAlgorithm.algorithmId];
}

/** The file digests the candidates need (none for a refused algorithm). */
function digestAlgorithmsOf(candidates: Candidate[]): AuthenticodeHash[] {
  return [...new Set(candidates.flatMap((c) => (c.p7 && !insecureAlgorithm(c.p7) ? [c.p7.digestAlgorithm] : [])))];
}

async function judgeCandidates(
  candidates: Candidate[],
  /** the file's digest with that algorithm, computed when first asked for (and then awaited at once) */
  digestOf: (algorithm: AuthenticodeHash) => Promise<Buffer | undefined>,
  policy: AuthenticodePolicy,
  now: Date,
  options: VerifyAuthenticodeOptions,
  baseDetails: Record<string, unknown>,
): Promise<SignatureResult> {
  const results: SignatureResult[] = [];
  for (const c of candidates) {
    const r = c.p7
      ? await judgeSignature(c.p7, async () => (insecureAlgorithm(c.p7!) ? undefined : digestOf(c.p7!.digestAlgorithm)), policy, now, options, baseDetails)
      : invalid(c.error ?? 'unreadable');
    if (r.valid && results.length === 0) return r;
    if (r.valid) {
      // A nested signature by the pinned signer: say which, and why the primary did not do.
      return {
        ...r,
        reason: `${c.label} (policy signatures: any-pinned): ${r.reason}; primary signature not accepted: ${results[0]!.reason}`,
        details: { ...r.details, acceptedSignature: c.label, primaryProblem: results[0]!.reason },
      };
    }
    results.push(r);
  }
  const primary = results[0]!;
  if (results.length === 1) return primary;
  const nested = results.slice(1).map((r, i) => `${candidates[i + 1]!.label}: ${r.reason}`);
  return {
    ...primary,
    reason: `${primary.reason}; no nested signature verified either (${nested.join('; ')})`,
    details: { ...primary.details, nestedProblems: nested },
  };
}

async function judgeSignature(
  p7: AuthenticodePkcs7,
  digest: () => Promise<Buffer | undefined>,
  policy: AuthenticodePolicy,
  now: Date,
  options: VerifyAuthenticodeOptions,
  baseDetails: Record<string, unknown>,
): Promise<SignatureResult> {
  const { cert, der } = findSignerCertificate(p7, p7.signerInfo);
  // started before the file's digest is awaited; its answer is read only after the digest's checks
  const signedAttributes = signedAttributesProblem(p7, cert);
  const computed = await digest();
  const fingerprint = sha256Hex(der);
  const subject = formatName(cert.subject);
  const signer = `${subject} (sha256 ${fingerprint})`;
  const details = signatureDetails(p7, computed, cert, fingerprint, policy, baseDetails);
  const fail = (reason: string, extra: Partial<SignatureResult> = {}) => invalid(reason, { signer, details, ...extra });

  // 0.–2. Secure digests, the file is what was signed, and the signature covers it.
  const coverProblem = await signatureCoverageProblem(p7, computed, signedAttributes);
  if (coverProblem) return fail(coverProblem);
  // 3. The certificate is for code signing.
  const ekus = extendedKeyUsages(cert);
  if (!ekus?.includes(OID.ekuCodeSigning)) return fail('signer certificate lacks extended key usage codeSigning');
  if (hasDigitalSignatureUsage(cert) === false) return fail('signer certificate key usage lacks digitalSignature');

  // 4. When to judge the certificate: at a verified timestamp, else now; Lifetime Signing: now.
  const caCerts = policy.caCertificate ? parsePemCertificates(policy.caCertificate) : [];
  const timing = await judgementTime(p7, ekus, caCerts, options, now, details);

  // 5. The pinned signer.
  const pin = await pinnedSigner(p7, cert, fingerprint, subject, caCerts, policy, timing, details);
  if ('problem' in pin) return fail(pin.problem);
  if (!pin.pinnedBy) return fail(`signer ${signer} is not the pinned signer`, { unpinnedSigner: true });
  details.pinnedBy = pin.pinnedBy;

  // 6. The signer certificate is valid when it signed (or now).
  const { ts, lifetimeSigning, judgedAt, whenJudged } = timing;
  if (!validAt(cert, judgedAt)) {
    return fail(`signer certificate (valid ${describeValidity(cert)}) is not valid ${whenJudged}, ${judgedAt.toISOString()}`);
  }
  const when =
    ts.genTime && !lifetimeSigning
      ? `timestamped ${ts.genTime.toISOString()} by ${ts.tsa}`
      : `not timestamped${ts.problem ? ` (timestamp ignored: ${ts.problem})` : ''}${lifetimeSigning ? ' (lifetime signing)' : ''}; certificate valid at ${judgedAt.toISOString()}`;
  return { valid: true, scheme: 'authenticode', signer, reason: `${when}; pinned by ${pin.pinnedBy}`, details };
}

/** The report details known before judging: digests, signer certificate, nested signatures. */
function signatureDetails(
  p7: AuthenticodePkcs7,
  computed: Buffer | undefined,
  cert: pkijs.Certificate,
  fingerprint: string,
  policy: AuthenticodePolicy,
  baseDetails: Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...baseDetails,
    digestAlgorithm: p7.digestAlgorithm,
    signedDigest: p7.digest.toString('hex'),
    computedDigest: computed?.toString('hex'),
    signerSubject: formatName(cert.subject),
    signerIssuer: formatName(cert.issuer),
    signerCertSha256: fingerprint,
    signerValidity: describeValidity(cert),
    nestedSignatures: describeNested(p7.signerInfo, policy),
    unsignedAttributes: (p7.signerInfo.unsignedAttrs?.attributes ?? []).map((a) => a.type),
  };
}

/** Steps 0–2; the reason the signature does not cover this file with secure digests, or undefined. */
async function signatureCoverageProblem(
  p7: AuthenticodePkcs7,
  computed: Buffer | undefined,
  signedAttributes: Promise<string | undefined>,
): Promise<string | undefined> {
  // 0. No MD5 / SHA-1 (MD5 is refused while parsing already).
  const insecure = insecureAlgorithm(p7);
  if (insecure) return insecureDigestReason(insecure);
  if (!computed) return `the ${p7.digestAlgorithm} digest of the file was not computed`;
  // 1. The file is what was signed.
  if (!computed.equals(p7.digest)) {
    return `${p7.digestAlgorithm} Authenticode digest of the file (${computed.toString('hex')}) differs from the signed digest (${p7.digest.toString('hex')}): modified after signing`;
  }
  // 2. The signed attributes bind that digest, and the signature covers the signed attributes.
  return signedAttributes;
}

/**
 * Step 2 on its own (it does not depend on the file): the messageDigest attribute binds the
 * SpcIndirectDataContent, and the signature over the signed attributes verifies with the
 * SignerInfo's certificate. The reason it fails, or undefined; never rejects.
 */
async function signedAttributesProblem(p7: AuthenticodePkcs7, cert: pkijs.Certificate): Promise<string | undefined> {
  try {
    const contentHash = createHash(p7.signerDigestAlgorithm).update(p7.contentOctets).digest();
    if (!contentHash.equals(p7.messageDigest)) return 'messageDigest attribute does not match the SpcIndirectDataContent';
  } catch (err) {
    return `signature does not verify: ${errorMessage(err)}`;
  }
  let verified: Awaited<ReturnType<pkijs.SignedData['verify']>>;
  try {
    verified = await p7.signedData.verify({ signer: 0, checkChain: false, extendedMode: true });
  } catch (err) {
    return `signature does not verify: ${(err as { message?: string }).message ?? String(err)}`;
  }
  if (verified.signatureVerified !== true) return 'signature over the signed attributes does not verify';
  if (!verified.signerCertificate || !Buffer.from(verified.signerCertificate.tbsView).equals(Buffer.from(cert.tbsView))) {
    return 'the certificate that verifies the signature is not the one the SignerInfo names';
  }
  return undefined;
}

interface JudgementTime {
  ts: Awaited<ReturnType<typeof readTimestamp>>;
  lifetimeSigning: boolean;
  judgedAt: Date;
  /** how judgedAt was chosen, for reasons */
  whenJudged: string;
}

/** Step 4: the verified timestamp (if any) and the time the certificate is judged at. */
async function judgementTime(
  p7: AuthenticodePkcs7,
  ekus: string[],
  caCerts: pkijs.Certificate[],
  options: VerifyAuthenticodeOptions,
  now: Date,
  details: Record<string, unknown>,
): Promise<JudgementTime> {
  // parsed only when a timestamp's chain is checked (the system store is ~150 certificates)
  const tsaAnchors = () => [...caCerts, ...(options.tsaTrustAnchors ?? []).flatMap((p) => parsePemCertificates(p)), ...systemRootCertificates()];
  const ts = await readTimestamp(p7, tsaAnchors, now);
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
  return { ts, lifetimeSigning, judgedAt, whenJudged };
}

/** Step 5: how the signer is pinned (undefined: not pinned), or why the pin cannot be checked. */
async function pinnedSigner(
  p7: AuthenticodePkcs7,
  cert: pkijs.Certificate,
  fingerprint: string,
  subject: string,
  caCerts: pkijs.Certificate[],
  policy: AuthenticodePolicy,
  { judgedAt, whenJudged }: JudgementTime,
  details: Record<string, unknown>,
): Promise<{ pinnedBy: string | undefined } | { problem: string }> {
  const pins = (policy.certSha256 ?? []).map((p) => p.toLowerCase());
  if (pins.includes(fingerprint)) return { pinnedBy: 'certificate fingerprint' };
  if (policy.caCertificate || policy.caCertificateFile) {
    if (!policy.caCertificate) return { problem: 'policy names a CA file that was not loaded; cannot check the CA pin' };
    if (!policy.subject) return { problem: 'policy pins a CA without a subject; refusing to accept any certificate the CA issued' };
    if (caCerts.length === 0) return { problem: 'pinned CA certificate is not a PEM certificate' };
    if (normaliseSubject(policy.subject) === subject) {
      const intermediates = certificatesWithDer(p7).map((c) => c.cert);
      const chain = await verifyChain(cert, intermediates, caCerts, judgedAt);
      if (chain.ok) return { pinnedBy: 'CA and subject' };
      if (chain.timeOnly) return { problem: `signer chains to the pinned CA, but judged ${whenJudged}: ${chain.message}` };
      details.chainProblem = chain.message;
    }
  } else if (pins.length === 0) {
    return { problem: 'policy pins no signer (certSha256 or caCertificate + subject)' };
  }
  return { pinnedBy: undefined };
}

function nestedValues(signerInfo: pkijs.SignerInfo): unknown[] {
  return (signerInfo.unsignedAttrs?.attributes ?? []).filter((a) => a.type === OID.nestedSignature).flatMap((a) => a.values);
}

/** Nested signatures, for the report: signer and digest algorithm (judged separately only under "any-pinned"). */
function describeNested(signerInfo: pkijs.SignerInfo, policy: AuthenticodePolicy): Array<Record<string, unknown>> {
  const note =
    policy.signatures === 'any-pinned'
      ? 'nested signature: judged on its own (policy signatures: any-pinned)'
      : 'nested signature: not verified, never used for pinning (policy signatures: primary)';
  return nestedValues(signerInfo)
    .slice(0, MAX_NESTED_REPORTED)
    .map((value: unknown) => {
      try {
        const der = (value as asn1js.BaseBlock).valueBeforeDecodeView;
        const nested = parseAuthenticodePkcs7(der);
        const { cert, der: certDer } = findSignerCertificate(nested, nested.signerInfo);
        return {
          signer: `${formatName(cert.subject)} (sha256 ${sha256Hex(certDer)})`,
          digestAlgorithm: nested.digestAlgorithm as AuthenticodeHash,
          signedDigest: nested.digest.toString('hex'),
          note,
        };
      } catch (err) {
        return { error: errorMessage(err) };
      }
    });
}
