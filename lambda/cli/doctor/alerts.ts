/**
 * Alert delivery: every subscription of the alerts topic confirmed, every configured address and
 * number subscribed, and — with SMS — the account's SMS sandbox and its verified numbers.
 */
import {
  GetSMSSandboxAccountStatusCommand,
  ListSMSSandboxPhoneNumbersCommand,
  ListSubscriptionsByTopicCommand,
  type SNSClient,
  type SMSSandboxPhoneNumber,
  type Subscription,
} from '@aws-sdk/client-sns';
import { cannot, failed, ok, problem, type CheckResult, type DoctorContext } from './check';

const MAX_PAGES = 50;

async function subscriptionsOf(sns: SNSClient, topicArn: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token }));
    all.push(...(out.Subscriptions ?? []));
    token = out.NextToken;
  } while (token && ++pages < MAX_PAGES);
  return all;
}

const isPending = (s: Subscription) => s.SubscriptionArn === 'PendingConfirmation';
/** Email addresses compare case-insensitively; phone numbers by their digits (SNS may show them without "+"). */
function sameEndpoint(protocol: string, a: string, b: string): boolean {
  return protocol === 'sms' ? a.replace(/\D/g, '') === b.replace(/\D/g, '') : a.toLowerCase() === b.toLowerCase();
}

export async function subscriptionChecks(sns: SNSClient, ctx: DoctorContext): Promise<CheckResult[]> {
  const topicArn = ctx.stack.outputs.AlertsTopicArn;
  if (!topicArn) return [cannot('subscriptions', 'the stack has no AlertsTopicArn output', 'redeploy the stack (cdk deploy)')];
  let subs: Subscription[];
  try {
    subs = await subscriptionsOf(sns, topicArn);
  } catch (err) {
    return [failed('subscriptions', `listing the subscriptions of ${topicArn}`, 'sns:ListSubscriptionsByTopic', err)];
  }
  const results: CheckResult[] = [];
  for (const s of subs) {
    const id = `subscription:${s.Protocol}:${s.Endpoint}`;
    if (isPending(s)) {
      const fix =
        s.Protocol === 'email' || s.Protocol === 'email-json'
          ? `open the "AWS Notification - Subscription Confirmation" mail sent to ${s.Endpoint} and confirm (it expires after 3 days; then redeploy or subscribe again)`
          : `confirm the subscription of ${s.Endpoint}`;
      results.push(problem(id, `${s.Protocol} ${s.Endpoint}: pending confirmation — no alert reaches it`, fix));
    } else {
      results.push(ok(id, `${s.Protocol} ${s.Endpoint}: confirmed`));
    }
  }
  const configured = ctx.config
    ? [...ctx.config.alerts.emails.map((e) => ['email', e] as const), ...ctx.config.alerts.sms.map((n) => ['sms', n] as const)]
    : [];
  for (const [protocol, endpoint] of configured) {
    const found = subs.some((s) => s.Protocol === protocol && sameEndpoint(protocol, s.Endpoint ?? '', endpoint));
    if (!found)
      results.push(
        problem(
          `subscription:${protocol}:${endpoint}`,
          `${protocol} ${endpoint} is configured (alerts.${protocol === 'sms' ? 'sms' : 'emails'}) but not subscribed to the topic`,
          'deploy the configuration (cdk deploy); the stack subscribes it',
        ),
      );
  }
  if (subs.length === 0 && configured.length === 0) {
    results.push(
      problem(
        'subscriptions',
        `nobody is subscribed to ${topicArn}: alerts reach no one`,
        'set alerts.emails (and alerts.sms) in the configuration and deploy, or subscribe your own endpoint',
      ),
    );
  }
  if (!ctx.config)
    results.push(
      cannot('subscriptions:configured', `which addresses are configured is unknown (${ctx.configSource})`, 'fix the launcher dry run, or pass --config FILE'),
    );
  return results;
}

async function sandboxNumbers(sns: SNSClient): Promise<SMSSandboxPhoneNumber[]> {
  const all: SMSSandboxPhoneNumber[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await sns.send(new ListSMSSandboxPhoneNumbersCommand({ NextToken: token }));
    all.push(...(out.PhoneNumbers ?? []));
    token = out.NextToken;
  } while (token && ++pages < MAX_PAGES);
  return all;
}

export async function smsSandboxChecks(sns: SNSClient, ctx: DoctorContext): Promise<CheckResult[]> {
  const id = 'sms-sandbox';
  if (!ctx.config)
    return [cannot(id, `whether SMS numbers are configured is unknown (${ctx.configSource})`, 'fix the launcher dry run, or pass --config FILE')];
  const numbers = ctx.config.alerts.sms;
  if (numbers.length === 0) return [ok(id, 'no SMS numbers configured (alerts.sms): the SMS sandbox does not matter')];
  let inSandbox: boolean | undefined;
  try {
    inSandbox = (await sns.send(new GetSMSSandboxAccountStatusCommand({}))).IsInSandbox;
  } catch (err) {
    return [failed(id, 'reading the account SMS sandbox status', 'sns:GetSMSSandboxAccountStatus', err)];
  }
  if (inSandbox === false) return [ok(id, `the account is out of the SMS sandbox: SMS can reach ${numbers.join(', ')}`)];
  if (inSandbox !== true) return [cannot(id, 'SNS did not say whether the account is in the SMS sandbox', 'retry')];
  let listed: SMSSandboxPhoneNumber[];
  try {
    listed = await sandboxNumbers(sns);
  } catch (err) {
    return [failed(id, 'listing the SMS sandbox phone numbers', 'sns:ListSMSSandboxPhoneNumbers', err)];
  }
  return numbers.map((n) => {
    const entry = listed.find((p) => p.PhoneNumber === n);
    const nid = `sms-sandbox:${n}`;
    if (entry?.Status === 'Verified') return ok(nid, `the account is in the SMS sandbox; ${n} is a verified sandbox number`);
    const state = entry ? `pending verification` : 'not a sandbox destination';
    return problem(
      nid,
      `the account is in the SMS sandbox and ${n} is ${state}: SNS sends it nothing`,
      entry
        ? `aws sns verify-sms-sandbox-phone-number --phone-number ${n} --one-time-password <code from the SMS>, or request production SMS access`
        : `aws sns create-sms-sandbox-phone-number --phone-number ${n}, then verify it with the code; or request production SMS access (SNS console → Text messaging)`,
    );
  });
}
