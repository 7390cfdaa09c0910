/**
 * The run's attestation: an in-toto Statement v1 of what the verifier saw, for third parties to
 * check. Subjects are the published assets by their SHA-256; the predicate is the verdict and, per
 * asset, the rebuild, comparison and signature results. In AWS the statement is signed in a DSSE
 * envelope (KMS, see lambda/adapters/signer/kms-signer.ts); the CLI writes it unsigned.
 *
 * Pure: no AWS, no I/O. The statement's bytes are canonical (sorted keys, no whitespace) so that
 * the same report always yields the same bytes, and a verifier can re-derive them from summary.json.
 *
 * Specs: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md,
 * https://github.com/secure-systems-lab/dsse/blob/master/protocol.md (PAE, envelope).
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { allFindings, type RunReport } from './report';

/**
 * The project's own documentation of its attestations (the README's "Attestations" section in the
 * project's repository): the detailed predicate's type and the VSA's verifier id live under it, so
 * both name a page that says what they mean. Change it in this one place if the repository moves.
 */
export const PROJECT_DOCS_URL = 'https://gitlab.com/release-verifier/release-verifier/-/blob/main/README.md';

export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * This verifier's predicate type. Version 1 predicate (fields absent when unknown):
 *
 *   verdict                 the run's verdict (VERIFIED | INCOMPLETE | MISMATCH | TAMPERED)
 *   runId, project          { gitlabUrl, project }
 *   release                 { tag, commit } (null when no release was determined)
 *   startedAt, finishedAt   ISO 8601 UTC
 *   assets[]                one per checked artifact, in report order: target, asset, verdict,
 *                           publishedSha256, rebuiltSha256, comparison { method, match },
 *                           signature { scheme, valid, signer }
 *   findings[]              every finding of the run (run-level first): code, level, target, artifact
 *
 * Additive changes keep the type; a change in meaning gets a new version.
 */
export const VERIFICATION_PREDICATE_TYPE = `${PROJECT_DOCS_URL}#verification-predicate-v1`;

/**
 * The placeholder type of the same predicate written before the type above (a domain the project
 * never controlled). Readers accept it (verify-attestation); nothing writes it any more.
 */
export const LEGACY_VERIFICATION_PREDICATE_TYPE = 'https://release-verifier.dev/verification/v1';

export { attestationKeys } from './run/store-layout';

export interface StatementSubject {
  name: string;
  digest: { sha256: string };
}

/** The in-toto statement of a run report (a plain object; serialize with `stableJson`). */
/** The statement's subjects: the published assets by SHA-256, one per (name, digest), in report order. */
export function statementSubjects(report: Pick<RunReport, 'targets'>): StatementSubject[] {
  const subject: StatementSubject[] = [];
  const seen = new Set<string>();
  for (const t of report.targets) {
    for (const a of t.artifacts) {
      const published = a.published?.sha256;
      // An asset may be listed by more than one target: one subject per (name, digest).
      if (published && !seen.has(`${a.asset}\0${published}`)) {
        seen.add(`${a.asset}\0${published}`);
        subject.push({ name: a.asset, digest: { sha256: published } });
      }
    }
  }
  return subject;
}

export function verificationStatement(report: RunReport): object {
  const subject = statementSubjects(report);
  const assets: Record<string, unknown>[] = [];
  for (const t of report.targets) {
    for (const a of t.artifacts) {
      const published = a.published?.sha256;
      assets.push({
        target: t.name,
        asset: a.asset,
        verdict: a.verdict,
        publishedSha256: published,
        rebuiltSha256: a.rebuilt?.sha256,
        comparison: a.comparison ? { method: a.comparison.method, match: a.comparison.match } : undefined,
        signature: a.signature ? { scheme: a.signature.scheme, valid: a.signature.valid, signer: a.signature.signer } : undefined,
      });
    }
  }
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject,
    predicateType: VERIFICATION_PREDICATE_TYPE,
    predicate: {
      verdict: report.verdict,
      runId: report.runId,
      project: { gitlabUrl: report.project.gitlabUrl, project: report.project.project },
      release: report.release ? { tag: report.release.tag, commit: report.release.commitSha } : null,
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
      assets,
      findings: allFindings(report).map((f) => ({ code: f.code, level: f.level, target: f.target, artifact: f.artifact })),
    },
  };
}

/** Bounds the nesting of `stableJson` input (our statements are a few levels deep). */
const MAX_DEPTH = 32;

/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as RFC 8785), no whitespace, undefined
 * properties left out. Strings and numbers are written as JSON.stringify writes them, which for the
 * values in a statement (strings, booleans, integers) is RFC 8785's form too. Anything that JSON
 * cannot say exactly (NaN, Infinity, bigint, functions, undefined in an array, cycles) throws.
 */
