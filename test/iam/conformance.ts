/**
 * The IAM conformance suite's engine: the synthesized template (the real stack, bundling
 * skipped), the roles it gives each caller, and the verdict of the IAM evaluator on every
 * recorded request.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Config } from '../../lambda/core/config/schema';
import { ReleaseVerifierStack, type ReleaseVerifierStackProps } from '../../lib/release-verifier-stack';
import { ACCOUNT, REGION, type CfnTemplate } from './cfn-resolve';
import { evaluate, type Caller, type Decision } from './evaluator';
import { iamRequestsFor, type MappedRequest } from './iam-requests';
import { TemplatePolicies, type RolePolicies } from './policies';
import type { RecordedRequest } from './recorder';

export const STACK_NAME = 'ReleaseVerifier';

/** The stack's CloudFormation template for `config` in the fixed test account and region. */
export function synthTemplate(config: Config, props: Partial<ReleaseVerifierStackProps> = {}): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseVerifierStack(app, STACK_NAME, { config, env: { account: ACCOUNT, region: REGION }, ...props });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

/** What a test needs to know about the deployed names (as the stack's outputs would give them). */
export interface StackNames {
  resultsBucket: string;
  artifactsBucket: string;
  topicArn: string;
  tokenSecretArn: string;
  attestationKeyArn: string;
  /** target → CodeBuild project name */
  projects: Record<string, string>;
  diffProject: string;
  /** the launcher's function name (the watch invokes it) */
  launcherFunction: string;
}

export class StackUnderTest {
  readonly policies: TemplatePolicies;
  constructor(readonly template: CfnTemplate) {
    this.policies = new TemplatePolicies(template);
  }

  get names(): StackNames {
    const p = this.policies;
    const out = (name: string) => String(p.resolver.resolve((this.template.Outputs as Record<string, { Value: unknown }>)[name]!.Value));
    const projects: Record<string, string> = {};
    let diffProject = '';
    for (const id of p.resolver.idsOf('AWS::CodeBuild::Project')) {
      const name = p.resolver.ref(id);
      if (name.endsWith('--diffoscope')) diffProject = name;
      else projects[name.replace(/^relverify-releaseverifier-/, '')] = name;
    }
    return {
      resultsBucket: out('ResultsBucketName'),
      artifactsBucket: out('ArtifactsBucketName'),
      topicArn: out('AlertsTopicArn'),
      tokenSecretArn: out('GitLabTokenSecretArn'),
      attestationKeyArn: out('AttestationKeyArn'),
      projects,
      diffProject,
      launcherFunction: out('LauncherFunctionName'),
    };
  }

  /** launcher | checker | deadman | watch | build:<target> | diff */
  role(caller: string): RolePolicies {
    const p = this.policies;
    if (caller === 'launcher') return p.roleOf(p.find('AWS::Lambda::Function', 'LauncherFunction'));
    if (caller === 'checker') return p.roleOf(p.find('AWS::Lambda::Function', 'CheckerFunction'));
    if (caller === 'deadman') return p.roleOf(p.find('AWS::Lambda::Function', 'DeadManFunction'));
    if (caller === 'watch') return p.roleOf(p.find('AWS::Lambda::Function', 'WatchFunction'));
    const project = caller === 'diff' ? this.names.diffProject : caller.startsWith('build:') ? this.names.projects[caller.slice(6)] : undefined;
    const id = project && p.resolver.idsOf('AWS::CodeBuild::Project').find((x) => p.resolver.ref(x) === project);
    if (!id) throw new Error(`unknown caller ${caller}`);
    return p.roleOf(id);
  }

  async decide(caller: Caller | string, request: Omit<MappedRequest, 'from'> & { from?: string }): Promise<Decision> {
    const c: Caller = typeof caller === 'string' ? { kind: 'role', role: this.role(caller) } : caller;
    return evaluate(this.policies, c, request);
  }

  /** S3's answer to a missing key: may this caller list the bucket (no s3:prefix in the request)? */
  canListBucket(caller: string): (bucket: string) => Promise<boolean> {
    return async (bucket) => (await this.decide(caller, { action: 's3:ListBucket', resource: `arn:aws:s3:::${bucket}` })).allowed;
  }

  /** Every recorded request evaluated; returns how many IAM requests were checked and the denied ones. */
  async check(recorded: RecordedRequest[]): Promise<{ checked: number; sdkRequests: number; denied: { request: MappedRequest; decision: Decision }[] }> {
    const denied: { request: MappedRequest; decision: Decision }[] = [];
    let checked = 0;
    for (const r of recorded) {
      for (const request of iamRequestsFor(r, this.policies)) {
        checked++;
        const decision = await this.decide(r.caller, request);
        if (!decision.allowed) denied.push({ request, decision });
      }
    }
    return { checked, sdkRequests: recorded.length, denied };
  }
}

/** One line per denied request, for assertion messages. */
export function describeDenied(denied: { request: MappedRequest; decision: Decision }[]): string {
  return denied
    .map(
      ({ request, decision }) =>
        `${request.from} → ${request.action} ${request.resource} ${JSON.stringify(request.context ?? {})}: ${decision.result}${decision.errors ? ` ${JSON.stringify(decision.errors)}` : ''}`,
    )
    .join('\n');
}
