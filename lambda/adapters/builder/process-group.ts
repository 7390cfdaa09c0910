/**
 * Runs one build command as the leader of its own process group and session, and makes sure that
 * nothing it started outlives it.
 *
 * A build is untrusted and may leave processes behind (`setsid daemon &`) that keep its stdout and
 * stderr open forever. So: we stop waiting for output a short grace after the main process exits;
 * at the end and at the timeout the whole group gets SIGTERM, then SIGKILL after a grace; and
 * processes that left the group with `setsid` are found by a marker variable in their environment
 * (best effort — a process can exec with a clean environment; the bubblewrap sandbox's PID
 * namespace is what makes this airtight, see bwrap.ts).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';

export type GroupEnd = 'EXITED' | 'TIMED_OUT' | 'STOPPED' | 'SPAWN_FAILED';

export interface GroupRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  /** each chunk of stdout/stderr, as it comes */
  onOutput: (chunk: Buffer) => void;
  /** how long to keep reading output after the main process exited. @default 2000 */
  outputGraceMs?: number;
  /** how long between SIGTERM and SIGKILL. @default 3000 */
  killGraceMs?: number;
  /** `NAME=value` present in the environment of every process of this build (see `leftoverPids`) */
  marker?: string;
  /** called once, before the group is signalled at a timeout or stop (e.g. `docker rm -f`) */
  onKill?: () => void;
}

export interface GroupRunResult {
  end: GroupEnd;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the main process exited but its output stayed open past the grace (a process left behind held it) */
  outputHeld: boolean;
  /** processes still alive after the main process exited that had to be killed */
  leftovers: number;
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Groups of builds still running. If the verifier exits anyway (a run deadline, a fatal error), they
 * are killed on the way out: a detached group would otherwise outlive us. */
const liveGroups = new Set<number>();
let exitHook = false;
function track(pgid: number): void {
  liveGroups.add(pgid);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const g of liveGroups) signalGroup(g, 'SIGKILL');
  });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    // EPERM: members exist but belong to someone else (cannot happen for our own build; count as alive)
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* the group is gone */
  }
}

/** Live processes whose environment carries `marker` (`NAME=value`), other than ourselves. Linux only; [] elsewhere. */
export function leftoverPids(marker: string): number[] {
  const needle = Buffer.from(`\0${marker}\0`);
  const first = Buffer.from(`${marker}\0`);
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`);
      if (env.includes(needle) || env.subarray(0, first.length).equals(first)) found.push(Number(name));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

/** SIGTERM, then SIGKILL after `graceMs`, to the group and to marked processes; resolves once none is left (or after the SIGKILL). */
async function terminate(pgid: number, marker: string | undefined, graceMs: number): Promise<number> {
  const marked = () => (marker ? leftoverPids(marker) : []);
  const alive = () => groupAlive(pgid) || marked().length > 0;
  if (!alive()) return 0;
  const count = Math.max(1, marked().length);
  const send = (sig: NodeJS.Signals) => {
    signalGroup(pgid, sig);
    for (const pid of marked()) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  send('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(50);
    if (!alive()) return count;
  }
  send('SIGKILL');
  // a marked process may be mid-fork; a second pass catches its children
  await sleep(50);
  send('SIGKILL');
  return count;
}

export function runProcessGroup(cmd: string, args: string[], options: GroupRunOptions): Promise<GroupRunResult> {
  const outputGraceMs = options.outputGraceMs ?? 2000;
  const killGraceMs = options.killGraceMs ?? 3000;
  return new Promise((resolve) => {
    // detached: the child calls setsid(), so it leads a new session and process group (pgid = its pid)
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const streams: Readable[] = [child.stdout, child.stderr];
    for (const s of streams) s.on('data', options.onOutput);

    if (child.pid !== undefined) track(child.pid);
    let end: GroupEnd | undefined;
    let exited = false;
    let killing: Promise<number> | undefined;
    const pgid = child.pid;
    const kill = (why: 'TIMED_OUT' | 'STOPPED') => {
      if (end || exited || pgid === undefined) return;
      end = why;
      try {
        options.onKill?.();
      } catch {
        /* best effort */
      }
      killing = terminate(pgid, options.marker, killGraceMs);
    };
    const timer = setTimeout(() => kill('TIMED_OUT'), options.timeoutMs);
    const onAbort = () => kill('STOPPED');
    if (options.signal?.aborted) queueMicrotask(onAbort);
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    let settled = false;
    const settle = (r: GroupRunResult) => {
      if (settled) return;
      settled = true;
      if (pgid !== undefined) liveGroups.delete(pgid); // already killed; never signal a pgid that may be reused
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };

    child.on('error', (err) => {
      for (const s of streams) s.destroy();
      settle({ end: 'SPAWN_FAILED', code: null, signal: null, outputHeld: false, leftovers: 0, error: err.message });
    });

    // 'exit', not 'close': 'close' waits for every holder of the pipes, which a left-behind process can be forever.
    child.on('exit', (code, sig) => {
      exited = true;
      clearTimeout(timer);
      void (async () => {
        const closed = Promise.all(streams.map((s) => (s.closed ? undefined : new Promise<void>((r) => s.once('close', () => r())))));
        let graceTimer: NodeJS.Timeout | undefined;
        const held = await Promise.race([closed.then(() => false), new Promise<boolean>((r) => (graceTimer = setTimeout(() => r(true), outputGraceMs)))]);
        clearTimeout(graceTimer);
        if (held) for (const s of streams) s.destroy();
        // whatever is left of the build goes now, main process gone or not
        const leftovers = pgid === undefined ? 0 : await (killing ?? terminate(pgid, options.marker, killGraceMs));
        settle({ end: end ?? 'EXITED', code, signal: sig, outputHeld: held, leftovers: killing ? 0 : leftovers });
      })();
    });
  });
}
