/**
 * The Notifier port on an SNS topic. One publish carries every form of the alert, so each
 * subscriber gets the one that fits it (SNS `MessageStructure: 'json'`):
 *
 *   default → the body (email-json, https, SQS, Lambda subscribers)
 *   email   → the body, with `Subject` as the mail subject
 *   sms     → the short form: GSM-7 only, at most 2 segments (core/sms-text.ts)
 *
 * Message attributes `severity` (critical | warning | info), `verdict` and `runId` let a
 * subscription filter, e.g. SMS only for `critical`.
 *
 * Size: SNS refuses (InvalidParameter) a Publish whose message body plus message attributes (name,
 * data type and value of each) exceed the topic's MaximumMessageSize, 256 KiB (262,144 bytes of
 * UTF-8) by default — and the alert would be lost. The body is in the JSON message twice, so a long
 * body (thousands of findings) is cut at a line boundary, with a note saying how much was left out
 * and where the full report is (results bucket and console). The bound counts the serialized JSON
 * message as sent (escapes included), the attributes and — to keep a margin the docs do not
 * promise to need — the subject.
 */
import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import type { Alert } from '../../core/alert';
import type { Notifier } from '../../core/ports';
import { smsText } from '../../core/sms-text';
import { consoleLinkFor } from '../builder/codebuild-diff-env';

export interface SnsNotifierOptions {
  topicArn: string;
  /** @default a new SNSClient for the Lambda's region */
  client?: SNSClient;
  /** region of the results bucket, for the console link in a shortened body @default AWS_REGION */
  region?: string;
}

/** SNS Publish limit (topic MaximumMessageSize default): message body + message attributes, UTF-8 bytes. */
export const SNS_MAX_PUBLISH_BYTES = 262_144;
/** kept free below the limit: nothing in our counting is approximate, but the cost of being wrong is a lost alert */
const RESERVE_BYTES = 1024;

/** SNS subjects: ASCII, no line breaks or control characters, fewer than 100 characters, starting
 * with a letter, digit or punctuation. Anything else is replaced, never dropped silently. */
export function snsSubject(subject: string): string {
  let s = subject
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[—–]/g, '-')
    .replace(/…/g, '...')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  if (!/^[A-Za-z0-9\p{P}]/u.test(s)) s = `[release-verifier] ${s}`;
  return s.length <= 99 ? s : s.slice(0, 98) + '~';
}

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');
/** bytes a string takes inside a JSON string literal, without the quotes */
const jsonBytes = (s: string) => utf8(JSON.stringify(s)) - 2;

/** Clips `text` to `maxBytes` of UTF-8 without splitting a character, saying that it did. */
export function clipUtf8(text: string, maxBytes: number, note = '\n\n[truncated: the full report is in the results bucket]'): string {
  if (utf8(text) <= maxBytes) return text;
  const budget = maxBytes - utf8(note);
  let out = Buffer.from(text, 'utf8').subarray(0, Math.max(0, budget)).toString('utf8');
  if (out.endsWith('\uFFFD')) out = out.slice(0, -1);
  return out + note;
}

/** Where the full report is, for the note in a shortened body. */
function reportPointer(alert: Alert, region: string | undefined): string {
  const location = alert.reportLocation;
  const m = location ? /^s3:\/\/([^/]+)\/(.+)$/.exec(location) : null;
  if (!location || !m) return location ? `The full report: ${location}` : `The full report is in the results bucket under runs/${alert.runId}/.`;
  const [, bucket, key] = m;
  const html = key!.endsWith('/summary.json') ? `${key!.slice(0, -'summary.json'.length)}report.html` : undefined;
  return [
    `The full report: ${location}`,
    ...(html ? [`  readable copy: s3://${bucket}/${html}`] : []),
    `  console: ${consoleLinkFor(bucket!, html ?? key!, region)}`,
  ].join('\n');
}

/**
 * The body cut to at most `maxJsonBytes` (as a JSON string literal), at a line boundary, ending
 * with a note on how much was left out and where the full report is.
 */
export function shortenBody(body: string, maxJsonBytes: number, pointer: string): string {
  if (jsonBytes(body) <= maxJsonBytes) return body;
  const lines = body.split('\n');
  const note = (left: number, bytes: number) =>
    `\n[shortened to fit an SNS message: ${left} of ${lines.length} lines (${Math.ceil(bytes / 1024)} KiB) left out]\n${pointer}`;
  // the note's own size, with the largest counts it could print
  const noteBytes = jsonBytes(note(lines.length, utf8(body)));
  let used = 0;
  let kept = 0;
  for (const line of lines) {
    const cost = jsonBytes(line + '\n');
    if (used + cost + noteBytes > maxJsonBytes) break;
    used += cost;
    kept++;
  }
  const keptText = lines.slice(0, kept).join('\n');
  return `${keptText}${kept ? '\n' : ''}${note(lines.length - kept, utf8(body) - utf8(keptText))}`;
}

export interface PublishFields {
  Subject: string;
  Message: string;
  MessageStructure: 'json';
  MessageAttributes: Record<string, { DataType: string; StringValue: string }>;
}

/** Bytes of a Publish as SNS counts them against MaximumMessageSize (plus the subject, see above). */
export function publishBytes(input: Pick<PublishCommandInput, 'Subject' | 'Message' | 'MessageAttributes'>): number {
  let n = utf8(input.Message ?? '') + utf8(input.Subject ?? '');
  for (const [name, v] of Object.entries(input.MessageAttributes ?? {})) {
    n += utf8(name) + utf8(v.DataType ?? '') + utf8(v.StringValue ?? '') + (v.BinaryValue?.byteLength ?? 0);
  }
  return n;
}

export function snsMessageFor(alert: Alert, options: { region?: string; maxBytes?: number } = {}): PublishFields {
  const Subject = snsSubject(alert.subject);
  const MessageAttributes = {
    severity: { DataType: 'String', StringValue: alert.severity },
    verdict: { DataType: 'String', StringValue: alert.verdict },
    runId: { DataType: 'String', StringValue: alert.runId },
  };
  // the alert's short form is GSM-7 already; applied again for an alert built elsewhere
  const sms = smsText(alert.short);
  const limit = (options.maxBytes ?? SNS_MAX_PUBLISH_BYTES) - RESERVE_BYTES;
  const fixed = publishBytes({ Subject, MessageAttributes, Message: JSON.stringify({ default: '', email: '', sms }) });
  const perCopy = Math.floor((limit - fixed) / 2);
  const body = shortenBody(alert.body, perCopy, reportPointer(alert, options.region ?? process.env.AWS_REGION));
  return { Subject, MessageStructure: 'json', Message: JSON.stringify({ default: body, email: body, sms }), MessageAttributes };
}

export class SnsNotifier implements Notifier {
  private readonly client: SNSClient;
  constructor(private readonly options: SnsNotifierOptions) {
    this.client = options.client ?? new SNSClient({});
  }

  async notify(alert: Alert): Promise<void> {
    await this.client.send(new PublishCommand({ TopicArn: this.options.topicArn, ...snsMessageFor(alert, { region: this.options.region }) }));
  }
}
