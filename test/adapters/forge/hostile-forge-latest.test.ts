/**
 * Issue 9 item 6: "latest" is not the server's sort. The latest release comes from GitLab's
 * latest-release permalink (a 302 to the release, followed on the GitLab origin), checked against
 * the release listing sorted by released_at by us; when the two disagree the run is INCOMPLETE
 * with LATEST_RELEASE_DISAGREES naming both.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeSha, startGitLabStandIn, type GitLabStandIn, type StandInProject } from '../../../demo/gitlab-standin';
import { ForgeError } from '../../../lambda/core/errors';
import { GitLabForge, LatestReleaseDisagreesError } from '../../../lambda/adapters/forge/gitlab-forge';
import { runVerification } from '../../../lambda/core/run/in-process';
import { hostileConfig, hostilePorts } from './hostile-forge-support';

let gl: GitLabStandIn;
let project: StandInProject;
let dir: string;
const DAY = 86_400_000;
const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
const forge = () => new GitLabForge({ url: gl.url, project: project.path, retry: { attempts: 1 }, requestTimeoutMs: 5_000 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-latest-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));
beforeEach(async () => {
  gl = await startGitLabStandIn();
  project = gl.model.addProject({ path: 'group/app', id: 11 });
  // published in this order; released_at says v1.1.0 is the newest
  gl.model.publishRelease(project, { tag: 'v1.0.0', commitSha: fakeSha('c1'), releasedAt: at(30) });
  gl.model.publishRelease(project, { tag: 'v1.1.0', commitSha: fakeSha('c2'), releasedAt: at(2) });
  gl.model.publishRelease(project, { tag: 'v0.9.9-lts', commitSha: fakeSha('c3'), releasedAt: at(10) }); // a backport, published last
});
afterEach(async () => gl.close());

describe('the latest release against a forge that ignores sort', () => {
  it('is the newest by released_at, not the first the server lists', async () => {
    gl.hostile.ignoreSort = true; // lists v1.0.0, v1.1.0, v0.9.9-lts
    const listed = (await (await fetch(`${gl.url}/api/v4/projects/11/releases?order_by=released_at&sort=desc`)).json()) as { tag_name: string }[];
    expect(listed.map((r) => r.tag_name)).toEqual(['v1.0.0', 'v1.1.0', 'v0.9.9-lts']); // the stand-in really ignores sort
    const r = await forge().getRelease();
    expect(r.tag).toBe('v1.1.0');
    expect(r.commitSha).toBe(fakeSha('c2'));
    // it asked the permalink, and followed GitLab's redirect to the release
    expect(gl.requests.map((q) => q.url.split('?')[0])).toEqual(
      expect.arrayContaining(['/api/v4/projects/group%2Fapp/releases/permalink/latest', '/api/v4/projects/group%2Fapp/releases/v1.1.0']),
    );
  });

  it('skips upcoming releases, as the permalink does', async () => {
    gl.hostile.ignoreSort = true;
    gl.model.publishRelease(project, { tag: 'v2.0.0', upcoming: true });
    expect((await forge().getRelease()).tag).toBe('v1.1.0');
  });

  it('a permalink naming another release than the listing is LATEST_RELEASE_DISAGREES', async () => {
    gl.faults.inject(/\/releases\/permalink\/latest$/, [{ redirect: `${gl.url}/api/v4/projects/11/releases/v1.0.0` }], { repeatLast: true });
    const err = await forge()
      .getRelease()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LatestReleaseDisagreesError);
    expect((err as ForgeError).details).toMatchObject({ code: 'LATEST_RELEASE_DISAGREES', permalinkTag: 'v1.0.0', listingTag: 'v1.1.0' });

    // through the run: INCOMPLETE, one finding naming both tags, and nothing verified
    const config = hostileConfig(gl.url, project.path, [{ path: 'dist/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }]);
    const { report } = await runVerification(config, hostilePorts(forge(), join(dir, 'store-disagree')));
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toEqual(['LATEST_RELEASE_DISAGREES']);
    expect(report.findings[0]!.message).toMatch(/v1\.0\.0.*v1\.1\.0/);
    expect(report.targets).toEqual([]);
  });

  it('a permalink naming an upcoming release, or none while releases exist, disagrees too', async () => {
    gl.model.publishRelease(project, { tag: 'v3.0.0', upcoming: true });
    gl.faults.inject(/\/releases\/permalink\/latest$/, [
      { redirect: `${gl.url}/api/v4/projects/11/releases/v3.0.0` },
      { status: 404, body: { message: '404 Not Found' } },
    ]);
    await expect(forge().getRelease()).rejects.toThrow(/upcoming release/);
    const none = await forge()
      .getRelease()
      .catch((e: unknown) => e);
    expect(none).toBeInstanceOf(LatestReleaseDisagreesError);
    expect((none as ForgeError).userMessage).toMatch(/names no release, but the release list has v1\.1\.0/);
  });

  it('a permalink and a listing that disagree on the commit of the same release is a bad response', async () => {
    const json = (await (await fetch(`${gl.url}/api/v4/projects/11/releases/v1.1.0`)).json()) as { commit: { id: string } };
    json.commit.id = fakeSha('elsewhere');
    gl.faults.inject('/api/v4/projects/group%2Fapp/releases/permalink/latest', [{ status: 200, body: json }]);
    const err = await forge()
      .getRelease()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ForgeError);
    expect((err as ForgeError).kind).toBe('bad-response');
    expect((err as ForgeError).userMessage).toMatch(/contradicts itself about release v1\.1\.0/);
  });

  it('no releases at all is still not-found', async () => {
    const empty = gl.model.addProject({ path: 'group/empty', id: 12 });
    const err = await new GitLabForge({ url: gl.url, project: empty.path, retry: { attempts: 1 } }).getRelease().catch((e: unknown) => e);
    expect((err as ForgeError).kind).toBe('not-found');
  });
});
