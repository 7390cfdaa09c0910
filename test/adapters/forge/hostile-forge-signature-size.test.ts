/**
 * Issue 9 item 7: a signature or manifest download is bounded at its format's limit while it
 * streams. A 1 GiB `.minisig` (generated on the fly, no Content-Length) is cut off just past the
 * minisign limit — the server gets to push little more than the socket buffers hold — and reported
 * DOWNLOAD_TOO_LARGE; an announced oversize one is refused from its headers, without reading a
 * byte of it. The genuine signature (made by the minisign tool) still verifies through the same path.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeSha, startGitLabStandIn, type GitLabStandIn, type StandInProject } from '../../../demo/gitlab-standin';
import { GitLabForge } from '../../../lambda/adapters/forge/gitlab-forge';
import { MANIFEST_DOWNLOAD_LIMIT, signatureDownloadLimit } from '../../../lambda/core/companion-limits';
import { runVerification } from '../../../lambda/core/run/in-process';
import { MAX_SIGNATURE_FILE_BYTES } from '../../../lambda/formats/minisign';
import { MAX_OPENPGP_SIGNATURE_BYTES } from '../../../lambda/formats/openpgp';
import { MAX_BUNDLE_BYTES } from '../../../lambda/formats/sigstore';
import { minisignKeygen, minisignSign, minisignVerdict, type MinisignKey } from '../../formats/support/signing-fixtures';
import { toolsAvailable } from '../../support/tools';
import { hostileConfig, hostilePorts } from './hostile-forge-support';

const GiB = 1024 ** 3;

/** A foreign host that streams `size` bytes per request, lazily, honouring back-pressure, and counts what it managed to write. */
async function startBigHost(): Promise<{ url: string; host: string; sent: Map<string, number>; close(): Promise<void> }> {
  const sent = new Map<string, number>();
  const sockets = new Set<Socket>();
  const chunk = Buffer.alloc(64 * 1024, 0x52);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const announce = path.includes('announced');
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...(announce ? { 'content-length': String(GiB) } : {}) });
    let left = GiB;
    sent.set(path, 0);
    const pump = () => {
      while (left > 0 && !res.destroyed) {
        left -= chunk.length;
        sent.set(path, sent.get(path)! + chunk.length);
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    res.on('close', () => (left = 0));
    pump();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    sent,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

describe("companion download limits are the format modules' own", () => {
  it('minisign, OpenPGP, sigstore, manifest', () => {
    expect(signatureDownloadLimit('minisign')).toBe(MAX_SIGNATURE_FILE_BYTES);
    expect(signatureDownloadLimit('openpgp')).toBe(MAX_OPENPGP_SIGNATURE_BYTES);
    expect(signatureDownloadLimit('sigstore')).toBe(MAX_BUNDLE_BYTES);
    expect(signatureDownloadLimit('tauri')).toBeLessThan(32 * 1024);
    expect(signatureDownloadLimit('authenticode')).toBeUndefined();
    expect(MANIFEST_DOWNLOAD_LIMIT).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
});

describe.skipIf(!toolsAvailable('minisign'))('a 1 GiB signature from a hostile forge', () => {
  let gl: GitLabStandIn;
  let big: Awaited<ReturnType<typeof startBigHost>>;
  let project: StandInProject;
  let dir: string;
  let key: MinisignKey;
  const APP = Buffer.from('the published app\n'.repeat(1000));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-sigsize-'));
    key = minisignKeygen(dir, 'release');
    writeFileSync(join(dir, 'app'), APP);
    const genuine = readFileSync(minisignSign(key, join(dir, 'app')));
    expect(minisignVerdict(key.pubPath, join(dir, 'app'), join(dir, 'app.minisig'))).toBe(true);
    gl = await startGitLabStandIn();
    big = await startBigHost();
    project = gl.model.addProject({ path: 'group/app', id: 21 });
    gl.model.publishRelease(project, {
      tag: 'v1.0.0',
      commitSha: fakeSha('c1'),
      assets: [
        { name: 'app', bytes: APP },
        { name: 'app.minisig', bytes: genuine },
      ],
    });
    gl.model.publishRelease(project, { tag: 'v1.0.1', commitSha: fakeSha('c2'), assets: [{ name: 'app', bytes: APP }] });
    gl.model.addLink(project, 'v1.0.1', { name: 'app.minisig', url: `${big.url}/streamed/app.minisig` });
    gl.model.publishRelease(project, { tag: 'v1.0.2', commitSha: fakeSha('c3'), assets: [{ name: 'app', bytes: APP }] });
    gl.model.addLink(project, 'v1.0.2', { name: 'app.minisig', url: `${big.url}/announced/app.minisig` });
  });
  afterAll(async () => {
    await gl?.close();
    await big?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const verifyTag = async (tag: string) => {
    const config = hostileConfig(gl.url, project.path, [{ path: 'dist/app', asset: 'app', signature: { scheme: 'minisign', publicKey: key.pubText } }], {
      gitlab: { url: gl.url, project: project.path, allowedAssetHosts: [big.host] },
      // the asset limit stays large: only the signature's own limit may stop a 1 GiB .minisig
      limits: { maxAssetBytes: 4 * GiB, downloadTimeoutSeconds: 60, parallelBuilds: 1 },
    });
    const forge = new GitLabForge({ url: gl.url, project: project.path, allowedAssetHosts: [big.host], retry: { attempts: 1 } });
    const t0 = Date.now();
    const { report } = await runVerification(config, hostilePorts(forge, join(dir, `store-${tag}`)), { tag });
    expect(report.targets[0]?.artifacts[0], JSON.stringify(report.findings)).toBeDefined();
    return { report, ms: Date.now() - t0, artifact: report.targets[0]!.artifacts[0]! };
  };

  it('the genuine signature verifies through the same bounded path', async () => {
    const { artifact } = await verifyTag('v1.0.0');
    expect(artifact.signature).toMatchObject({ scheme: 'minisign', valid: true });
  });

  it('streamed (no Content-Length): cut off just past the minisign limit, DOWNLOAD_TOO_LARGE', async () => {
    const { report, artifact, ms } = await verifyTag('v1.0.1');
    expect(report.verdict).toBe('INCOMPLETE');
    const f = artifact.findings.find((x) => x.code === 'DOWNLOAD_TOO_LARGE');
    expect(f?.message, JSON.stringify(artifact.findings)).toMatch(new RegExp(`signature app\\.minisig.*${MAX_SIGNATURE_FILE_BYTES}`));
    expect(artifact.signature?.valid).toBe(false);
    // the server pushed the limit plus what loopback socket buffers absorb, never the gigabyte
    const pushed = big.sent.get('/streamed/app.minisig')!;
    expect(pushed).toBeGreaterThan(MAX_SIGNATURE_FILE_BYTES);
    expect(pushed).toBeLessThan(32 * 1024 * 1024);
    expect(ms).toBeLessThan(15_000);
  });

  it('announced (Content-Length 1 GiB): refused from the headers', async () => {
    const { artifact } = await verifyTag('v1.0.2');
    const f = artifact.findings.find((x) => x.code === 'DOWNLOAD_TOO_LARGE');
    expect(f?.message, JSON.stringify(artifact.findings)).toMatch(/is 1073741824 bytes, over the limit of 16384/);
    expect(big.sent.get('/announced/app.minisig')!).toBeLessThan(32 * 1024 * 1024);
  });
});
