/**
 * Whole-process measurement for the benches (issue 14): wall time of one command from spawn to exit
 * (node startup, module loading and all), and its peak RSS from GNU time (`/usr/bin/time -f %M`).
 * `best` runs commands alternately and keeps each one's minimum time (noise on a shared machine only
 * ever adds) and the range of its peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Command {
  name: string;
  cmd: string;
  args: string[];
  /** exit codes that count as success (default [0]) */
  ok?: number[];
  env?: NodeJS.ProcessEnv;
}

export interface Measured {
  name: string;
  seconds: number;
  /** all runs, seconds */
  runs: number[];
  rssMiB: [number, number];
  stdout: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'rv-bench-time-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

export function runOnce(c: Command): { seconds: number; rssMiB: number; stdout: string } {
  const out = join(scratch, 'time.txt');
  const t0 = process.hrtime.bigint();
  // the CLI as users start it: the launcher itself decides that dist/ is current (a bench that forced
  // dist/ once hid a build whose inputs list sent every real start back to tsx)
  const env = c.env ?? process.env;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, c.cmd, ...c.args], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!(c.ok ?? [0]).includes(r.status ?? -1)) throw new Error(`${c.name}: exit ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const kib = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  return { seconds, rssMiB: kib / 1024, stdout: r.stdout };
}

export function best(commands: Command[], runs = 3): Measured[] {
  const res = commands.map((c) => ({ name: c.name, seconds: Infinity, runs: [] as number[], rss: [] as number[], stdout: '' }));
  for (let i = 0; i < runs; i++) {
    commands.forEach((c, k) => {
      const r = runOnce(c);
      const m = res[k]!;
      m.runs.push(r.seconds);
      m.rss.push(r.rssMiB);
      m.seconds = Math.min(m.seconds, r.seconds);
      m.stdout = r.stdout;
    });
  }
  return res.map((m) => ({ name: m.name, seconds: m.seconds, runs: m.runs, rssMiB: [Math.min(...m.rss), Math.max(...m.rss)], stdout: m.stdout }));
}

export function row(m: Measured, reference?: Measured, target?: number): string {
  const ratio = reference ? m.seconds / reference.seconds : undefined;
  const verdict = ratio !== undefined && target !== undefined ? (ratio <= target ? ' ✓' : ' ✗ over target') : '';
  return (
    `  ${m.name.padEnd(44)} ${m.seconds.toFixed(3).padStart(7)} s (runs ${m.runs.map((s) => s.toFixed(2)).join(' ')})  peak RSS ${m.rssMiB[0].toFixed(0)}–${m.rssMiB[1].toFixed(0)} MiB` +
    (ratio !== undefined ? `  ${ratio.toFixed(2)}× ${reference!.name}${target !== undefined ? ` (target ≤ ${target})` : ''}${verdict}` : '')
  );
}

export function load(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${availableParallelism()} cores`;
}

/** The CLI as users start it (bin/release-verifier.mjs: the dist/ build when current). */
export const CLI = fileURLToPath(new URL('../bin/release-verifier.mjs', import.meta.url));

/**
 * Builds dist/ (npm run build) so that the CLI measured is the compiled one, and checks that the
 * launcher will take it; `buildIsCurrent` afterwards tells whether it stayed current (a source
 * edited meanwhile makes the launcher fall back to tsx, and the figures say so).
 */
export function buildCli(): void {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/build-cli.mjs', import.meta.url))], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  if (!buildIsCurrent()) throw new Error('dist/ is not current right after building: the launcher would run the TypeScript through tsx');
}

export function buildIsCurrent(): boolean {
  try {
    const root = new URL('../', import.meta.url);
    const info = JSON.parse(readFileSync(new URL('dist/inputs.json', root), 'utf8')) as { builtAt: number; inputs: string[] };
    return info.inputs.every((f) => statSync(new URL(f, root)).mtimeMs < info.builtAt);
  } catch {
    return false;
  }
}
