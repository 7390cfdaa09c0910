/**
 * Launcher, checker and dead-man handlers: the paths the whole-run test does not take — planning
 * failures, builds that cannot start, window boundaries, foreign and racing events, conditional
 * write conflicts (412, simulated: s3rver ignores If-None-Match), quiet VERIFIED runs, stale runs.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BuildStillRunningError, CodeBuildResults, ForeignBuildError, NO_ARTIFACTS, type BuildRecord } from '../../lambda/adapters/builder/codebuild-results';
import { LocalArtifactSource } from '../../lambda/adapters/builder/local-artifacts';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { ForgeError } from '../../lambda/core/errors';
import type { RunPlan } from '../../lambda/core/run/plan';
import { LEDGER_KEY } from '../../lambda/core/ledger';
import type { BuildResult, Store } from '../../lambda/core/ports';
import type { RunReport, TargetReport } from '../../lambda/core/report';
import { runKeys, summarize } from '../../lambda/core/run/summary';
import { awsEngine } from '../../lambda/handlers/aws-engine';
import { check, type CheckerDeps } from '../../lambda/handlers/checker';
import { deadman, FIRST_SEEN_KEY } from '../../lambda/handlers/deadman';
import { launch, type LauncherDeps } from '../../lambda/handlers/launcher';
import { windowedRunId } from '../../lambda/core/run/run-id';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { DirectoryForge, IMAGE, planFor, testConfig } from './support';

const formats = async () => (await import('../../lambda/formats/ops')).formatOps;
const SHA = '1'.repeat(40);
const HOUR = 3600_000;

const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);
const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });

let s3: LocalS3;
let work: string;
let assets: string;
let bucketCounter = 0;
async function freshStore(): Promise<S3Store> {
  const name = `results-${++bucketCounter}-bucket`;
  await s3.createBucket(name);
  return new S3Store({ bucket: name, client: s3.conditionalClient() });
}

beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'relverify-handlers-'));
  assets = join(work, 'assets');
  await mkdir(assets);
  await writeFile(join(assets, 'one-2.0.0.txt'), 'published one\n');
});
afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

const config = testConfig({
  targets: [
    {
      name: 'one',
      image: IMAGE,
      command: 'true',
      artifacts: [{ path: 'out/one-{version}.txt', asset: 'one-{version}.txt', signature: { scheme: 'none', reason: 'test' } }],
    },
    {
      name: 'two',
      image: IMAGE,
      command: 'true',
      artifacts: [{ path: 'out/two-{version}.txt', asset: 'two-{version}.txt', signature: { scheme: 'none', reason: 'test' } }],
    },
  ],
});
const forge = () => new DirectoryForge({ tag: 'v2.0.0', name: 'v2.0.0', commitSha: SHA, tagCommitSha: SHA, links: [] }, assets, '/nonexistent/repo');

function launcherDeps(store: Store, overrides: Partial<LauncherDeps> = {}): LauncherDeps & { startedTargets: string[] } {
  const startedTargets: string[] = [];
  return {
    config,
    store,
    notifier,
    forge: async () => forge(),
    builds: {
      start: async (plan, target) => {
        startedTargets.push(target);
        return { target, projectName: `p-${target}`, buildId: `p-${target}:${plan.runId}` };
      },
    },
    formats,
    runWindowMs: 12 * HOUR,
    workRoot: work,
    now: () => new Date('2026-03-02T03:00:00Z'),
    startedTargets,
    ...overrides,
  };
}

function publishes() {
  return sns.commandCalls(PublishCommand).map((c) => ({ ...c.args[0].input, parsed: JSON.parse(c.args[0].input.Message!) as { email: string } }));
}

describe('launcher', () => {
  it('a forge failure becomes one INCOMPLETE alert, not a thrown error; a retry in the window does not alert again', async () => {
    const store = await freshStore();
    const deps = launcherDeps(store, {
      forge: async () => {
        throw new ForgeError('unreachable', 'connect ECONNREFUSED gitlab.example:443');
      },
    });
    const r = await launch({}, deps);
    expect(r.failedVerdict).toBe('INCOMPLETE');
    expect(deps.startedTargets).toEqual([]);
    expect(publishes()).toHaveLength(1);
    expect(publishes()[0]!.parsed.email).toMatch(/FORGE_UNREACHABLE/);
    expect(publishes()[0]!.MessageAttributes?.severity?.StringValue).toBe('warning');
    const again = await launch({}, { ...deps, now: () => new Date('2026-03-02T04:00:00Z') });
    expect(again.runId).toBe(r.runId);
    expect(publishes()).toHaveLength(1);
  });

  it('a corrupt ledger stops the run with an INCOMPLETE alert instead of hiding the release history', async () => {
    const store = await freshStore();
    await store.put(LEDGER_KEY, '{"not":"a ledger"}');
    const deps = launcherDeps(store);
    const r = await launch({}, deps);
    expect(r.failedVerdict).toBe('INCOMPLETE');
    expect(deps.startedTargets).toEqual([]);
    expect(publishes()[0]!.parsed.email).toMatch(/ledger .* is unreadable/);
  });

  it('a build that cannot start is judged by the shared checker: BUILD_NOT_STARTED, published asset still checked', async () => {
    const store = await freshStore();
    const deps = launcherDeps(store);
    deps.builds = {
      start: async (_plan, target) => {
        if (target === 'two')
          throw Object.assign(new Error('Cannot have more than 1 builds in queue for the account'), { name: 'AccountLimitExceededException' });
        return { target, projectName: `p-${target}`, buildId: `p-${target}:x` };
      },
    };
    const r = await launch({}, deps);
    expect(r.started.map((s) => s.target)).toEqual(['one']);
    expect(r.notStarted).toEqual([{ target: 'two', reason: expect.stringMatching(/more than 1 builds/) }]);
    const report = JSON.parse((await store.get(runKeys.target(r.runId, 'two')))!) as TargetReport;
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toContain('BUILD_NOT_STARTED');
    // the published asset of "two" is missing from the forge: that is reported too
    expect(report.artifacts[0]!.findings.map((f) => f.code)).toContain('ASSET_MISSING');
    expect(JSON.parse((await store.get(runKeys.launch(r.runId, 'one')))!)).toMatchObject({ buildId: 'p-one:x' });
    expect(await store.get(runKeys.launch(r.runId, 'two'))).toBeNull();
    expect(publishes()).toHaveLength(0); // "one" has not reported yet
  });

  it("joins the previous window's run when the same release was planned less than a window ago", async () => {
    const store = await freshStore();
    const deps = launcherDeps(store, { now: () => new Date('2026-03-02T11:30:00Z') });
    const first = await launch({}, deps);
    const later = await launch({}, { ...deps, now: () => new Date('2026-03-02T12:30:00Z') }); // next 12 h window
    expect(later.runId).toBe(first.runId);
    expect(later.started).toEqual([]);
    expect(deps.startedTargets).toEqual(['one', 'two']);
    // … but not more than a window later
    const muchLater = await launch({}, { ...deps, now: () => new Date('2026-03-03T00:30:00Z') });
    expect(muchLater.runId).not.toBe(first.runId);
    expect(muchLater.started).toHaveLength(2);
  });

  it('{"fresh": true} starts a new run; a crashed launch (plan written, no build record) resumes only missing targets', async () => {
    const store = await freshStore();
    const deps = launcherDeps(store);
    const fresh1 = await launch({ fresh: true }, deps);
    const fresh2 = await launch({ fresh: true }, deps);
    expect(fresh1.runId).not.toBe(fresh2.runId);

    const store2 = await freshStore();
    const deps2 = launcherDeps(store2);
    const first = await launch({}, deps2);
    // simulate a crash between StartBuild("two") and its record: remove the record by using a new store copy
    const plan = (await store2.get(runKeys.plan(first.runId)))!;
    const store3 = await freshStore();
    await store3.put(runKeys.plan(first.runId), plan);
    await store3.put(runKeys.launch(first.runId, 'one'), (await store2.get(runKeys.launch(first.runId, 'one')))!);
    const deps3 = launcherDeps(store3);
    const resumed = await launch({}, deps3);
    expect(resumed).toMatchObject({ runId: first.runId, planCreated: false, alreadyStarted: ['one'] });
    expect(deps3.startedTargets).toEqual(['two']);
  });

  it("run ids sort by time and match the core's pattern", () => {
    const a = windowedRunId(new Date('2026-03-02T03:00:00Z'), 12 * HOUR, ['x']);
    expect(a).toMatch(/^20260302T000000Z-[0-9a-f]{6}$/);
    expect(windowedRunId(new Date('2026-03-02T11:59:59Z'), 12 * HOUR, ['x'])).toBe(a);
    expect(windowedRunId(new Date('2026-03-02T03:00:00Z'), 12 * HOUR, ['y'])).not.toBe(a);
  });
});

// ───────────────────────── checker ─────────────────────────

const RUN = '20260302T000000Z-aaaaaa';
const plan: RunPlan = planFor(config, RUN, SHA, ['one']);
const event = (buildId = 'arn:aws:codebuild:eu-west-1:123456789012:build/p-one:u1') => ({
  source: 'aws.codebuild',
  'detail-type': 'CodeBuild Build State Change',
  detail: { 'build-id': buildId, 'build-status': 'SUCCEEDED', 'project-name': 'p-one' },
});

function fakeResults(read: (id: string) => Promise<BuildRecord>, artifacts: BuildResult['artifacts'] = NO_ARTIFACTS): CheckerDeps['results'] {
  return {
    read,
    toBuildResult: (rec, image) => ({
      target: rec.target,
      buildId: rec.build.id!,
      sandbox: 'codebuild' as const,
      status: rec.build.buildStatus as BuildResult['status'],
      image: { ref: image, enforced: true },
      artifacts,
    }),
  };
}
const record = (status = 'FAILED'): BuildRecord => ({ runId: RUN, target: 'one', build: { id: 'p-one:u1', buildStatus: status as 'FAILED' } });
/** the plan and the launcher's record of build p-one:u1, as a launch leaves them */
const LAUNCHED_ONE = JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt });
async function launched(store: Store): Promise<void> {
  await store.put(runKeys.plan(RUN), JSON.stringify(plan));
  await store.put(runKeys.launch(RUN, 'one'), LAUNCHED_ONE);
}