export function stableJson(value: unknown): string {
  const write = (v: unknown, depth: number): string => {
    if (depth > MAX_DEPTH) throw new TypeError('stableJson: value nested too deeply');
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new TypeError(`stableJson: ${v} has no JSON form`);
      return JSON.stringify(v);
    }
    if (Array.isArray(v)) {
      return `[${v
        .map((x) => {
          if (x === undefined) throw new TypeError('stableJson: undefined in an array');
          return write(x, depth + 1);
        })
        .join(',')}]`;
    }
    if (typeof v === 'object') {
      const entries = Object.keys(v as object)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${write((v as Record<string, unknown>)[k], depth + 1)}`);
      return `{${entries.join(',')}}`;
    }
    throw new TypeError(`stableJson: a ${typeof v} has no JSON form`);
  };
  return write(value, 0);
}

/** The statement's bytes: what the CLI writes and what AWS signs (inside the PAE). */
export function statementBytes(report: RunReport): Buffer {
  return Buffer.from(stableJson(verificationStatement(report)), 'utf8');
}

/**
 * DSSE v1 pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
 * lengths as ASCII decimal byte counts. The signature is over these bytes, never the bare payload.
 */
export function dssePae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `, 'utf8'), type, Buffer.from(` ${payload.byteLength} `, 'utf8'), payload]);
}

export interface DsseSignature {
  keyid: string;
  /** the raw signature bytes (for ECDSA: DER) */
  sig: Uint8Array;
}

export interface DsseEnvelope {
  payload: string;
  payloadType: string;
  signatures: { keyid: string; sig: string }[];
}

/** A DSSE envelope (standard base64, as the DSSE JSON envelope specifies). */
export function dsseEnvelope(payload: Uint8Array, signatures: readonly DsseSignature[], payloadType: string = IN_TOTO_PAYLOAD_TYPE): DsseEnvelope {
  return {
    payload: Buffer.from(payload).toString('base64'),
    payloadType,
    signatures: signatures.map((s) => ({ keyid: s.keyid, sig: Buffer.from(s.sig).toString('base64') })),
  };
}

/** Signs a DSSE PAE. The KMS adapter in AWS; a local key in tests. */
export interface AttestationSigner {
  /** recorded as the signature's `keyid` (the KMS key ARN) */
  readonly keyId: string;
  /** the signature over `pae` (ECDSA P-256 with SHA-256, DER-encoded) */
  sign(pae: Uint8Array): Promise<Uint8Array>;
}

/** The signed envelope of a run report's statement. */
export async function signedAttestation(report: RunReport, signer: AttestationSigner): Promise<DsseEnvelope> {
  return signedStatement(statementBytes(report), signer);
}

/** A DSSE envelope of any in-toto statement's bytes (the detailed one, the VSA). */
export async function signedStatement(payload: Uint8Array, signer: AttestationSigner): Promise<DsseEnvelope> {
  const sig = await signer.sign(dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
  if (sig.byteLength === 0) throw new Error('the signer returned an empty signature');
  return dsseEnvelope(payload, [{ keyid: signer.keyId, sig }]);
}

// ───────────────────────── reading an envelope (verify-attestation) ─────────────────────────

/** Bounds for envelopes read from disk: far above what a run writes (a few KB). */
export const ENVELOPE_LIMITS = { maxBytes: 16 * 1024 * 1024, maxSignatures: 16 } as const;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64 (standard or URL-safe, as DSSE allows): anything else is malformed, never skipped over. */
function decodeBase64(text: string, what: string): Buffer {
  if (BASE64.test(text)) return Buffer.from(text, 'base64');
  if (BASE64URL.test(text) && text.length % 4 !== 1) return Buffer.from(text, 'base64url');
  throw new MalformedEnvelopeError(`${what} is not base64`);
}

/** The envelope or its statement is not what it claims to be (an invalid attestation, exit 1). */
export class MalformedEnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedEnvelopeError';
  }
}

export interface ParsedEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: { keyid: string; sig: Buffer }[];
}

