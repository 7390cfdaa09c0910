/**
 * AWS faults the serverless verifier survives (README "Faults the verifier survives"): S3, SNS and
 * Secrets Manager errors, and duplicate and late build events. Each case states the verdict (or
 * the absence of one) and what the operator sees. S3 faults are injected around a real S3Store on
 * s3rver, as S3 answers them after the SDK's own retries (500 InternalError, 403 AccessDenied);
 * Secrets Manager and SNS through their SDK clients (aws-sdk-client-mock).
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NO_ARTIFACTS, type BuildRecord } from '../../lambda/adapters/builder/codebuild-results';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { GitLabTokenReader } from '../../lambda/adapters/secrets';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import type { BuildResult, Store } from '../../lambda/core/ports';
import type { RunReport } from '../../lambda/core/report';
import { runKeys } from '../../lambda/core/run/summary';
import { ALERT_GRACE_MS } from '../../lambda/core/run/engine';
import { check, type CheckerDeps } from '../../lambda/handlers/checker';
import { deadman } from '../../lambda/handlers/deadman';
import { launch, type LauncherDeps } from '../../lambda/handlers/launcher';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { DirectoryForge, IMAGE, planFor, testConfig } from './support';

const formats = async () => (await import('../../lambda/formats/ops')).formatOps;
const SHA = '3'.repeat(40);
const HOUR = 3600_000;
const RUN = '20260302T000000Z-cccccc';

const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);
const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });
const secretsClient = new SecretsManagerClient({ region: 'eu-west-1' });
const secrets = mockClient(secretsClient);

let s3: LocalS3;
let work: string;
let buckets = 0;
beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'relverify-aws-faults-'));
  await mkdir(join(work, 'assets'));
  await writeFile(join(work, 'assets', 'one-2.0.0.txt'), 'published one\n');
});
afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: 'anonymous' });
});

async function freshStore(): Promise<S3Store> {
  const name = `faults-${++buckets}-bucket`;
  await s3.createBucket(name);
  return new S3Store({ bucket: name, client: s3.conditionalClient() });
}

/** An S3 error as the SDK surfaces it once its own retries are spent. */
const s3Error = (name: 'InternalError' | 'AccessDenied', status: number) =>
  Object.assign(new Error(`${name} (simulated S3 answer)`), { name, $metadata: { httpStatusCode: status } });

/** The store, failing the chosen operations while `failing()` says so. */
function faulty(store: Store, failing: () => boolean, ops: Array<'get' | 'put' | 'list'>, error = s3Error('InternalError', 500)): Store {
  const gate = <T>(op: 'get' | 'put' | 'list', f: () => Promise<T>) => (ops.includes(op) && failing() ? Promise.reject(error) : f());
  return {
    get: (k) => gate('get', () => store.get(k)),
    put: (k, b, o) => gate('put', () => store.put(k, b, o)),
    list: (p) => gate('list', () => store.list(p)),
    locate: (k) => store.locate(k),
  };
}

const config = testConfig({
  targets: [
    {
      name: 'one',
      image: IMAGE,
      command: 'true',
      artifacts: [{ path: 'out/one-{version}.txt', asset: 'one-{version}.txt', signature: { scheme: 'none', reason: 'test' } }],
    },
  ],
});
const release = {
  tag: 'v2.0.0',
  name: 'v2.0.0',
  commitSha: SHA,
  tagCommitSha: SHA,
  links: [{ id: 1, name: 'one-2.0.0.txt', url: 'https://gitlab.example/one-2.0.0.txt' }],
};
const directoryForge = () => new DirectoryForge(release, join(work, 'assets'), '/nonexistent/repo');
/** the forge as the Lambdas build it: token from Secrets Manager first */
const tokenReader = () => new GitLabTokenReader('relverify/gitlab-token', { client: secretsClient, cacheMs: 0 });
const forgeWithToken =
  (reader = tokenReader()) =>
  async () => {
    await reader.read();
    return directoryForge();
  };

