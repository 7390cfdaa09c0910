import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertsTopicProps {
  /** Email addresses; each must confirm the subscription from the mail AWS sends. @default [] */
  readonly emails?: string[];
  /** E.164 phone numbers for SMS (the SNS SMS sandbox allows only verified numbers). @default [] */
  readonly smsNumbers?: string[];
  /** @default - a new customer-managed key with rotation, usable by CloudWatch alarms */
  readonly encryptionKey?: kms.Key;
}

/**
 * The alerts topic: KMS-encrypted, TLS-only publishing, with the configuration's email and SMS
 * subscriptions. Publishers: the verifier Lambdas (their roles' identity policies, through the
 * key policy's account delegation) and CloudWatch alarms of this account. A topic policy made by
 * `enforceSSL` holds only a Deny, so CloudWatch gets an explicit Allow on the topic and on the key
 * (an encrypted topic otherwise drops alarm notifications silently), both conditioned on
 * aws:SourceAccount and on the source being an alarm of this account and region (confused
 * deputy). EventBridge never publishes here (its rules target the Lambdas), so it gets nothing.
 */
export class AlertsTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlertsTopicProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
    };
    const cloudwatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'release-verifier alerts topic', removalPolicy: RemovalPolicy.DESTROY });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsToPublishEncrypted',
        principals: [cloudwatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'release-verifier', masterKey: this.key, enforceSSL: true });
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmsToPublish',
        principals: [cloudwatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    for (const email of props.emails ?? []) this.topic.addSubscription(new subs.EmailSubscription(email));
    for (const phone of props.smsNumbers ?? []) this.topic.addSubscription(new subs.SmsSubscription(phone));
  }
}
