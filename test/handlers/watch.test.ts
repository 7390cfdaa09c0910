/**
 * The hourly watch (handlers/watch.ts) on a fake clock: the schedule is a setInterval under vitest's
 * fake timers, AWS is aws-sdk-client-mock (S3 as an in-memory bucket behind the real S3Store, SNS
 * behind the real SnsNotifier, the launcher invoke as the handler's own LambdaClient call shape).
 * New tag → one run; same tag → none; forge down → a finding and one alert, not one an hour;
 * recovery → one notice.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SnsNotifier } from '../../lambda/adapters/notifier/sns-notifier';
import { S3Store } from '../../lambda/adapters/store/s3-store';
import { ForgeError } from '../../lambda/core/errors';
import { HISTORY_KEYS } from '../../lambda/core/history';
import type { Forge, Release } from '../../lambda/core/ports';
import { WATCH_STATE_KEY } from '../../lambda/core/watch';
import { LauncherEventSchema } from '../../lambda/handlers/launcher';
import { launcherInvoker, watch, type WatchDeps, type WatchResult } from '../../lambda/handlers/watch';
import { IMAGE, testConfig } from './support';

const HOUR = 3600_000;
const BUCKET = 'results';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alerts';
const LAUNCHER = 'relverify-launcher';
const config = testConfig({
  targets: [
    { name: 'alpha', image: IMAGE, command: 'make', artifacts: [{ path: 'dist/a.txt', asset: 'a.txt', signature: { scheme: 'none', reason: 'test asset' } }] },
  ],
});

const s3Client = new S3Client({ region: 'eu-west-1' });
const s3 = mockClient(s3Client);
const snsClient = new SNSClient({ region: 'eu-west-1' });
const sns = mockClient(snsClient);
const lambdaClient = new LambdaClient({ region: 'eu-west-1' });
const lambda = mockClient(lambdaClient);

let bucket: Map<string, string>;
let puts: string[];
let published: { subject: string; message: string }[];
let invoked: { payload: unknown; type: string | undefined }[];
/** what GitLab answers now: a release, or an error */
let gitlab: Release | Error;

const release = (tag: string, commit = tag.replace(/\D/g, '').padEnd(40, '0').slice(0, 40)): Release => ({
  tag,
  name: tag,
  commitSha: commit,
  tagCommitSha: commit,
  links: [],
});

/** a history index listing one run of `tag` (as regenerateHistory writes it) */
function indexWith(runs: { tag: string; commitSha?: string; verdict: string; targets?: number; runId?: string }[]): string {
  return JSON.stringify({
    schemaVersion: 1,
    project: 'g/app',
    updatedAt: new Date().toISOString(),
    runs: runs.map((r, i) => ({
      runId: r.runId ?? `20261201T000000Z-00000${i}`,
      startedAt: new Date(Date.now() - (runs.length - i) * 60_000).toISOString(),
      finishedAt: new Date().toISOString(),
      mode: 'aws',
      verdict: r.verdict,
      release: { tag: r.tag, commitSha: r.commitSha },
      targets: Array.from({ length: r.targets ?? 1 }, (_, t) => ({ name: `t${t}`, verdict: r.verdict })),
      problems: [],
      changes: [],
      links: { summary: 'x', html: 'y' },
    })),
    releases: [],
  });
}

function deps(overrides: Partial<WatchDeps> = {}): WatchDeps {
  const forge = { getRelease: async () => (gitlab instanceof Error ? Promise.reject(gitlab) : gitlab) } as unknown as Forge;
  return {
    config,
    store: new S3Store({ bucket: BUCKET, client: s3Client }),
    notifier: new SnsNotifier({ topicArn: TOPIC, client: snsClient }),
    forge: async () => forge,
    // the handler's own invoker (wire() in watch.ts), on the mocked client
    startRun: launcherInvoker(lambdaClient, LAUNCHER),
    relaunchAfterMs: 24 * HOUR,
    ...overrides,
  };
}

