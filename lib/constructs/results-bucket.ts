import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { acknowledgeWildcards, arnToken } from './nag';
import { STORE_PREFIXES } from '../../lambda/core/run/store-layout';

export interface ResultsBucketProps {
  /**
   * Object Lock default retention of every record (plans, target reports, summaries).
   * @default Duration.days(365)
   */
  readonly retention?: Duration;
  /**
   * Object Lock mode. GOVERNANCE can be lifted by a principal allowed s3:BypassGovernanceRetention
   * (denied to everyone by this bucket's policy unless `governanceBypassPrincipalArns` is given);
   * COMPLIANCE cannot be lifted by anyone, not even the root user, until retention expires — test
   * stacks become undeletable.
   * @default 'GOVERNANCE'
   */
  readonly objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  /**
   * Principals (role ARNs, wildcards allowed) that may bypass governance retention: break-glass.
   * @default - nobody
   */
  readonly governanceBypassPrincipalArns?: string[];
  /** @default - a new customer-managed key with rotation */
  readonly encryptionKey?: kms.IKey;
  /**
   * The bucket holds the evidence of past runs: it is retained when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** where S3 server access logs go (a separate bucket: see AccessLogsBucket). @default none */
  readonly accessLogs?: { bucket: s3.IBucket; prefix: string };
}

/**
 * The results bucket: run plans, target reports and summaries (`runs/<runId>/…`). Versioned,
 * KMS-encrypted, public access blocked, TLS only, Object Lock on by default so that a record, once
 * written, cannot be changed or removed within its retention. Only the verifier Lambdas write here;
 * builds have no access at all.
 */
export class ResultsBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: ResultsBucketProps = {}) {
    super(scope, id);
    const retention = props.retention ?? Duration.days(365);
    const mode = props.objectLockMode ?? 'GOVERNANCE';
    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'release-verifier results (run records, GitLab token secret)',
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      objectLockEnabled: true,
      objectLockDefaultRetention: mode === 'COMPLIANCE' ? s3.ObjectLockRetention.compliance(retention) : s3.ObjectLockRetention.governance(retention),
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(7) }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      serverAccessLogsBucket: props.accessLogs?.bucket,
      serverAccessLogsPrefix: props.accessLogs?.prefix,
    });
    if (mode === 'GOVERNANCE') {
      const except = props.governanceBypassPrincipalArns ?? [];
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'DenyGovernanceBypass',
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['s3:BypassGovernanceRetention'],
          resources: [this.bucket.arnForObjects('*')],
          conditions: except.length ? { ArnNotLike: { 'aws:PrincipalArn': except } } : undefined,
        }),
      );
    }
    if (!props.accessLogs) {
      Validations.of(this.bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'The caller chose no access-log bucket (the stack always gives one).' });
    }
  }

  /** Read and write-once access to the run records under `prefixes` (default `runs/`). No delete. */
  grantRecords(grantee: iam.IGrantable & IConstruct, options: { write: boolean; prefixes?: string[] }): void {
    const prefixes = options.prefixes ?? [STORE_PREFIXES.runs];
    const objectArns = prefixes.map((p) => this.bucket.arnForObjects(`${p}*`));
    const statements = [
      new iam.PolicyStatement({ actions: options.write ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'], resources: objectArns }),
      // Unconditioned on purpose: S3 answers GetObject on a missing key with 404 only to a caller
      // that may s3:ListBucket the bucket, and a GetObject carries no s3:prefix, so a
      // prefix-conditioned grant turns every "not written yet?" read into 403 AccessDenied.
      // Listing reveals only run ids and target names, which the same Lambdas write anyway.
      new iam.PolicyStatement({ sid: 'ListForMissingKeys', actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }),
      new iam.PolicyStatement({ actions: options.write ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'], resources: [this.key.keyArn] }),
    ];
    for (const s of statements) grantee.grantPrincipal.addToPrincipalPolicy(s);
    acknowledgeWildcards(
      grantee,
      prefixes.map((p) => `Resource::${arnToken(this.bucket.node.defaultChild!)}/${p}*`),
      'Scoped to the run-record prefix; run ids are created at run time, so the keys cannot be listed in advance. No delete is granted and Object Lock protects written records.',
    );
  }
}
