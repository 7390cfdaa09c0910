/**
 * The contract between the launcher, the buildspec (buildspecs/*.yml) and the checker: the
 * environment variables of a release-verifier build. Names match the local builder's
 * (RELVERIFY_*), so a build command behaves the same on a laptop and in CodeBuild.
 *
 * None of them is secret: CodeBuild puts environment variable values into build state-change
 * events and the console. The GitLab token is never passed to a build.
 */
import type { RunPlan } from '../../core/run/plan';

export const BUILD_ENV = {
  /** run id (the launcher's; the checker finds the run plan with it) */
  runId: 'RELVERIFY_RUN_ID',
  /** target name (cross-checked against the project the build belongs to) */
  target: 'RELVERIFY_TARGET',
  /** the commit SHA to build; the buildspec fails unless `git rev-parse HEAD` equals it */
  commit: 'RELVERIFY_COMMIT',
  tag: 'RELVERIFY_TAG',
  version: 'RELVERIFY_VERSION',
  /** credential-free clone URL */
  cloneUrl: 'RELVERIFY_CLONE_URL',
  /** `s3://<artifacts bucket>/sources/<runId>/source.tar` when the launcher staged the source
   * (aws.stageSource): the build downloads it with its own role instead of cloning */
  sourceS3: 'RELVERIFY_SOURCE_S3',
  /** newline-separated artifact paths (relative to the source root) to stage for upload */
  artifacts: 'RELVERIFY_ARTIFACTS',
  /** the target's build command (project-level, from the configuration) */
  command: 'RELVERIFY_COMMAND',
} as const;

/** Directory (relative to CODEBUILD_SRC_DIR) the buildspec stages artifacts into; the project's
 * S3 artifacts upload exactly this directory. */
export const STAGING_DIR = '.release-verifier-out';

/** Where a project's artifacts land in the artifacts bucket: `builds/<target>/<build uuid>/out/…`
 * (CodeBuild's BUILD_ID namespace: unpredictable, one per build, so no build can pre-plant files
 * for a later one). The IAM policy of the target's build role is scoped to `builds/<target>/*`. */
export const artifactsPathFor = (target: string) => `builds/${target}`;
export const ARTIFACTS_NAME = 'out';

/** aws.stageSource: where the launcher stages a run's source in the artifacts bucket
 * (`sources/<runId>/source.tar`). The target build roles may read `sources/*`. */
export const SOURCES_ROOT = 'sources';
export const sourceKeyFor = (runId: string) => `${SOURCES_ROOT}/${runId}/source.tar`;

/** aws.stageSource: the RELVERIFY_SOURCE_S3 value of a run's builds. */
export const sourceS3UriFor = (bucket: string, runId: string) => `s3://${bucket}/${sourceKeyFor(runId)}`;

/**
 * Exactly the variables the launcher sets on a target's build (codebuild-launcher.ts StartBuild
 * override), from the run's plan. The checker requires a build's own record to carry these
 * values — one each, nothing else of these names — so a build of another commit, tag or fork, or
 * from another staged tarball, is not taken for this run's build.
 */
export function launcherVariables(
  plan: Pick<RunPlan, 'runId' | 'release' | 'version' | 'targets'>,
  target: string,
  cloneUrl: string,
  sourceS3?: string,
): Record<string, string> {
  const planned = plan.targets.find((t) => t.name === target);
  return {
    [BUILD_ENV.runId]: plan.runId,
    [BUILD_ENV.target]: target,
    [BUILD_ENV.commit]: plan.release.tagCommitSha,
    [BUILD_ENV.tag]: plan.release.tag,
    [BUILD_ENV.version]: plan.version,
    [BUILD_ENV.cloneUrl]: cloneUrl,
    [BUILD_ENV.artifacts]: (planned?.artifacts ?? []).map((a) => a.path).join('\n'),
    ...(sourceS3 ? { [BUILD_ENV.sourceS3]: sourceS3 } : {}),
  };
}
