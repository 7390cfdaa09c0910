import { describe, expect, it } from 'vitest';
import { assetChangeFindings, historyFindings, parseLedger, updatedLedger, type Ledger } from '../../lambda/core/ledger';
import type { ReleaseHistory } from '../../lambda/core/ports';
import type { RunReport } from '../../lambda/core/report';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const history = (over: Partial<ReleaseHistory> = {}): ReleaseHistory => ({
  releases: [{ tag: 'v1', commitSha: A, links: [{ name: 'app', url: 'https://gl/app' }] }],
  tags: { v1: A },
  complete: true,
  ...over,
});
const report = (sha: string): RunReport => ({
  schemaVersion: 1,
  runId: 'r2',
  startedAt: '',
  finishedAt: '2026-11-22T00:00:00Z',
  verdict: 'VERIFIED',
  project: { gitlabUrl: 'https://gl', project: 'g/a' },
  release: { tag: 'v1' },
  targets: [
    {
      name: 'linux',
      verdict: 'VERIFIED',
      findings: [],
      artifacts: [{ path: 'p', asset: 'app', verdict: 'VERIFIED', findings: [], published: { sha256: sha, size: 1 } }],
    },
  ],
  findings: [],
  mode: 'local',
});
const plan = (runId: string) => ({ runId, project: { gitlabUrl: 'https://gl', project: 'g/a' } });
const baseline = (): Ledger => updatedLedger(null, plan('r1'), history(), report('1'.repeat(64)));
const codes = (l: Ledger | null, h: ReleaseHistory) => historyFindings(l, h).map((f) => f.code);

describe('ledger', () => {
  it('records a baseline on the first run, as a notice', () => {
    expect(codes(null, history())).toEqual(['HISTORY_BASELINE']);
    const l = baseline();
    expect(l.releases.v1).toMatchObject({
      tagCommitSha: A,
      links: { app: 'https://gl/app' },
      assets: { app: { sha256: '1'.repeat(64), firstSeenRunId: 'r1' } },
    });
    expect(parseLedger(JSON.stringify(l))).toEqual(l);
  });

  it('is silent when nothing changed', () => {
    expect(codes(baseline(), history())).toEqual([]);
  });

  it('reports a moved or deleted tag', () => {
    expect(codes(baseline(), history({ tags: { v1: B } }))).toEqual(['TAG_MOVED']);
    expect(codes(baseline(), history({ tags: {} }))).toEqual(['TAG_MOVED']);
  });

  it('reports changed, removed and added links of a past release, and a removed release', () => {
    expect(codes(baseline(), history({ releases: [{ tag: 'v1', commitSha: A, links: [{ name: 'app', url: 'https://evil/app' }] }] }))).toEqual([
      'PAST_LINK_CHANGED',
    ]);
    expect(codes(baseline(), history({ releases: [{ tag: 'v1', commitSha: A, links: [] }] }))).toEqual(['PAST_LINK_CHANGED']);
    expect(
      codes(
        baseline(),
        history({
          releases: [
            {
              tag: 'v1',
              commitSha: A,
              links: [
                { name: 'app', url: 'https://gl/app' },
                { name: 'extra', url: 'https://gl/x' },
              ],
            },
          ],
        }),
      ),
    ).toEqual(['PAST_LINK_CHANGED']);
    expect(codes(baseline(), history({ releases: [] }))).toEqual(['PAST_RELEASE_REMOVED']);
  });

  it('treats entries beyond a truncated listing as unknown, not removed', () => {
    expect(codes(baseline(), history({ releases: [], tags: {}, complete: false }))).toEqual([]);
  });

  it('reports an asset whose bytes changed since first seen, and keeps the first-seen digest', () => {
    const l = baseline();
    expect(assetChangeFindings(l, report('1'.repeat(64)))).toEqual([]);
    const f = assetChangeFindings(l, report('2'.repeat(64)));
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ code: 'PAST_ASSET_CHANGED', level: 'TAMPERED', evidence: { was: '1'.repeat(64), now: '2'.repeat(64) } });
    const after = updatedLedger(l, plan('r3'), history({ tags: { v1: B } }), report('2'.repeat(64)));
    expect(after.releases.v1!.assets.app!.sha256).toBe('1'.repeat(64));
    expect(after.releases.v1!.tagCommitSha).toBe(A); // a change is reported, never adopted silently
  });

  it('refuses a corrupt ledger instead of starting over', () => {
    expect(() => parseLedger('{"schemaVersion":2}')).toThrow();
  });
});
