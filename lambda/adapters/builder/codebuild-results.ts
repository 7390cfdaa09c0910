/**
 * Checker side of the CodeBuild builder: turns a finished build into the core's BuildResult.
 *
 * Nothing in the state-change event is believed: the build is re-read with BatchGetBuilds, the
 * target comes from the project the build belongs to (fixed in IaC) and must agree with the
 * RELVERIFY_TARGET variable the launcher set, and the artifacts are read from the target's own
 * prefix of the artifacts bucket — never from a location outside it, whatever CodeBuild reports.
 */
import { BatchGetBuildsCommand, CodeBuildClient, type Build } from '@aws-sdk/client-codebuild';
import { GetObjectCommand, type GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import type { BuildBilling } from '../../core/cost/types';
import { billedMinutes } from '../../core/cost/run-cost';
import { VerifierError } from '../../core/errors';
import { RUN_ID_PATTERN, type RunPlan } from '../../core/run/plan';
import type { ArtifactSource, BuildResult, BuildStatus, DownloadLimits, FetchedArtifact } from '../../core/ports';
import { copyAndHash, LimitError } from '../../formats/digest';
import { ArtifactPathError } from './local-artifacts';
import { ARTIFACTS_NAME, artifactsPathFor, BUILD_ENV, launcherVariables, sourceS3UriFor } from './codebuild-env';

/** The build is not one of ours (unknown project, missing or inconsistent run variables). */
export class ForeignBuildError extends VerifierError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('FOREIGN_BUILD', message, { details });
  }
}

/** The build is not finished yet (the event raced BatchGetBuilds): retry later. */
export class BuildStillRunningError extends VerifierError {
  constructor(buildId: string) {
    super('BUILD_STILL_RUNNING', `build ${buildId} is still in progress`);
  }
}

/** `arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>` → `<project>:<uuid>`. */
export function buildIdFromArn(arnOrId: string): string {
  const m = /^arn:[a-z-]+:codebuild:[^:]*:\d*:build\/(.+)$/.exec(arnOrId);
  return m ? m[1]! : arnOrId;
}

const STATUS: Record<string, BuildStatus> = {
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  FAULT: 'FAULT',
  TIMED_OUT: 'TIMED_OUT',
  STOPPED: 'STOPPED',
};

/** Refuses artifact paths that could leave the target's prefix or alias another key. */
export function checkArtifactPath(relPath: string): string {
  const p = relPath.startsWith('./') ? relPath.slice(2) : relPath;
  const segments = p.split('/');
  if (!p || p.startsWith('/') || p.includes('\\') || p.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new ArtifactPathError(`artifact path "${relPath}" must be relative and stay inside the build output`);
  }
  return p;
}

export interface S3ArtifactSourceOptions {
  client: S3Client;
  bucket: string;
  /** key prefix of this build's artifacts, without a trailing slash */
  prefix: string;
}

/** Reads a build's artifacts from S3, streaming, bounded in size and time. */
export class S3ArtifactSource implements ArtifactSource {
  constructor(private readonly options: S3ArtifactSourceOptions) {}

  async fetch(relPath: string, destPath: string, limits: DownloadLimits): Promise<FetchedArtifact | null> {
    const key = `${this.options.prefix}/${checkArtifactPath(relPath)}`;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), limits.timeoutMs);
    try {
      let out: GetObjectCommandOutput;
      try {
        out = await this.options.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }), { abortSignal: abort.signal });
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
        throw err;
      }
      if (out.ContentLength !== undefined && out.ContentLength > limits.maxBytes) {
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new LimitError('too-large', `rebuilt artifact ${relPath} is ${out.ContentLength} bytes, over the limit of ${limits.maxBytes}`, {
          maxBytes: limits.maxBytes,
        });
      }
      if (!out.Body) throw new VerifierError('ARTIFACT_UNREADABLE', `S3 returned no body for ${key}`);
      const { sha256, size } = await copyAndHash(out.Body as AsyncIterable<Uint8Array>, destPath, {
        maxBytes: limits.maxBytes,
        timeoutMs: limits.timeoutMs,
        signal: abort.signal,
      });
      return { path: destPath, sha256, size };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** An artifact source for a build that uploaded nothing. */
export { NO_ARTIFACTS } from '../../core/run/engine';

export interface BuildRecord {
  runId: string;
  target: string;
  build: Build;
}

/** What the stack fixed in a target's project (its configuration): compared with the build's record. */
export interface ExpectedRecipe {
  command: string;
  env: Record<string, string>;
  privileged: boolean;
}

/**
 * Where a build's own record (BatchGetBuilds) departs from the plan: another image, another
 * command, a configured variable changed or missing, a variable nobody planned, privileged mode,
 * a debug session — and any launcher variable (`launched`: launcherVariables(), codebuild-env.ts)
 * that is not exactly what the launcher set for this run: another commit, tag, version, clone URL
 * (a fork), artifact list or staged source. IAM denies these overrides at StartBuild; this catches
 * what IAM cannot see (a grant changed by hand, a field without a condition key, a build started
 * by someone else with this run's predictable id) from what CodeBuild says it ran.
 */
