/**
 * The bubblewrap sandbox for local builds without Docker (Debian `bubblewrap`, `bwrap`).
 *
 * What the build sees:
 * - new user, PID, IPC, UTS (and cgroup, where possible) namespaces; no capabilities; a new session
 *   (no TIOCSTI into the verifier's terminal); `--die-with-parent`, and as the PID namespace dies
 *   with its first process, nothing the build starts outlives it;
 * - a fresh /proc showing only the sandbox's processes — the verifier's environment (the token) and
 *   its parents' are not there to read — and a minimal /dev;
 * - the host's system directories read-only (each top-level directory except the ones that hold
 *   users' and services' data: /home, /root, /run, /tmp, /mnt, /media, /srv, /boot), the verifier's
 *   home hidden wherever it is, the root itself read-only;
 * - writable: only the checkout, at /src, and a scratch directory, at /tmp (also $HOME) — the same
 *   layout as the `docker run` build;
 * - no network at all with `network: none` (its own empty network namespace);
 * - an environment of exactly the variables given (`--clearenv`). bwrap itself is started with a
 *   minimal environment too: its process is the sandbox's PID 1 and its environ is readable inside.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';

/** top-level directories never shown to a build */
const HIDDEN_TOP = new Set(['proc', 'dev', 'tmp', 'run', 'home', 'root', 'mnt', 'media', 'srv', 'boot', 'lost+found', 'var']);

/** where the checkout and the scratch directory appear inside */
export const SANDBOX_SRC = '/src';
export const SANDBOX_SCRATCH = '/tmp';

const NAMESPACE_FLAGS = [
  '--unshare-user',
  '--unshare-pid',
  '--unshare-ipc',
  '--unshare-uts',
  '--unshare-cgroup-try',
  '--die-with-parent',
  '--new-session',
  '--cap-drop',
  'ALL',
];

const usable = new Map<string, boolean>();
/**
 * True when `bwrap` is installed and can actually create the namespaces (user namespaces may be
 * disabled, or a container's seccomp profile may forbid them): it runs `bwrap --ro-bind / / true`
 * with the namespace flags a build gets.
 */
export function bubblewrapUsable(bwrap = 'bwrap'): boolean {
  let ok = usable.get(bwrap);
  if (ok === undefined) {
    const r = spawnSync(bwrap, [...NAMESPACE_FLAGS, '--unshare-net', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'], {
      stdio: 'ignore',
      env: { PATH: '/usr/bin:/bin' },
      timeout: 10_000,
    });
    ok = r.status === 0;
    usable.set(bwrap, ok);
  }
  return ok;
}

export interface SandboxSpec {
  /** host path of the checkout (writable, at /src) */
  src: string;
  /** host path of the scratch directory (writable, at /tmp) */
  scratch: string;
  /** the build's whole environment */
  env: Record<string, string>;
  network: 'none' | 'default';
  /** the command, run as `sh -c command` in /src */
  command: string;
}

/** Read-only mounts of the host's system directories (see HIDDEN_TOP), symlinks kept as symlinks. */
function systemMounts(): string[] {
  const args: string[] = [];
  for (const entry of readdirSync('/', { withFileTypes: true })) {
    const name = entry.name;
    const path = `/${name}`;
    if (entry.isSymbolicLink()) {
      args.push('--symlink', readlinkSync(path), path);
    } else if (entry.isDirectory() && !HIDDEN_TOP.has(name)) {
      args.push('--ro-bind', path, path);
    }
  }
  // /var without its temp and runtime directories (sockets such as docker.sock live under /run, /var/run)
  try {
    for (const entry of readdirSync('/var', { withFileTypes: true })) {
      const path = `/var/${entry.name}`;
      if (entry.name === 'tmp' || entry.name === 'run' || entry.name === 'lock') continue;
      if (entry.isSymbolicLink()) args.push('--symlink', readlinkSync(path), path);
      else if (entry.isDirectory()) args.push('--ro-bind', path, path);
    }
  } catch {
    /* no /var */
  }
  return args;
}

/** DNS for builds that may use the network: /etc/resolv.conf often points into /run, which is hidden. */
function resolverMount(): string[] {
  try {
    const real = realpathSync('/etc/resolv.conf');
    if (real.startsWith('/run/')) return ['--ro-bind-try', real, real];
  } catch {
    /* none */
  }
  return [];
}

/** The verifier's home, hidden if it lies inside a directory the sandbox shows. */
function hiddenHome(): string[] {
  const home = homedir();
  const top = home.split('/')[1] ?? '';
  if (!home.startsWith('/') || home === '/' || HIDDEN_TOP.has(top)) return [];
  try {
    if (!lstatSync(home).isDirectory()) return [];
  } catch {
    return [];
  }
  return ['--tmpfs', home, '--remount-ro', home];
}

/** The full bwrap argument list for one build. */
export function bwrapArgs(spec: SandboxSpec): string[] {
  return [
    ...NAMESPACE_FLAGS,
    ...(spec.network === 'none' ? ['--unshare-net'] : []),
    '--hostname',
    'relverify',
    ...systemMounts(),
    ...hiddenHome(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--dir',
    '/run',
    ...(spec.network === 'none' ? [] : resolverMount()),
    '--bind',
    spec.scratch,
    SANDBOX_SCRATCH,
    '--bind',
    spec.src,
    SANDBOX_SRC,
    '--remount-ro',
    '/',
    '--chdir',
    SANDBOX_SRC,
    '--clearenv',
    ...Object.entries(spec.env).flatMap(([k, v]) => ['--setenv', k, v]),
    '--',
    'sh',
    '-c',
    spec.command,
  ];
}
