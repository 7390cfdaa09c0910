/**
 * The checker's mismatch diff job, with the real SDK clients: S3 on loopback (s3rver) for the
 * results and artifacts buckets, CodeBuild StartBuild through aws-sdk-client-mock. A mismatch
 * uploads both files under diffs/<run>/<target>/<asset>/ and starts exactly one diff build; a match
 * starts none; a diff job that cannot start leaves the verdict as it was, with a notice.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodeBuildClient, StartBuildCommand } from '@aws-sdk/client-codebuild';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BuildRecord } from '../../lambda/adapters/builder/codebuild-results';
import { LocalArtifactSource } from '../../lambda/adapters/builder/local-artifacts';
import { DIFF_ENV, diffIdempotencyToken, diffPrefixFor, keySegment } from '../../lambda/adapters/builder/codebuild-diff-env';
import { CodeBuildDiffJobs } from '../../lambda/adapters/builder/codebuild-diff-job';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import type { RunPlan } from '../../lambda/core/run/plan';
import type { BuildResult } from '../../lambda/core/ports';
import type { TargetReport } from '../../lambda/core/report';
import { runKeys } from '../../lambda/core/run/summary';
import { check, type CheckerDeps } from '../../lambda/handlers/checker';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { DirectoryForge, IMAGE, planFor, testConfig } from './support';

const SHA = '2'.repeat(40);
const RUN = '20260302T000000Z-bbbbbb';
const ASSET = 'app 2.0.0.bin'; // a space: the key segment is made safe
const DIFF_PROJECT = 'relverify-rv--diffoscope';
const PUBLISHED = Buffer.from('MZ published bytes\x00\x01 + signature block\n');
const REBUILT_DIFFERENT = Buffer.from('MZ rebuilt bytes\x00\x01\n');

const codebuildClient = new CodeBuildClient({ region: 'eu-west-1' });
const codebuild = mockClient(codebuildClient);
const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);
const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });
const formats = async () => (await import('../../lambda/formats/ops')).formatOps;

const config = testConfig({
  targets: [{ name: 'one', image: IMAGE, command: 'true', artifacts: [{ path: 'out/app.bin', asset: ASSET, signature: { scheme: 'none', reason: 'test' } }] }],
});
const plan: RunPlan = planFor(config, RUN, SHA);
const event = {
  source: 'aws.codebuild',
  'detail-type': 'CodeBuild Build State Change',
  detail: { 'build-id': 'arn:aws:codebuild:eu-west-1:123456789012:build/p-one:u1', 'build-status': 'SUCCEEDED' },
};

let s3: LocalS3;
let work: string;
let counter = 0;

beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'relverify-diffjob-handler-'));
  await mkdir(join(work, 'assets'));
  await writeFile(join(work, 'assets', ASSET), PUBLISHED);
});
afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  codebuild.reset();
  codebuild.on(StartBuildCommand).resolves({ build: { id: `${DIFF_PROJECT}:d1`, arn: `arn:aws:codebuild:eu-west-1:123456789012:build/${DIFF_PROJECT}:d1` } });
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
});

async function setup(rebuilt: Buffer, jobOptions: { maxInputBytes?: number } = {}) {
  const n = ++counter;
  const results = `results-diff-${n}`;
  const artifacts = `artifacts-diff-${n}`;
  await s3.createBucket(results);
  await s3.createBucket(artifacts);
  const store = new S3Store({ bucket: results, client: s3.conditionalClient() });
  await store.put(runKeys.plan(RUN), JSON.stringify(plan));
  await store.put(runKeys.launch(RUN, 'one'), JSON.stringify({ target: 'one', buildId: 'p-one:u1', projectName: 'p-one', startedAt: plan.createdAt })); // the launcher's record of the build
  const buildDir = join(work, `build-${n}`);
  await mkdir(join(buildDir, 'out'), { recursive: true });
  await writeFile(join(buildDir, 'out', 'app.bin'), rebuilt);
  const build: BuildRecord = { runId: RUN, target: 'one', build: { id: 'p-one:u1', buildStatus: 'SUCCEEDED' } };
  const artifactSource = new LocalArtifactSource(buildDir);
  const deps: CheckerDeps = {
    config,
    store,
    notifier,
    results: {
      read: async () => build,
      toBuildResult: (rec, image): BuildResult => ({
        target: rec.target,
        buildId: rec.build.id!,
        sandbox: 'codebuild' as const,
        status: 'SUCCEEDED',
        image: { ref: image, enforced: true },
        artifacts: artifactSource,
      }),
    },
    forge: async () => new DirectoryForge(plan.release, join(work, 'assets'), '/nonexistent/repo'),
    formats,
    diffJobs: new CodeBuildDiffJobs({
      projectName: DIFF_PROJECT,
      bucket: artifacts,
      region: 'eu-west-1',
      codebuild: codebuildClient,
      s3: s3.client(),
      ...jobOptions,
    }),
    workRoot: work,
  };
  const objectBytes = async (key: string) => {
    const out = await s3.client().send(new GetObjectCommand({ Bucket: artifacts, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  };
  const diffKeys = async () => (await s3.client().send(new ListObjectsV2Command({ Bucket: artifacts, Prefix: 'diffs/' }))).Contents?.map((o) => o.Key) ?? [];
  const targetReport = async () => JSON.parse((await store.get(runKeys.target(RUN, 'one')))!) as TargetReport;
  return { deps, artifacts, objectBytes, diffKeys, targetReport };
}

const alertBody = () => (JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!) as { email: string }).email;

describe('checker: diff job on a mismatch', () => {
  it('a mismatch uploads both files and starts one diff build; the report location is a notice in the record and the alert', async () => {
    const t = await setup(REBUILT_DIFFERENT);
    const out = await check(event, t.deps);
    expect(out).toMatchObject({ status: 'checked', verdict: 'MISMATCH', outcome: 'published' });

    const prefix = diffPrefixFor(RUN, 'one', ASSET);
    expect(prefix).toBe(`diffs/${RUN}/one/${keySegment(ASSET)}`);
    expect(prefix).toMatch(/^diffs\/[^ ]+\/one\/app_2\.0\.0\.bin-[0-9a-f]{8}$/);
    expect(await t.objectBytes(`${prefix}/published`)).toEqual(PUBLISHED);
    expect(await t.objectBytes(`${prefix}/rebuilt`)).toEqual(REBUILT_DIFFERENT);
    expect((await t.diffKeys()).sort()).toEqual([`${prefix}/published`, `${prefix}/rebuilt`]);

    const starts = codebuild.commandCalls(StartBuildCommand).map((c) => c.args[0].input);
    expect(starts).toEqual([
      {
        projectName: DIFF_PROJECT,
        idempotencyToken: diffIdempotencyToken(RUN, 'one', ASSET),
        environmentVariablesOverride: [{ name: DIFF_ENV.prefix, value: prefix, type: 'PLAINTEXT' }],
      },
    ]);

    const report = await t.targetReport();
    expect(report.verdict).toBe('MISMATCH');
    const findings = report.artifacts[0]!.findings;
    expect(findings.map((f) => f.code)).toEqual(['SIGNATURE_NOT_REQUIRED', 'ARTIFACT_MISMATCH', 'DIFFOSCOPE_REPORT']);
    const notice = findings.find((f) => f.code === 'DIFFOSCOPE_REPORT')!;
    expect(notice.level).toBe('NOTICE');
    const location = String(notice.evidence?.report);
    expect(location).toContain(`s3://${t.artifacts}/${prefix}/report.html`);
    expect(location).toContain(
      `https://eu-west-1.console.aws.amazon.com/s3/object/${t.artifacts}?region=eu-west-1&bucketType=general&prefix=${encodeURIComponent(`${prefix}/report.html`)}`,
    );
    expect(location).toContain(`diff build ${DIFF_PROJECT}:d1`);

    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
    const body = alertBody();
    expect(body).toContain('[NOTICE] DIFFOSCOPE_REPORT (one / app 2.0.0.bin)');
    expect(body).toContain(`s3://${t.artifacts}/${prefix}/report.html`);
  });

  it('a matching target starts no diff job and uploads nothing', async () => {
    const t = await setup(PUBLISHED);
    expect(await check(event, t.deps)).toMatchObject({ status: 'checked', verdict: 'VERIFIED' });
    expect(codebuild.commandCalls(StartBuildCommand)).toHaveLength(0);
    expect(await t.diffKeys()).toEqual([]);
    expect((await t.targetReport()).artifacts[0]!.findings.map((f) => f.code)).not.toContain('DIFFOSCOPE_REPORT');
  });

  it('StartBuild failing leaves the verdict MISMATCH, with a notice saying why there is no report', async () => {
    codebuild
      .on(StartBuildCommand)
      .rejects(Object.assign(new Error('Cannot have more than 1 builds in queue for the account'), { name: 'AccountLimitExceededException' }));
    const t = await setup(REBUILT_DIFFERENT);
    expect(await check(event, t.deps)).toMatchObject({ status: 'checked', verdict: 'MISMATCH', outcome: 'published' });
    expect(codebuild.commandCalls(StartBuildCommand)).toHaveLength(1);
    const report = await t.targetReport();
    expect(report.verdict).toBe('MISMATCH');
    const notice = report.artifacts[0]!.findings.find((f) => f.code === 'DIFFOSCOPE_REPORT')!;
    expect(notice).toMatchObject({ level: 'NOTICE', message: expect.stringMatching(/^no diff report for app 2\.0\.0\.bin: .*more than 1 builds in queue/) });
    expect(alertBody()).toMatch(/MISMATCH/);
  });

  it('inputs over the size bound are not uploaded and start no job (notice), the verdict unchanged', async () => {
    const t = await setup(REBUILT_DIFFERENT, { maxInputBytes: 16 });
    expect(await check(event, t.deps)).toMatchObject({ verdict: 'MISMATCH' });
    expect(codebuild.commandCalls(StartBuildCommand)).toHaveLength(0);
    expect(await t.diffKeys()).toEqual([]);
    const notice = (await t.targetReport()).artifacts[0]!.findings.find((f) => f.code === 'DIFFOSCOPE_REPORT')!;
    expect(notice.message).toMatch(/too large for a diff job \(\d+ bytes, limit 16\)/);
  });

  it('without a diff job configured the checker behaves as before', async () => {
    const t = await setup(REBUILT_DIFFERENT);
    const { diffJobs: _unused, ...deps } = t.deps;
    expect(await check(event, deps)).toMatchObject({ verdict: 'MISMATCH' });
    expect(codebuild.commandCalls(StartBuildCommand)).toHaveLength(0);
    expect((await t.targetReport()).artifacts[0]!.findings.map((f) => f.code)).not.toContain('DIFFOSCOPE_REPORT');
  });
});

describe('diff key layout', () => {
  it('safe names stay readable, others get a hash so distinct names never share a prefix', () => {
    expect(keySegment('app-2.0.0.tar.gz')).toBe('app-2.0.0.tar.gz');
    expect(keySegment('a b')).not.toBe(keySegment('a_b'));
    expect(keySegment('..')).toMatch(/^_-[0-9a-f]{8}$/);
    expect(keySegment('../../etc/passwd')).not.toContain('/');
    expect(() => diffPrefixFor('../x', 'one', 'a')).toThrow(/invalid run id/);
    expect(diffIdempotencyToken(RUN, 'one', 'x'.repeat(500)).length).toBeLessThanOrEqual(64);
  });
});