function checkerDeps(store: Store, overrides: Partial<CheckerDeps> = {}): CheckerDeps {
  return { config, store, notifier, results: fakeResults(async () => record()), forge: async () => forge(), formats, workRoot: work, ...overrides };
}

describe('checker', () => {
  it('ignores events that are not CodeBuild state changes, foreign builds, and runs without a plan', async () => {
    const store = await freshStore();
    expect(await check({ source: 'aws.s3', detail: {} }, checkerDeps(store))).toMatchObject({ status: 'ignored' });
    expect(
      await check(
        event(),
        checkerDeps(store, {
          results: fakeResults(async () => {
            throw new ForeignBuildError('not ours');
          }),
        }),
      ),
    ).toMatchObject({ status: 'ignored', reason: 'not ours' });
    expect(await check(event(), checkerDeps(store))).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/has no plan/) });
    expect(await store.list('runs/')).toEqual([]);
  });

  it('a build still running makes the invocation fail, so EventBridge/Lambda retry it', async () => {
    const store = await freshStore();
    await launched(store);
    let reads = 0;
    const waits: number[] = [];
    const running = fakeResults(async () => {
      reads++;
      throw new BuildStillRunningError('p-one:u1');
    });
    await expect(check(event(), checkerDeps(store, { results: running, sleep: async (ms) => void waits.push(ms) }))).rejects.toBeInstanceOf(
      BuildStillRunningError,
    );
    expect(reads).toBe(4);
    expect(waits).toEqual([5000, 10000, 15000]);
    // … and a build that finishes while we wait is judged normally
    let n = 0;
    const settles = fakeResults(async () => {
      if (n++ === 0) throw new BuildStillRunningError('p-one:u1');
      return record();
    });
    expect(await check(event(), checkerDeps(store, { results: settles, sleep: async () => {} }))).toMatchObject({ status: 'checked', verdict: 'INCOMPLETE' });
  });

  it('ignores a build other than the one the launcher recorded for the target', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await store.put(
      runKeys.launch(RUN, 'one'),
      JSON.stringify({ target: 'one', buildId: 'p-one:the-real-one', projectName: 'p-one', startedAt: plan.createdAt }),
    );
    expect(await check(event(), checkerDeps(store))).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/not the build the launcher started/) });
    expect(await store.get(runKeys.target(RUN, 'one'))).toBeNull();
  });

  it("ignores a build the launcher never recorded (lost write, timeout mid-launch, someone else's StartBuild): nothing is recorded for the target", async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    const warned: unknown[] = [];
    const logger = { warn: (...a: unknown[]) => warned.push(a), info: () => {}, error: () => {} } as never;
    // a build that would pass every comparison: its rebuilt file is the published one
    const rebuilt = join(work, 'rebuilt-one.txt');
    await writeFile(rebuilt, 'published one\n');
    const artifacts: BuildResult['artifacts'] = { fetch: (_path, dest, limits) => new LocalArtifactSource(work).fetch('rebuilt-one.txt', dest, limits) };
    const out = await check(event(), checkerDeps(store, { results: fakeResults(async () => record('SUCCEEDED'), artifacts), logger }));
    expect(out).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/no launch record/) });
    expect(warned).toHaveLength(1);
    expect(await store.get(runKeys.target(RUN, 'one'))).toBeNull();
    expect(await store.get(runKeys.summary(RUN))).toBeNull();
  });

  it('a build whose recorded commit, tag, clone URL or staged source differs from the plan is BUILD_OVERRIDDEN, never VERIFIED', async () => {
    const rebuilt = join(work, 'rebuilt-one.txt');
    await writeFile(rebuilt, 'published one\n');
    const artifacts: BuildResult['artifacts'] = { fetch: (_path, dest, limits) => new LocalArtifactSource(work).fetch('rebuilt-one.txt', dest, limits) };
    const recipes = Object.fromEntries(config.targets.map((t) => [t.name, { command: t.command, env: t.env, privileged: t.privileged }]));
    const real = new CodeBuildResults({ projects: { 'p-one': 'one' }, artifactsBucket: 'artifacts-bucket', recipes });
    // the variables exactly as the launcher sets them for this plan (codebuild-launcher.ts)
    const launcherVars: Record<string, string> = {
      RELVERIFY_RUN_ID: RUN,
      RELVERIFY_TARGET: 'one',
      RELVERIFY_COMMIT: SHA,
      RELVERIFY_TAG: 'v2.0.0',
      RELVERIFY_VERSION: plan.version,
      RELVERIFY_CLONE_URL: forge().cloneUrl(),
      RELVERIFY_ARTIFACTS: plan.targets[0]!.artifacts.map((a) => a.path).join('\n'),
      RELVERIFY_COMMAND: 'true',
    };
    const recordWith = (vars: Record<string, string>, change: (b: BuildRecord['build']) => void = () => {}): BuildRecord => {
      const build: BuildRecord['build'] = {
        id: 'p-one:u1',
        projectName: 'p-one',
        buildStatus: 'SUCCEEDED',
        buildComplete: true,
        source: { type: 'NO_SOURCE' },
        environment: {
          type: 'LINUX_CONTAINER',
          computeType: 'BUILD_GENERAL1_MEDIUM',
          image: IMAGE,
          privilegedMode: false,
          environmentVariables: Object.entries(vars).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })),
        },
      };
      change(build);
      return { runId: RUN, target: 'one', build };
    };
    const results = (rec: BuildRecord): CheckerDeps['results'] => ({
      read: async () => rec,
      toBuildResult: (r, image, launched) => ({ ...real.toBuildResult(r, image, launched), artifacts }),
    });
    const verdictOf = async (rec: BuildRecord) => {
      const store = await freshStore();
      await launched(store);
      await check(event(), checkerDeps(store, { results: results(rec) }));
      return JSON.parse((await store.get(runKeys.target(RUN, 'one')))!) as TargetReport;
    };
    // the build as launched: VERIFIED (the comparison is not what makes the others fail)
    expect((await verdictOf(recordWith(launcherVars))).verdict).toBe('VERIFIED');
    for (const [name, value] of [
      ['RELVERIFY_COMMIT', 'b'.repeat(40)],
      ['RELVERIFY_CLONE_URL', 'https://evil.example/fork.git'],
      ['RELVERIFY_TAG', 'v1.9.9'],
      ['RELVERIFY_SOURCE_S3', 's3://artifacts-bucket/sources/20260101T000000Z-bbbbbb/source.tar'],
    ] as const) {
      const report = await verdictOf(recordWith({ ...launcherVars, [name]: value }));
      expect(report.verdict, name).toBe('INCOMPLETE');
      expect(report.findings.find((f) => f.code === 'BUILD_OVERRIDDEN')?.message, name).toContain(name);
    }
    const debug = await verdictOf(recordWith(launcherVars, (b) => (b.debugSession = { sessionEnabled: true })));
    expect(debug.verdict).toBe('INCOMPLETE');
    expect(debug.findings.find((f) => f.code === 'BUILD_OVERRIDDEN')?.message).toMatch(/debug session/);
  });

  it("the last target in writes the summary and alerts; a failed build is INCOMPLETE with the build's evidence", async () => {
    const store = await freshStore();
    await launched(store);
    const out = await check(event(), checkerDeps(store));
    expect(out).toMatchObject({ status: 'checked', verdict: 'INCOMPLETE', outcome: 'published' });
    expect(publishes()).toHaveLength(1);
    expect(publishes()[0]!.parsed.email).toMatch(/BUILD_FAILED \(one\)/);
    const summary = JSON.parse((await store.get(runKeys.summary(RUN)))!) as RunReport;
    expect(summary).toMatchObject({ verdict: 'INCOMPLETE', mode: 'aws', startedAt: plan.createdAt });
  });

  it('conditional-write races (412) never produce a second alert', async () => {
    // Two checkers for the same target raced: ours lost the target write (412) and the summary write (412).
    const raw = new S3Client({ region: 'eu-west-1' });
    const s3mock = mockClient(raw);
    const mem = new Map<string, string>([
      [runKeys.plan(RUN), JSON.stringify(plan)],
      [runKeys.launch(RUN, 'one'), LAUNCHED_ONE],
    ]);
    const base = await freshStore();
    const store: Store = {
      put: (key, body, options) => new S3Store({ bucket: 'b', client: raw }).put(key, body, options),
      get: async (key) => (key === runKeys.target(RUN, 'one') ? null : (mem.get(key) ?? null)), // the other writer's record is not visible yet to our first look…
      list: async (prefix) => (prefix === runKeys.targetsPrefix(RUN) ? [runKeys.target(RUN, 'one')] : []),
      locate: (k) => base.locate(k),
    };
    s3mock.on(PutObjectCommand).rejects(Object.assign(new Error('PreconditionFailed'), { $metadata: { httpStatusCode: 412 } }));
    const out = await check(event(), checkerDeps(store, { store }));
    expect(out).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(publishes()).toHaveLength(0);
    expect(s3mock).toHaveReceivedCommandWith(PutObjectCommand, { Key: runKeys.target(RUN, 'one'), IfNoneMatch: '*' });
    expect(s3mock).toHaveReceivedCommandWith(PutObjectCommand, { Key: runKeys.summary(RUN), IfNoneMatch: '*' });
  });

  it('a VERIFIED run stays quiet when notifyOnVerified is false, but still completes', async () => {
    const store = await freshStore();
    await launched(store);
    const rebuilt = join(work, 'rebuilt-one.txt');
    await writeFile(rebuilt, 'published one\n');
    const artifacts: BuildResult['artifacts'] = {
      fetch: (_path, dest, limits) => new LocalArtifactSource(work).fetch('rebuilt-one.txt', dest, limits),
    };
    const quiet = testConfig({ ...config, alerts: { emails: [], sms: [], notifyOnVerified: false } } as never);
    let completed = 0;
    const out = await check(
      event(),
      checkerDeps(store, {
        config: quiet,
        results: fakeResults(async () => record('SUCCEEDED'), artifacts),
        metrics: { addMetric: () => completed++ } as never,
      }),
    );
    expect(out).toMatchObject({ status: 'checked', verdict: 'VERIFIED', outcome: 'completed-quietly' });
    expect(publishes()).toHaveLength(0);
    expect(completed).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((await store.get(runKeys.summary(RUN)))!).verdict).toBe('VERIFIED');
  });
});

