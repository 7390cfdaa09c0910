/**
 * The local builder: one fresh temporary directory per target, a clone of the project checked out
 * at the exact commit SHA (and checked), a minimal environment (no token, no host credentials, no
 * inherited variables), the build command under a timeout, and read access to what it produced.
 *
 * Isolation (sandbox.ts): with a Docker engine the command runs inside the digest-pinned image
 * (`docker run --rm … image@sha256:…`). Without one it runs in the bubblewrap sandbox (bwrap.ts) with
 * the host toolchain; the report then carries an IMAGE_NOT_ENFORCED notice, because the host
 * toolchain — not the pinned image — built it. Without either the build is refused
 * (BuildNotSandboxedError → BUILD_NOT_SANDBOXED) unless `unsafeHostBuild` allows a bare host process.
 *
 * Every build is its own process group and session; it is killed as a whole at the end and at the
 * timeout, and output held open by something it left behind does not hold the run (process-group.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildError, errorMessage } from '../../core/errors';
import type { Builder, BuildRequest, BuildResult, BuildSandbox, BuildStatus } from '../../core/ports';
import { bwrapArgs, SANDBOX_SCRATCH } from './bwrap';
import { LocalArtifactSource } from './local-artifacts';
import { runProcessGroup, type GroupRunResult } from './process-group';
import { chooseIsolation, type Isolation } from './sandbox';

export interface LocalBuilderOptions {
  /** parent of the per-target build directories. @default os.tmpdir() */
  workRoot?: string;
  /** run inside the pinned image with `docker run`: 'auto' uses Docker when an engine answers. @default 'auto' */
  docker?: 'auto' | 'always' | 'never';
  /** keep build directories after `dispose()` (for inspection). @default false */
  keep?: boolean;
  /** PATH given to a build run without Docker. @default the host PATH */
  path?: string;
  /** limit for `git clone`/`checkout`. @default 10 minutes */
  gitTimeoutMs?: number;
  /** caps every target's `timeoutMinutes` (tests, demos). @default no cap */
  maxTimeoutMs?: number;
  /** build as a bare host process when neither Docker nor bubblewrap can be used (`--unsafe-host-build`). @default false */
  unsafeHostBuild?: boolean;
  /** the bubblewrap executable. @default 'bwrap' (on the verifier's PATH) */
  bwrap?: string;
  /** how long output may stay open after the build's main process exited. @default 2000 */
  outputGraceMs?: number;
  /** between SIGTERM and SIGKILL to the build's processes. @default 3000 */
  killGraceMs?: number;
  /** a build's log kept on disk at most. @default 64 MiB */
  maxLogBytes?: number;
}

const GIT_ENV = (home: string, path: string): NodeJS.ProcessEnv => ({
  PATH: path,
  HOME: home,
  LANG: 'C.UTF-8',
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_ASKPASS: '/bin/false',
});

const MAX_LOG_BYTES = 64 * 1024 * 1024;

let dockerAnswer: boolean | undefined;
/** True when a Docker engine (not just the CLI) answers. */
export function dockerEngineAvailable(): boolean {
  if (dockerAnswer === undefined) {
    const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    dockerAnswer = r.status === 0 && r.stdout.toString().trim().length > 0;
  }
  return dockerAnswer;
}

