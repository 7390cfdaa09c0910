import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * StartBuild fields that would replace what the stack fixed in a project, by the condition key
 * CodeBuild sets when the field is present in the request (Service Authorization Reference,
 * CodeBuild "StartBuild"; docs: "Check the existence of attributes in API requests" — these keys
 * support the Null operator). One Deny statement per key: keys within one Null block are ANDed.
 *
 * StartBuild fields with no condition key (so IAM cannot refuse them): timeoutInMinutesOverride,
 * queuedTimeoutInMinutesOverride, sourceVersion, gitCloneDepthOverride,
 * gitSubmodulesConfigOverride, reportBuildStatusOverride, debugSessionEnabled and the `type` of an
 * environment variable. `sourceTypeOverride` is not denied by a key of its own: the reference does
 * not say which StartBuild field the aggregate `codebuild:source` key stands for, and a Deny on a
 * key CodeBuild might set for every request would stop every build; a source type change needs a
 * location (`codebuild:source.location`, denied) and shows in the build's record. The checker compares what the build recorded with the plan instead
 * (BUILD_OVERRIDDEN).
 */
export const OVERRIDE_CONDITION_KEYS = [
  'codebuild:source.buildspec',
  'codebuild:source.location',
  'codebuild:source.auth.type',
  'codebuild:source.insecureSsl',
  'codebuild:secondarySources',
  'codebuild:environment.image',
  'codebuild:environment.privilegedMode',
  'codebuild:environment.type',
  'codebuild:environment.computeType',
  'codebuild:environment.fleet.fleetArn',
  'codebuild:environment.imagePullCredentialsType',
  'codebuild:environment.registryCredential',
  'codebuild:environment.certificate',
  'codebuild:artifacts',
  'codebuild:artifacts.location',
  'codebuild:secondaryArtifacts',
  'codebuild:cache',
  'codebuild:serviceRole',
  'codebuild:encryptionKey',
  'codebuild:logsConfig',
] as const;

export interface StartBuildGuardProps {
  /** the role that may start builds */
  readonly role: iam.IRole;
  /** the projects it starts (the denies apply to them) */
  readonly projectArns: string[];
  /** the only environment variables it may pass (names) */
  readonly allowedVariables: string[];
}

/**
 * Denies every StartBuild override but the allow-listed environment variables, as a managed
 * policy attached to the starting role (a separate document: the inline policies of a role share
 * one 10 KiB limit).
 */
export class StartBuildGuard extends Construct {
  readonly policy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: StartBuildGuardProps) {
    super(scope, id);
    const statements = OVERRIDE_CONDITION_KEYS.map(
      (key, i) =>
        new iam.PolicyStatement({
          sid: `DenyOverride${i}`,
          effect: iam.Effect.DENY,
          actions: ['codebuild:StartBuild'],
          resources: props.projectArns,
          conditions: { Null: { [key]: 'false' } },
        }),
    );
    statements.push(
      new iam.PolicyStatement({
        sid: 'DenyVariablesOutsideAllowList',
        effect: iam.Effect.DENY,
        actions: ['codebuild:StartBuild'],
        resources: props.projectArns,
        conditions: { 'ForAnyValue:StringNotEquals': { 'codebuild:environment.environmentVariables.name': props.allowedVariables } },
      }),
    );
    this.policy = new iam.ManagedPolicy(this, 'Policy', {
      description: 'release-verifier: StartBuild may not override what the project fixes',
      statements,
      roles: [props.role],
    });
  }
}
