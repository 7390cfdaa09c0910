import { Duration, Validations } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DIGEST_PINNED_IMAGE } from '../../lambda/core/config/schema';
import { DIFF_ENV, DIFF_OBJECTS, DIFFS_ROOT } from '../../lambda/adapters/builder/codebuild-diff-env';
import { buildspecObject } from '../buildspec';
import { acknowledgeWildcards, arnToken, refToken, acknowledgeCodeBuildGrants } from './nag';

/**
 * Debian 12 (bookworm-slim) on the ECR Public mirror of Docker's official images, pinned by the
 * digest of its multi-arch index as seen pinned in public Dockerfiles. **Pin your own**: look up the
 * current digest (`docker buildx imagetools inspect public.ecr.aws/docker/library/debian:bookworm-slim`
 * or `crane digest …`), ideally copy it into this account's private ECR, and pass `image`.
 * Not verified against the registry from here.
 */
export const DEFAULT_DIFFOSCOPE_IMAGE = 'public.ecr.aws/docker/library/debian@sha256:4b50eb66f977b4062683ff434ef18ac191da862dbe966961bc11990cf5791a8d';

export interface DiffJobProjectProps {
  /** CodeBuild project name; the checker may start only this project, never with another buildspec */
  readonly projectName: string;
  /** the artifacts bucket: inputs and reports live under its `diffs/` prefix */
  readonly artifactsBucket: s3.IBucket;
  readonly artifactsKey: kms.IKey;
  /**
   * A Debian (or Debian-based) image pinned by digest. With `diffoscope` and `aws` already installed
   * the buildspec skips `apt-get install` (faster, and no dependency on the Debian mirror at run time).
   * @default DEFAULT_DIFFOSCOPE_IMAGE — a bookworm-slim digest; the deployer should pin their own
   */
  readonly image?: string;
  /**
   * diffoscope's time limit: after it, diffoscope stops recursing and writes what it has; 5 minutes
   * later it is killed. The build's own timeout adds time for the install and the transfers.
   * @default Duration.minutes(30)
   */
  readonly diffTimeout?: Duration;
  /** @default ComputeType.MEDIUM (diffoscope is memory-hungry on large archives) */
  readonly computeType?: codebuild.ComputeType;
  /** @default Duration.hours(8) */
  readonly queuedTimeout?: Duration;
}

/** Fails synth unless the image is pinned by digest, like the target projects. */
export function validateDiffImage(image: string): void {
  if (!DIGEST_PINNED_IMAGE.test(image)) {
    throw new Error(`diff job: image "${image}" must be pinned by digest (name@sha256:<64 hex digits>) — a tag can be moved to another image`);
  }
}

/**
 * The CodeBuild project that explains a mismatch: diffoscope on the published file and the rebuilt
 * one, HTML and text reports next to them (buildspecs/diffoscope.yml). diffoscope unpacks and parses
 * hostile files, so the role is locked down like a target build's:
 *
 * - CodeBuild's UntrustedCodeBoundaryPolicy as permissions boundary, narrowed to the same statements;
 * - read only `diffs/…/published` and `diffs/…/rebuilt`, write only `diffs/…/report.html|txt` of the
 *   artifacts bucket; no GitLab token, no results bucket, no SNS, no other build's artifacts;
 * - image pinned by digest, NO_SOURCE with the buildspec shipped by the stack, no cache, not privileged.
 *
 * Residual (documented): a job compromised through diffoscope could overwrite another mismatch's
 * report or read other diff inputs (release assets and rebuilds — not secrets); never a verdict.
 */
export class DiffJobProject extends Construct {
  readonly project: codebuild.Project;
  readonly image: string;

  constructor(scope: Construct, id: string, props: DiffJobProjectProps) {
    super(scope, id);
    const image = props.image ?? DEFAULT_DIFFOSCOPE_IMAGE;
    validateDiffImage(image);
    this.image = image;
    const diffTimeout = props.diffTimeout ?? Duration.minutes(30);
    const bucket = props.artifactsBucket;

    const inputs = [DIFF_OBJECTS.published, DIFF_OBJECTS.rebuilt].map((o) => bucket.arnForObjects(`${DIFFS_ROOT}/*/${o}`));
    const reports = [DIFF_OBJECTS.html, DIFF_OBJECTS.text].map((o) => bucket.arnForObjects(`${DIFFS_ROOT}/*/${o}`));
    const statements = [
      new iam.PolicyStatement({ sid: 'ReadDiffInputs', actions: ['s3:GetObject'], resources: inputs }),
      new iam.PolicyStatement({ sid: 'WriteDiffReports', actions: ['s3:PutObject'], resources: reports }),
      new iam.PolicyStatement({ sid: 'ArtifactsKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.artifactsKey.keyArn] }),
    ];
    const boundary = new codebuild.UntrustedCodeBoundaryPolicy(this, 'Boundary', { additionalStatements: statements });

    this.project = new codebuild.Project(this, 'Project', {
      projectName: props.projectName,
      description: 'release-verifier: diffoscope report for a mismatch (inputs and report under diffs/ of the artifacts bucket)',
      buildSpec: codebuild.BuildSpec.fromObjectToYaml(buildspecObject('diffoscope')),
      environment: {
        buildImage: codebuild.LinuxBuildImage.fromDockerRegistry(image),
        computeType: props.computeType ?? codebuild.ComputeType.MEDIUM,
        privileged: false,
      },
      environmentVariables: {
        [DIFF_ENV.bucket]: { value: bucket.bucketName },
        [DIFF_ENV.timeoutSeconds]: { value: String(diffTimeout.toSeconds()) },
      },
      // install + two downloads + diffoscope (soft limit, hard stop 5 min later) + two uploads
      timeout: Duration.minutes(Math.ceil(diffTimeout.toMinutes({ integral: false })) + 5 + 20),
      queuedTimeout: props.queuedTimeout ?? Duration.hours(8),
      encryptionKey: props.artifactsKey,
      badge: false,
    });
    iam.PermissionsBoundary.of(this.project).apply(boundary);
    for (const s of statements) this.project.addToRolePolicy(s);

    const bucketArn = arnToken(bucket.node.defaultChild!);
    const projectRef = refToken(this.project.node.defaultChild!);
    const objectFindings = [
      ...[DIFF_OBJECTS.published, DIFF_OBJECTS.rebuilt, DIFF_OBJECTS.html, DIFF_OBJECTS.text].map((o) => `Resource::${bucketArn}/${DIFFS_ROOT}/*/${o}`),
    ];
    acknowledgeWildcards(
      boundary,
      ['Resource::*'],
      "CodeBuild's UntrustedCodeBoundaryPolicy: a permissions boundary caps what the role may ever be granted, it grants nothing itself.",
    );
    acknowledgeWildcards(
      boundary,
      objectFindings,
      'The boundary caps the diff job to diff inputs (read) and reports (write); run ids and asset names are known only at run time.',
    );
    acknowledgeWildcards(
      this.project,
      objectFindings,
      'GetObject only on diff inputs, PutObject only on report objects under diffs/; run ids and asset names are known only at run time.',
    );
    acknowledgeCodeBuildGrants(this.project, projectRef);
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-CB5',
      reason: "A Debian image pinned by digest runs diffoscope from Debian's archive; no CodeBuild-curated image ships diffoscope.",
    });
  }
}
