/**
 * IAM conformance of the watch (handlers/watch.ts): its requests — the token, the missing and the
 * present run history and state (S3 answering 404 only to a caller that may list), the launcher
 * invoke, the outage alert and the recovery notice — recorded on the real SDK v3 clients and
 * evaluated against the synthesized template's watch role. Removing the invoke grant shows the
 * same checks refused.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { GitLabTokenReader } from '../../lambda/adapters/secrets';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { ForgeError } from '../../lambda/core/errors';
import { HISTORY_KEYS } from '../../lambda/core/history';
import type { Forge, Release } from '../../lambda/core/ports';
import { launcherInvoker, watch, type WatchResult } from '../../lambda/handlers/watch';
import { startLocalS3 } from '../support/s3-local';
import { REGION, type CfnTemplate } from './cfn-resolve';
import { describeDenied, StackUnderTest, synthTemplate } from './conformance';
import { conformanceConfig } from './fixture';
import { RequestRecorder } from './recorder';
import { StandIns } from './stand-ins';

const RELEASE: Release = { tag: 'v2.0.0', name: 'v2.0.0', commitSha: 'a'.repeat(40), tagCommitSha: 'a'.repeat(40), links: [] };
const HOUR = 3600_000;

/** Four checks: a new release (run started), GitLab down (alert), still down, back (notice), then the run in the history. */
async function watchChecks(stack: StackUnderTest) {
  const names = stack.names;
  const s3 = await startLocalS3();
  await s3.createBucket(names.resultsBucket);
  const recorder = new RequestRecorder();
  const aws = new StandIns({ stack, names, s3, recorder, config: conformanceConfig, produce: () => undefined });
  const lambda = new LambdaClient({ region: REGION });
  const invoked: unknown[] = [];
  mockClient(lambda)
    .on(InvokeCommand)
    .callsFake((input: { Payload: Uint8Array }) => {
      invoked.push(JSON.parse(new TextDecoder().decode(input.Payload)));
      return { StatusCode: 202 };
    });
  recorder.attach(lambda, 'watch');
  let down = false;
  let t = Date.parse('2026-03-02T03:00:00Z');
  const deps = {
    config: conformanceConfig,
    store: new S3Store({ bucket: names.resultsBucket, client: aws.s3('watch') }),
    notifier: new SnsNotifier({ topicArn: names.topicArn, client: aws.sns('watch') }),
    forge: async () => {
      await new GitLabTokenReader(names.tokenSecretArn, { client: aws.secrets('watch'), cacheMs: 0 }).read();
      if (down) throw new ForgeError('unreachable', 'connect ECONNREFUSED gitlab.example:443');
      return { getRelease: async () => RELEASE } as unknown as Forge;
    },
    startRun: launcherInvoker(lambda, names.launcherFunction),
    relaunchAfterMs: 24 * HOUR,
    now: () => new Date(t),
  };
  const results: WatchResult[] = [];
  const errors: unknown[] = [];
  const check = async () => {
    try {
      results.push(await watch(deps));
    } catch (err) {
      errors.push(err);
    }
    t += HOUR;
  };
  try {
    await check(); // no history, no state yet (404s): a run starts
    down = true;
    await check(); // outage: alert, state written
    await check(); // still down: nothing sent
    down = false;
    await check(); // recovered: notice; the run is still pending
    // the run finished: its summary is in the history the watch reads
    await new S3Store({ bucket: names.resultsBucket, client: s3.client() }).put(
      HISTORY_KEYS.json,
      JSON.stringify({
        schemaVersion: 1,
        runs: [
          {
            runId: '20260302T000000Z-abcdef',
            startedAt: '2026-03-02T03:00:10Z',
            verdict: 'VERIFIED',
            release: { tag: RELEASE.tag, commitSha: RELEASE.commitSha },
            targets: [{ name: 'alpha' }],
          },
        ],
      }),
    );
    await check();
  } finally {
    await s3.close();
  }
  return { recorded: recorder.requests, results, errors, invoked, published: aws.published };
}

describe('IAM conformance: the watch', () => {
  const template = synthTemplate(conformanceConfig);

  it('every request of a new release, an outage and its recovery is allowed to the watch role', async () => {
    const stack = new StackUnderTest(template);
    const run = await watchChecks(stack);
    expect(run.errors).toEqual([]);
    expect(run.results.map((r) => r.outcome)).toEqual(['started', 'forge-down', 'forge-down', 'pending', 'known']);
    expect(run.invoked).toEqual([{ source: 'watch', tag: 'v2.0.0' }]);
    expect(run.published).toEqual(['watch', 'watch']); // the outage alert and the recovery notice
    const ops = new Set(run.recorded.map((r) => `${r.client}.${r.operation}`));
    for (const op of [
      'S3Client.GetObjectCommand',
      'S3Client.PutObjectCommand',
      'LambdaClient.InvokeCommand',
      'SNSClient.PublishCommand',
      'SecretsManagerClient.GetSecretValueCommand',
    ])
      expect(ops, op).toContain(op);
    // the first check read keys that did not exist yet: S3 answered 404 (the role may list), never 403
    expect(run.recorded.some((r) => r.operation === 'GetObjectCommand' && (r.outcome as { status?: number })?.status === 404)).toBe(true);
    expect(run.recorded.filter((r) => (r.outcome as { status?: number })?.status === 403)).toEqual([]);
    const result = await stack.check(run.recorded);
    console.log(
      `IAM conformance (watch): ${result.checked} IAM requests checked (from ${result.sdkRequests} recorded SDK requests), ${result.denied.length} denied`,
    );
    expect(result.denied, describeDenied(result.denied)).toEqual([]);
  });

  it('fails when the launcher invoke grant is removed, and the watch role cannot write run records', async () => {
    const broken = structuredClone(template) as CfnTemplate;
    let removed = 0;
    for (const r of Object.values(broken.Resources)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const doc = r.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] };
      const before = doc.Statement.length;
      doc.Statement = doc.Statement.filter((s) => ![s.Action].flat().includes('lambda:InvokeFunction'));
      removed += before - doc.Statement.length;
    }
    expect(removed).toBe(1);
    const stack = new StackUnderTest(broken);
    const run = await watchChecks(stack);
    const result = await stack.check(run.recorded);
    expect(result.denied.length).toBeGreaterThan(0);
    expect(result.denied.every((d) => d.request.action === 'lambda:InvokeFunction')).toBe(true);

    // least privilege, as IAM decides it: no summary, ledger or plan writes, no builds
    const whole = new StackUnderTest(template);
    const bucket = whole.names.resultsBucket;
    for (const key of ['runs/20260302T000000Z-abcdef/summary.json', 'ledger/ledger.json', 'runs/index.json']) {
      expect((await whole.decide('watch', { action: 's3:PutObject', resource: `arn:aws:s3:::${bucket}/${key}` })).allowed, key).toBe(false);
    }
    expect((await whole.decide('watch', { action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/ledger/ledger.json` })).allowed).toBe(false);
    expect(
      (
        await whole.decide('watch', {
          action: 'codebuild:StartBuild',
          resource: `arn:aws:codebuild:${REGION}:123456789012:project/${Object.values(whole.names.projects)[0]}`,
        })
      ).allowed,
    ).toBe(false);
  });
});
