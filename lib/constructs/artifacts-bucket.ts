import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { DIFF_OBJECTS, DIFFS_ROOT } from '../../lambda/adapters/builder/codebuild-diff-env';
import { SOURCES_ROOT } from '../../lambda/adapters/builder/codebuild-env';
import { acknowledgeWildcards, arnToken } from './nag';

export interface ArtifactsBucketProps {
  /**
   * How long rebuilt artifacts are kept.
   * @default Duration.days(30)
   */
  readonly retention?: Duration;
  /** @default - a new customer-managed key with rotation (separate from the results key: builds use it) */
  readonly encryptionKey?: kms.IKey;
  /**
   * Deleting the stack keeps the bucket (CloudFormation cannot delete a bucket that holds
   * objects, and auto-delete would need a custom-resource Lambda allowed to delete every object):
   * its lifecycle rule empties it within the retention; delete it by hand after that.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** where S3 server access logs go (see AccessLogsBucket). @default none */
  readonly accessLogs?: { bucket: s3.IBucket; prefix: string };
}

/**
 * Where builds upload what they produced: `builds/<target>/<build uuid>/out/…`. Each target's build
 * role may only PutObject under its own `builds/<target>/` prefix; only the checker reads.
 * The contents are untrusted by design — the checker digests and judges them itself.
 * A mismatch adds `diffs/<runId>/<target>/<asset>/{published,rebuilt}` (written by the checker) and
 * `report.html|txt` (written by the diff job); they expire with the builds.
 * With aws.stageSource the launcher writes `sources/<runId>/source.tar` (the source at the
 * release commit) and the target builds read it; it expires with the builds too.
 */
export class ArtifactsBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: ArtifactsBucketProps = {}) {
    super(scope, id);
    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'release-verifier build artifacts (untrusted builds write with it)',
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: props.retention ?? Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      serverAccessLogsBucket: props.accessLogs?.bucket,
      serverAccessLogsPrefix: props.accessLogs?.prefix,
    });
    if (!props.accessLogs)
      Validations.of(this.bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'The caller chose no access-log bucket (the stack always gives one).' });
  }

  /** Read access for the checker to every target's artifacts. */
  grantReadArtifacts(grantee: iam.IGrantable & IConstruct): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects('builds/*')] }));
    // a build that uploaded nothing: S3 says 404 (artifact missing) only to a caller allowed to
    // list the bucket, 403 to anyone else — which would read as a permissions failure
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ListArtifactsForMissingKeys', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.key.keyArn] }));
    acknowledgeWildcards(
      grantee,
      [`Resource::${arnToken(this.bucket.node.defaultChild!)}/builds/*`],
      "The checker reads every target's artifacts (read only); build ids are created at run time.",
    );
  }

  /** aws.stageSource: PutObject for the launcher on `sources/*` only (no read, no delete). */
  grantWriteSources(grantee: iam.IGrantable & IConstruct): void {
    const objects = `${SOURCES_ROOT}/*`;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteStagedSources', actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(objects)] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.key.keyArn] }));
    acknowledgeWildcards(
      grantee,
      [`Resource::${arnToken(this.bucket.node.defaultChild!)}/${objects}`],
      "The launcher stages each run's source under sources/<runId>/; run ids are created at run time. No read, no delete.",
    );
  }

  /** PutObject for the checker on the diff job's inputs only (`diffs/…/published|rebuilt`), not on reports. */
  grantWriteDiffInputs(grantee: iam.IGrantable & IConstruct): void {
    const objects = [DIFF_OBJECTS.published, DIFF_OBJECTS.rebuilt].map((o) => `${DIFFS_ROOT}/*/${o}`);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'WriteDiffInputs', actions: ['s3:PutObject'], resources: objects.map((o) => this.bucket.arnForObjects(o)) }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [this.key.keyArn] }));
    acknowledgeWildcards(
      grantee,
      objects.map((o) => `Resource::${arnToken(this.bucket.node.defaultChild!)}/${o}`),
      'The checker uploads the two files of a mismatch for the diff job; run ids and asset names are known only at run time. No read of reports, no delete.',
    );
  }
}