/** The schedule on the fake clock: `hours` checks, one an hour; returns each check's result. */
async function runSchedule(hours: number, d: WatchDeps = deps()): Promise<WatchResult[]> {
  const results: WatchResult[] = [];
  const errors: unknown[] = [];
  const timer = setInterval(() => {
    watch(d).then(
      (r) => results.push(r),
      (e) => errors.push(e),
    );
  }, HOUR);
  for (let h = 0; h < hours; h++) await vi.advanceTimersByTimeAsync(HOUR);
  clearInterval(timer);
  if (errors.length) throw errors[0];
  return results;
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-01T00:00:00Z'), toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
  bucket = new Map();
  puts = [];
  published = [];
  invoked = [];
  gitlab = release('v1.0.0');
  s3.reset();
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const body = bucket.get(input.Key);
    if (body === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    return { Body: { transformToString: async () => body }, ContentLength: Buffer.byteLength(body) };
  });
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: string }) => {
    bucket.set(input.Key, String(input.Body));
    puts.push(input.Key);
    return {};
  });
  sns.reset();
  sns.on(PublishCommand).callsFake((input: { Subject?: string; Message?: string }) => {
    published.push({ subject: input.Subject ?? '', message: input.Message ?? '' });
    return { MessageId: 'm' };
  });
  lambda.reset();
  lambda.on(InvokeCommand).callsFake((input: { Payload: Uint8Array; InvocationType?: string }) => {
    invoked.push({ payload: JSON.parse(new TextDecoder().decode(input.Payload)), type: input.InvocationType });
    return { StatusCode: 202 };
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('watch: new tag → one run', () => {
  it('starts one full run for a release with no run, then waits for it; the next release starts one more', async () => {
    const first = await runSchedule(3);
    expect(first.map((r) => r.outcome)).toEqual(['started', 'pending', 'pending']);
    expect(invoked).toEqual([{ payload: { source: 'watch', tag: 'v1.0.0' }, type: 'Event' }]);
    // the launcher reads the tag from that event
    expect(LauncherEventSchema.parse(invoked[0]!.payload).tag).toBe('v1.0.0');
    expect(published).toEqual([]);

    // the run finished (its summary is in the history): nothing more to do for v1.0.0
    bucket.set(HISTORY_KEYS.json, indexWith([{ tag: 'v1.0.0', commitSha: release('v1.0.0').commitSha, verdict: 'VERIFIED' }]));
    const later = await runSchedule(5);
    expect(later.every((r) => r.outcome === 'known')).toBe(true);
    expect(invoked).toHaveLength(1);

    // a new release is published: one more run, at once (the next check)
    gitlab = release('v1.1.0');
    const next = await runSchedule(3);
    expect(next.map((r) => r.outcome)).toEqual(['started', 'pending', 'pending']);
    expect(invoked.map((i) => (i.payload as { tag: string }).tag)).toEqual(['v1.0.0', 'v1.1.0']);
  });

  it('a tag moved to another commit is a new release; a run that was never planned does not count', async () => {
    // a run of v1.0.0 at another commit, and a forge-down run that named the tag but checked nothing
    bucket.set(
      HISTORY_KEYS.json,
      indexWith([
        { tag: 'v1.0.0', commitSha: 'f'.repeat(40), verdict: 'VERIFIED' },
        { tag: 'v1.0.0', verdict: 'INCOMPLETE', targets: 0 },
      ]),
    );
    const [r] = await runSchedule(1);
    expect(r!.outcome).toBe('started');
    expect(invoked).toHaveLength(1);
  });

  it('a run the watch started that never shows up in the history is started again after relaunchAfterMs, not every hour', async () => {
    const results = await runSchedule(8, deps({ relaunchAfterMs: 5 * HOUR }));
    expect(results.map((r) => r.outcome)).toEqual(['started', 'pending', 'pending', 'pending', 'pending', 'started', 'pending', 'pending']);
    expect(invoked).toHaveLength(2);
  });

  it('a launcher that cannot be queued fails the check (the Errors alarm), and the next check tries again', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce({ StatusCode: 500, FunctionError: 'Unhandled' })
      .callsFake((input: { Payload: Uint8Array }) => {
        invoked.push({ payload: JSON.parse(new TextDecoder().decode(input.Payload)), type: 'Event' });
        return { StatusCode: 202 };
      });
    await expect(runSchedule(1)).rejects.toThrow(/not queued/);
    const [r] = await runSchedule(1);
    expect(r!.outcome).toBe('started');
    expect(invoked).toHaveLength(1);
  });
});

describe('watch: same tag → none', () => {
  for (const verdict of ['VERIFIED', 'TAMPERED', 'MISMATCH', 'INCOMPLETE']) {
    it(`a release whose run is in the history (${verdict}) starts nothing for a day, and the state is not rewritten each hour`, async () => {
      bucket.set(HISTORY_KEYS.json, indexWith([{ tag: 'v1.0.0', commitSha: release('v1.0.0').commitSha, verdict }]));
      const results = await runSchedule(24);
      expect(results).toHaveLength(24);
      expect(results.every((r) => r.outcome === 'known' && r.knownRunId === '20261201T000000Z-000000')).toBe(true);
      expect(invoked).toEqual([]);
      expect(published).toEqual([]);
      // the state is written once (first check), not every hour (Object Lock keeps every version)
      expect(puts).toEqual([WATCH_STATE_KEY]);
    });
  }
});

describe('watch: the same tag and commit, but a changed release (review finding)', () => {
  const OLD = 'a'.repeat(40);
  const NEW = 'b'.repeat(40);
  const link = (url: string) => ({ id: 1, name: 'a.txt', url });

  it('a tag moved while the release object still names the old commit is not "known" (runs record the tag\'s commit)', async () => {
    gitlab = { ...release('v1.0.0', OLD), tagCommitSha: NEW };
    bucket.set(HISTORY_KEYS.json, indexWith([{ tag: 'v1.0.0', commitSha: OLD, verdict: 'VERIFIED' }]));
    const [r] = await runSchedule(1);
    expect(r!.outcome).toBe('started');
    expect(invoked).toHaveLength(1);
  });

  it('a link repointed after the release had its run starts one run for that state, not one an hour; a further change starts another', async () => {
    bucket.set(HISTORY_KEYS.json, indexWith([{ tag: 'v1.0.0', commitSha: OLD, verdict: 'VERIFIED' }]));
    // the links as the run saw them: the VERIFIED run is the answer, and the watch remembers this state
    gitlab = { ...release('v1.0.0', OLD), links: [link('https://gitlab.example/a.txt')] };
    expect((await runSchedule(2)).map((r) => r.outcome)).toEqual(['known', 'known']);
    // repointed: the earlier run does not vouch for it
    gitlab = { ...release('v1.0.0', OLD), links: [link('https://evil.example/a.txt')] };
    expect((await runSchedule(2)).map((r) => r.outcome)).toEqual(['started', 'pending']);
    // that run finished (TAMPERED: PAST_LINK_CHANGED): known from now on, nothing more started
    bucket.set(
      HISTORY_KEYS.json,
      indexWith([
        { tag: 'v1.0.0', commitSha: OLD, verdict: 'VERIFIED' },
        { tag: 'v1.0.0', commitSha: OLD, verdict: 'TAMPERED', runId: '20261201T020000Z-tttttt' },
      ]),
    );
    const later = await runSchedule(24);
    expect(later.every((r) => r.outcome === 'known' && r.knownRunId === '20261201T020000Z-tttttt')).toBe(true);
    expect(invoked).toHaveLength(1);
    // pointed elsewhere again: one more run
    gitlab = { ...release('v1.0.0', OLD), links: [link('https://evil2.example/a.txt')] };
    expect((await runSchedule(1))[0]!.outcome).toBe('started');
    expect(invoked).toHaveLength(2);
  });

  it("a release whose commit is not the tag's gets one run for that state, then is known", async () => {
    bucket.set(HISTORY_KEYS.json, indexWith([{ tag: 'v1.0.0', commitSha: NEW, verdict: 'VERIFIED' }]));
    gitlab = { ...release('v1.0.0', OLD), tagCommitSha: NEW };
    expect((await runSchedule(2)).map((r) => r.outcome)).toEqual(['started', 'pending']);
    bucket.set(
      HISTORY_KEYS.json,
      indexWith([
        { tag: 'v1.0.0', commitSha: NEW, verdict: 'VERIFIED' },
        { tag: 'v1.0.0', commitSha: NEW, verdict: 'TAMPERED', runId: '20261201T020000Z-tttttt' },
      ]),
    );
    expect((await runSchedule(3)).map((r) => r.outcome)).toEqual(['known', 'known', 'known']);
    expect(invoked).toHaveLength(1);
  });
});

describe('watch: forge down → a finding and one alert, recovery → one notice', () => {
  it('alerts once per outage, reports the finding every check, and sends one notice when GitLab answers again', async () => {
    bucket.set(HISTORY_KEYS.json, indexWith([{ tag: 'v1.0.0', commitSha: release('v1.0.0').commitSha, verdict: 'VERIFIED' }]));
    await runSchedule(2);
    expect(published).toEqual([]);

    gitlab = new ForgeError('unreachable', 'connect ECONNREFUSED gitlab.example:443', { url: 'https://gitlab.example/api/v4' });
    const down = await runSchedule(6);
    expect(down.map((r) => r.outcome)).toEqual(Array(6).fill('forge-down'));
    // a finding every hour (not silence)…
    for (const r of down) expect(r.findings.map((f) => `${f.level} ${f.code}`)).toEqual(['INCOMPLETE FORGE_UNREACHABLE']);
    // …but one alert for the outage
    expect(down.map((r) => r.alerted ?? '-')).toEqual(['forge-down', '-', '-', '-', '-', '-']);
    expect(published).toHaveLength(1);
    expect(published[0]!.subject).toMatch(/watch: GitLab unreachable/);
    expect(published[0]!.message).toContain('FORGE_UNREACHABLE');
    expect(JSON.parse(bucket.get(WATCH_STATE_KEY)!).forge).toMatchObject({ status: 'down', since: '2026-12-01T03:00:00.000Z' });

    // GitLab is back, with a new release published during the outage: one notice, one run
    gitlab = release('v1.1.0');
    const back = await runSchedule(4);
    expect(back.map((r) => r.outcome)).toEqual(['started', 'pending', 'pending', 'pending']);
    expect(back.map((r) => r.alerted ?? '-')).toEqual(['forge-recovered', '-', '-', '-']);
    expect(published).toHaveLength(2);
    expect(published[1]!.subject).toMatch(/watch: GitLab reachable again/);
    expect(published[1]!.message).toContain('2026-12-01T03:00:00.000Z');
    expect(invoked.map((i) => (i.payload as { tag: string }).tag)).toEqual(['v1.1.0']);

    // a second outage is a new outage: one more alert
    gitlab = new ForgeError('timeout', 'GitLab: finding release (latest) did not complete within 60 s');
    const again = await runSchedule(3);
    expect(again.every((r) => r.findings[0]?.code === 'FORGE_UNREACHABLE')).toBe(true);
    expect(published).toHaveLength(3);
  });

  it('an unexpected answer and an unreadable token are findings too (FORGE_ERROR, CHECK_FAILED)', async () => {
    gitlab = new ForgeError('bad-response', 'GitLab answered 500');
    const [a] = await runSchedule(1);
    expect(a!.findings.map((f) => f.code)).toEqual(['FORGE_ERROR']);
    const [b] = await runSchedule(1, deps({ forge: async () => Promise.reject(new Error('AccessDeniedException: secretsmanager:GetSecretValue')) }));
    expect(b!.outcome).toBe('forge-down');
    expect(b!.findings.map((f) => f.code)).toEqual(['CHECK_FAILED']);
    // still the same outage: one alert
    expect(published).toHaveLength(1);
  });

  it('an outage alert that could not be published is not lost: the check fails and the next one alerts', async () => {
    gitlab = new ForgeError('unreachable', 'ECONNRESET');
    sns
      .on(PublishCommand)
      .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottledException' }))
      .callsFake((input: { Subject?: string; Message?: string }) => {
        published.push({ subject: input.Subject ?? '', message: input.Message ?? '' });
        return { MessageId: 'm' };
      });
    await expect(runSchedule(1)).rejects.toThrow(/throttled/);
    expect(published).toEqual([]);
    const results = await runSchedule(3);
    expect(results.map((r) => r.alerted ?? '-')).toEqual(['forge-down', '-', '-']);
    expect(published).toHaveLength(1);
  });

  it('an unreadable state file starts afresh instead of failing the watch', async () => {
    bucket.set(WATCH_STATE_KEY, '{not json');
    bucket.set(HISTORY_KEYS.json, '{"runs": "nonsense"}');
    const [r] = await runSchedule(1);
    // no usable history: the direction that checks more — a run starts
    expect(r!.outcome).toBe('started');
    expect(JSON.parse(bucket.get(WATCH_STATE_KEY)!).launched.tag).toBe('v1.0.0');
  });
});
