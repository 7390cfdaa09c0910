/**
 * A whole serverless run, offline: launcher → CodeBuild double (builds run by the local builder,
 * artifacts uploaded to s3rver) → checker invoked with build state-change events shaped exactly
 * like AWS's, including a duplicate event and a FAILED build → exactly one SNS publish carrying
 * the right verdict and findings. The judgement is the real core (planRun, checkTarget,
 * summarize, alertFor) with the real format operations.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeBuildLauncher } from '../../lambda/adapters/builder/codebuild-launcher';
import { recipesOf, CodeBuildResults } from '../../lambda/adapters/builder/codebuild-results';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import type { RunReport } from '../../lambda/core/report';
import { LEDGER_KEY, type Ledger } from '../../lambda/core/ledger';
import { runKeys } from '../../lambda/core/run/summary';
import { check } from '../../lambda/handlers/checker';
import { launch } from '../../lambda/handlers/launcher';
import { startLocalS3, type LocalS3 } from '../support/s3-local';
import { codeBuildDouble, DirectoryForge, IMAGE, makeRepo, stateChangeEvent, testConfig, type CodeBuildDouble } from './support';

const formats = async () => (await import('../../lambda/formats/ops')).formatOps;

describe('whole serverless run (launcher → CodeBuild double → checker → SNS)', () => {
  let s3: LocalS3;
  let work: string;
  let double: CodeBuildDouble;
  const snsClient = new SNSClient({ region: 'eu-west-1' });
  const sns = mockClient(snsClient);
  sns.on(PublishCommand).resolves({ MessageId: 'm' });

  const config = testConfig({
    targets: [
      // rebuilds identically to the published asset
      {
        name: 'alpha',
        image: IMAGE,
        command: 'sh build.sh alpha',
        artifacts: [{ path: 'dist/alpha-{version}.txt', asset: 'alpha-{version}.txt', signature: { scheme: 'none', reason: 'test asset' } }],
      },
      // the build fails
      {
        name: 'beta',
        image: IMAGE,
        command: 'echo "compiler exploded" >&2; exit 1',
        artifacts: [{ path: 'dist/beta-{version}.txt', asset: 'beta-{version}.txt', signature: { scheme: 'none', reason: 'test asset' } }],
      },
      // rebuilds, but the published asset differs
      {
        name: 'gamma',
        image: IMAGE,
        command: 'sh build.sh gamma',
        artifacts: [{ path: 'dist/gamma-{version}.txt', asset: 'gamma-{version}.txt', signature: { scheme: 'none', reason: 'test asset' } }],
      },
    ],
  });
  const projects = { alpha: 'relverify-t-alpha', beta: 'relverify-t-beta', gamma: 'relverify-t-gamma' };
  let forge: DirectoryForge;
  let store: S3Store;

  beforeAll(async () => {
    s3 = await startLocalS3();
    await s3.createBucket('results-bucket');
    await s3.createBucket('artifacts-bucket');
    work = await mkdtemp(join(tmpdir(), 'relverify-wholerun-'));
    const repo = await makeRepo({
      'build.sh': 'mkdir -p dist\nprintf "%s %s built from %s\\n" "$1" "$RELVERIFY_VERSION" "$RELVERIFY_COMMIT" > "dist/$1-$RELVERIFY_VERSION.txt"\n',
    });
    const assets = join(work, 'published');
    await (await import('node:fs/promises')).mkdir(assets);
    await writeFile(join(assets, 'alpha-1.0.0.txt'), `alpha 1.0.0 built from ${repo.head}\n`);
    await writeFile(join(assets, 'beta-1.0.0.txt'), `beta 1.0.0 built from ${repo.head}\n`);
    await writeFile(join(assets, 'gamma-1.0.0.txt'), `gamma 1.0.0 built from ${repo.head} (with a backdoor)\n`);
    forge = new DirectoryForge({ tag: 'v1.0.0', name: 'v1.0.0', commitSha: repo.head, tagCommitSha: repo.head, links: [] }, assets, repo.dir);
    store = new S3Store({ bucket: 'results-bucket', client: s3.conditionalClient() });
    double = codeBuildDouble({ config, projects, s3: s3.client(), artifactsBucket: 'artifacts-bucket' });
  });
  afterAll(async () => {
    await s3?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("publishes exactly one alert with the run verdict and every target's findings", async () => {
    const notifier = new SnsNotifier({ topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts', client: snsClient });
    const now = new Date('2026-03-02T03:00:00Z');
    const launcherDeps = {
      config,
      store,
      notifier,
      forge: async () => forge,
      builds: new CodeBuildLauncher({ client: double.client, projects }),
      formats,
      runWindowMs: 12 * 3600_000,
      workRoot: work,
      now: () => now,
    };
    const launched = await launch({ source: 'schedule' }, launcherDeps);
    expect(launched.planCreated).toBe(true);
    expect(launched.started.map((s) => s.target).sort()).toEqual(['alpha', 'beta', 'gamma']);
    expect(await store.get(runKeys.plan(launched.runId))).toContain('"tagCommitSha"');

    // A re-invocation in the same window (Lambda retry, double delivery) starts nothing new.
    const again = await launch({ source: 'schedule' }, { ...launcherDeps, now: () => new Date(now.getTime() + 3600_000) });
    expect(again).toMatchObject({ runId: launched.runId, planCreated: false, started: [] });
    expect(again.alreadyStarted.sort()).toEqual(['alpha', 'beta', 'gamma']);
    expect(double.startCalls()).toHaveLength(3);

    await double.settled();
    const checkerDeps = {
      config,
      store,
      notifier,
      results: new CodeBuildResults({
        codebuild: double.client,
        s3: s3.client(),
        projects: { 'relverify-t-alpha': 'alpha', 'relverify-t-beta': 'beta', 'relverify-t-gamma': 'gamma' },
        artifactsBucket: 'artifacts-bucket',
        recipes: recipesOf(config),
      }),
      forge: async () => forge,
      formats,
      workRoot: work,
    };
    const byTarget = Object.fromEntries([...double.builds.values()].map((b) => [b.projectName!.replace('relverify-t-', ''), b]));
    expect(byTarget.beta!.buildStatus).toBe('FAILED');

    // The event's own digest is a lie; it must not matter.
    const first = await check(stateChangeEvent(byTarget.alpha!, { lieSha256: 'f'.repeat(64) }), checkerDeps);
    expect(first).toMatchObject({ status: 'checked', target: 'alpha', verdict: 'VERIFIED', outcome: 'waiting' });
    const failed = await check(stateChangeEvent(byTarget.beta!), checkerDeps);
    expect(failed).toMatchObject({ status: 'checked', target: 'beta', verdict: 'INCOMPLETE', outcome: 'waiting' });
    const duplicate = await check(stateChangeEvent(byTarget.alpha!), checkerDeps);
    expect(duplicate).toMatchObject({ status: 'duplicate', target: 'alpha', outcome: 'waiting' });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);

    const last = await check(stateChangeEvent(byTarget.gamma!), checkerDeps);
    expect(last).toMatchObject({ status: 'checked', target: 'gamma', verdict: 'MISMATCH', outcome: 'published' });

    // late duplicates after the summary: no second alert
    expect(await check(stateChangeEvent(byTarget.gamma!), checkerDeps)).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(await check(stateChangeEvent(byTarget.beta!), checkerDeps)).toMatchObject({ status: 'duplicate', outcome: 'already-summarized' });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);

    const publish = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(publish.Subject).toBe('[release-verifier] MISMATCH: g/app v1.0.0');
    expect(publish.MessageAttributes?.severity?.StringValue).toBe('critical');
    const message = JSON.parse(publish.Message!) as { email: string; sms: string };
    expect(message.email).toMatch(/ARTIFACT_MISMATCH \(gamma \/ gamma-1\.0\.0\.txt\)/);
    expect(message.email).toMatch(/BUILD_FAILED \(beta\)/);
    expect(message.email).toMatch(/alpha: VERIFIED build SUCCEEDED/);
    expect(message.email).toContain(`s3://results-bucket/runs/${launched.runId}/summary.json`);
    expect(message.sms.length).toBeLessThanOrEqual(160);

    const summary = JSON.parse((await store.get(runKeys.summary(launched.runId)))!) as RunReport;
    expect(summary.verdict).toBe('MISMATCH');
    expect(summary.mode).toBe('aws');
    expect(Object.fromEntries(summary.targets.map((t) => [t.name, t.verdict]))).toEqual({ alpha: 'VERIFIED', beta: 'INCOMPLETE', gamma: 'MISMATCH' });
    const alpha = summary.targets.find((t) => t.name === 'alpha')!;
    // digests computed by the checker, not the event's sha256sum
    expect(alpha.artifacts[0]!.rebuilt!.sha256).toBe(alpha.artifacts[0]!.published!.sha256);
    expect(alpha.artifacts[0]!.rebuilt!.sha256).not.toBe('f'.repeat(64));
    expect(alpha.build).toMatchObject({ status: 'SUCCEEDED', imageEnforced: true, image: IMAGE });
    expect(await store.get(runKeys.html(launched.runId))).toMatch(/<html/i);
    // the audit the launcher stored with the run reaches the JSON report, as in the CLI
    expect(summary.audit).toMatchObject({ changes: expect.any(Object) });

    // what the run saw is recorded in the ledger (as the CLI does), once, by the summary writer
    const ledger = JSON.parse((await store.get(LEDGER_KEY))!) as Ledger;
    expect(ledger.updatedByRunId).toBe(launched.runId);
    expect(ledger.releases['v1.0.0']!.tagCommitSha).toBe(forge.release.tagCommitSha);
    expect(ledger.releases['v1.0.0']!.assets['alpha-1.0.0.txt']!.sha256).toBe(alpha.artifacts[0]!.published!.sha256);
  });
});
