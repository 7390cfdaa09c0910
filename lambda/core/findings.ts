/**
 * Findings and verdicts. A run's verdict is the worst of its findings (DESIGN.md):
 * TAMPERED > MISMATCH > INCOMPLETE > VERIFIED. A NOTICE informs but never changes the verdict.
 *
 * Alerts are written from findings, never from free text, so every finding has a stable machine
 * code, a one-line message and its evidence.
 */
export const VERDICTS = ['VERIFIED', 'INCOMPLETE', 'MISMATCH', 'TAMPERED'] as const;
export type Verdict = (typeof VERDICTS)[number];
export type FindingLevel = Exclude<Verdict, 'VERIFIED'> | 'NOTICE';

/** The registry of finding codes. The level of a code is fixed here so that the same event is
 * always judged the same way, wherever it is raised. */
export const FINDING_CODES = {
  // TAMPERED: someone changed what was published, or it is not signed by the pinned signer
  SIGNATURE_INVALID: 'TAMPERED',
  SIGNER_NOT_PINNED: 'TAMPERED',
  UNSIGNED: 'TAMPERED',
  TAG_MOVED: 'TAMPERED',
  RELEASE_COMMIT_DIFFERS: 'TAMPERED',
  PAST_ASSET_CHANGED: 'TAMPERED',
  PAST_LINK_CHANGED: 'TAMPERED',
  PAST_RELEASE_REMOVED: 'TAMPERED',
  FORGE_DIGEST_MISMATCH: 'TAMPERED',
  MANIFEST_DIGEST_MISMATCH: 'TAMPERED',
  MANIFEST_ENTRY_MISSING: 'TAMPERED',
  MANIFEST_ENTRY_DUPLICATE: 'TAMPERED',
  // MISMATCH: the rebuild differs from the published artifact
  ARTIFACT_MISMATCH: 'MISMATCH',
  // INCOMPLETE: something could not be checked
  ASSET_MISSING: 'INCOMPLETE',
  SIGNATURE_MISSING: 'INCOMPLETE',
  SIGNATURE_UNCHECKED: 'INCOMPLETE',
  BUILD_FAILED: 'INCOMPLETE',
  BUILD_TIMED_OUT: 'INCOMPLETE',
  BUILD_NOT_STARTED: 'INCOMPLETE',
  /** no Docker and no bubblewrap: the build was refused, or ran on the host because --unsafe-host-build allowed it (a host build could alter the verifier's own files, so never VERIFIED) */
  BUILD_NOT_SANDBOXED: 'INCOMPLETE',
  BUILD_WRONG_COMMIT: 'INCOMPLETE',
  // the build's record (BatchGetBuilds) shows an image, command, variable or privileged mode the
  // plan did not ask for: the rebuild is not evidence for the planned recipe. INCOMPLETE, not
  // TAMPERED: it says nothing about the release, only that this check could not be made.
  BUILD_OVERRIDDEN: 'INCOMPLETE',
  TARGET_NOT_REPORTED: 'INCOMPLETE',
  ARTIFACT_MISSING: 'INCOMPLETE',
  ARTIFACT_REFUSED: 'INCOMPLETE',
  FORGE_UNREACHABLE: 'INCOMPLETE',
  FORGE_ERROR: 'INCOMPLETE',
  RELEASE_NOT_FOUND: 'INCOMPLETE',
  DOWNLOAD_FAILED: 'INCOMPLETE',
  DOWNLOAD_TOO_LARGE: 'INCOMPLETE',
  DOWNLOAD_REFUSED: 'INCOMPLETE',
  COMPARE_FAILED: 'INCOMPLETE',
  CHECK_FAILED: 'INCOMPLETE',
  NOT_CHECKED: 'INCOMPLETE',
  NO_TARGETS: 'INCOMPLETE',
  HISTORY_UNCHECKED: 'INCOMPLETE',
  /** the latest-release permalink and our own sort of the release listing name different releases */
  LATEST_RELEASE_DISAGREES: 'INCOMPLETE',
  /** the run did not finish within its hard deadline; what finished is reported, the rest is unchecked */
  RUN_TIMED_OUT: 'INCOMPLETE',
  /** an unexpected error (a bug, or an unhandled rejection/exception) ended the run; the report is all there is */
  INTERNAL_ERROR: 'INCOMPLETE',
  /** a release link the configuration does not cover (not an artifact, signature or manifest, not ignored) */
  UNVERIFIED_ASSET: 'INCOMPLETE',
  // NOTICE: worth knowing, does not change the verdict
  IMAGE_NOT_ENFORCED: 'NOTICE',
  // a macOS target runs the curated image its fleet provides (aws/codebuild/macos-arm-base:<n>),
  // which CodeBuild updates in place: the image is named, not pinned by digest
  IMAGE_NOT_DIGEST_PINNED: 'NOTICE',
  HISTORY_BASELINE: 'NOTICE',
  AUDIT_TAG_UNPROTECTED: 'NOTICE',
  AUDIT_TAG_CREATE_TOO_WIDE: 'NOTICE',
  AUDIT_BRANCH_UNPROTECTED: 'NOTICE',
  AUDIT_BRANCH_PUSH_TOO_WIDE: 'NOTICE',
  AUDIT_BRANCH_FORCE_PUSH: 'NOTICE',
  AUDIT_UNAVAILABLE: 'NOTICE',
  // forge write paths (issue 11): every way to change what users download, as a read_api token sees it
  AUDIT_DEPLOY_KEY_CAN_PUSH: 'NOTICE',
  AUDIT_DEPLOY_TOKEN_WRITE: 'NOTICE',
  AUDIT_JOB_TOKEN_SCOPE_OPEN: 'NOTICE',
  AUDIT_TAG_DELETABLE: 'NOTICE',
  AUDIT_RELEASES_OPEN: 'NOTICE',
  // repository hygiene at the release commit (issue 11; lambda/core/hygiene/): evidence carries file, line, text, fix
  HYGIENE_IMAGE_NOT_PINNED: 'NOTICE',
  HYGIENE_TOOL_NOT_PINNED: 'NOTICE',
  HYGIENE_GIT_DEP_NOT_PINNED: 'NOTICE',
  HYGIENE_LOCKFILE_MISSING: 'NOTICE',
  HYGIENE_APT_SOURCE: 'NOTICE',
  HYGIENE_REMOTE_SCRIPT: 'NOTICE',
  HYGIENE_UNVERIFIED_DOWNLOAD: 'NOTICE',
  HYGIENE_TOOLCHAIN_NOT_PINNED: 'NOTICE',
  HYGIENE_CI_INCLUDE_NOT_PINNED: 'NOTICE',
  HYGIENE_CI_PUBLISHES_RELEASE: 'NOTICE',
  SIGNATURE_NOT_REQUIRED: 'NOTICE',
  ARCHIVE_METADATA_DIFFERS: 'NOTICE',
  DIFFOSCOPE_REPORT: 'NOTICE',
  /** the run's attestation could not be signed (AWS); the summary and the verdict stand */
  ATTESTATION_UNSIGNED: 'NOTICE',
} as const satisfies Record<string, FindingLevel>;

