/**
 * The CLI and the Lambdas are one engine (issue 10): the same scenario — the same forge, the same
 * release commit, the same builds — run once in process (`runVerification`, what `verify` calls)
 * and once across events (launcher → CodeBuild double → checker events → summary) must give the
 * same verdict, the same per-target verdicts and the same findings, and leave the same records.
 *
 * The builds are the same input on both paths: the CodeBuild double runs them with the local
 * builder, and the CLI path runs the same local builder. What each builder *claims* about its
 * isolation is set alike (both report an enforced image in a container), because that claim is an
 * input to the judgement, not part of the engine; the only differences allowed are the fields that
 * name the mode (`mode`, cost, build ids, log links, timings) and the builder's own failure wording.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeBuildLauncher } from '../../../lambda/adapters/builder/codebuild-launcher';
import { CodeBuildResults, recipesOf } from '../../../lambda/adapters/builder/codebuild-results';
import { LocalBuilder } from '../../../lambda/adapters/builder/local-builder';
import { SnsNotifier } from '../../../lambda/adapters/notifier/sns-notifier';
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';
import { S3Store } from '../../../lambda/adapters/store/s3-store';
import type { Alert } from '../../../lambda/core/alert';
import type { Config } from '../../../lambda/core/config/schema';
import type { Builder } from '../../../lambda/core/ports';
import type { RunReport } from '../../../lambda/core/report';
import { runVerification } from '../../../lambda/core/run/in-process';
import { runKeys } from '../../../lambda/core/run/store-layout';
import { check } from '../../../lambda/handlers/checker';
import { launch } from '../../../lambda/handlers/launcher';
import { startLocalS3, type LocalS3 } from '../../support/s3-local';
import { codeBuildDouble, DirectoryForge, IMAGE, makeRepo, stateChangeEvent, testConfig, type CodeBuildDouble } from '../../handlers/support';

const formats = async () => (await import('../../../lambda/formats/ops')).formatOps;

/** What must agree: the verdicts and every finding, without the fields that name the mode or the build. */
function judgement(report: RunReport) {
  const strip = (f: RunReport['findings'][number]) => ({ level: f.level, code: f.code, target: f.target, artifact: f.artifact });
  return {
    verdict: report.verdict,
    release: report.release,
    project: report.project,
    findings: report.findings.map(strip),
    messages: report.findings.map((f) => f.message),
    targets: report.targets.map((t) => ({
      name: t.name,
      verdict: t.verdict,
      build: t.build && { status: t.build.status, image: t.build.image, imageEnforced: t.build.imageEnforced },
      findings: t.findings.map(strip),
      artifacts: t.artifacts.map((a) => ({
        asset: a.asset,
        path: a.path,
        verdict: a.verdict,
        published: a.published?.sha256,
        rebuilt: a.rebuilt?.sha256,
        comparison: a.comparison && { method: a.comparison.method, match: a.comparison.match, differences: a.comparison.differences },
        signature: a.signature,
        findings: a.findings.map(strip),
        messages: a.findings.map((f) => f.message),
      })),
    })),
    audit: report.audit && { commitSha: report.audit.commitSha, hygiene: report.audit.hygiene.findings.length, checklist: report.audit.checklist.length },
  };
}

