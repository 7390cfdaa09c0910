/**
 * Hostile API answers, each through a whole run (runVerification on the real GitLabForge): garbage
 * JSON, deeply nested JSON, huge lists and endless pagination. Never a crash, a hang or a partial
 * list taken as whole: the run ends INCOMPLETE with FORGE_ERROR naming the problem — and deep
 * nesting in a field we do not read is simply ignored. Rows of .notes/fault-table-forge.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fakeSha, startGitLabStandIn, type GitLabStandIn, type StandInProject } from '../../../demo/gitlab-standin';
import { GitLabForge } from '../../../lambda/adapters/forge/gitlab-forge';
import type { RunReport } from '../../../lambda/core/report';
import { runVerification } from '../../../lambda/core/run/in-process';
import { hostileConfig, hostilePorts } from './hostile-forge-support';

let gl: GitLabStandIn;
let project: StandInProject;
let dir: string;
let n = 0;
const RELEASE = '/api/v4/projects/group%2Fapp/releases/v1.0.0';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-json-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));
beforeEach(async () => {
  gl = await startGitLabStandIn();
  project = gl.model.addProject({ path: 'group/app', id: 41 });
  gl.model.publishRelease(project, { tag: 'v1.0.0', commitSha: fakeSha('c1'), assets: [{ name: 'app', bytes: Buffer.from('app\n') }] });
});
afterEach(async () => gl.close());

async function run(tag?: string): Promise<{ report: RunReport; ms: number }> {
  const config = hostileConfig(gl.url, project.path, [{ path: 'dist/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }]);
  const forge = new GitLabForge({ url: gl.url, project: project.path, retry: { attempts: 1 }, requestTimeoutMs: 10_000 });
  const t0 = Date.now();
  const { report } = await runVerification(config, hostilePorts(forge, join(dir, `store-${++n}`)), { tag });
  return { report, ms: Date.now() - t0 };
}

function expectForgeError(report: RunReport, message: RegExp): void {
  expect(report.verdict).toBe('INCOMPLETE');
  expect(report.findings.map((f) => f.code)).toEqual(['FORGE_ERROR']);
  expect(report.findings[0]!.message).toMatch(message);
  expect(report.targets).toEqual([]);
}

/** `[[[…"x"…]]]`, `depth` levels */
const deep = (depth: number) => '['.repeat(depth) + '"x"' + ']'.repeat(depth);

describe('garbage JSON', () => {
  it('random bytes labelled application/json: FORGE_ERROR malformed JSON', async () => {
    gl.faults.inject(RELEASE, [{ status: 200, headers: { 'content-type': 'application/json' }, body: randomBytes(4096).toString('latin1') }]);
    expectForgeError((await run('v1.0.0')).report, /malformed JSON/);
  });

  it('valid JSON of the wrong type (a number, a string, null): FORGE_ERROR', async () => {
    for (const body of ['12345', '"v1.0.0"', 'null']) {
      gl.faults.clear();
      gl.faults.inject(RELEASE, [{ status: 200, headers: { 'content-type': 'application/json' }, body }]);
      const { report } = await run('v1.0.0');
      expect(
        report.findings.map((f) => f.code),
        body,
      ).toEqual(['FORGE_ERROR']);
    }
  });
});

describe('deep JSON', () => {
  it('a million levels where a string is expected: FORGE_ERROR, no stack overflow, bounded time', async () => {
    const real = (await (await fetch(`${gl.url}${RELEASE}`)).text()).replace(/"name":"[^"]*"/, `"name":${deep(1_000_000)}`);
    expect(real.length).toBeGreaterThan(2_000_000);
    gl.faults.inject(RELEASE, [{ status: 200, headers: { 'content-type': 'application/json' }, body: real }]);
    const { report, ms } = await run('v1.0.0');
    expectForgeError(report, /name/);
    expect(ms).toBeLessThan(20_000);
  });

  it('deep nesting in a field the verifier does not read is ignored: the release is found', async () => {
    const real = (await (await fetch(`${gl.url}${RELEASE}`)).text()).replace(
      /"description":"[^"]*"/,
      `"description":${deep(200_000)},"__proto__":{"polluted":true}`,
    );
    expect(real.length).toBeGreaterThan(400_000); // the nesting is really in the answer
    gl.faults.inject(RELEASE, [{ status: 200, headers: { 'content-type': 'application/json' }, body: real }]);
    const { report } = await run('v1.0.0');
    expect(report.release?.tag).toBe('v1.0.0');
    expect(report.findings.map((f) => f.code)).not.toContain('FORGE_ERROR');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('huge lists', () => {
  it('an API answer over 16 MiB is refused while reading (no Content-Length) and from its header', async () => {
    const entry = JSON.stringify({
      tag_name: 'v0.0.1',
      commit: { id: fakeSha('x') },
      assets: { count: 0, sources: [], links: [] },
      released_at: new Date(0).toISOString(),
    });
    const huge = `[${Array.from({ length: Math.ceil((17 * 1024 * 1024) / entry.length) }, () => entry).join(',')}]`;
    // announced: refused from the Content-Length
    gl.faults.inject(/\/releases\?/, [{ status: 200, headers: { 'content-type': 'application/json' }, body: huge }]);
    expectForgeError((await run()).report, /is \d+ bytes, over 16777216/);
    // not announced (streamed): cut off as soon as the count passes the bound
    gl.faults.clear();
    gl.faults.inject(/\/releases\?/, [{ stream: 64 * 1024 * 1024 }]);
    expectForgeError((await run()).report, /exceeds 16777216 bytes/);
  });

  it('more links than the bound (2000, over 21 pages): refused, never a shortened list', async () => {
    for (let i = 0; i < 2001; i += 1) gl.model.addLink(project, 'v1.0.0', { name: `extra-${i}`, url: `${gl.url}/files/extra-${i}` });
    const { report, ms } = await run('v1.0.0');
    expectForgeError(report, /more than 2000 asset links; refusing a partial list/);
    expect(ms).toBeLessThan(30_000);
  });
});

describe('endless pagination', () => {
  it('short pages that always name a next page: refused after 64 requests', async () => {
    const next = `<${gl.url}${RELEASE}/assets/links?page=2&per_page=100>; rel="next"`;
    const rule = gl.faults.inject(
      /\/releases\/v1\.0\.0\/assets\/links/,
      [{ status: 200, headers: { link: next, 'x-next-page': '2' }, body: [{ id: 1, name: 'a', url: `${gl.url}/files/a`, link_type: 'other' }] }],
      { repeatLast: true },
    );
    expectForgeError((await run('v1.0.0')).report, /kept paginating .* past 64 pages/);
    expect(rule.hits).toBe(64);
  });
});