export function overridesOf(build: Build, plannedImage: string, expected: ExpectedRecipe, launched: Record<string, string>): string[] {
  const out: string[] = [];
  const recorded = build.environment?.image;
  if (recorded !== plannedImage) out.push(`image ${recorded ?? '(none recorded)'}, planned ${plannedImage}`);
  const vars = build.environment?.environmentVariables ?? [];
  const values = new Map<string, Set<string>>();
  for (const v of vars) {
    const name = v.name ?? '';
    if (!values.has(name)) values.set(name, new Set());
    values.get(name)!.add(v.value ?? '');
    if (v.type && v.type !== 'PLAINTEXT') out.push(`variable ${name} is ${v.type}, not PLAINTEXT`);
  }
  // every variable the build may have, with its one value: the project's, then the launcher's
  const expectedVars: Record<string, string> = { ...expected.env, [BUILD_ENV.command]: expected.command, ...launched };
  for (const [name, value] of Object.entries(expectedVars)) {
    const got = values.get(name);
    if (!got) out.push(`variable ${name} missing`);
    else if (got.size !== 1 || !got.has(value)) out.push(`variable ${name} is ${JSON.stringify([...got].join(' | '))}, planned ${JSON.stringify(value)}`);
  }
  for (const name of values.keys()) if (!Object.hasOwn(expectedVars, name)) out.push(`variable ${name} was not planned`);
  if (build.environment?.privilegedMode === true && !expected.privileged) out.push('privileged mode on, planned off');
  // StartBuild's debugSessionEnabled has no IAM condition key: a person could have been inside the build
  if (build.debugSession?.sessionEnabled === true) out.push('debug session (Session Manager) enabled, planned off');
  // every target project is NO_SOURCE (the buildspec fetches the source at the planned commit)
  if (build.source?.type && build.source.type !== 'NO_SOURCE')
    out.push(`source ${build.source.type}${build.source.location ? ` ${build.source.location}` : ''}, planned none (NO_SOURCE)`);
  if (build.sourceVersion) out.push(`source version ${build.sourceVersion} set`);
  return out;
}

/** What the launcher started the build with, for the run: the expected launcher variables come from it. */
/** What the stack fixes in each target's project, from the configuration (the checker compares builds with it). */
export function recipesOf(config: {
  targets: readonly { name: string; command: string; env: Record<string, string>; privileged: boolean }[];
}): Record<string, ExpectedRecipe> {
  return Object.fromEntries(config.targets.map((t) => [t.name, { command: t.command, env: t.env, privileged: t.privileged }]));
}

export interface LaunchedWith {
  plan: Pick<RunPlan, 'runId' | 'release' | 'version' | 'targets'>;
  /** the forge's clone URL (Forge.cloneUrl(), as the launcher passed it) */
  cloneUrl: string;
  /** aws.stageSource: the build must read this run's tarball in the artifacts bucket */
  stagedSource: boolean;
}

export interface CodeBuildResultsOptions {
  /** CodeBuild project name → target name */
  projects: Record<string, string>;
  artifactsBucket: string;
  /** target name → what its project fixes: toBuildResult reports every departure (BUILD_OVERRIDDEN);
   * a target without a recipe is itself an override (nothing to compare with is never "as planned") */
  recipes: Record<string, ExpectedRecipe>;
  codebuild?: CodeBuildClient;
  s3?: S3Client;
}

function envOf(build: Build): Map<string, string> {
  return new Map((build.environment?.environmentVariables ?? []).map((v) => [v.name ?? '', v.value ?? '']));
}

/** Explains a failed build from its own phase records (e.g. the source check in PRE_BUILD). */
function phaseMessage(build: Build): string | undefined {
  const bad = (build.phases ?? []).filter((p) => p.phaseStatus && p.phaseStatus !== 'SUCCEEDED');
  if (!bad.length) return undefined;
  return bad
    .map((p) => {
      const ctx = (p.contexts ?? [])
        .map((c) => [c.statusCode, c.message].filter(Boolean).join(': '))
        .filter(Boolean)
        .join('; ');
      return `phase ${p.phaseType} ${p.phaseStatus}${ctx ? ` (${ctx})` : ''}`;
    })
    .join(', ');
}

/**
 * What CodeBuild bills for a build, from its record: the environment type (OS), compute type and
 * fleet, and the duration from submission (startTime) to endTime rounded up to the minute, as
 * CodeBuild bills on-demand builds. Absent times leave the minutes unknown (the cost says so).
 */
export function billingOf(build: Build): BuildBilling {
  const start = build.startTime?.getTime();
  const end = build.endTime?.getTime();
  return {
    environmentType: build.environment?.type,
    computeType: build.environment?.computeType,
    fleetArn: build.environment?.fleet?.fleetArn,
    billedMinutes: start !== undefined && end !== undefined && end >= start ? billedMinutes(start, end) : undefined,
  };
}

export class CodeBuildResults {
  private readonly codebuild: CodeBuildClient;
  private readonly s3: S3Client;
  constructor(private readonly options: CodeBuildResultsOptions) {
    this.codebuild = options.codebuild ?? new CodeBuildClient({});
    this.s3 = options.s3 ?? new S3Client({});
  }

