import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CURATED_MACOS_IMAGE, DIGEST_PINNED_IMAGE, type TargetConfig } from '../../lambda/core/config/schema';
import { ARTIFACTS_NAME, artifactsPathFor, BUILD_ENV, SOURCES_ROOT } from '../../lambda/adapters/builder/codebuild-env';
import { buildspecFor } from '../buildspec';
import { acknowledgeWildcards, arnToken, refToken, acknowledgeCodeBuildGrants } from './nag';

export interface TargetBuildProjectProps {
  /** the target from the configuration (name, platform, image, command, timeout, env, fleet…) */
  readonly target: TargetConfig;
  /** CodeBuild project name; the checker's event rule and the launcher's policy name it exactly */
  readonly projectName: string;
  readonly artifactsBucket: s3.IBucket;
  readonly artifactsKey: kms.IKey;
  /**
   * The buildspec. Leave the default unless you know why: it must clone at the launcher's commit,
   * verify HEAD, and stage only the declared artifacts.
   * @default - buildspecs/posix.yml (Linux, macOS) or buildspecs/windows.yml, inlined
   */
  readonly buildSpec?: codebuild.BuildSpec;
  /**
   * aws.stageSource: builds download the source the launcher staged under `sources/` of the
   * artifacts bucket (GetObject on `sources/*`) instead of cloning. POSIX buildspec only.
   * @default false
   */
  readonly stagedSource?: boolean;
  /**
   * How long a build may wait for capacity before CodeBuild gives up on it.
   * @default Duration.hours(8)
   */
  readonly queuedTimeout?: Duration;
}

const RESERVED_ENV = /^(CODEBUILD_|RELVERIFY_)/;
/** `<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>` */
export const ECR_PRIVATE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^@]+)@(sha256:[0-9a-f]{64})$/;
/** The curated macOS images CodeBuild's MAC_ARM fleets run (aws-cdk-lib's list). */
const CURATED_MACOS = [codebuild.MacBuildImage.BASE_14, codebuild.MacBuildImage.BASE_15, codebuild.MacBuildImage.BASE_26];

/** Fails synth with a message that names the target and the fix. */
export function validateTarget(target: TargetConfig): void {
  const where = `target "${target.name}"`;
  if (target.platform === 'macos' && !target.fleetArn) {
    throw new Error(
      `${where}: macOS builds need a CodeBuild reserved-capacity fleet (on-demand CodeBuild has no macOS); set targets[].fleetArn to a MAC_ARM fleet ARN`,
    );
  }
  if (target.platform === 'macos') {
    if (!CURATED_MACOS_IMAGE.test(target.image) || !CURATED_MACOS.some((i) => i.imageId === target.image)) {
      throw new Error(
        `${where}: a macOS target runs the image its MAC_ARM fleet provides; "${target.image}" is not one (use ${CURATED_MACOS.map((i) => i.imageId).join(', ')})`,
      );
    }
  } else if (!DIGEST_PINNED_IMAGE.test(target.image)) {
    throw new Error(`${where}: image "${target.image}" must be pinned by digest (name@sha256:<64 hex digits>) — a tag can be moved to another image`);
  }
  if (target.platform === 'windows' && target.privileged) {
    throw new Error(`${where}: CodeBuild does not run Windows builds in privileged mode; remove "privileged: true"`);
  }
  if (target.computeType !== undefined && !(Object.values(codebuild.ComputeType) as string[]).includes(target.computeType)) {
    throw new Error(`${where}: computeType "${target.computeType}" is not a CodeBuild compute type (e.g. ${codebuild.ComputeType.MEDIUM})`);
  }
  if (
    target.platform === 'windows' &&
    target.computeType &&
    [codebuild.ComputeType.SMALL, codebuild.ComputeType.X_LARGE, codebuild.ComputeType.X2_LARGE].includes(target.computeType as codebuild.ComputeType)
  ) {
    throw new Error(
      `${where}: Windows builds do not support compute type ${target.computeType}; use ${codebuild.ComputeType.MEDIUM} or ${codebuild.ComputeType.LARGE}`,
    );
  }
  for (const name of Object.keys(target.env)) {
    if (RESERVED_ENV.test(name)) throw new Error(`${where}: env.${name} is reserved (CODEBUILD_* belongs to CodeBuild, RELVERIFY_* to release-verifier)`);
  }
}

/**
 * The project's image and who pulls it. A private ECR image is pulled with the project's own role
 * (SERVICE_ROLE credentials: `fromEcrRepository` grants ecr:GetAuthorizationToken and the pull
 * actions on that repository, and the boundary below allows them); public images are pulled by
 * CodeBuild. macOS: the curated image the MAC_ARM fleet provides (CodeBuild's, nothing to pull).
 */