function runGit(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): string {
  // `-c credential.helper=` so no host credential store is consulted; protocol.file only for local clones.
  const r = spawnSync('git', ['-c', 'credential.helper=', '-c', 'core.hooksPath=/dev/null', ...args], {
    cwd,
    env,
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw new BuildError(`git ${args[0]} failed: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new BuildError(`git ${args[0]} failed: ${r.stderr.toString().trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout.toString().trim();
}

const IMAGE_NOTE: Record<Exclude<Isolation, 'docker'>, (image: string) => string> = {
  bubblewrap: (image) => `no Docker engine: built in a bubblewrap sandbox with the host toolchain, not in ${image}`,
  host: (image) => `no Docker engine and no sandbox: built by a bare host process (--unsafe-host-build) with the host toolchain, not in ${image}`,
};

/** carried by every result: whoever checks it sees an unsandboxed build (BUILD_NOT_SANDBOXED) */
const SANDBOX_OF: Record<Isolation, BuildSandbox> = { docker: 'docker', bubblewrap: 'bwrap', host: 'none' };

/** Clones the source and checks out the commit; what HEAD is then, and its commit time (throws on a git failure). */
function checkoutCommit(request: BuildRequest, root: string, src: string, gitEnv: NodeJS.ProcessEnv, gitTimeout: number) {
  runGit(['clone', '--quiet', '--no-checkout', '--', request.cloneUrl, src], root, gitEnv, gitTimeout);
  runGit(['checkout', '--quiet', '--detach', request.commitSha], src, gitEnv, gitTimeout);
  const checkedOutSha = runGit(['rev-parse', 'HEAD'], src, gitEnv, gitTimeout);
  const commitEpoch = runGit(['log', '-1', '--format=%ct', 'HEAD'], src, gitEnv, gitTimeout);
  return { checkedOutSha, commitEpoch };
}

/** The build's whole environment: the target's variables, then the release's (which win). */
function buildEnvironment(request: BuildRequest, home: string, commitEpoch: string): Record<string, string> {
  const { target } = request;
  return {
    ...target.env,
    HOME: home,
    LANG: 'C.UTF-8',
    SOURCE_DATE_EPOCH: commitEpoch,
    RELVERIFY_TAG: request.tag,
    RELVERIFY_VERSION: request.version,
    RELVERIFY_COMMIT: request.commitSha,
    RELVERIFY_TARGET: target.name,
  };
}

export class LocalBuilder implements Builder {
  private readonly dirs: string[] = [];
  /** builds in flight, stopped by dispose() */
  private readonly inFlight = new Map<Promise<unknown>, AbortController>();
  private chosen: Isolation | undefined;
  /** bumped by dispose(): a build that began before it is stopped, even if still cloning then */
  private generation = 0;
  constructor(private readonly options: LocalBuilderOptions = {}) {}

  /** How builds run here; throws BuildNotSandboxedError when they may not run at all. */
  isolation(): Isolation {
    this.chosen ??= chooseIsolation({
      docker: this.options.docker ?? 'auto',
      dockerAvailable: dockerEngineAvailable,
      bwrap: this.options.bwrap,
      unsafeHostBuild: this.options.unsafeHostBuild,
    });
    return this.chosen;
  }

  async run(request: BuildRequest, signal?: AbortSignal): Promise<BuildResult> {
    const { target } = request;
    const startedAt = new Date();
    // before anything is cloned: a build with no sandbox is refused (thrown, reported as BUILD_NOT_SANDBOXED)
    const isolation = this.isolation();
    const generation = this.generation;
    const root = await mkdtemp(join(this.options.workRoot ?? tmpdir(), `relverify-${target.name}-`));
    this.dirs.push(root);
    const src = join(root, 'src');
    const home = join(root, 'home');
    await mkdir(home);
    const logPath = join(root, 'build.log');
    const image = { ref: target.image, enforced: isolation === 'docker', note: isolation === 'docker' ? undefined : IMAGE_NOTE[isolation](target.image) };
    const base = {
      target: target.name,
      buildId: `local:${request.runId}:${target.name}`,
      startedAt: startedAt.toISOString(),
      image,
      sandbox: SANDBOX_OF[isolation],
      artifacts: new LocalArtifactSource(src),
      logLink: logPath,
    };
    const hostPath = this.options.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
    const gitEnv = GIT_ENV(home, hostPath);
    const gitTimeout = this.options.gitTimeoutMs ?? 10 * 60_000;

    // 1. Source at the exact commit.
    let checkedOutSha: string;
    let commitEpoch: string;
    try {
      ({ checkedOutSha, commitEpoch } = checkoutCommit(request, root, src, gitEnv, gitTimeout));
    } catch (err) {
      return { ...base, status: 'NOT_STARTED', message: `source checkout failed: ${errorMessage(err)}`, durationMs: Date.now() - startedAt.getTime() };
    }
    if (checkedOutSha !== request.commitSha) {
      return {
        ...base,
        status: 'FAILED',
        checkedOutSha,
        message: `HEAD is ${checkedOutSha}, expected ${request.commitSha}`,
        durationMs: Date.now() - startedAt.getTime(),
      };
    }

    // 2. The build, in a minimal environment: nothing from the host but PATH (and not even that in Docker).
    const network = target.network ?? 'default';
    const buildEnv = buildEnvironment(request, isolation === 'host' ? home : SANDBOX_SCRATCH, commitEpoch);
    // the processes a host build leaves behind, even in sessions of their own, carry this mark
    const marker = isolation === 'host' ? `RELVERIFY_BUILD_MARK=${randomBytes(12).toString('hex')}` : undefined;
    const container = `relverify-${randomBytes(8).toString('hex')}`;
    const [cmd, args, env] = this.buildCommand(isolation, target, { src, home, hostPath, buildEnv, network, marker, container });
    const timeoutMs = Math.min(target.timeoutMinutes * 60_000, this.options.maxTimeoutMs ?? Infinity);
    // `docker run` killed is not the container stopped: remove the container itself
    const onKill = isolation === 'docker' ? () => void spawn('docker', ['rm', '-f', container], { env, stdio: 'ignore' }).on('error', () => {}) : undefined;
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    if (signal?.aborted || generation !== this.generation) stop.abort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const building = this.spawnBuild(cmd, args, env, src, logPath, timeoutMs, stop.signal, marker, onKill);
    this.inFlight.set(building, stop);
    let ended: Awaited<typeof building>;
    try {
      ended = await building;
    } finally {
      this.inFlight.delete(building);
      signal?.removeEventListener('abort', onAbort);
    }
    const { status, message } = ended;
    const logTail = await tail(logPath, 40);
    return { ...base, status, message, checkedOutSha, logTail, durationMs: Date.now() - startedAt.getTime() };
  }

  /** The command line and environment of the build for each isolation: Docker, bubblewrap, or the bare host. */
  private buildCommand(
    isolation: Isolation,
    target: BuildRequest['target'],
    at: {
      src: string;
      home: string;
      hostPath: string;
      buildEnv: Record<string, string>;
      network: 'none' | 'default';
      marker: string | undefined;
      container: string;
    },
  ): [string, string[], NodeJS.ProcessEnv] {
    const { src, home, hostPath, buildEnv, network, marker, container } = at;
    let cmd: string;
    let args: string[];
    let env: NodeJS.ProcessEnv;
    if (isolation === 'docker') {
      cmd = 'docker';
      args = [
        'run',
        '--rm',
        '--pull=missing',
        `--network=${network === 'none' ? 'none' : 'bridge'}`,
        '--name',
        container,
        '-v',
        `${src}:/src`,
        '-w',
        '/src',
        ...Object.entries(buildEnv).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        target.image,
        'sh',
        '-c',
        target.command,
      ];
      env = { PATH: hostPath, HOME: home };
    } else if (isolation === 'bubblewrap') {
      cmd = this.options.bwrap ?? 'bwrap';
      args = bwrapArgs({ src, scratch: home, env: { ...buildEnv, PATH: hostPath }, network, command: target.command });
      // bwrap's own process is the sandbox's PID 1, whose environ the build can read: give it nothing
      env = { PATH: hostPath };
    } else {
      [cmd, args, env] = ['sh', ['-c', target.command], { ...buildEnv, PATH: hostPath, [marker!.split('=')[0]!]: marker!.split('=')[1] }];
    }
    return [cmd, args, env];
  }

  private async spawnBuild(
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
    logPath: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    marker: string | undefined,
    onKill: (() => void) | undefined,
  ): Promise<{ status: BuildStatus; message?: string }> {
    const log = createWriteStream(logPath);
    // The log is build output, so untrusted: bounded, the rest dropped with a note.
    const maxLog = this.options.maxLogBytes ?? MAX_LOG_BYTES;
    let logged = 0;
    const toLog = (chunk: Buffer) => {
      if (logged >= maxLog) return;
      const room = maxLog - logged;
      log.write(chunk.length <= room ? chunk : Buffer.concat([chunk.subarray(0, room), Buffer.from('\n[log truncated by release-verifier]\n')]));
      logged += Math.min(chunk.length, room);
    };
    const r = await runProcessGroup(cmd, args, {
      cwd,
      env,
      timeoutMs,
      signal,
      onOutput: toLog,
      outputGraceMs: this.options.outputGraceMs,
      killGraceMs: this.options.killGraceMs,
      marker,
      onKill,
    });
    // resolve only once the log is flushed, so the caller can read its tail
    await new Promise<void>((resolve) => log.end(() => resolve()));
    return describeEnd(r, timeoutMs);
  }

  /** Stops builds still running (their whole groups), then removes the build directories (unless `keep`). */
  async dispose(): Promise<void> {
    this.generation++;
    for (const stop of this.inFlight.values()) stop.abort();
    await Promise.allSettled([...this.inFlight.keys()]);
    if (this.options.keep) return;
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

function describeEnd(r: GroupRunResult, timeoutMs: number): { status: BuildStatus; message?: string } {
  const leftBehind =
    r.outputHeld || r.leftovers > 0 ? `processes left behind by the build were killed${r.outputHeld ? ' (they held its output open)' : ''}` : undefined;
  const withNote = (m: string | undefined) => (leftBehind ? (m ? `${m}; ${leftBehind}` : leftBehind) : m);
  switch (r.end) {
    case 'SPAWN_FAILED':
      return { status: 'FAULT', message: `could not start the build: ${r.error ?? 'unknown error'}` };
    case 'TIMED_OUT':
      return {
        status: 'TIMED_OUT',
        message: `exceeded the ${timeoutMs >= 60_000 ? `${Math.round(timeoutMs / 60_000)} min` : `${timeoutMs / 1000} s`} timeout`,
      };
    case 'STOPPED':
      return { status: 'STOPPED', message: 'stopped' };
    case 'EXITED':
      if (r.code === 0) return { status: 'SUCCEEDED', message: withNote(undefined) };
      return { status: 'FAILED', message: withNote(r.signal ? `killed by ${r.signal}` : `build command exited with ${r.code}`) };
  }
}

async function tail(path: string, lines: number): Promise<string | undefined> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 16 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8').split('\n').slice(-lines).join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
