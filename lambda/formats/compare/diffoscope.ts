/**
 * diffoscope (https://diffoscope.org) as an optional, external explanation of a mismatch: when it is
 * on PATH, run it on the two files (argument array, no shell; a time limit; output to files, never
 * into our memory) and return where its reports are. When absent, say so plainly — the comparison
 * itself never depends on it.
 */
import { spawn } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

export type DiffoscopeStatus = 'identical' | 'differences' | 'not-installed' | 'failed' | 'timeout';

export interface DiffoscopeResult {
  status: DiffoscopeStatus;
  /** a sentence for humans */
  message: string;
  htmlReport?: string;
  textReport?: string;
  exitCode?: number;
}

export interface DiffoscopeOptions {
  /** directory for the reports (created) */
  outDir: string;
  /** default 10 minutes */
  timeoutMs?: number;
  /** an explicit executable (tests); default: `diffoscope` looked up on PATH */
  executable?: string;
  /** extra arguments, e.g. ['--max-report-size', '…'] */
  extraArgs?: string[];
}

/** The absolute path of `name` on PATH, or null. */
export async function findOnPath(name: string, path = process.env.PATH ?? ''): Promise<string | null> {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function runDiffoscope(publishedPath: string, rebuiltPath: string, options: DiffoscopeOptions): Promise<DiffoscopeResult> {
  const exe = options.executable ?? (await findOnPath('diffoscope'));
  if (!exe) {
    return { status: 'not-installed', message: 'diffoscope is not installed (e.g. `apt-get install diffoscope-minimal`); no diffoscope report was made' };
  }
  await mkdir(options.outDir, { recursive: true });
  const htmlReport = join(options.outDir, 'diffoscope.html');
  const textReport = join(options.outDir, 'diffoscope.txt');
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  // '--' ends options so that file names starting with '-' stay file names
  const args = ['--html', htmlReport, '--text', textReport, '--no-progress', ...(options.extraArgs ?? []), '--', publishedPath, rebuiltPath];

  return new Promise<DiffoscopeResult>((resolve) => {
    let stderr = '';
    let timedOut = false;
    const child = spawn(exe, args, { stdio: ['ignore', 'ignore', 'pipe'], shell: false });
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ status: 'failed', message: `diffoscope could not be started: ${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return resolve({ status: 'timeout', message: `diffoscope did not finish within ${timeoutMs} ms and was stopped` });
      // diffoscope: 0 = no differences, 1 = differences found, 2 = error
      void (async () => {
        const reports = { ...((await exists(htmlReport)) ? { htmlReport } : {}), ...((await exists(textReport)) ? { textReport } : {}) };
        if (code === 0) return resolve({ status: 'identical', message: 'diffoscope found no differences', ...reports, exitCode: 0 });
        if (code === 1 && reports.htmlReport)
          return resolve({ status: 'differences', message: `diffoscope report: ${reports.htmlReport}`, ...reports, exitCode: 1 });
        resolve({
          status: 'failed',
          message: `diffoscope failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ') || 'no report written'}`,
          ...reports,
          exitCode: code ?? undefined,
        });
      })();
    });
  });
}
