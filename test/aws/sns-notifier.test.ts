import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { alertFor } from '../../lambda/core/alert';
import { finding } from '../../lambda/core/findings';
import type { RunReport } from '../../lambda/core/report';
import { clipUtf8, SnsNotifier, snsSubject } from '../../lambda/adapters/notifier/sns-notifier';

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
    expect(msg.sms.length).toBeLessThanOrEqual(160);
    expect(input.MessageAttributes).toEqual({
      severity: { DataType: 'String', StringValue: 'critical' },
      verdict: { DataType: 'String', StringValue: 'MISMATCH' },
      runId: { DataType: 'String', StringValue: report.runId },
    });
  });

  it('keeps subjects within SNS rules (ASCII, one line, ≤ 100 chars)', () => {
    expect(snsSubject('VERIFIED — ok\nnext')).toBe('VERIFIED - ok next');
    expect(snsSubject('é'.repeat(150))).toBe('?'.repeat(99) + '~');
    expect(snsSubject('+x')).toBe('[release-verifier] +x');
    expect(snsSubject('x'.repeat(150)).length).toBe(100);
  });

  it('clips an oversized body on a character boundary and says so', () => {
    const clipped = clipUtf8('€'.repeat(100_000), 1000);
    expect(Buffer.byteLength(clipped)).toBeLessThanOrEqual(1000);
    expect(clipped).toMatch(/€+\n\n\[… truncated/);
  });

  it('propagates publish failures (the Lambda errors alarm catches them)', async () => {
    sns.on(PublishCommand).rejects(new Error('KMS.AccessDeniedException'));
    await expect(new SnsNotifier({ topicArn: 't', client }).notify(alertFor(report))).rejects.toThrow(/KMS/);
  });
});
