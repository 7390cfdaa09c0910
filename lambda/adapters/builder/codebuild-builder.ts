/**
 * The RemoteBuilder port on CodeBuild: `start` is StartBuild (codebuild-launcher.ts), `resolve` turns
 * a "CodeBuild Build State Change" event into the build to judge. The event is only a lookup key:
 * the build is re-read with BatchGetBuilds, its run and target come from the launcher-set variables
 * and its project (codebuild-results.ts), and its record is compared with the recipe the stack fixed
 * and the variables the launcher set (BUILD_OVERRIDDEN).
 */
import { z } from 'zod';
import type { BuildResolution, LaunchContext, RemoteBuilder, StartedRemoteBuild } from '../../core/run/remote-builder';
import type { RunPlan } from '../../core/run/run-plan';
import type { CodeBuildLauncher } from './codebuild-launcher';
import { billingOf, BuildStillRunningError, type CodeBuildResults, ForeignBuildError, type BuildRecord } from './codebuild-results';

/** The parts of the EventBridge event read — as a lookup key only. */
export const BuildStateChangeSchema = z.object({
  source: z.literal('aws.codebuild'),
  'detail-type': z.literal('CodeBuild Build State Change'),
  detail: z.object({ 'build-id': z.string().min(1), 'build-status': z.string().optional(), 'project-name': z.string().optional() }).loose(),
});

/** The build id an event names, or undefined (for keying a last-resort record). */
export function buildRefOf(event: unknown): string | undefined {
  return BuildStateChangeSchema.safeParse(event).data?.detail['build-id'];
}

export interface CodeBuildBuilderOptions {
  launcher?: Pick<CodeBuildLauncher, 'start'>;
  results: Pick<CodeBuildResults, 'read' | 'toBuildResult'>;
  /** re-reads of a build the API still shows running, before asking for a retry. @default 3 */
  stillRunningRetries?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class CodeBuildBuilder implements RemoteBuilder {
  constructor(private readonly options: CodeBuildBuilderOptions) {}

  async start(plan: RunPlan, target: string, cloneUrl: string, options?: { sourceS3?: string }): Promise<StartedRemoteBuild> {
    if (!this.options.launcher) throw new Error('this CodeBuild builder was wired without a launcher (the checker only resolves builds)');
    return this.options.launcher.start(plan, target, cloneUrl, options);
  }

  async resolve(event: unknown): Promise<BuildResolution> {
    const parsed = BuildStateChangeSchema.safeParse(event);
    if (!parsed.success) return { status: 'ignore', reason: 'not a CodeBuild build state-change event' };
    const buildRef = parsed.data.detail['build-id'];
    const retries = this.options.stillRunningRetries ?? 3;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let record: BuildRecord | undefined;
    for (let attempt = 0; !record; attempt++) {
      try {
        record = await this.options.results.read(buildRef);
      } catch (err) {
        if (err instanceof ForeignBuildError) return { status: 'ignore', reason: err.userMessage };
        // the event can race the API's view of the build: wait a little, then let Lambda retry
        if (err instanceof BuildStillRunningError) {
          if (attempt >= retries) return { status: 'retry', reason: err.userMessage, error: err };
          await sleep(5000 * (attempt + 1));
          continue;
        }
        throw err;
      }
    }
    const found = record;
    return {
      status: 'ended',
      build: {
        runId: found.runId,
        target: found.target,
        buildId: found.build.id ?? buildRef,
        billing: billingOf(found.build),
        result: (launched: LaunchContext) => {
          const planned = launched.plan.targets.find((t) => t.name === found.target);
          return this.options.results.toBuildResult(found, planned?.image ?? '(not planned)', launched);
        },
      },
    };
  }
}
