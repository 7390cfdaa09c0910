/**
 * The Notifier port on an SNS topic. One publish carries every form of the alert, so each
 * subscriber gets the one that fits it (SNS `MessageStructure: 'json'`):
 *
 *   default → the full body (email-json, https, SQS, Lambda subscribers)
 *   email   → the full body, with `Subject` as the mail subject
 *   sms     → the SMS-sized short form (≤ 160 characters, one message)
 *
 * Message attributes `severity` (critical | warning | info) and `verdict` let a subscription
 * filter, e.g. SMS only for `critical`.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Alert } from '../../core/alert';
import type { Notifier } from '../../core/ports';

export interface SnsNotifierOptions {
  topicArn: string;
  /** @default a new SNSClient for the Lambda's region */
  client?: SNSClient;
}

/** SNS limits a whole message (all forms, JSON-encoded) to 256 KiB; keep a safe margin. */
const MAX_BODY_BYTES = 200 * 1024;
const SMS_CHARS = 160;

/** SNS subjects: ASCII, no line breaks or control characters, ≤ 100 characters, starting with a
 * letter, digit or punctuation. Anything else is replaced, never dropped silently. */
export function snsSubject(subject: string): string {
  let s = subject
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[—–]/g, '-')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  if (!/^[A-Za-z0-9\p{P}]/u.test(s)) s = `[release-verifier] ${s}`;
  return s.length <= 100 ? s : s.slice(0, 99) + '~';
}

/** Clips `text` to `maxBytes` of UTF-8 without splitting a character, saying that it did. */
export function clipUtf8(text: string, maxBytes: number, note = '\n\n[… truncated: the full report is in the results bucket]'): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(note, 'utf8');
  let out = Buffer.from(text, 'utf8').subarray(0, Math.max(0, budget)).toString('utf8');
  if (out.endsWith('\uFFFD')) out = out.slice(0, -1);
  return out + note;
}

export function snsMessageFor(alert: Alert): { Subject: string; Message: string; MessageStructure: 'json' } {
  const body = clipUtf8(alert.body, MAX_BODY_BYTES);
  const sms = alert.short.length <= SMS_CHARS ? alert.short : alert.short.slice(0, SMS_CHARS - 1) + '…';
  return { Subject: snsSubject(alert.subject), MessageStructure: 'json', Message: JSON.stringify({ default: body, email: body, sms }) };
}

export class SnsNotifier implements Notifier {
  private readonly client: SNSClient;
  constructor(private readonly options: SnsNotifierOptions) {
    this.client = options.client ?? new SNSClient({});
  }

  async notify(alert: Alert): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.options.topicArn,
        ...snsMessageFor(alert),
        MessageAttributes: {
          severity: { DataType: 'String', StringValue: alert.severity },
          verdict: { DataType: 'String', StringValue: alert.verdict },
          runId: { DataType: 'String', StringValue: alert.runId },
        },
      }),
    );
  }
}