export type FindingCode = keyof typeof FINDING_CODES;

export interface Finding {
  code: FindingCode;
  level: FindingLevel;
  /** One line, for a human: what happened, to what. */
  message: string;
  target?: string;
  artifact?: string;
  /** Digests, URLs, build ids, log links, byte ranges… whatever proves the finding. */
  evidence?: Record<string, unknown>;
}

export function finding(code: FindingCode, message: string, context: { target?: string; artifact?: string; evidence?: Record<string, unknown> } = {}): Finding {
  const f: Finding = { code, level: FINDING_CODES[code], message };
  if (context.target !== undefined) f.target = context.target;
  if (context.artifact !== undefined) f.artifact = context.artifact;
  if (context.evidence !== undefined) f.evidence = context.evidence;
  return f;
}

const RANK: Record<Verdict, number> = { VERIFIED: 0, INCOMPLETE: 1, MISMATCH: 2, TAMPERED: 3 };

export function worseOf(a: Verdict, b: Verdict): Verdict {
  return RANK[b] > RANK[a] ? b : a;
}

export function compareVerdicts(a: Verdict, b: Verdict): number {
  return RANK[a] - RANK[b];
}

/**
 * The verdict of a set of findings. `positivelyChecked` must say whether every expected check
 * produced a positive result; without that, an empty set of findings is INCOMPLETE, never
 * VERIFIED — silence is not success.
 */
export function verdictOf(findings: readonly Finding[], positivelyChecked: boolean): Verdict {
  let v: Verdict = positivelyChecked ? 'VERIFIED' : 'INCOMPLETE';
  for (const f of findings) {
    if (f.level !== 'NOTICE') v = worseOf(v, f.level);
  }
  return v;
}

/** Exit codes of `release-verifier verify`. */
export function exitCodeFor(verdict: Verdict): number {
  switch (verdict) {
    case 'VERIFIED':
      return 0;
    case 'MISMATCH':
    case 'TAMPERED':
      return 1;
    case 'INCOMPLETE':
      return 2;
  }
}
