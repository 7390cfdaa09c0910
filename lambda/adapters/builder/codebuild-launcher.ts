/**
 * Launcher side of the CodeBuild builder: one StartBuild per target, on that target's own project
 * (image, buildspec, role fixed in IaC). The launcher passes only non-secret environment
 * variables; it never overrides the buildspec, image, source or artifacts (its IAM policy denies
 * buildspec overrides too).
 */
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { BuildError } from '../../core/errors';
import type { RunPlan } from '../../core/run/plan';
import { launcherVariables } from './codebuild-env';

export interface CodeBuildLauncherOptions {
  /** target name → CodeBuild project name */
  projects: Record<string, string>;
  /** @default a new CodeBuildClient for the Lambda's region */
  client?: CodeBuildClient;
}

export interface StartedBuild {
  target: string;
  projectName: string;
  buildId: string;
  buildArn?: string;
}

/** StartBuild's idempotency token: the same run and target give the same token, so a retried
 * launch within CodeBuild's 5-minute token lifetime returns the build already started. */
export function idempotencyTokenFor(runId: string, target: string): string {
  return `${runId}.${target}`;
}

export class CodeBuildLauncher {
  private readonly client: CodeBuildClient;
  constructor(private readonly options: CodeBuildLauncherOptions) {
    this.client = options.client ?? new CodeBuildClient({});
  }

  projectFor(target: string): string {
    const name = this.options.projects[target];
    if (!name) throw new BuildError(`no CodeBuild project is deployed for target "${target}" (redeploy the stack after changing targets)`);
    return name;
  }

  /** `options.sourceS3`: where the launcher staged the source (aws.stageSource); a location, not a credential */
  async start(plan: RunPlan, target: string, cloneUrl: string, options: { sourceS3?: string } = {}): Promise<StartedBuild> {
    const planned = plan.targets.find((t) => t.name === target);
    if (!planned) throw new BuildError(`target "${target}" is not in run plan ${plan.runId}`);
    const projectName = this.projectFor(target);
    // the same function the checker requires the build's record to match (one source of truth)
    const env = launcherVariables(plan, target, cloneUrl, options.sourceS3);
    const out = await this.client.send(
      new StartBuildCommand({
        projectName,
        idempotencyToken: idempotencyTokenFor(plan.runId, target),
        environmentVariablesOverride: Object.entries(env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
      }),
    );
    if (!out.build?.id) throw new BuildError(`StartBuild for ${projectName} returned no build id`);
    return { target, projectName, buildId: out.build.id, buildArn: out.build.arn };
  }
}