function launcherDeps(store: Store, overrides: Partial<LauncherDeps> = {}): LauncherDeps & { started: string[] } {
  const started: string[] = [];
  return {
    config,
    store,
    notifier,
    forge: forgeWithToken(),
    builds: {
      start: async (plan, target) => {
        started.push(target);
        return { target, projectName: `p-${target}`, buildId: `p-${target}:${plan.runId}` };
      },
    },
    formats,
    runWindowMs: 12 * HOUR,
    workRoot: work,
    now: () => new Date('2026-03-02T03:00:00Z'),
    started,
    ...overrides,
  };
}

const plan = planFor(config, RUN, SHA, ['one']);
const buildEvent = {
  source: 'aws.codebuild',
  'detail-type': 'CodeBuild Build State Change',
  detail: { 'build-id': 'arn:aws:codebuild:eu-west-1:123456789012:build/p-one:u1', 'build-status': 'FAILED', 'project-name': 'p-one' },
};
const record: BuildRecord = { runId: RUN, target: 'one', build: { id: 'p-one:u1', buildStatus: 'FAILED' } };
const results: CheckerDeps['results'] = {
  read: async () => record,
  toBuildResult: (rec, image) => ({
    target: rec.target,
    buildId: rec.build.id!,
    sandbox: 'codebuild' as const,
    status: rec.build.buildStatus as BuildResult['status'],
    image: { ref: image, enforced: true },
    artifacts: NO_ARTIFACTS,
  }),
};
function checkerDeps(store: Store, overrides: Partial<CheckerDeps> = {}): CheckerDeps {
  return { config, store, notifier, results, forge: forgeWithToken(), formats, workRoot: work, ...overrides };
}
const publishes = () => sns.commandCalls(PublishCommand).map((c) => JSON.parse(c.args[0].input.Message!) as { email: string });

describe('Secrets Manager errors', () => {
  it('launcher: the token cannot be read → one INCOMPLETE alert (CHECK_FAILED naming the error), no build starts', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' }));
    const store = await freshStore();
    const deps = launcherDeps(store);
    const r = await launch({}, deps);
    expect(r.failedVerdict).toBe('INCOMPLETE');
    expect(deps.started).toEqual([]);
    const summary = JSON.parse((await store.get(runKeys.summary(r.runId)))!) as RunReport;
    expect(summary.findings.map((f) => f.code)).toEqual(['CHECK_FAILED']);
    expect(summary.findings[0]!.message).toMatch(/not authorized to perform: secretsmanager:GetSecretValue/);
    expect(publishes()).toHaveLength(1);
  });

  it('checker: the token cannot be read → the invocation fails (Lambda retries, nothing recorded); once it can, the redelivered event completes the run with one alert', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('Secrets Manager can’t find the specified secret.'), { name: 'ResourceNotFoundException' }));
    await expect(check(buildEvent, checkerDeps(store))).rejects.toThrow(/can’t find the specified secret/);
    expect(await store.get(runKeys.target(RUN, 'one'))).toBeNull();
    expect(publishes()).toHaveLength(0);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'anonymous' });
    expect(await check(buildEvent, checkerDeps(store))).toMatchObject({ status: 'checked', verdict: 'INCOMPLETE', outcome: 'published' });
    expect(publishes()).toHaveLength(1);
  });
});

