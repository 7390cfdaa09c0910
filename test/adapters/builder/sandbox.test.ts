/**
 * Issue 9 item 3, for real with bubblewrap: a hostile build tries to read the token from its
 * parents' environments, to write outside its checkout, and to reach the network with
 * `network: none` — each attempt fails inside the sandbox while the build's normal output works.
 * Each attempt is also made by the same build on the host (--unsafe-host-build) or with the
 * network allowed, where it succeeds: the test can tell a blocked attempt from a broken one.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bwrapArgs } from '../../../lambda/adapters/builder/bwrap';
import { bwrapReady, buildInVerifierProcess, makeRepo, type DriverResult } from './sandbox-support';

const ready = bwrapReady();
const repo = makeRepo();
const cleanup: string[] = [repo.repo];
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});
const run = async (input: Omit<Parameters<typeof buildInVerifierProcess>[0], 'repo' | 'sha'>): Promise<DriverResult> => {
  const r = await buildInVerifierProcess({ ...repo, ...input });
  cleanup.push(r.root);
  return r;
};
const out = (r: DriverResult, name: string) => readFileSync(join(r.src, 'out', name), 'utf8');
const secret = () => `glpat-sandbox-${Math.random().toString(36).slice(2)}`;

describe.skipIf(!ready)('the bubblewrap build sandbox', () => {
  /** every environ on the way up from the build, then every environ it can see at all */
  const readParents = [
    'mkdir -p out; : > out/found',
    'p=$$; while [ -n "$p" ] && [ "$p" -gt 0 ]; do cat /proc/$p/environ >> out/found 2>/dev/null; p=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status 2>/dev/null); done',
    'for e in /proc/[0-9]*/environ; do cat "$e" >> out/found 2>/dev/null; done',
    'echo built > out/app',
  ].join('\n');

  it('a build cannot read the token from its parents’ /proc/<pid>/environ (on the host it can)', { timeout: 30_000 }, async () => {
    const token = secret();
    const sandboxed = await run({ command: readParents, secret: token });
    expect(sandboxed.status).toBe('SUCCEEDED');
    expect(out(sandboxed, 'app')).toBe('built\n');
    const seen = out(sandboxed, 'found');
    expect(seen).toContain('RELVERIFY_TARGET=linux'); // it did read environments: its own
    expect(seen).not.toContain(token);

    const host = await run({ command: readParents, secret: token, unsafeHost: true });
    expect(host.status).toBe('SUCCEEDED');
    expect(out(host, 'found')).toContain(`GITLAB_TOKEN=${token}`);
  });

  describe('writes outside the checkout', () => {
    // a directory the sandbox shows read-only (the store's kind of place: under the project), one under /tmp, the verifier's home
    let storeDir: string;
    let tmpTarget: string;
    let homeTarget: string;
    beforeAll(() => {
      storeDir = mkdtempSync(join(process.cwd(), 'node_modules', '.sandbox-store-'));
      tmpTarget = join(tmpdir(), `sandbox-escape-${Math.random().toString(36).slice(2)}`);
      homeTarget = join(homedir(), `.sandbox-escape-${Math.random().toString(36).slice(2)}`);
      cleanup.push(storeDir, tmpTarget, homeTarget);
    });
    const attempt = () =>
      [
        'mkdir -p out',
        `for f in "$T_TMP" "$T_HOME" "$T_STORE/x" /usr/sandbox-x /sandbox-x; do if echo pwned > "$f" 2>/dev/null; then echo "wrote $f"; else echo "refused $f"; fi; done > out/attempts`,
        'echo scratch > "$HOME/ok" && cat "$HOME/ok" > out/scratch',
        'echo built > out/app',
      ].join('\n');
    const env = () => ({ T_TMP: tmpTarget, T_HOME: homeTarget, T_STORE: storeDir });

    it('fail in the sandbox (the host’s /tmp, the verifier’s $HOME, the store, system directories) while the checkout and scratch work', {
      timeout: 30_000,
    }, async () => {
      const r = await run({ command: attempt(), secret: secret(), env: env() });
      expect(r.status).toBe('SUCCEEDED');
      expect(out(r, 'app')).toBe('built\n');
      expect(out(r, 'scratch')).toBe('scratch\n');
      // /tmp inside is the build's own scratch directory: the write lands there, never in the host's /tmp
      const attempts = out(r, 'attempts')
        .split('\n')
        .filter((l) => !l.endsWith(` ${tmpTarget}`));
      expect(attempts.filter(Boolean)).toEqual([`refused ${homeTarget}`, `refused ${storeDir}/x`, 'refused /usr/sandbox-x', 'refused /sandbox-x']);
      expect(existsSync(tmpTarget)).toBe(false);
      expect(existsSync(homeTarget)).toBe(false);
      expect(existsSync(join(storeDir, 'x'))).toBe(false);
    });

    it('succeed on the host (so the test above can fail)', { timeout: 30_000 }, async () => {
      const r = await run({ command: attempt(), secret: secret(), env: env(), unsafeHost: true });
      expect(r.status).toBe('SUCCEEDED');
      expect(out(r, 'attempts')).toContain(`wrote ${tmpTarget}`);
      expect(readFileSync(tmpTarget, 'utf8')).toBe('pwned\n');
      expect(readFileSync(homeTarget, 'utf8')).toBe('pwned\n');
      expect(readFileSync(join(storeDir, 'x'), 'utf8')).toBe('pwned\n');
    });
  });

  describe('network', () => {
    let server: Server;
    let port: number;
    let connections = 0;
    beforeAll(async () => {
      server = createServer((s) => {
        connections++;
        s.end('hello from the host\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const connect = () =>
      `mkdir -p out; node -e 'const s=require("net").connect(${port},"127.0.0.1");s.on("data",d=>{console.log("CONNECTED "+d);process.exit(0)});s.on("error",e=>{console.log("FAILED "+e.code);process.exit(0)})' > out/net; echo built > out/app`;

    it('with `network: none` the build cannot reach a server on the host’s loopback', { timeout: 30_000 }, async () => {
      const before = connections;
      const r = await run({ command: connect(), secret: secret(), network: 'none' });
      expect(r.status).toBe('SUCCEEDED');
      expect(out(r, 'app')).toBe('built\n');
      expect(out(r, 'net')).toMatch(/^FAILED E/);
      expect(connections).toBe(before);
    });

    it('with the default network it can (so the test above can fail)', { timeout: 30_000 }, async () => {
      const before = connections;
      const r = await run({ command: connect(), secret: secret() });
      expect(out(r, 'net')).toContain('CONNECTED hello from the host');
      expect(connections).toBe(before + 1);
    });
  });

  it('gives the build no capabilities, a PID namespace of its own, a read-only root and an environment of exactly the build variables', {
    timeout: 30_000,
  }, async () => {
    const r = await run({
      command:
        'mkdir -p out; grep CapEff /proc/self/status > out/caps; ls /proc | grep -c "^[0-9]" > out/procs; env | sort > out/env; touch /x 2>/dev/null && echo writable > out/root || echo read-only > out/root; echo built > out/app',
      secret: secret(),
    });
    expect(r.status).toBe('SUCCEEDED');
    expect(out(r, 'caps')).toMatch(/CapEff:\s+0+\n/);
    expect(Number(out(r, 'procs'))).toBeLessThan(10); // bwrap, sh, a few tools — not the host's processes
    expect(out(r, 'root')).toBe('read-only\n');
    const names = out(r, 'env')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('=')[0])
      .filter((n) => !['PWD', 'SHLVL', 'OLDPWD', '_'].includes(n!));
    expect(names.sort()).toEqual(['HOME', 'LANG', 'PATH', 'RELVERIFY_COMMIT', 'RELVERIFY_TAG', 'RELVERIFY_TARGET', 'RELVERIFY_VERSION', 'SOURCE_DATE_EPOCH']);
  });

  it('hides the places users and services keep secrets: /home, /root, /run (docker.sock), /tmp of the host', () => {
    const args = bwrapArgs({ src: '/s', scratch: '/t', env: {}, network: 'default', command: 'true' });
    const mounted = args.flatMap((a, i) => (['--ro-bind', '--bind', '--ro-bind-try'].includes(args[i - 1] ?? '') ? [a] : []));
    for (const hidden of ['/home', '/root', '/run', '/var/run', '/tmp', '/proc', '/dev']) expect(mounted).not.toContain(hidden);
    expect(args).toEqual(
      expect.arrayContaining(['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session', '--clearenv']),
    );
    expect(args.slice(args.indexOf('--remount-ro'), args.indexOf('--remount-ro') + 2)).toEqual(['--remount-ro', '/']);
    expect(bwrapArgs({ src: '/s', scratch: '/t', env: {}, network: 'none', command: 'true' })).toContain('--unshare-net');
    expect(args).not.toContain('--unshare-net');
  });
});
