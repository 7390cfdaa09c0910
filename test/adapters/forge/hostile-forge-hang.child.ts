/**
 * Child process of hostile-forge-hang.test.ts, run as `node --expose-gc --import tsx`: many
 * concurrent GitLab requests and downloads against loopback servers that accept and never answer,
 * or trickle a byte at a time, with a full GC every few milliseconds (on Node 20 that collects an
 * `AbortSignal.timeout` inside `AbortSignal.any` before it fires). Prints one JSON line: how each
 * call ended and how long it took; a call still pending at the sentinel counts as hung.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitLabForge } from '../../../lambda/adapters/forge/gitlab-forge';
import { safeDownload } from '../../../lambda/adapters/forge/safe-download';

const TIMEOUT_MS = Number(process.env.HANG_TIMEOUT_MS ?? 300);
const SENTINEL_MS = Number(process.env.HANG_SENTINEL_MS ?? 8_000);
const N = Number(process.env.HANG_N ?? 40);

async function serve(mode: 'silent' | 'trickle'): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    if (mode === 'silent') return; // accepted, never answered
    res.writeHead(200, { 'content-type': 'application/json' });
    const t = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(t));
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const pressure = setInterval(gc, 20);

const silent = await serve('silent');
const trickle = await serve('trickle');
const dir = await mkdtemp(join(tmpdir(), 'hang-child-'));

type Outcome = { what: string; ended: string; ms: number };
async function timed(what: string, call: () => Promise<unknown>): Promise<Outcome> {
  const t0 = Date.now();
  let sentinel: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((r) => (sentinel = setTimeout(() => r('HUNG'), SENTINEL_MS)));
  const ended = await Promise.race([
    call().then(
      () => 'ok',
      (e: { kind?: string; message?: string }) => e.kind ?? `untyped: ${e.message}`,
    ),
    hung,
  ]);
  clearTimeout(sentinel);
  return { what, ended, ms: Date.now() - t0 };
}

const forgeFor = (url: string) => new GitLabForge({ url, project: 'group/app', requestTimeoutMs: TIMEOUT_MS, retry: { attempts: 1 } });
const calls: Promise<Outcome>[] = [];
for (let i = 0; i < N; i += 1) {
  calls.push(timed('api-silent', () => forgeFor(silent.url).getRelease(i % 2 ? 'v1.0.0' : undefined)));
  if (i % 4 === 0) calls.push(timed('api-trickle', () => forgeFor(trickle.url).getRelease('v1.0.0')));
  if (i % 4 === 1)
    calls.push(
      timed('download-silent', () =>
        safeDownload(`${silent.url}/a.bin`, join(dir, `s-${i}`), { maxBytes: 1e6, timeoutMs: TIMEOUT_MS }, { gitlabUrl: silent.url, retry: { attempts: 1 } }),
      ),
    );
  if (i % 4 === 2)
    calls.push(
      timed('download-trickle', () =>
        safeDownload(`${trickle.url}/a.bin`, join(dir, `t-${i}`), { maxBytes: 1e6, timeoutMs: TIMEOUT_MS }, { gitlabUrl: trickle.url, retry: { attempts: 1 } }),
      ),
    );
}
const outcomes = await Promise.all(calls);
clearInterval(pressure);
silent.close();
trickle.close();
await rm(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ node: process.version, outcomes }) + '\n');
process.exit(0);
