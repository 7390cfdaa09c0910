/**
 * The builder port for builds that run elsewhere and end later (CodeBuild): `start` one build, and
 * later `resolve` the event that says a build ended into a result to judge — or into "not ours,
 * ignore it" or "not yet, retry". The local builder (ports.ts `Builder.run`) does both in one call.
 * Adapters: lambda/adapters/builder/codebuild-builder.ts.
 */
import type { BuildBilling } from '../cost/types';
import type { BuildResult } from '../ports';
import type { RunPlan } from './run-plan';

export interface StartedRemoteBuild {
  target: string;
  buildId: string;
  /** where it runs (the CodeBuild project), for the launch record */
  projectName: string;
}

/** What the launcher started a build with: the result must match it exactly (BUILD_OVERRIDDEN otherwise). */
export interface LaunchContext {
  plan: RunPlan;
  /** the forge's clone URL, as the launcher passed it */
  cloneUrl: string;
  /** aws.stageSource: the build had to read this run's staged source */
  stagedSource: boolean;
}

/** A build that ended, identified by the builder's own record (never by the event's claims). */
export interface EndedBuild {
  runId: string;
  target: string;
  buildId: string;
  /** the build as the core judges it, compared with what the launcher started it with */
  result(launched: LaunchContext): BuildResult;
  /** what the build is billed as, for the run's cost */
  billing?: BuildBilling;
}

export type BuildResolution =
  | { status: 'ended'; build: EndedBuild }
  | { status: 'ignore'; reason: string }
  | { status: 'retry'; reason: string; error?: unknown };

export interface RemoteBuilder {
  /** Starts the build of `target` for the plan; `sourceS3`: where the source was staged (aws.stageSource). */
  start(plan: RunPlan, target: string, cloneUrl: string, options?: { sourceS3?: string }): Promise<StartedRemoteBuild>;
  /** Turns a "build ended" event into the build to judge, or says why not. Never trusts the event's content. */
  resolve(event: unknown): Promise<BuildResolution>;
}

/** Stages the source at the plan's commit where builds read it instead of cloning (aws.stageSource). */
export interface SourceStaging {
  stage(plan: RunPlan, cloneUrl: string): Promise<{ uri: string; key: string; sha256: string; size: number }>;
}