function imageFor(scope: Construct, target: TargetConfig): codebuild.IBuildImage {
  const windowsType = target.fleetArn ? codebuild.WindowsImageType.SERVER_2022 : codebuild.WindowsImageType.SERVER_2019;
  const ecrImage = ECR_PRIVATE.exec(target.image);
  if (ecrImage && target.platform !== 'macos') {
    const [, account, region, name, digest] = ecrImage;
    const repository = ecr.Repository.fromRepositoryAttributes(scope, 'Repository', {
      repositoryArn: Stack.of(scope).formatArn({ service: 'ecr', account, region, resource: 'repository', resourceName: name }),
      repositoryName: name!,
    });
    return target.platform === 'windows'
      ? codebuild.WindowsBuildImage.fromEcrRepository(repository, digest, windowsType)
      : codebuild.LinuxBuildImage.fromEcrRepository(repository, digest);
  }
  switch (target.platform) {
    case 'linux':
      return codebuild.LinuxBuildImage.fromDockerRegistry(target.image);
    case 'windows':
      // Windows Server 2022 images run only on reserved fleets; on demand means Server 2019.
      return codebuild.WindowsBuildImage.fromDockerRegistry(target.image, {}, windowsType);
    case 'macos':
      return CURATED_MACOS.find((i) => i.imageId === target.image)!;
  }
}

/**
 * One CodeBuild project per target. The build runs code from the repository under test, so its
 * role is treated as attacker-controlled:
 *
 * - CodeBuild's UntrustedCodeBoundaryPolicy as permissions boundary (no Secrets Manager, no SSM),
 *   narrowed further to this target's artifact prefix;
 * - identity policy: logs, and PutObject only under `builds/<target>/` — no access to the GitLab
 *   token, the results bucket, the alerts topic or another target's artifacts;
 * - image pinned by digest, NO_SOURCE with a buildspec shipped by the stack (the source is cloned
 *   by commit SHA and verified), no cache, privileged mode only if the target asks.
 */
export class TargetBuildProject extends Construct {
  readonly project: codebuild.Project;
  readonly target: TargetConfig;

  constructor(scope: Construct, id: string, props: TargetBuildProjectProps) {
    super(scope, id);
    const { target } = props;
    validateTarget(target);
    if (props.stagedSource && target.platform === 'windows') {
      throw new Error(
        `target "${target.name}": aws.stageSource is not supported for Windows targets yet (the PowerShell buildspec cannot use a staged source); remove the Windows target or set aws.stageSource: false`,
      );
    }
    this.target = target;
    const prefix = artifactsPathFor(target.name);
    const sources = `${SOURCES_ROOT}/*`;

    const artifactStatements = artifactStatementsFor(props, prefix, sources);
    const ecrPull = this.ecrPullStatements(target.image);
    const boundary = new codebuild.UntrustedCodeBoundaryPolicy(this, 'Boundary', { additionalStatements: [...artifactStatements, ...(ecrPull ?? [])] });

    this.project = this.createProject(props);
    iam.PermissionsBoundary.of(this.project).apply(boundary);
    for (const s of artifactStatements) this.project.addToRolePolicy(s);
    const cfn = this.project.node.defaultChild as codebuild.CfnProject;
    setArtifacts(cfn, props.artifactsBucket.bucketName, prefix);
    this.acknowledgeFindings(props, boundary, cfn, { prefix, sources, ecrPull: ecrPull !== undefined });
  }