describe('one engine: the CLI and the Lambdas judge the same scenario alike', () => {
  let s3: LocalS3;
  let work: string;
  let double: CodeBuildDouble;
  let forge: DirectoryForge;
  const snsClient = new SNSClient({ region: 'eu-west-1' });
  const sns = mockClient(snsClient);
  sns.on(PublishCommand).resolves({ MessageId: 'm' });
  const none = { scheme: 'none' as const, reason: 'test asset' };
  const config = testConfig({
    alerts: { emails: ['ops@example.com'], notifyOnVerified: false },
    targets: [
      {
        name: 'alpha',
        image: IMAGE,
        command: 'sh build.sh alpha',
        artifacts: [{ path: 'dist/alpha-{version}.txt', asset: 'alpha-{version}.txt', signature: none }],
      },
      { name: 'beta', image: IMAGE, command: 'exit 3', artifacts: [{ path: 'dist/beta-{version}.txt', asset: 'beta-{version}.txt', signature: none }] },
      {
        name: 'gamma',
        image: IMAGE,
        command: 'sh build.sh gamma',
        artifacts: [{ path: 'dist/gamma-{version}.txt', asset: 'gamma-{version}.txt', signature: none }],
      },
      // its asset is not published at all
      {
        name: 'delta',
        image: IMAGE,
        command: 'sh build.sh delta',
        artifacts: [{ path: 'dist/delta-{version}.txt', asset: 'delta-{version}.txt', signature: none }],
      },
    ],
  });
  const projects = { alpha: 'relverify-t-alpha', beta: 'relverify-t-beta', gamma: 'relverify-t-gamma', delta: 'relverify-t-delta' };

  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('artifacts-bucket');
    work = await mkdtemp(join(tmpdir(), 'relverify-equivalence-'));
    const repo = await makeRepo({
      'build.sh': 'mkdir -p dist\nprintf "%s %s built from %s\\n" "$1" "$RELVERIFY_VERSION" "$RELVERIFY_COMMIT" > "dist/$1-$RELVERIFY_VERSION.txt"\n',
    });
    const assets = join(work, 'published');
    await mkdir(assets);
    await writeFile(join(assets, 'alpha-1.0.0.txt'), `alpha 1.0.0 built from ${repo.head}\n`);
    await writeFile(join(assets, 'beta-1.0.0.txt'), `beta 1.0.0 built from ${repo.head}\n`);
    await writeFile(join(assets, 'gamma-1.0.0.txt'), `gamma 1.0.0 built from ${repo.head} (with a backdoor)\n`);
    // a release link nobody verifies: a plan-time finding on both paths
    const links = [{ id: 9, name: 'extra.bin', url: 'https://gitlab.example/g/app/-/releases/v1.0.0/downloads/extra.bin' }];
    forge = new DirectoryForge({ tag: 'v1.0.0', name: 'v1.0.0', commitSha: repo.head, tagCommitSha: repo.head, links }, assets, repo.dir);
    double = codeBuildDouble({ config, projects, s3: s3.client(), artifactsBucket: 'artifacts-bucket' });
  });
  afterAll(async () => {
    await s3?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function viaLambdas(config: Config, bucket: string): Promise<RunReport> {
    await s3.createBucket(bucket);
    const store = new S3Store({ bucket, client: s3.conditionalClient() });
    const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });
    const now = new Date('2026-03-02T03:00:00Z');
    const launched = await launch(
      {},
      {
        config,
        store,
        notifier,
        forge: async () => forge,
        builds: new CodeBuildLauncher({ client: double.client, projects }),
        formats,
        runWindowMs: 12 * 3600_000,
        workRoot: work,
        now: () => now,
      },
    );
    expect(launched.started).toHaveLength(config.targets.length);
    await double.settled();
    const results = new CodeBuildResults({
      codebuild: double.client,
      s3: s3.client(),
      projects: Object.fromEntries(Object.entries(projects).map(([t, p]) => [p, t])),
      artifactsBucket: 'artifacts-bucket',
      recipes: recipesOf(config),
    });
    const deps = { config, store, notifier, results, forge: async () => forge, formats, workRoot: work };
    for (const build of double.builds.values()) if (launched.started.some((b) => b.buildId === build.id)) await check(stateChangeEvent(build), deps);
    return JSON.parse((await store.get(runKeys.summary(launched.runId)))!) as RunReport;
  }

  async function viaCli(config: Config): Promise<{ report: RunReport; alerts: Alert[]; root: string }> {
    const root = await mkdtemp(join(work, 'cli-store-'));
    const local = new LocalBuilder({ docker: 'never' });
    // the same builds; the builder's claim about isolation set as CodeBuild's (see the header)
    const builder: Builder = {
      run: async (request, signal) => ({ ...(await local.run(request, signal)), image: { ref: request.target.image, enforced: true }, sandbox: 'codebuild' }),
    };
    const alerts: Alert[] = [];
    const { report } = await runVerification(
      config,
      { forge, builder, store: new DirectoryStore(root), notifier: { notify: async (a) => void alerts.push(a) }, formats: await formats() },
      { now: new Date('2026-03-02T03:00:00Z'), workDir: await mkdtemp(join(work, 'cli-work-')) },
    );
    return { report, alerts, root };
  }

  it('the same verdict, target verdicts, findings and records on both paths', async () => {
    sns.resetHistory();
    const aws = await viaLambdas(config, 'results-one');
    const cli = await viaCli(config);
    expect(aws.mode).toBe('aws');
    expect(cli.report.mode).toBe('local');
    // the scenario exercises every outcome: verified, build failed, mismatch, asset missing, an unverified link
    expect(Object.fromEntries(aws.targets.map((t) => [t.name, t.verdict]))).toEqual({
      alpha: 'VERIFIED',
      beta: 'INCOMPLETE',
      gamma: 'MISMATCH',
      delta: 'INCOMPLETE',
    });
    expect(aws.findings.map((f) => f.code)).toContain('UNVERIFIED_ASSET');

    const a = judgement(aws);
    const c = judgement(cli.report);
    // the build's own failure wording is the builder's (CodeBuild's phase record vs the local exit status)
    const buildFailed = (j: typeof a) => j.targets.find((t) => t.name === 'beta')!;
    expect(buildFailed(a).findings.map((f) => f.code)).toEqual(buildFailed(c).findings.map((f) => f.code));
    for (const j of [a, c]) for (const t of j.targets) if (t.name === 'beta') t.build = undefined;
    expect(c).toEqual(a);

    // one alert on both paths (MISMATCH is never quiet), and the same records per run
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(cli.alerts).toHaveLength(1);
    expect(cli.alerts[0]!.verdict).toBe('MISMATCH');
  });

  it('a VERIFIED run with notifyOnVerified: false is quiet on both paths (the CLI used to notify anyway)', async () => {
    const quiet = testConfig({
      alerts: { emails: ['ops@example.com'], notifyOnVerified: false },
      ignoreAssets: ['extra.bin'],
      targets: [config.targets[0]!] as never,
    });
    sns.resetHistory();
    const aws = await viaLambdas(quiet, 'results-two');
    const cli = await viaCli(quiet);
    expect(aws.verdict).toBe('VERIFIED');
    expect(judgement(cli.report)).toEqual(judgement(aws));
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
    expect(cli.alerts).toEqual([]);
  });
});
