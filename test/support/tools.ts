/**
 * Reference tools (osslsigncode, minisign, gpg, mingw, clang/lld, wixl, diffoscope) make the test
 * fixtures. Locally a missing tool skips its tests with a visible reason; in CI (CI=true) a missing
 * tool fails, so such tests can never silently skip there (.ci/run installs them).
 */
import { execFileSync, spawnSync } from 'node:child_process';

const cache = new Map<string, boolean>();

export function hasTool(tool: string): boolean {
  let ok = cache.get(tool);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', tool], { stdio: 'ignore' }).status === 0;
    cache.set(tool, ok);
  }
  return ok;
}

/**
 * Use as `describe.skipIf(!toolsAvailable('osslsigncode'))(…)`. Throws under CI when a tool is
 * missing, so the suite fails instead of skipping.
 */
export function toolsAvailable(...tools: string[]): boolean {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return true;
  if (process.env.CI) throw new Error(`reference tool(s) missing in CI: ${missing.join(', ')} — .ci/run must install them`);
  console.warn(`[skip] reference tool(s) not installed: ${missing.join(', ')}`);
  return false;
}

/** Runs a tool, returning stdout; throws with stderr on failure. */
export function run(tool: string, args: string[], options: { cwd?: string; input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(tool, args, {
      cwd: options.cwd,
      input: options.input,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString();
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.stderr?.toString() || e.stdout?.toString() || e.message}`);
  }
}

/** Runs a tool and returns its exit status without throwing (to read a reference tool's own verdict). */
export function status(tool: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const r = spawnSync(tool, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: 'ignore' });
  return r.status ?? -1;
}
