import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { alertFor } from '../../../lambda/core/alert';
import { finding } from '../../../lambda/core/findings';
import type { RunReport } from '../../../lambda/core/report';
import { clipUtf8, publishBytes, SNS_MAX_PUBLISH_BYTES, SnsNotifier, snsMessageFor, snsSubject } from '../../../lambda/adapters/notifier/sns-notifier';
import { gsm7Segments, isGsm7 } from '../../../lambda/core/sms-text';

const report: RunReport = {
  schemaVersion: 1,
  runId: '20260101T000000Z-abcdef',
  startedAt: '2026-01-01T00:00:00Z',
  finishedAt: '2026-01-01T00:30:00Z',
  verdict: 'MISMATCH',
  project: { gitlabUrl: 'https://gitlab.example', project: 'group/app' },
  release: { tag: 'v1.2.0', commitSha: 'a'.repeat(40) },
  targets: [
    {
      name: 'linux-x64',
      verdict: 'MISMATCH',
      artifacts: [
        {
          path: 'dist/app',
          asset: 'app-1.2.0',
          verdict: 'MISMATCH',
          published: { sha256: '1'.repeat(64), size: 10 },
          rebuilt: { sha256: '2'.repeat(64), size: 10 },
          findings: [finding('ARTIFACT_MISMATCH', 'app-1.2.0 differs from the rebuild', { target: 'linux-x64', artifact: 'app-1.2.0' })],
        },
      ],
      findings: [],
    },
  ],
  findings: [],
  mode: 'aws',
};

describe('SnsNotifier', () => {
  const client = new SNSClient({ region: 'eu-west-1' });
  const sns = mockClient(client);
  beforeEach(() => sns.reset());

  it('publishes subject, email/default body, SMS short form and a severity attribute in one message', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const alert = alertFor(report, { reportLocation: 's3://results/runs/x/summary.json' });
    await new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:1:alerts', client }).notify(alert);
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(input.TopicArn).toBe('arn:aws:sns:eu-west-1:1:alerts');
    expect(input.MessageStructure).toBe('json');
    expect(input.Subject).toBe('[release-verifier] MISMATCH: group/app v1.2.0');
    const msg = JSON.parse(input.Message!);
    expect(Object.keys(msg).sort()).toEqual(['default', 'email', 'sms']);
    expect(msg.email).toBe(alert.body);
    expect(msg.default).toBe(alert.body);
    expect(msg.email).toContain('published sha256 ' + '1'.repeat(64));
    expect(msg.sms).toBe(alert.short);
    expect(isGsm7(msg.sms)).toBe(true);
    expect(gsm7Segments(msg.sms)).toBe(1);
    expect(input.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'critical' },
      verdict: { DataType: 'String', StringValue: 'MISMATCH' },
      runId: { DataType: 'String', StringValue: report.runId },
    });
  });

  it('keeps subjects within SNS rules (ASCII, one line, fewer than 100 chars)', () => {
    expect(snsSubject('VERIFIED — ok\nnext')).toBe('VERIFIED - ok next');
    expect(snsSubject('é'.repeat(150))).toBe('?'.repeat(98) + '~');
    expect(snsSubject('+x')).toBe('[release-verifier] +x');
    expect(snsSubject('x'.repeat(150)).length).toBe(99);
    expect(snsSubject('a…')).toBe('a...');
  });

  it('clips an oversized text on a character boundary and says so', () => {
    const clipped = clipUtf8('€'.repeat(100_000), 1000);
    expect(Buffer.byteLength(clipped)).toBeLessThanOrEqual(1000);
    expect(clipped).toMatch(/€+\n\n\[truncated/);
  });

  it('a huge alert (thousands of findings, multi-byte text) is published within the 256 KiB limit, cut at a line, with a link to the report', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    const many = Array.from({ length: 6000 }, (_, i) =>
      finding('SIGNATURE_INVALID', `Signatur ungültig — 署名が無効です «${i}» "quoted" \\ back\tslash ${'€'.repeat(20)}`, {
        target: 'linux-x64',
        artifact: `app-${i}-😀.tar.gz`,
        evidence: { expected: 'ä'.repeat(200), got: '\u0001'.repeat(5) },
      }),
    );
    const huge: RunReport = { ...report, verdict: 'TAMPERED', findings: many };
    const alert = alertFor(huge, { reportLocation: 's3://results-bucket/runs/20260101T000000Z-abcdef/summary.json' });
    expect(Buffer.byteLength(alert.body)).toBeGreaterThan(3 * SNS_MAX_PUBLISH_BYTES);
    await new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:1:alerts', client, region: 'eu-west-1' }).notify(alert);
    const input = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    // as SNS counts it: the message body (the JSON as sent) + each attribute's name, type and value (+ the subject)
    expect(publishBytes(input)).toBeLessThanOrEqual(SNS_MAX_PUBLISH_BYTES);
    expect(publishBytes(input)).toBeGreaterThan(SNS_MAX_PUBLISH_BYTES - 8 * 1024); // not cut far more than needed
    const msg = JSON.parse(input.Message!) as { default: string; email: string; sms: string };
    expect(msg.email).toBe(msg.default);
    const [kept, note] = msg.email.split('\n[shortened to fit an SNS message: ');
    // cut at a line boundary: what is kept is whole lines of the original body
    const bodyLines = alert.body.split('\n');
    const keptLines = kept!.replace(/\n$/, '').split('\n');
    expect(keptLines).toEqual(bodyLines.slice(0, keptLines.length));
    const left = bodyLines.length - keptLines.length;
    expect(note).toMatch(new RegExp(`^${left} of ${bodyLines.length} lines \\(\\d+ KiB\\) left out\\]`));
    expect(note).toContain('The full report: s3://results-bucket/runs/20260101T000000Z-abcdef/summary.json');
    expect(note).toContain('readable copy: s3://results-bucket/runs/20260101T000000Z-abcdef/report.html');
    expect(note).toContain('https://eu-west-1.console.aws.amazon.com/s3/object/results-bucket?region=eu-west-1');
    // the report location is near the top of the body too
    expect(msg.email.split('\n').slice(0, 10).join('\n')).toContain('Report:   s3://results-bucket/runs/');
    expect(isGsm7(msg.sms)).toBe(true);
    expect(gsm7Segments(msg.sms)).toBeLessThanOrEqual(2);
  });

  it('a body that fits is sent whole; the bound follows the limit it is given', () => {
    const alert = alertFor(report, { reportLocation: 's3://b/runs/x/summary.json' });
    expect(JSON.parse(snsMessageFor(alert).Message).email).toBe(alert.body);
    const small = snsMessageFor(alert, { maxBytes: 2600 });
    expect(publishBytes(small)).toBeLessThanOrEqual(2600);
    expect(JSON.parse(small.Message).email).toMatch(/left out\]\nThe full report: s3:\/\/b\/runs\/x\/summary.json/);
  });

  it('propagates publish failures (the Lambda errors alarm catches them)', async () => {
    sns.on(PublishCommand).rejects(new Error('KMS.AccessDeniedException'));
    await expect(new SnsNotifier({ topicArn: 't', client }).notify(alertFor(report))).rejects.toThrow(/KMS/);
  });
});
