/**
 * The AWS path of issue 9 items 4 and 5: the launcher plans with the same planner as the CLI, so a
 * release link nobody verifies is an UNVERIFIED_ASSET in the stored plan and in the summary, and
 * the SNS alert (email body, SMS, subject) carries the hostile link name only neutralised.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import type { RunPlan } from '../../lambda/core/run/plan';
import type { RunReport } from '../../lambda/core/report';
import { runKeys } from '../../lambda/core/run/summary';
import { launch, type LauncherDeps } from '../../lambda/handlers/launcher';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { DirectoryForge, IMAGE, testConfig } from './support';

const SHA = '2'.repeat(40);
const HOUR = 3600_000;
const HOSTILE = `setup\u202egpj.exe\x1b[2J`;

const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);

let s3: LocalS3;
let work: string;
beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'relverify-unverified-'));
  await mkdir(join(work, 'assets'));
  await writeFile(join(work, 'assets', 'one-2.0.0.txt'), 'published one\n');
});
afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('launcher: release links nobody verifies', () => {
  it('are UNVERIFIED_ASSET in the plan and the summary; the SNS alert shows hostile names neutralised', async () => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    await s3.createBucket('unverified-results');
    const store = new S3Store({ bucket: 'unverified-results', client: s3.conditionalClient() });
    const config = testConfig({
      ignoreAssets: ['CHANGELOG*'],
      targets: [
        {
          name: 'one',
          image: IMAGE,
          command: 'true',
          artifacts: [{ path: 'out/one-{version}.txt', asset: 'one-{version}.txt', signature: { scheme: 'none', reason: 'test' } }],
        },
      ],
    });
    const link = (id: number, name: string) => ({ id, name, url: `https://gitlab.example/g/app/-/releases/v2.0.0/downloads/${encodeURIComponent(name)}` });
    const release = {
      tag: 'v2.0.0',
      name: 'v2.0.0',
      commitSha: SHA,
      tagCommitSha: SHA,
      links: [link(1, 'one-2.0.0.txt'), link(2, 'CHANGELOG.md'), link(3, 'extra-tool.bin'), link(4, HOSTILE)],
    };
    const deps: LauncherDeps = {
      config,
      store,
      notifier: new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient }),
      forge: async () => new DirectoryForge(release, join(work, 'assets'), '/nonexistent/repo'),
      // the build cannot start, so the launcher judges the target itself and closes the run
      builds: {
        start: async () => {
          throw Object.assign(new Error('no capacity'), { name: 'AccountLimitExceededException' });
        },
      },
      formats: async () => (await import('../../lambda/formats/ops')).formatOps,
      runWindowMs: 12 * HOUR,
      workRoot: work,
      now: () => new Date('2026-03-02T03:00:00Z'),
    };
    const r = await launch({}, deps);

    const plan = JSON.parse((await store.get(runKeys.plan(r.runId)))!) as RunPlan;
    const unverified = plan.findings.filter((f) => f.code === 'UNVERIFIED_ASSET');
    expect(unverified.map((f) => f.artifact)).toEqual(['extra-tool.bin', HOSTILE]); // CHANGELOG.md is ignored, one-2.0.0.txt is the artifact
    expect(unverified[1]!.message).toContain('control or invisible characters (U+202E, U+001B)');

    const summary = JSON.parse((await store.get(runKeys.summary(r.runId)))!) as RunReport;
    expect(summary.verdict).toBe('INCOMPLETE');
    expect(summary.findings.filter((f) => f.code === 'UNVERIFIED_ASSET')).toHaveLength(2);

    const calls = sns.commandCalls(PublishCommand);
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) {
      const text = JSON.stringify(c.args[0].input); // JSON escapes C0 but leaves U+202E raw
      expect(text).not.toContain('\u202e');
      const message = JSON.parse(c.args[0].input.Message!) as Record<string, string>;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the escape character the sanitizer must remove
      for (const body of Object.values(message)) expect(body).not.toMatch(/[\u001b\u202e]/);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for the escape character the sanitizer must remove
      expect(c.args[0].input.Subject ?? '').not.toMatch(/[\u001b\u202e]/);
    }
    const email = (JSON.parse(calls[0]!.args[0].input.Message!) as { email?: string; default?: string }).email ?? '';
    expect(email).toContain('UNVERIFIED_ASSET');
    expect(email).toContain('setup\\u{202e}gpj.exe\\u{1b}[2J');
  }, 60_000);
});