// ───────────────────────── dead-man ─────────────────────────

describe('dead-man', () => {
  it('before any run: measures from its own first run (recorded once)', async () => {
    const store = await freshStore();
    const d0 = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-01T00:00:00Z') });
    expect(d0.daysSinceLastSummary).toBe(0);
    const d1 = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-10T12:00:00Z') });
    expect(d1.daysSinceLastSummary).toBe(9.5);
    expect(JSON.parse((await store.get(FIRST_SEEN_KEY))!).firstSeen).toBe('2026-03-01T00:00:00.000Z');
  });

  it('reports the age of the newest summary', async () => {
    const store = await freshStore();
    for (const [id, at] of [
      ['20260201T000000Z-aaaaaa', '2026-02-01T01:00:00Z'],
      ['20260208T000000Z-bbbbbb', '2026-02-08T03:00:00Z'],
    ] as const) {
      await store.put(runKeys.plan(id), JSON.stringify({ ...plan, runId: id, createdAt: at }));
      await store.put(runKeys.summary(id), JSON.stringify({ runId: id, finishedAt: at }));
    }
    const r = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-02-17T03:00:00Z') });
    expect(r).toMatchObject({ daysSinceLastSummary: 9, lastSummary: '20260208T000000Z-bbbbbb', closed: [] });
  });

  it('re-sends the alert of a recent run whose summary was written but whose alert never went out, once', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    // a checker wrote the summary and died before publishing: no alerted.json
    const engine = awsEngine(config, {
      store,
      notifier: { notify: async () => Promise.reject(new Error('SNS down')) },
      now: () => new Date('2026-03-02T04:00:00Z'),
    });
    await expect(engine.finish(summarize(plan, [], { mode: 'aws', startedAt: plan.createdAt, finishedAt: '2026-03-02T04:00:00Z' }))).rejects.toThrow(
      /SNS down/,
    );
    expect(await store.get(runKeys.alerted(RUN))).toBeNull();
    const swept = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T09:00:00Z') });
    expect(publishes()).toHaveLength(1);
    expect(publishes()[0]!.parsed.email).toMatch(/TARGET_NOT_REPORTED \(one\)/);
    expect(swept.closed).toEqual([]);
    await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T12:00:00Z') });
    expect(publishes()).toHaveLength(1);
  });

  it('one stale run with an unreadable record does not keep the others from being closed (and the invocation fails, loudly)', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan('20260301T000000Z-badbad'), '{ not json');
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    await expect(deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T14:00:00Z') })).rejects.toThrow(
      /could not close 1 run\(s\): 20260301T000000Z-badbad/,
    );
    expect(publishes()).toHaveLength(1);
    expect(publishes()[0]!.parsed.email).toMatch(/TARGET_NOT_REPORTED \(one\)/);
  });

  it('closes a run whose targets never all reported, once, with TARGET_NOT_REPORTED', async () => {
    const store = await freshStore();
    await store.put(runKeys.plan(RUN), JSON.stringify(plan));
    const early = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T05:00:00Z') });
    expect(early.closed).toEqual([]);
    const late = await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T14:00:00Z') });
    expect(late.closed).toEqual([RUN]);
    expect(late.daysSinceLastSummary).toBe(0);
    expect(publishes()).toHaveLength(1);
    expect(publishes()[0]!.parsed.email).toMatch(/TARGET_NOT_REPORTED \(one\)/);
    await deadman({ config, store, notifier, staleRunMs: 10 * HOUR, now: () => new Date('2026-03-02T17:00:00Z') });
    expect(publishes()).toHaveLength(1);
  });
});
