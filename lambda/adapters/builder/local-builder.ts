/**
 * The local builder: one fresh temporary directory per target, a clone of the project checked out
 * at the exact commit SHA (and checked), a minimal environment (no token, no host credentials, no
 * inherited variables), the build command under a timeout, and read access to what it produced.
 *
 * With a Docker engine the command runs inside the digest-pinned image (`docker run --rm …
 * image@sha256:…`). Without one it runs as a plain child process and says so: the report then
 * carries an IMAGE_NOT_ENFORCED notice, because the host toolchain — not the pinned image — built it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildError, errorMessage } from '../../core/errors';
import type { Builder, BuildRequest, BuildResult, BuildStatus } from '../../core/ports';
import { LocalArtifactSource } from './local-artifacts';

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

/** a build's log kept on disk at most */
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
  const r = spawnSync('git', ['-c', 'credential.helper=', '-c', 'core.hooksPath=/dev/null', ...args], { cwd, env, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw new BuildError(`git ${args[0]} failed: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new BuildError(`git ${args[0]} failed: ${r.stderr.toString().trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout.toString().trim();
}

export class LocalBuilder implements Builder {
  private readonly dirs: string[] = [];
  constructor(private readonly options: LocalBuilderOptions = {}) {}

  async run(request: BuildRequest, signal?: AbortSignal): Promise<BuildResult> {
    const { target } = request;
    const startedAt = new Date();
    const root = await mkdtemp(join(this.options.workRoot ?? tmpdir(), `relverify-${target.name}-`));
    this.dirs.push(root);
    const src = join(root, 'src');
    const home = join(root, 'home');
    await mkdir(home);
    const logPath = join(root, 'build.log');
    const useDocker = this.options.docker === 'always' || (this.options.docker !== 'never' && dockerEngineAvailable());
    const image = {
      ref: target.image,
      enforced: useDocker,
      note: useDocker ? undefined : `no Docker engine: built by a local process with the host toolchain, not in ${target.image}`,
    };
    const base = { target: target.name, buildId: `local:${request.runId}:${target.name}`, startedAt: startedAt.toISOString(), image, artifacts: new LocalArtifactSource(src), logLink: logPath };
    const hostPath = this.options.path ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
    const gitEnv = GIT_ENV(home, hostPath);
    const gitTimeout = this.options.gitTimeoutMs ?? 10 * 60_000;

    // 1. Source at the exact commit.
    let checkedOutSha: string;
    let commitEpoch: string;
    try {
      runGit(['clone', '--quiet', '--no-checkout', '--', request.cloneUrl, src], root, gitEnv, gitTimeout);
      runGit(['checkout', '--quiet', '--detach', request.commitSha], src, gitEnv, gitTimeout);
      checkedOutSha = runGit(['rev-parse', 'HEAD'], src, gitEnv, gitTimeout);
      commitEpoch = runGit(['log', '-1', '--format=%ct', 'HEAD'], src, gitEnv, gitTimeout);
    } catch (err) {
      return { ...base, status: 'NOT_STARTED', message: `source checkout failed: ${errorMessage(err)}`, durationMs: Date.now() - startedAt.getTime() };
    }
    if (checkedOutSha !== request.commitSha) {
      return { ...base, status: 'FAILED', checkedOutSha, message: `HEAD is ${checkedOutSha}, expected ${request.commitSha}`, durationMs: Date.now() - startedAt.getTime() };
    }

    // 2. The build, in a minimal environment: nothing from the host but PATH (and not even that in Docker).
    const buildEnv: Record<string, string> = {
      ...target.env,
      HOME: useDocker ? '/tmp' : home,
      LANG: 'C.UTF-8',
      SOURCE_DATE_EPOCH: commitEpoch,
      RELVERIFY_TAG: request.tag,
      RELVERIFY_VERSION: request.version,
      RELVERIFY_COMMIT: request.commitSha,
      RELVERIFY_TARGET: target.name,
    };
    const [cmd, args, env] = useDocker
      ? [
          'docker',
          [
            'run', '--rm', '--pull=missing', '--network=bridge',
            '-v', `${src}:/src`, '-w', '/src',
            ...Object.entries(buildEnv).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
            target.image, 'sh', '-c', target.command,
          ],
          { PATH: hostPath, HOME: home },
        ]
      : ['sh', ['-c', target.command], { ...buildEnv, PATH: hostPath }];
    const { status, message } = await this.spawnBuild(cmd as string, args as string[], env, src, logPath, Math.min(target.timeoutMinutes * 60_000, this.options.maxTimeoutMs ?? Infinity), signal);
    const logTail = await tail(logPath, 40);
    return { ...base, status, message, checkedOutSha, logTail, durationMs: Date.now() - startedAt.getTime() };
  }

  private spawnBuild(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, logPath: string, timeoutMs: number, signal?: AbortSignal): Promise<{ status: BuildStatus; message?: string }> {
    return new Promise((resolve) => {
      const log = createWriteStream(logPath);
      // The log is build output, so untrusted: bounded, the rest dropped with a note.
      let logged = 0;
      const toLog = (chunk: Buffer) => {
        if (logged >= MAX_LOG_BYTES) return;
        const room = MAX_LOG_BYTES - logged;
        log.write(chunk.length <= room ? chunk : Buffer.concat([chunk.subarray(0, room), Buffer.from('\n[log truncated by release-verifier]\n')]));
        logged += Math.min(chunk.length, room);
      };
      // detached: its own process group, so a timeout kills the whole build tree.
      const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', toLog);
      child.stderr.on('data', toLog);
      let ended: BuildStatus | undefined;
      const kill = (why: BuildStatus) => {
        ended ??= why;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => kill('TIMED_OUT'), timeoutMs);
      const onAbort = () => kill('STOPPED');
      signal?.addEventListener('abort', onAbort, { once: true });
      // resolve only once the log is flushed, so the caller can read its tail
      const finish = (result: { status: BuildStatus; message?: string }) => log.end(() => resolve(result));
      child.on('error', (err) => {
        clearTimeout(timer);
        finish({ status: 'FAULT', message: `could not start the build: ${err.message}` });
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (ended === 'TIMED_OUT') finish({ status: 'TIMED_OUT', message: `exceeded the ${timeoutMs >= 60_000 ? `${Math.round(timeoutMs / 60_000)} min` : `${timeoutMs / 1000} s`} timeout` });
        else if (ended === 'STOPPED') finish({ status: 'STOPPED', message: 'stopped' });
        else if (code === 0) finish({ status: 'SUCCEEDED' });
        else finish({ status: 'FAILED', message: sig ? `killed by ${sig}` : `build command exited with ${code}` });
      });
    });
  }

  /** Removes the build directories (unless `keep`). */
  async dispose(): Promise<void> {
    if (this.options.keep) return;
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
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
