import { RemovalPolicy } from 'aws-cdk-lib';
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
 * subscriptions. The key policy lets CloudWatch (alarms) and EventBridge use the key — without it
 * an encrypted topic silently drops alarm notifications.
 */
export class AlertsTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: AlertsTopicProps = {}) {
    super(scope, id);
    this.key = props.encryptionKey ?? new kms.Key(this, 'Key', { enableKeyRotation: true, description: 'release-verifier alerts topic', removalPolicy: RemovalPolicy.DESTROY });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmAndEventServicesToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com'), new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', { displayName: 'release-verifier', masterKey: this.key, enforceSSL: true });
    for (const email of props.emails ?? []) this.topic.addSubscription(new subs.EmailSubscription(email));
    for (const phone of props.smsNumbers ?? []) this.topic.addSubscription(new subs.SmsSubscription(phone));
  }
}
