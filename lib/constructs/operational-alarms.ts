import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface OperationalAlarmsProps {
  /** where alarms notify (the alerts topic) */
  readonly topic: sns.ITopic;
  /** functions whose errors alarm, by a short name used in the alarm name */
  readonly functions: Record<string, lambda.IFunction>;
  /** dead-letter queue whose messages alarm */
  readonly deadLetterQueue: sqs.IQueue;
  /** @default Duration.minutes(5) */
  readonly period?: Duration;
}

/**
 * "Something broke" alarms, to the same topic as the verdicts: any Lambda error, and any message
 * in the dead-letter queue (a build state-change event that could not be delivered or processed).
 */
export class OperationalAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: OperationalAlarmsProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const action = new actions.SnsAction(props.topic);
    for (const [name, fn] of Object.entries(props.functions)) {
      const alarm = fn.metricErrors({ period, statistic: 'Sum' }).createAlarm(this, `${name}Errors`, {
        alarmDescription: `release-verifier: the ${name} Lambda failed (see its log group); a run may be incomplete`,
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      this.alarms.push(alarm);
    }
    const dlq = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }).createAlarm(this, 'DeadLetters', {
      alarmDescription: 'release-verifier: events in the dead-letter queue — a finished build was not checked',
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    dlq.addAlarmAction(action);
    this.alarms.push(dlq);
  }
}
