import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HISTORY_KEYS } from '../../lambda/core/history';
import { WATCH_STATE_KEY } from '../../lambda/core/watch';
import { ENV } from '../../lambda/handlers/env';
import { SERVICE } from '../../lambda/handlers/metric-names';
import type { ConfigLayer } from './config-layer';
import type { ResultsBucket } from './results-bucket';
import { VerifierFunction } from './verifier-function';

export interface WatchScheduleProps {
  /** EventBridge expression (config `watch.schedule`) */
  readonly schedule: string;
  readonly configLayer: ConfigLayer;
  /** the launcher the watch invokes asynchronously with the new tag */
  readonly launcher: lambda.IFunction;
  readonly results: ResultsBucket;
  readonly tokenSecret: secretsmanager.ISecret;
  readonly topic: sns.ITopic;
  readonly topicKey: kms.IKey;
  readonly deadLetterQueue: sqs.IQueue;
  /** minutes after which a run the watch started and that is still not in the history is started again (the dead-man's stale-run time) */
  readonly relaunchAfterMinutes: number;
}

/**
 * The hourly watch (lambda/handlers/watch.ts): a small Lambda on its own schedule that asks GitLab
 * for the latest release and, when it has no run yet, invokes the launcher asynchronously.
 *
 * Its role can do exactly that: read the token secret; read runs/index.json and read/write
 * watch/state.json (exact keys, nothing else in the bucket); list the bucket (so a missing key is
 * a 404, not a 403 — see ResultsBucket.grantRecords); invoke the launcher; publish on the topic.
 * No CodeBuild, no runs/ or ledger/ writes: starting builds stays the launcher's (and its
 * StartBuild guard's) job.
 */
export class WatchSchedule extends Construct {
  readonly function: VerifierFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: WatchScheduleProps) {
    super(scope, id);
    const { results } = props;
    this.function = new VerifierFunction(this, 'Watch', {
      handler: 'watch',
      serviceName: SERVICE.watch,
      configLayer: props.configLayer,
      // one GitLab lookup (bounded at 60 s in the handler) and two small S3 reads
      timeout: Duration.minutes(2),
      memorySize: 256,
      environment: {
        [ENV.resultsBucket]: results.bucket.bucketName,
        [ENV.topicArn]: props.topic.topicArn,
        [ENV.tokenSecret]: props.tokenSecret.secretArn,
        [ENV.launcherFunction]: props.launcher.functionName,
        [ENV.staleRunMinutes]: String(props.relaunchAfterMinutes),
      },
    });
    const fn = this.function.fn;
    props.tokenSecret.grantRead(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadRunHistoryAndWatchState',
        actions: ['s3:GetObject'],
        resources: [results.bucket.arnForObjects(HISTORY_KEYS.json), results.bucket.arnForObjects(WATCH_STATE_KEY)],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'WriteWatchState', actions: ['s3:PutObject'], resources: [results.bucket.arnForObjects(WATCH_STATE_KEY)] }),
    );
    // unconditioned on purpose: a GetObject carries no s3:prefix (ResultsBucket.grantRecords)
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ListForMissingKeys', actions: ['s3:ListBucket'], resources: [results.bucket.bucketArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [results.key.keyArn] }));
    // the function itself, unqualified (grantInvoke would add `<arn>:*`, every version and alias)
    fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'StartRunOfNewRelease', actions: ['lambda:InvokeFunction'], resources: [props.launcher.functionArn] }));
    // hand-written instead of grantPublish, which grants kms:GenerateDataKey* (a wildcard)
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [props.topic.topicArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.topicKey.keyArn] }));

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'release-verifier: watch for a new release (a full run starts when it has none)',
      schedule: events.Schedule.expression(props.schedule),
      targets: [
        new targets.LambdaFunction(fn, {
          event: events.RuleTargetInput.fromObject({ source: 'watch-schedule' }),
          retryAttempts: 2,
          deadLetterQueue: props.deadLetterQueue,
        }),
      ],
    });
    // a check that failed after delivery: retried while the next check is still far, then dead-lettered
    fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1), onFailure: new SqsDestination(props.deadLetterQueue) });
  }
}
