/**
 * What each finding code means and what to do next, in plain language, for the person who got
 * the alert. Typed `Record<FindingCode, …>`: a new code in FINDING_CODES without an explanation
 * does not compile (and a test checks it at run time too).
 */
import type { FindingCode } from '../findings';

export interface Explanation {
  /** what happened, for someone who does not know the verifier's internals */
  meaning: string;
  /** the first thing to do */
  next: string;
}

const PUBLISHED_CHANGED_NEXT =
  'Treat the release as compromised until explained: do not install it, tell users who downloaded it, find out who changed it (GitLab audit events), and restore the original files.';

export const EXPLANATIONS: Record<FindingCode, Explanation> = {
  // ── TAMPERED ──
  SIGNATURE_INVALID: {
    meaning:
      'The signature on a published file does not verify against the pinned key: the file, or its signature, was changed after it was signed, or it was signed by something else.',
    next: PUBLISHED_CHANGED_NEXT,
  },
  SIGNER_NOT_PINNED: {
    meaning: 'The file carries a valid signature, but from a key or certificate that is not the one the configuration pins.',
    next: 'Check whether the project rotated its signing key. If it did, pin the new key in the configuration (after checking it out of band); if not, treat the release as compromised.',
  },
  UNSIGNED: {
    meaning: 'The file should be signed and is not.',
    next: 'Ask the release manager why the file is unsigned; until then treat it as untrusted and do not install it.',
  },
  TAG_MOVED: {
    meaning: 'A release tag now points at a different commit than when the verifier first saw it (or was deleted). Released source must never change.',
    next: 'Compare the old and new commits, find who re-pushed the tag (GitLab audit events), restore the original tag, and protect release tags.',
  },
  RELEASE_COMMIT_DIFFERS: {
    meaning: 'The release says it was built from one commit, but its tag points at another.',
    next: 'Find out which commit the release really came from; re-create the release from the tagged commit.',
  },
  PAST_ASSET_CHANGED: {
    meaning:
      'A file of this release has different bytes than an earlier run saw for the same release: published history changed — even if the new bytes happen to verify.',
    next: `${PUBLISHED_CHANGED_NEXT} The earlier run linked here has the original digest.`,
  },
  PAST_LINK_CHANGED: {
    meaning: 'A link of a past release was added, removed or now points elsewhere since the verifier first saw the release.',
    next: 'Check the release page history; a download link pointing somewhere new can serve other files. Restore the original link.',
  },
  PAST_RELEASE_REMOVED: {
    meaning: 'A release the verifier saw before is gone from GitLab.',
    next: 'Find out who deleted it and why (GitLab audit events); users may have installed it.',
  },
  FORGE_DIGEST_MISMATCH: {
    meaning: "GitLab's own recorded digest of a package file does not match the bytes it serves.",
    next: 'The package registry content was altered or is corrupt: report it to the GitLab administrators and treat the file as compromised.',
  },
  MANIFEST_DIGEST_MISMATCH: {
    meaning:
      "The checksum manifest's signature is valid, but this file's SHA-256 is not the one listed for it: the file changed after the manifest was signed (the signature itself is fine).",
    next: PUBLISHED_CHANGED_NEXT,
  },
  MANIFEST_ENTRY_MISSING: {
    meaning: 'The signed checksum manifest does not list this file, so nothing vouches for it.',
    next: 'Ask the release manager to include the file in the signed manifest; until then treat it as unverified.',
  },
  MANIFEST_ENTRY_DUPLICATE: {
    meaning: 'The signed checksum manifest lists this file more than once, so it is ambiguous which digest is meant.',
    next: 'Fix the release process so each file appears once, and re-sign the manifest.',
  },
  // ── MISMATCH ──
  ARTIFACT_MISMATCH: {
    meaning: 'Rebuilding the tagged source did not give the published file: the published binary differs from what the source builds (signatures aside).',
    next: 'Look at the differences below (and the diffoscope report). A timestamp or path means the build is not reproducible yet; code that differs means the published binary was not built from this source — treat it as compromised.',
  },
  // ── INCOMPLETE ──
  ASSET_MISSING: {
    meaning: 'A file the configuration expects is not in the release.',
    next: 'Check whether it was renamed (update the configuration) or never uploaded.',
  },
  SIGNATURE_MISSING: {
    meaning: 'The signature file for this asset is not in the release, so the signature could not be checked.',
    next: 'Ask the release manager to publish the signature; check the configured signature name.',
  },
  SIGNATURE_UNCHECKED: {
    meaning: 'The signature could not be checked (a tool or key problem, not a verdict on the file).',
    next: 'Read the evidence for the reason, fix it and run again.',
  },
  BUILD_FAILED: {
    meaning: 'The rebuild of this target failed, so its files could not be compared.',
    next: 'Open the build log (linked) to see why; fix the recipe or the image and run again.',
  },
  BUILD_TIMED_OUT: {
    meaning: 'The rebuild ran out of time, so nothing was compared.',
    next: 'Raise the target timeout or find what hangs in the build log.',
  },
  BUILD_NOT_STARTED: {
    meaning: 'The rebuild could not be started.',
    next: 'Read the evidence (quota, permissions, image) and run again.',
  },
  BUILD_NOT_SANDBOXED: {
    meaning:
      'The build ran without a sandbox (or was refused for lack of one); such a build could have altered the verifier itself, so the result cannot be trusted as VERIFIED.',
    next: 'Install Docker or bubblewrap and run again without --unsafe-host-build.',
  },
  BUILD_WRONG_COMMIT: {
    meaning: 'The build checked out a different commit than the tagged one, so it proves nothing about the release.',
    next: 'Check the build recipe and the clone step; run again.',
  },
  BUILD_OVERRIDDEN: {
    meaning:
      "The build's record shows an image, command, variable or privileged mode the plan did not ask for: the rebuild is not evidence for the planned recipe.",
    next: 'Find who or what started the build with overrides (CloudTrail StartBuild); run again.',
  },
  TARGET_NOT_REPORTED: {
    meaning: 'A planned target never reported a result before the run was closed.',
    next: 'Look at the build and the checker logs for that target; run again.',
  },
  ARTIFACT_MISSING: {
    meaning: 'The build finished but did not produce the expected file.',
    next: 'Check the configured artifact path against the build log.',
  },
  ARTIFACT_REFUSED: {
    meaning: 'The rebuilt file could not be read safely (outside the output folder, a symlink out, too large).',
    next: 'Check the build output and the configured artifact path.',
  },
  FORGE_UNREACHABLE: {
    meaning: 'GitLab could not be reached, so nothing was checked.',
    next: 'Check GitLab availability and the network path; the next run will try again.',
  },
  FORGE_ERROR: {
    meaning: 'GitLab answered in an unexpected way (an error or an unreadable response).',
    next: 'Check the token and its scopes and the GitLab status; run again.',
  },
  RELEASE_NOT_FOUND: {
    meaning: 'The release to verify does not exist (or the token cannot see it).',
    next: 'Check the configured tag and the token permissions.',
  },
  DOWNLOAD_FAILED: {
    meaning: 'A published file could not be downloaded completely.',
    next: 'Usually transient: run again. If it persists, check the link in the release.',
  },
  DOWNLOAD_TOO_LARGE: {
    meaning: 'A published file is larger than the configured limit, so it was not downloaded.',
    next: 'Raise limits.maxAssetBytes if the size is expected; a sudden size jump is itself suspicious.',
  },
  DOWNLOAD_REFUSED: {
    meaning: 'A download was refused (a link to a host or scheme the configuration does not allow, or a bad redirect).',
    next: 'Check where the release link points; a link moved to another host is suspicious.',
  },
  COMPARE_FAILED: {
    meaning: 'The published and rebuilt files could not be compared (unreadable, or beyond the safety limits).',
    next: 'Read the evidence; try `release-verifier compare` locally on both files.',
  },
  CHECK_FAILED: {
    meaning: 'An error stopped a check before it gave a result.',
    next: 'Read the evidence for the error; run again, and report it if it persists.',
  },
  NOT_CHECKED: {
    meaning: 'This file was not compared with a rebuild because the build did not succeed.',
    next: 'Fix the build (see its finding), then run again.',
  },
  NO_TARGETS: {
    meaning: 'No build target was planned, so nothing was verified.',
    next: 'Add targets to the configuration.',
  },
  HISTORY_UNCHECKED: {
    meaning: 'The release history (tags, past releases) could not be read, so changes to past releases were not looked for.',
    next: 'Check the token scopes and GitLab availability; run again.',
  },
  LATEST_RELEASE_DISAGREES: {
    meaning: 'GitLab\'s "latest release" and the newest release in its own listing are different releases, so it is unclear which one to verify.',
    next: 'Check the release dates on GitLab; verify both tags explicitly (`verify --tag`).',
  },
  RUN_TIMED_OUT: {
    meaning: 'The run hit its hard deadline; whatever had not finished is unchecked.',
    next: 'Raise the run deadline or parallel builds, or look for the slow step; run again.',
  },
  INTERNAL_ERROR: {
    meaning: 'An unexpected error (a bug in the verifier) ended the run; this report is all there is.',
    next: 'Report it with the evidence below; run again.',
  },
  UNVERIFIED_ASSET: {
    meaning: 'The release has a file the configuration does not cover, so nobody checked it.',
    next: 'Add it to a target (artifact, signature or manifest) or to ignoreAssets if it needs no check.',
  },
  // ── NOTICE ──
  IMAGE_NOT_ENFORCED: {
    meaning: 'The build could not be proven to run in the pinned image (e.g. a local build without Docker).',
    next: 'Nothing urgent; use Docker or AWS for builds whose image is enforced.',
  },
  IMAGE_NOT_DIGEST_PINNED: {
    meaning: 'The macOS build runs the curated image its fleet provides, which AWS updates in place: it is named, not pinned by digest.',
    next: 'Nothing to do unless a mismatch appears after an image update.',
  },
  HISTORY_BASELINE: {
    meaning: 'First run for this project: the release history was recorded as the baseline later runs compare against.',
    next: 'Nothing to do. Later runs will report any change to what was recorded now.',
  },
  AUDIT_TAG_UNPROTECTED: {
    meaning: 'The release tag matches no protected-tag rule: anyone who can push may delete and re-create it.',
    next: 'Protect release tags in GitLab (Settings → Repository → Protected tags), Maintainers only.',
  },
  AUDIT_TAG_CREATE_TOO_WIDE: {
    meaning: 'More people than Maintainers may create release tags.',
    next: 'Restrict the protected-tag rule to Maintainers.',
  },
  AUDIT_BRANCH_UNPROTECTED: {
    meaning: 'The default branch is not protected: anyone who can push may rewrite it.',
    next: 'Protect the default branch in GitLab.',
  },
  AUDIT_BRANCH_PUSH_TOO_WIDE: {
    meaning: 'The default branch accepts direct pushes from more than Maintainers.',
    next: 'Require merge requests, or restrict pushes to Maintainers.',
  },
  AUDIT_BRANCH_FORCE_PUSH: {
    meaning: 'The default branch allows force pushes: its history can be rewritten.',
    next: 'Disable force push on the default branch.',
  },
  AUDIT_UNAVAILABLE: {
    meaning: "GitLab's tag and branch protections could not be read (the token may lack the Maintainer role).",
    next: 'Optional: give the token read access to protections to get the audit.',
  },
  AUDIT_DEPLOY_KEY_CAN_PUSH: {
    meaning: 'A deploy key has write access: whoever holds that key can push commits and tags.',
    next: 'Make the deploy key read-only (Settings → Repository → Deploy keys) unless something must push with it, and then keep it off machines that do not need it.',
  },
  AUDIT_DEPLOY_TOKEN_WRITE: {
    meaning: 'A deploy token can write the repository, container images or packages: whoever holds it can change what users download.',
    next: 'Give the deploy token read scopes only, or revoke it (Settings → Repository → Deploy tokens).',
  },
  AUDIT_JOB_TOKEN_SCOPE_OPEN: {
    meaning: 'CI jobs of any other project may use their job token against this project.',
    next: 'Turn on "Limit access to this project" (Settings → CI/CD → Job token permissions) and allow only the projects that need it.',
  },
  AUDIT_TAG_DELETABLE: {
    meaning: 'Push rules allow deleting tags with git push: a release tag can be deleted and re-created at another commit.',
    next: 'Protect release tags and forbid tag deletion in the push rules.',
  },
  AUDIT_RELEASES_OPEN: {
    meaning: 'Developers (not only Maintainers) can create or edit this release, its links, or the packages its assets are served from.',
    next: 'Restrict tag creation to Maintainers (releases follow it), and serve assets from a place only the release process may write.',
  },
  HYGIENE_IMAGE_NOT_PINNED: {
    meaning:
      'The repository builds with a container image named by tag, not by digest: the image can change under the same name, so builds are not reproducible.',
    next: 'Pin the image by digest (name@sha256:<digest>) at the line the evidence names.',
  },
  HYGIENE_TOOL_NOT_PINNED: {
    meaning: 'A build tool is fetched from a branch or tag that can be moved, not from a fixed commit.',
    next: 'Pin it to a full commit SHA, as the evidence suggests.',
  },
  HYGIENE_GIT_DEP_NOT_PINNED: {
    meaning: 'A dependency comes from git without a fixed commit: whoever controls that repository controls what gets built.',
    next: 'Pin the git dependency to a full commit SHA (or use a locked registry version).',
  },
  HYGIENE_LOCKFILE_MISSING: {
    meaning: 'Dependencies are not locked with checksums, so a rebuild may fetch different code than the release did.',
    next: 'Commit the lock file (with integrity hashes) and build with it (npm ci, cargo --locked).',
  },
  HYGIENE_APT_SOURCE: {
    meaning: 'The build adds a package source outside the distribution archive: its owner can ship anything into the build.',
    next: "Use only the distribution's own archive, or vendor and checksum what that source provided.",
  },
  HYGIENE_REMOTE_SCRIPT: {
    meaning: 'The build pipes a downloaded script into a shell without checking it.',
    next: 'Download it to a file, check its SHA-256 or signature, then run it.',
  },
  HYGIENE_UNVERIFIED_DOWNLOAD: {
    meaning: 'The build downloads a file and uses it without checking a pinned checksum.',
    next: 'Check the download against a pinned SHA-256 before using it.',
  },
  HYGIENE_TOOLCHAIN_NOT_PINNED: {
    meaning: 'The toolchain is not an exact version, so a later rebuild may use a different compiler.',
    next: 'Name an exact toolchain version (e.g. channel = "1.80.1").',
  },
  HYGIENE_CI_INCLUDE_NOT_PINNED: {
    meaning: 'The CI configuration includes a file from another place without a fixed commit: whoever changes it changes this pipeline.',
    next: 'Include it at a full commit SHA, or copy it into the repository.',
  },
  HYGIENE_CI_PUBLISHES_RELEASE: {
    meaning: "The project's own CI can publish releases or upload assets: anyone who can change the pipeline can change what users download.",
    next: 'Publish from a protected, reviewed process; keep any release job manual and limited to protected tags.',
  },
  SIGNATURE_NOT_REQUIRED: {
    meaning: 'The configuration says this file needs no signature, so none was checked.',
    next: 'Nothing, if that is intended; otherwise configure its signature.',
  },
  ARCHIVE_METADATA_DIFFERS: {
    meaning: 'The archive has the same content as the rebuild; only times, modes, owners or order differ.',
    next: 'Nothing for the verdict; make the archive step deterministic if you want identical bytes.',
  },
  DIFFOSCOPE_REPORT: {
    meaning: 'A detailed diffoscope report of the differences was made (or could not be).',
    next: 'Open the linked report to see every difference.',
  },
  ATTESTATION_UNSIGNED: {
    meaning: "The run's attestation could not be signed; the verdict and the summary stand.",
    next: "Check the KMS key and the checker's permissions (its log names the error).",
  },
};

/** The explanation of a code; an unknown code (a newer record read by an older renderer) gets a neutral one. */
export function explain(code: string): Explanation {
  if (Object.hasOwn(EXPLANATIONS, code)) return EXPLANATIONS[code as FindingCode];
  return { meaning: 'A finding this version of the report does not describe.', next: 'Read the message and the evidence.' };
}
