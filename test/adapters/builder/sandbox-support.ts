/**
 * Shared by the local-build sandbox tests: a throw-away git repository to build, a target around a
 * build command, bubblewrap's availability (missing or unusable fails under CI, skips visibly
 * otherwise), processes found by a unique command line, and a verifier process started with a
 * token in its environment (the token must be in its *initial* environment — what
 * /proc/<pid>/environ shows — which setting process.env in the test process cannot do).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bubblewrapUsable } from '../../../lambda/adapters/builder/bwrap';
import { LocalBuilder, type LocalBuilderOptions } from '../../../lambda/adapters/builder/local-builder';
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';
import { parseConfig } from '../../../lambda/core/config/load';
import type { Config } from '../../../lambda/core/config/schema';
import type { BuildRequest, Forge, Release } from '../../../lambda/core/ports';
import type { RunReport } from '../../../lambda/core/report';
import { runVerification, type LocalRunOptions } from '../../../lambda/core/run/in-process';
import { formatOps } from '../../../lambda/formats/ops';
import { toolsAvailable } from '../../support/tools';

export function bwrapReady(): boolean {
  if (!toolsAvailable('bwrap')) return false;
  if (bubblewrapUsable()) return true;
  if (process.env.CI) throw new Error('bwrap is installed but cannot create namespaces (user namespaces disabled?) — CI must allow them');
  console.warn('[skip] bwrap cannot create namespaces here');
  return false;
}

/** A repository with one commit; returns its path and the commit. */
export function makeRepo(): { repo: string; sha: string } {
  const repo = mkdtempSync(join(tmpdir(), 'sandbox-repo-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {
      cwd: repo,
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
    })
      .toString()
      .trim();
  git('init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'VERSION'), '1.0.0\n');
  git('add', '.');
  git('commit', '-qm', 'one');
  return { repo, sha: git('rev-parse', 'HEAD') };
}

export function buildTarget(command: string, extra: { network?: 'none' | 'default'; env?: Record<string, string> } = {}) {
  return parseConfig({
    version: 1,
    gitlab: { project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: `debian@sha256:${'a'.repeat(64)}`,
        command,
        env: extra.env ?? {},
        ...(extra.network ? { network: extra.network } : {}),
        artifacts: [{ path: 'out/app', asset: 'app', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  }).targets[0]!;
}

export function buildRequest(repo: { repo: string; sha: string }, command: string, extra: Parameters<typeof buildTarget>[1] = {}): BuildRequest {
  return { runId: 'r1', target: buildTarget(command, extra), cloneUrl: repo.repo, commitSha: repo.sha, tag: 'v1.0.0', version: '1.0.0' };
}

/** pids of live processes whose command line contains `needle` */
export function pidsWith(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const state = readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmdline.includes(needle) && state !== 'Z') found.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return found;
}

export interface DriverResult {
  status: string;
  message?: string;
  /** the checkout on the host (kept), where the build wrote out/ */
  src: string;
  logTail?: string;
  /** the build directory, for the test to remove */
  root: string;
}

/**
 * Runs one LocalBuilder build in a separate verifier process whose initial environment holds
 * `secret` as GITLAB_TOKEN (and drops it from process.env, as the CLI does).
 */
export function buildInVerifierProcess(input: {
  repo: string;
  sha: string;
  command: string;
  secret: string;
  unsafeHost?: boolean;
  network?: 'none' | 'default';
  env?: Record<string, string>;
}): Promise<DriverResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./sandbox-build-driver.ts', import.meta.url)), JSON.stringify(input)], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, GITLAB_TOKEN: input.secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`driver exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as DriverResult);
    });
  });
}

export const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');

/** A forge whose release `v1.0.0` is `repo`'s commit and publishes `published[asset]` for each asset. */
export function stubForge(repo: { repo: string; sha: string }, published: Record<string, string>): Forge {
  const release: Release = { tag: 'v1.0.0', name: 'v1.0.0', commitSha: repo.sha, tagCommitSha: repo.sha, links: [] };
  return {
    getRelease: async () => release,
    cloneUrl: () => repo.repo,
    getHistory: async () => ({ releases: [{ tag: 'v1.0.0', commitSha: repo.sha, links: [] }], tags: { 'v1.0.0': repo.sha }, complete: true }),
    getProtections: async () => ({ protectedTags: [], protectedBranches: [] }),
    async downloadAsset(req, dest) {
      const bytes = published[req.name] ?? '';
      writeFileSync(dest, bytes);
      return { path: dest, sha256: sha256(bytes), size: bytes.length, url: `https://gitlab.example/${req.name}` };
    },
  };
}

/** One whole local run (run-local) with a real LocalBuilder; the store is a new temp dir (returned for cleanup). */
export async function verifyLocally(
  cfg: Config,
  forge: Forge,
  builderOptions: LocalBuilderOptions,
  runOptions: LocalRunOptions = {},
): Promise<{ report: RunReport; storeDir: string }> {
  const storeDir = mkdtempSync(join(tmpdir(), 'sandbox-run-'));
  const builder = new LocalBuilder({ docker: 'never', maxTimeoutMs: 20_000, ...builderOptions });
  try {
    const ports = { forge, builder, store: new DirectoryStore(storeDir), formats: formatOps, notifier: { notify: async () => {} } };
    return { report: (await runVerification(cfg, ports, runOptions)).report, storeDir };
  } finally {
    await builder.dispose();
  }
}
