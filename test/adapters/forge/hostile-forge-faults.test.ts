/**
 * The forge rows of the fault table (.notes/fault-table-forge.md), each through a whole run
 * (runVerification on the real GitLabForge against the stand-in): the fault, the verdict and the
 * finding code it yields. API faults strike the release request (the run cannot be planned);
 * download faults strike the published asset (the target cannot be checked). Always INCOMPLETE —
 * a forge that misbehaves is never evidence of a good release, nor of tampering.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fakeSha,
  startAssetHost,
  startGitLabStandIn,
  type AssetHost,
  type FaultStep,
  type GitLabStandIn,
  type StandInProject,
} from '../../../demo/gitlab-standin';
import { GitLabForge } from '../../../lambda/adapters/forge/gitlab-forge';
import type { FindingCode } from '../../../lambda/core/findings';
import { runVerification } from '../../../lambda/core/run/in-process';
import { hostileConfig, hostilePorts } from './hostile-forge-support';

let gl: GitLabStandIn;
let foreign: AssetHost;
let project: StandInProject;
let dir: string;
let n = 0;
const APP = Buffer.alloc(50_000, 0x61);
const RELEASE = '/api/v4/projects/group%2Fapp/releases/v1.0.0';
const ASSET = '/api/v4/projects/51/packages/generic/app/1.0.0/app';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-faults-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));
beforeEach(async () => {
  gl = await startGitLabStandIn();
  foreign = await startAssetHost();
  project = gl.model.addProject({ path: 'group/app', id: 51 });
  gl.model.publishRelease(project, { tag: 'v1.0.0', commitSha: fakeSha('c1'), assets: [{ name: 'app', bytes: APP }] });
});
afterEach(async () => {
  await gl.close();
  await foreign.close();
});

async function run(maxAssetBytes = 1_000_000) {
  const config = hostileConfig(gl.url, project.path, [{ path: 'dist/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }], {
    limits: { maxAssetBytes, downloadTimeoutSeconds: 1, parallelBuilds: 1 },
  });
  const forge = new GitLabForge({ url: gl.url, project: project.path, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 }, requestTimeoutMs: 500 });
  const t0 = Date.now();
  const { report } = await runVerification(config, hostilePorts(forge, join(dir, `store-${++n}`)), { tag: 'v1.0.0', deadlineMs: 30_000 });
  return { report, ms: Date.now() - t0 };
}

type Row = [name: string, code: FindingCode, fault: () => FaultStep, message: RegExp];

const API_ROWS: Row[] = [
  ['5xx (every attempt)', 'FORGE_ERROR', () => ({ status: 503, body: { message: '503 Service Unavailable' } }), /HTTP 503.*gave up after 2 attempts/],
  [
    '429 (every attempt)',
    'FORGE_ERROR',
    () => ({ status: 429, headers: { 'retry-after': '0' }, body: { message: 'Retry later' } }),
    /rate-limited \(HTTP 429\)/,
  ],
  ['hang (accepts, never answers)', 'FORGE_UNREACHABLE', () => ({ hang: true }), /did not answer .* within 500 ms/],
  ['trickle (a byte at a time)', 'FORGE_UNREACHABLE', () => ({ trickle: true, intervalMs: 100 }), /did not answer .* within 500 ms/],
  ['truncated body', 'FORGE_ERROR', () => ({ cut: true, contentLength: 100_000, send: 100 }), /was cut off/],
  // announced here (the 500 ms request timeout is for the hang rows); streamed: hostile-forge-json.test.ts
  ['oversize answer', 'FORGE_ERROR', () => ({ stream: 20 * 1024 * 1024, contentLength: true }), /is 20971520 bytes, over 16777216/],
  ['foreign redirect', 'FORGE_ERROR', () => ({ redirect: `${foreign.url}/api/v4/projects/51/releases/v1.0.0` }), /redirected to another origin/],
];

const DOWNLOAD_ROWS: Row[] = [
  ['5xx (every attempt)', 'DOWNLOAD_FAILED', () => ({ status: 502, body: 'bad gateway' }), /HTTP 502.*gave up after 2 attempts/],
  ['429 (every attempt)', 'DOWNLOAD_FAILED', () => ({ status: 429, headers: { 'retry-after': '0' }, body: 'slow down' }), /rate-limited \(HTTP 429\)/],
  ['hang (accepts, never answers)', 'FORGE_UNREACHABLE', () => ({ hang: true }), /did not finish within 1 s/],
  ['trickle (a byte at a time)', 'FORGE_UNREACHABLE', () => ({ trickle: true, intervalMs: 100 }), /did not finish within 1 s/],
  ['truncated body', 'DOWNLOAD_FAILED', () => ({ cut: true, contentLength: APP.length, send: 20_000 }), /cut off|announced/],
  ['oversize (over maxAssetBytes, not announced)', 'DOWNLOAD_TOO_LARGE', () => ({ stream: 30_000_000 }), /sent more than the limit of 1000000 bytes/],
  ['foreign redirect', 'DOWNLOAD_REFUSED', () => ({ redirect: `${foreign.url}/app` }), /neither the GitLab host nor in gitlab.allowedAssetHosts/],
];

describe('API faults (the release request): the run cannot be planned', () => {
  it.each(API_ROWS)('%s → INCOMPLETE %s', async (_name, code, fault, message) => {
    gl.faults.inject(RELEASE, [fault()], { repeatLast: true });
    const { report, ms } = await run();
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.findings.map((f) => f.code)).toEqual([code]);
    expect(report.findings[0]!.message).toMatch(message);
    expect(ms).toBeLessThan(15_000);
  });
});

describe('download faults (the published asset): the target cannot be checked', () => {
  it.each(DOWNLOAD_ROWS)('%s → INCOMPLETE %s', async (_name, code, fault, message) => {
    gl.faults.inject(ASSET, [fault()], { repeatLast: true });
    const { report, ms } = await run();
    expect(report.verdict).toBe('INCOMPLETE');
    const artifact = report.targets[0]!.artifacts[0]!;
    const f = artifact.findings.find((x) => x.code !== 'NOT_CHECKED');
    expect(f?.code, JSON.stringify(artifact.findings)).toBe(code);
    expect(f!.message).toMatch(message);
    expect(artifact.published).toBeUndefined();
    expect(foreign.requests).toEqual([]); // nothing ever reached the foreign host
    expect(ms).toBeLessThan(15_000);
  });

  it('control: without a fault the asset downloads whole', async () => {
    const { report } = await run();
    expect(report.targets[0]!.artifacts[0]!.published?.size).toBe(APP.length);
  });
});