  /** Re-reads a build and identifies its run and target. Throws ForeignBuildError for builds that
   * are not release-verifier builds, BuildStillRunningError while it runs. */
  async read(buildIdOrArn: string): Promise<BuildRecord> {
    const id = buildIdFromArn(buildIdOrArn);
    const out = await this.codebuild.send(new BatchGetBuildsCommand({ ids: [id] }));
    const build = out.builds?.find((b) => b.id === id);
    if (!build) throw new ForeignBuildError(`CodeBuild does not know build ${id}`, { buildId: id });
    const target = build.projectName ? this.options.projects[build.projectName] : undefined;
    if (!target)
      throw new ForeignBuildError(`build ${id} belongs to project ${build.projectName ?? '(none)'}, which is not a release-verifier target project`, {
        buildId: id,
      });
    const env = envOf(build);
    const runId = env.get(BUILD_ENV.runId) ?? '';
    if (!RUN_ID_PATTERN.test(runId))
      throw new ForeignBuildError(`build ${id} has no valid ${BUILD_ENV.runId} (got "${runId}"): not started by the launcher`, { buildId: id });
    const envTarget = env.get(BUILD_ENV.target);
    if (envTarget !== target)
      throw new ForeignBuildError(`build ${id} of project ${build.projectName} says it builds "${envTarget}", not "${target}"`, { buildId: id });
    if (!build.buildComplete || build.buildStatus === 'IN_PROGRESS' || !build.buildStatus) throw new BuildStillRunningError(id);
    return { runId, target, build };
  }

  /** The core's view of a finished build. `plannedImage` is the image the plan expects; `launched`
   * what the launcher started it with (its variables must match exactly: BUILD_OVERRIDDEN). */
  toBuildResult(record: BuildRecord, plannedImage: string, launched: LaunchedWith): BuildResult {
    const { build, target } = record;
    const status = STATUS[build.buildStatus ?? ''] ?? 'FAULT';
    const actualImage = build.environment?.image;
    const start = build.startTime?.getTime();
    const end = build.endTime?.getTime();
    return {
      target,
      buildId: build.id!,
      status,
      startedAt: build.startTime?.toISOString(),
      durationMs: start !== undefined && end !== undefined ? end - start : undefined,
      logLink: build.logs?.deepLink,
      message: status === 'SUCCEEDED' ? undefined : (phaseMessage(build) ?? `CodeBuild status ${build.buildStatus}`),
      image: {
        ref: plannedImage,
        enforced: actualImage === plannedImage,
        note: actualImage === plannedImage ? undefined : `CodeBuild ran image ${actualImage ?? '(unknown)'}, not the planned ${plannedImage}`,
      },
      // Nothing in the build record proves what it checked out (a claim the build prints is not
      // evidence), so BUILD_WRONG_COMMIT is left to the buildspec, which fails the build (PRE_BUILD)
      // unless HEAD is RELVERIFY_COMMIT — and `overrides` requires RELVERIFY_COMMIT, the clone URL
      // and the staged source to be exactly the plan's, so that HEAD check is against the plan.
      checkedOutSha: undefined,
      overrides: this.options.recipes[target]
        ? overridesOf(build, plannedImage, this.options.recipes[target], this.launcherVariablesOf(launched, target))
        : [`no recipe for target ${target}`],
      sandbox: 'codebuild',
      artifacts: this.artifactsOf(build, target),
    };
  }

  private launcherVariablesOf(launched: LaunchedWith, target: string): Record<string, string> {
    return launcherVariables(
      launched.plan,
      target,
      launched.cloneUrl,
      launched.stagedSource ? sourceS3UriFor(this.options.artifactsBucket, launched.plan.runId) : undefined,
    );
  }

  /** The build's artifact prefix, accepted only inside `builds/<target>/` of the artifacts bucket. */
  private artifactsOf(build: Build, target: string): ArtifactSource {
    const expectedPrefix = `${artifactsPathFor(target)}/`;
    const uuid = build.id?.split(':').at(-1) ?? '';
    // Without a reported location, look where the project (fixed in IaC) uploads this build's files.
    const location = build.artifacts?.location || `arn:aws:s3:::${this.options.artifactsBucket}/${expectedPrefix}${uuid}/${ARTIFACTS_NAME}`;
    const m = /^arn:[a-z-]+:s3:::([^/]+)\/(.+)$/.exec(location);
    if (
      !m ||
      m[1] !== this.options.artifactsBucket ||
      !m[2]!.startsWith(expectedPrefix) ||
      m[2]!.split('/').some((s) => s === '..' || s === '.' || s === '') ||
      !m[2]!.includes(uuid)
    ) {
      return {
        fetch: async () => {
          throw new ArtifactPathError(
            `build ${build.id} reports artifacts at ${location}, outside s3://${this.options.artifactsBucket}/${expectedPrefix}<build>/`,
          );
        },
      };
    }
    return new S3ArtifactSource({ client: this.s3, bucket: m[1]!, prefix: m[2]!.replace(/\/+$/, '') });
  }
}