/** Parses a DSSE JSON envelope, strictly: the fields typed as the spec says, base64 decoded, bounded. */
export function parseEnvelope(text: string): ParsedEnvelope {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new MalformedEnvelopeError(`the envelope is not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MalformedEnvelopeError('the envelope is not a JSON object');
  const e = doc as Record<string, unknown>;
  if (typeof e.payloadType !== 'string') throw new MalformedEnvelopeError('the envelope has no payloadType');
  if (typeof e.payload !== 'string') throw new MalformedEnvelopeError('the envelope has no payload');
  if (!Array.isArray(e.signatures) || e.signatures.length === 0) throw new MalformedEnvelopeError('the envelope has no signatures');
  if (e.signatures.length > ENVELOPE_LIMITS.maxSignatures)
    throw new MalformedEnvelopeError(`the envelope has ${e.signatures.length} signatures, more than ${ENVELOPE_LIMITS.maxSignatures}`);
  const signatures = e.signatures.map((s, i) => {
    if (typeof s !== 'object' || s === null || typeof (s as { sig?: unknown }).sig !== 'string') throw new MalformedEnvelopeError(`signature ${i} has no sig`);
    const keyid = (s as { keyid?: unknown }).keyid;
    if (keyid !== undefined && typeof keyid !== 'string') throw new MalformedEnvelopeError(`signature ${i} has a keyid that is not a string`);
    const sig = decodeBase64((s as { sig: string }).sig, `signature ${i}`);
    if (sig.length === 0) throw new MalformedEnvelopeError(`signature ${i} is empty`);
    return { keyid: keyid ?? '', sig };
  });
  return { payloadType: e.payloadType, payload: decodeBase64(e.payload, 'the payload'), signatures };
}

/**
 * Whether one of the envelope's signatures is ECDSA P-256 / SHA-256 (DER, as KMS returns it) by
 * `key` over the PAE of its payload type and payload. The keyid is a hint only: every signature is
 * tried against the one pinned key.
 */
export function envelopeSignedBy(envelope: ParsedEnvelope, key: KeyObject): { valid: boolean; keyid?: string } {
  const pae = dssePae(envelope.payloadType, envelope.payload);
  for (const s of envelope.signatures) {
    let ok = false;
    try {
      ok = cryptoVerify('sha256', pae, { key, dsaEncoding: 'der' }, s.sig);
    } catch {
      ok = false; // a signature that is not DER ECDSA is not valid
    }
    if (ok) return { valid: true, keyid: s.keyid };
  }
  return { valid: false };
}

/** Refuses keys that cannot have made the attestation (not EC P-256): "could not check", never "invalid". */
export function assertAttestationKey(key: KeyObject): void {
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError(
      `the key is ${key.asymmetricKeyType ?? key.type}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}, not an EC P-256 public key (attestations are ECDSA P-256 / SHA-256)`,
    );
  }
}

export type StatementKind = 'vsa' | 'verification' | 'unknown';

export interface StatementOutcome {
  predicateType: string;
  kind: StatementKind;
  subjects: StatementSubject[];
  /** VSA: verificationResult; detailed predicate: the verdict; unknown predicate: null */
  result: string | null;
  /** true only for a VSA that PASSED or a detailed predicate whose verdict is VERIFIED */
  passed: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** What a (signed) statement says: its subjects and the result of the verification it records. */
export function statementOutcome(envelope: ParsedEnvelope, vsaPredicateType: string): StatementOutcome {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw new MalformedEnvelopeError(`the payload type is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`);
  let doc: unknown;
  try {
    doc = JSON.parse(envelope.payload.toString('utf8'));
  } catch (err) {
    throw new MalformedEnvelopeError(`the statement is not JSON: ${(err as Error).message}`);
  }
  const st = doc as Record<string, unknown> | null;
  if (typeof st !== 'object' || st === null || Array.isArray(st)) throw new MalformedEnvelopeError('the statement is not a JSON object');
  if (st._type !== IN_TOTO_STATEMENT_TYPE)
    throw new MalformedEnvelopeError(`the statement's _type is ${JSON.stringify(st._type)}, not ${IN_TOTO_STATEMENT_TYPE}`);
  if (!Array.isArray(st.subject)) throw new MalformedEnvelopeError('the statement has no subject list');
  const subjects = st.subject.map((s, i): StatementSubject => {
    const name = (s as { name?: unknown })?.name;
    const sha256 = (s as { digest?: { sha256?: unknown } })?.digest?.sha256;
    if (typeof name !== 'string' || typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))
      throw new MalformedEnvelopeError(`subject ${i} has no name and SHA-256 digest`);
    return { name, digest: { sha256 } };
  });
  if (typeof st.predicateType !== 'string') throw new MalformedEnvelopeError('the statement has no predicateType');
  const predicate = st.predicate as Record<string, unknown> | undefined;
  if (typeof predicate !== 'object' || predicate === null) throw new MalformedEnvelopeError('the statement has no predicate');
  const base = { predicateType: st.predicateType, subjects };
  if (st.predicateType === vsaPredicateType) {
    const r = predicate.verificationResult;
    if (r !== 'PASSED' && r !== 'FAILED') throw new MalformedEnvelopeError(`the VSA's verificationResult is ${JSON.stringify(r)}, not PASSED or FAILED`);
    return { ...base, kind: 'vsa', result: r, passed: r === 'PASSED' };
  }
  if (st.predicateType === VERIFICATION_PREDICATE_TYPE || st.predicateType === LEGACY_VERIFICATION_PREDICATE_TYPE) {
    const v = predicate.verdict;
    if (typeof v !== 'string') throw new MalformedEnvelopeError('the predicate has no verdict');
    return { ...base, kind: 'verification', result: v, passed: v === 'VERIFIED' };
  }
  return { ...base, kind: 'unknown', result: null, passed: false };
}
