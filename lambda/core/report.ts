/**
 * The report of a run: what was expected, what was seen, and the verdict. This JSON shape is a
 * contract (`verify --json`, S3 run records): extend it, never rename fields.
 */
import type { BuildBilling, LambdaUsage, RunCost } from './cost/types';
import type { Finding, Verdict } from './findings';

export interface FileDigest {
  sha256: string;
  size: number;
  url?: string;
}

export type { CompareMethod, ComparisonReport, Difference } from '../base/comparison';
import type { ComparisonReport } from '../base/comparison';

export interface SignatureReport {
  scheme: string;
  valid: boolean;
  /** who signed: key id / fingerprint / certificate subject+fingerprint / identity */
  signer?: string;
  reason?: string;
  /** the signature asset that was checked */
  signatureAsset?: string;
}

export interface ArtifactReport {
  path: string;
  asset: string;
  verdict: Verdict;
  published?: FileDigest;
  rebuilt?: FileDigest;
  comparison?: ComparisonReport;
  signature?: SignatureReport;
  findings: Finding[];
}

export interface BuildReport {
  id: string;
  status: string;
  durationMs?: number;
  image: string;
  imageEnforced: boolean;
  logLink?: string;
  message?: string;
  /** what CodeBuild bills for the build, from its own record (AWS) */
  billing?: BuildBilling;
}

export interface TargetReport {
  name: string;
  verdict: Verdict;
  build?: BuildReport;
  artifacts: ArtifactReport[];
  findings: Finding[];
  /** the checker invocation that judged this target (AWS) */
  lambda?: LambdaUsage;
}

/** Which forge and project, forge-neutral. `type` names the forge (GitLab is the first). */
export interface ForgeRef {
  type: 'gitlab';
  url: string;
  project: string | number;
}

export interface ProjectRef {
  /** always written since the run engine (issue 10); absent in reports written before */
  forge?: ForgeRef;
  /** the forge's URL (kept for compatibility: every report has it) */
  gitlabUrl: string;
  project: string | number;
}

export interface ReleaseReport {
  tag: string;
  name?: string;
  commitSha?: string;
  releasedAt?: string;
  webUrl?: string;
}

export interface RunReport {
  schemaVersion: 1;
  runId: string;
  startedAt: string;
  finishedAt: string;
  verdict: Verdict;
  /** the project under watch: `forge` is the forge-neutral contract; `gitlabUrl` stays for readers of older reports */
  project: ProjectRef;
  release: ReleaseReport | null;
  targets: TargetReport[];
  /** run-level findings (forge, release, history) */
  findings: Finding[];
  mode: 'local' | 'aws';
  /** what the run cost, estimated from the builds' and Lambdas' records and the price table (cost/); absent in older summaries */
  cost?: RunCost;
  /** the repository and forge audit (issue 11): advisory, never part of the verdict; absent when not run */
  audit?: AuditReport;
}

/** One audit finding, reduced to what identifies it across runs (file and text, not the line). */
export interface AuditEntry {
  code: string;
  /** stable identity: code + file + offending text (hygiene) or code + the forge object (write paths) */
  key: string;
  message: string;
  file?: string;
  line?: number;
}

/** The `audit` block of the JSON report (README "Repository and forge audit"). */
export interface AuditReport {
  /** the commit whose tree was read */
  commitSha: string;
  hygiene: {
    /** each hit: code, file, line, the offending text (bounded, neutralised) and a one-line fix */
    findings: { code: string; file: string; line: number; text: string; fix: string }[];
    coverage: {
      treeEntries: number;
      treeComplete: boolean;
      candidates: number;
      filesRead: number;
      bytesRead: number;
      skipped: { file: string; reason: string }[];
      complete: boolean;
    } | null;
    /** why the tree could not be read, when it could not */
    unavailable?: string;
  };
  writePaths: {
    /** the parts that were read (deploy keys, deploy tokens, job token scope, push rules, settings) */
    checked: string[];
    unavailable: { what: string; permission: string; reason: string }[];
  };
  /** against the previous run's audit (null previousRunId: this run is the baseline) */
  changes: { previousRunId: string | null; appeared: AuditEntry[]; disappeared: AuditEntry[]; unchanged: number };
  /** the maintainer's checklist → the check that automates each item, or why it cannot be automated */
  checklist: { item: string; automatedBy: string[]; note: string }[];
}

/** Every finding of the run, run-level first. */
export function allFindings(report: Pick<RunReport, 'findings' | 'targets'>): Finding[] {
  return [...report.findings, ...report.targets.flatMap((t) => [...t.findings, ...t.artifacts.flatMap((a) => a.findings)])];
}
