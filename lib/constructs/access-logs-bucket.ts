import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface AccessLogsBucketProps {
  /** how long access logs are kept. @default Duration.days(400) */
  readonly retention?: Duration;
}

/**
 * S3 server access logs of the results bucket (the evidence) and the artifacts bucket: who read
 * or wrote which record, kept apart from what they log. A log destination cannot use SSE-KMS
 * (S3's log delivery writes with SSE-S3 only) nor Object Lock's default retention, so this is a
 * separate, SSE-S3, TLS-only bucket whose only writer is S3's logging service (the bucket policy
 * CDK writes names logging.s3.amazonaws.com and the source buckets). Retained with the stack's
 * other evidence when the stack is deleted.
 */
export class AccessLogsBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AccessLogsBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          expiration: props.retention ?? Duration.days(400),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination of the results and artifacts buckets; logging it into itself would log every log delivery.',
    });
  }
}