describe('S3 errors', () => {
  it('launcher: the plan cannot be written (S3 500) → the invocation fails for a retry; no build starts, no alert', async () => {
    const base = await freshStore();
    const store = faulty(base, () => true, ['put']);
    const deps = launcherDeps(store);
    await expect(launch({}, deps)).rejects.toThrow(/InternalError/);
    expect(deps.started).toEqual([]);
    expect(publishes()).toHaveLength(0);
    // the retry (S3 healthy again) plans and starts the build
    const again = launcherDeps(base);
    const r = await launch({}, again);
    expect(again.started).toEqual(['one']);
    expect(r.planCreated).toBe(true);
  });

  it('launcher: the ledger cannot be read (S3 403) → one INCOMPLETE alert, no build on an unknown history', async () => {
    const base = await freshStore();
    let reads = 0;
    const store = faulty(base, () => reads++ === 0, ['get'], s3Error('AccessDenied', 403));
    const deps = launcherDeps(store);
    const r = await launch({}, deps);
    expect(r.failedVerdict).toBe('INCOMPLETE');
    expect(deps.started).toEqual([]);
    const summary = JSON.parse((await base.get(runKeys.summary(r.runId)))!) as RunReport;
    expect(summary.findings[0]).toMatchObject({ code: 'CHECK_FAILED', message: expect.stringMatching(/AccessDenied/) });
  });

  it('checker: S3 fails while recording (500) → the invocation fails; the redelivered event finishes the run with exactly one alert', async () => {
    const base = await freshStore();
    await base.put(runKeys.plan(RUN), JSON.stringify(plan));
    await base.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    let down = true;
    const store = faulty(base, () => down, ['put', 'list']);
    await expect(check(buildEvent, checkerDeps(store))).rejects.toThrow(/InternalError/);
    expect(await base.get(runKeys.summary(RUN))).toBeNull();
    expect(publishes()).toHaveLength(0);
    down = false;
    expect(await check(buildEvent, checkerDeps(store))).toMatchObject({ status: 'checked', outcome: 'published' });
    expect(await check(buildEvent, checkerDeps(store))).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(publishes()).toHaveLength(1);
  });

  it('a run whose checker never succeeds is closed by the dead-man: TARGET_NOT_REPORTED, INCOMPLETE', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    const out = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T14:00:00Z') });
    expect(out.closed).toEqual([RUN]);
    const summary = JSON.parse((await store.get(runKeys.summary(RUN)))!) as RunReport;
    expect(summary.verdict).toBe('INCOMPLETE');
    expect(publishes()[0]!.email).toMatch(/TARGET_NOT_REPORTED \(one\)/);
  });
});

describe('SNS errors', () => {
  it('publishing fails (throttled) → the summary is kept and the invocation fails (errors alarm); the redelivered event sends the lost alert, once', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException', $metadata: { httpStatusCode: 400 } }));
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    await expect(check(buildEvent, checkerDeps(store))).rejects.toThrow(/Rate exceeded/);
    const summary = JSON.parse((await store.get(runKeys.summary(RUN)))!) as RunReport;
    expect(summary.verdict).toBe('INCOMPLETE'); // the verdict is recorded whatever SNS does
    expect(await store.get(runKeys.alerted(RUN))).toBeNull();
    // a redelivery (EventBridge retries the failed invocation) finds the run summarized but not alerted: it publishes the alert
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    const before = publishes().length;
    // … the summary is fresh (its writer may still be finishing, as when two targets race): the retry
    // waits out ALERT_GRACE_MS, polling for the writer's marker, and, none coming, sends it — once
    let clock = Date.now();
    const waited: number[] = [];
    const retry = {
      ...checkerDeps(store),
      now: () => new Date(clock),
      sleep: async (ms: number) => {
        waited.push(ms);
        clock += ms;
      },
    };
    expect(await check(buildEvent, retry)).toMatchObject({ status: 'duplicate', outcome: 'published' });
    expect(waited.reduce((a, b) => a + b, 0)).toBeGreaterThan(ALERT_GRACE_MS - 5_000);
    expect(publishes().length - before).toBe(1);
    expect(publishes().at(-1)!.email).toContain('INCOMPLETE');
    expect(JSON.parse((await store.get(runKeys.alerted(RUN)))!)).toMatchObject({ runId: RUN, alerted: true });
    // and only once: a later delivery finds the alert sent
    expect(await check(buildEvent, retry)).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(publishes().length - before).toBe(1);
  });
});

describe('duplicate and late build events', () => {
  it('the same event delivered twice is judged once and alerts once', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    const [a, b] = [await check(buildEvent, checkerDeps(store)), await check(buildEvent, checkerDeps(store))];
    expect(a).toMatchObject({ status: 'checked', outcome: 'published' });
    expect(b).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(publishes()).toHaveLength(1);
  });

  it('a build event after the dead-man closed the run is recorded, but changes neither the summary nor alerts again', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
    await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T14:00:00Z') });
    const closed = await store.get(runKeys.summary(RUN));
    expect(publishes()).toHaveLength(1);
    expect(await check(buildEvent, checkerDeps(store))).toMatchObject({ status: 'checked', outcome: 'already-summarized' });
    expect(await store.get(runKeys.target(RUN, 'one'))).not.toBeNull(); // the late report is kept for the record
    expect(await store.get(runKeys.summary(RUN))).toBe(closed);
    expect(publishes()).toHaveLength(1);
  });
});
