import { Annotations, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { METRIC, METRIC_NAMESPACE, SERVICE } from '../../lambda/handlers/metric-names';

export interface DeadMansSwitchProps {
  /** the dead-man Lambda (lambda/handlers/deadman.ts), which publishes DaysSinceLastSummary */
  readonly handler: lambda.Function;
  readonly topic: sns.ITopic;
  /**
   * Alarm when the newest run summary is older than this many days.
   * @default 8 (a weekly schedule plus a day of slack)
   */
  readonly maxDaysWithoutRun?: number;
  /**
   * How often the dead-man Lambda measures. The alarm evaluates two windows of twice this
   * interval, so one late invocation never alarms and a watchdog dead for that long does.
   * @default Duration.hours(3)
   */
  readonly checkInterval?: Duration;
  /** Invoke the dead-man Lambda once during deployment, so the alarm has data from the start. @default true */
  readonly checkOnDeploy?: boolean;
}

/**
 * "No completed run for N days". A CloudWatch alarm looks back at most 7 days, so this cannot be
 * an alarm on RunCompleted. Instead a scheduled Lambda publishes DaysSinceLastSummary (the age of
 * the newest summary.json) and the alarm fires when it exceeds N — or when the metric is missing
 * (treat missing data as breaching), which also catches the watchdog itself no longer running.
 */
export class DeadMansSwitch extends Construct {
  readonly alarm: cloudwatch.Alarm;
  readonly metric: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: DeadMansSwitchProps) {
    super(scope, id);
    const interval = props.checkInterval ?? Duration.hours(3);
    const maxDays = props.maxDaysWithoutRun ?? 8;
    new events.Rule(this, 'Schedule', {
      description: 'release-verifier dead-man check',
      schedule: events.Schedule.rate(interval),
      targets: [new targets.LambdaFunction(props.handler, { retryAttempts: 2 })],
    });
    this.metric = new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: METRIC.daysSinceLastSummary,
      dimensionsMap: { service: SERVICE.deadman },
      statistic: 'Maximum',
      period: Duration.seconds(interval.toSeconds() * 2),
    });
    this.alarm = this.metric.createAlarm(this, 'NoRecentRun', {
      alarmDescription: `release-verifier: no completed run for more than ${maxDays} days (or the dead-man check itself stopped reporting)`,
      threshold: maxDays,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.alarm.addAlarmAction(new actions.SnsAction(props.topic));
    this.alarm.addOkAction(new actions.SnsAction(props.topic));
    if (props.checkOnDeploy ?? true) {
      new triggers.Trigger(this, 'CheckOnDeploy', { handler: props.handler, invocationType: triggers.InvocationType.EVENT, executeOnHandlerChange: true });
      Annotations.of(props.handler).acknowledgeWarning(
        '@aws-cdk/aws-lambda:addPermissionsToVersionOrAlias',
        'Only the deploy-time trigger invokes a version; schedules invoke the function itself.',
      );
    }
  }
}
