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
import { allFindings, type RunReport } from './report';

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
export const VERIFICATION_PREDICATE_TYPE = 'https://release-verifier.dev/verification/v1';

/** Where a run's attestation is stored, next to summary.json. */
export const attestationKeys = {
  /** the statement, unsigned (the CLI) */
  statement: (runId: string) => `runs/${runId}/attestation.intoto.json`,
  /** the DSSE envelope signed in AWS */
  envelope: (runId: string) => `runs/${runId}/attestation.dsse.json`,
};

export interface StatementSubject {
  name: string;
  digest: { sha256: string };
}

/** The in-toto statement of a run report (a plain object; serialize with `stableJson`). */
export function verificationStatement(report: RunReport): object {
  const subject: StatementSubject[] = [];
  const seen = new Set<string>();
  const assets: Record<string, unknown>[] = [];
  for (const t of report.targets) {
    for (const a of t.artifacts) {
      const published = a.published?.sha256;
      // An asset may be listed by more than one target: one subject per (name, digest).
      if (published && !seen.has(`${a.asset}\0${published}`)) {
        seen.add(`${a.asset}\0${published}`);
        subject.push({ name: a.asset, digest: { sha256: published } });
      }
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
  const payload = statementBytes(report);
  const sig = await signer.sign(dssePae(IN_TOTO_PAYLOAD_TYPE, payload));
  if (sig.byteLength === 0) throw new Error('the signer returned an empty signature');
  return dsseEnvelope(payload, [{ keyid: signer.keyId, sig }]);
}
