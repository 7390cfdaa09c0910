/**
 * The run's SLSA Verification Summary Attestation (VSA): the standard in-toto predicate
 * `https://slsa.dev/verification_summary/v1` (spec: https://slsa.dev/spec/v1.0/verification_summary),
 * for policy engines that know VSAs and nothing of this verifier's detailed predicate
 * (attestation.ts). Same subjects (the published assets by SHA-256), same canonical bytes.
 *
 * What each field says here:
 * - verifier.id          this verifier (VERIFIER_ID); consumers pin the (signing key, verifier) pair —
 *                        the key is the deployment's KMS key, so the key is what names the operator
 * - timeVerified         the run's finishedAt
 * - resourceUri          the GitLab release page (the release's web URL as the forge gave it, or
 *                        <gitlab>/<project>/-/releases/<tag>); the project page when no release
 * - policy               the effective configuration: uri where it was read from, digest.sha256 of
 *                        its canonical JSON (`configurationDigest`) — recomputable from the file
 * - inputAttestations    absent: the verifier takes no attestations as input (signatures are
 *                        checked against pinned keys, not against attestations), as the spec allows
 * - verificationResult   PASSED only for a VERIFIED run; FAILED for INCOMPLETE, MISMATCH, TAMPERED
 * - verifiedLevels       PASSED: ["SLSA_BUILD_LEVEL_0"]. The run rebuilds the release and checks
 *                        signatures; it evaluates no SLSA provenance, so it cannot attest any build
 *                        level above 0 (which promises nothing). FAILED: ["FAILED"], as the spec says.
 * - slsaVersion          "1.0"
 *
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { IN_TOTO_STATEMENT_TYPE, PROJECT_DOCS_URL, stableJson, statementSubjects } from './attestation';
import type { RunReport } from './report';

export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';

/** This verifier's identity in VSAs (the project's documentation of its attestations). */
export const VERIFIER_ID = `${PROJECT_DOCS_URL}#attestations`;

export { vsaKeys } from './run/store-layout';

/** The configuration a run was checked against, as the VSA's `policy` names it. */
export interface PolicyRef {
  /** where the configuration was read from (a file: URL locally and in the Lambda) */
  uri: string;
  /** SHA-256 hex of the configuration's canonical JSON (`configurationDigest`) */
  sha256: string;
}

/**
 * SHA-256 of the effective configuration (as parsed, defaults filled) in canonical JSON: the same
 * policy gives the same digest however its YAML/JSON was formatted.
 */
export function configurationDigest(config: unknown): string {
  return createHash('sha256').update(stableJson(config), 'utf8').digest('hex');
}

/** The policy reference of a configuration read from `uri` (a file: URL); without one, a URN of its digest. */
export function policyRef(config: unknown, uri?: string): PolicyRef {
  const sha256 = configurationDigest(config);
  return { uri: uri ?? `urn:release-verifier:configuration:sha256:${sha256}`, sha256 };
}

export type VsaResult = 'PASSED' | 'FAILED';

/** The release page the VSA is about. */
export function resourceUriOf(report: Pick<RunReport, 'project' | 'release'>): string {
  if (report.release?.webUrl) return report.release.webUrl;
  const base = `${report.project.gitlabUrl.replace(/\/+$/, '')}/${typeof report.project.project === 'number' ? `projects/${report.project.project}` : report.project.project}`;
  return report.release ? `${base}/-/releases/${encodeURIComponent(report.release.tag)}` : base;
}

/** The VSA statement of a run (serialize with `stableJson`). */
export function vsaStatement(report: RunReport, policy: PolicyRef): object {
  if (!/^[0-9a-f]{64}$/.test(policy.sha256)) throw new TypeError('vsaStatement: the policy digest must be 64 hex digits');
  const result: VsaResult = report.verdict === 'VERIFIED' ? 'PASSED' : 'FAILED';
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: statementSubjects(report),
    predicateType: VSA_PREDICATE_TYPE,
    predicate: {
      verifier: { id: VERIFIER_ID },
      timeVerified: report.finishedAt,
      resourceUri: resourceUriOf(report),
      policy: { uri: policy.uri, digest: { sha256: policy.sha256 } },
      verificationResult: result,
      verifiedLevels: result === 'PASSED' ? ['SLSA_BUILD_LEVEL_0'] : ['FAILED'],
      slsaVersion: '1.0',
    },
  };
}

/** The VSA's bytes: what the CLI writes and what AWS signs (inside the PAE). */
export function vsaBytes(report: RunReport, policy: PolicyRef): Buffer {
  return Buffer.from(stableJson(vsaStatement(report, policy)), 'utf8');
}