  private ecrPullStatements(image: string): iam.PolicyStatement[] | undefined {
    // The boundary caps what a private-ECR pull needs (CodeBuild pulls with the role): a token
    // (resource "*" only) and the pull actions on this image's repository.
    const ecrImage = ECR_PRIVATE.exec(image);
    return ecrImage
      ? [
          new iam.PolicyStatement({ sid: 'EcrAuthorizationToken', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
          new iam.PolicyStatement({
            sid: 'EcrPullTargetImage',
            actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
            resources: [
              Stack.of(this).formatArn({ service: 'ecr', account: ecrImage[1], region: ecrImage[2], resource: 'repository', resourceName: ecrImage[3] }),
            ],
          }),
        ]
      : undefined;
  }

  private createProject(props: TargetBuildProjectProps): codebuild.Project {
    const { target } = props;
    return new codebuild.Project(this, 'Project', {
      projectName: props.projectName,
      description: `release-verifier: rebuild target ${target.name} (${target.platform}) from the release commit`,
      buildSpec: props.buildSpec ?? buildspecFor(target.platform),
      environment: {
        buildImage: imageFor(this, target),
        computeType: target.fleetArn ? undefined : ((target.computeType as codebuild.ComputeType | undefined) ?? codebuild.ComputeType.MEDIUM),
        privileged: target.privileged,
        fleet: target.fleetArn ? codebuild.Fleet.fromFleetArn(this, 'Fleet', target.fleetArn) : undefined,
      },
      environmentVariables: {
        [BUILD_ENV.command]: { value: target.command },
        [BUILD_ENV.target]: { value: target.name },
        ...Object.fromEntries(Object.entries(target.env).map(([k, v]) => [k, { value: v }])),
      },
      timeout: Duration.minutes(target.timeoutMinutes),
      queuedTimeout: props.queuedTimeout ?? Duration.hours(8),
      encryptionKey: props.artifactsKey,
      badge: false,
    });
  }

  /** cdk-nag acknowledgements, each with the reason the finding does not apply */
  private acknowledgeFindings(
    props: TargetBuildProjectProps,
    boundary: codebuild.UntrustedCodeBoundaryPolicy,
    cfn: codebuild.CfnProject,
    at: { prefix: string; sources: string; ecrPull: boolean },
  ): void {
    const { prefix, sources } = at;
    // A private ECR image: fromEcrRepository granted the pull to the role; the boundary allows it.
    if (at.ecrPull) {
      acknowledgeWildcards(
        this.project,
        ['Resource::*'],
        'ecr:GetAuthorizationToken has no resource type (the Service Authorization Reference lists only "*"); the pull itself is scoped to the one repository.',
      );
      acknowledgeWildcards(
        boundary,
        ['Resource::*'],
        'ecr:GetAuthorizationToken has no resource type; the boundary allows pulling from the one repository only.',
      );
    }

    const bucketArn = arnToken(props.artifactsBucket.node.defaultChild!);
    const projectRef = refToken(cfn);
    acknowledgeWildcards(
      boundary,
      ['Resource::*'],
      "CodeBuild's UntrustedCodeBoundaryPolicy: a permissions boundary caps what the role may ever be granted, it grants nothing itself.",
    );
    acknowledgeWildcards(
      boundary,
      [`Resource::${bucketArn}/${prefix}/*`],
      "The boundary caps artifact writes to this target's own prefix; build ids are created at run time.",
    );
    acknowledgeWildcards(
      this.project,
      [`Resource::${bucketArn}/${prefix}/*`],
      "PutObject only, under this target's own prefix; CodeBuild names the per-build folder at run time.",
    );
    if (props.stagedSource) {
      const reason =
        'GetObject only, on the sources the launcher stages (sources/<runId>/source.tar); run ids are created at run time, and the source is not secret to a build of it.';
      acknowledgeWildcards(boundary, [`Resource::${bucketArn}/${sources}`], reason);
      acknowledgeWildcards(this.project, [`Resource::${bucketArn}/${sources}`], reason);
    }
    acknowledgeCodeBuildGrants(this.project, projectRef);
    if (props.target.platform !== 'macos')
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-CB5',
        reason: "The build image is the target's own, pinned by digest for reproducibility; a CodeBuild-curated image would not rebuild the release.",
      });
  }
}

/** what the role may do with the artifacts bucket: write this target's prefix, and read staged sources when enabled */
function artifactStatementsFor(props: TargetBuildProjectProps, prefix: string, sources: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [props.artifactsBucket.arnForObjects(`${prefix}/*`)] }),
    new iam.PolicyStatement({ actions: ['s3:GetBucketAcl', 's3:GetBucketLocation'], resources: [props.artifactsBucket.bucketArn] }),
    new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Encrypt', 'kms:Decrypt'], resources: [props.artifactsKey.keyArn] }),
    // the staged source (every run's: its key is known only at run time; it is the same
    // repository the build receives anyway, so reading another run's copy reveals nothing new)
    ...(props.stagedSource
      ? [new iam.PolicyStatement({ sid: 'ReadStagedSource', actions: ['s3:GetObject'], resources: [props.artifactsBucket.arnForObjects(sources)] })]
      : []),
  ];
}

/**
 * Artifacts: S3, this target's prefix, CodeBuild's per-build namespace, no packaging. Set on
 * the L1 resource: the L2 `Artifacts.s3()` grants the role read/write/delete on the whole bucket.
 */
function setArtifacts(cfn: codebuild.CfnProject, bucketName: string, prefix: string): void {
  cfn.artifacts = {
    type: 'S3',
    location: bucketName,
    path: prefix,
    namespaceType: 'BUILD_ID',
    name: ARTIFACTS_NAME,
    packaging: 'NONE',
    encryptionDisabled: false,
  };
}
