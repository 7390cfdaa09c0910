/**
 * `npm run fuzz [-- --count N] [--format NAME] [--seed N] [--timeout MS]`
 *
 * Loads every test/fuzz/targets/*.ts (each default-exports a FuzzTarget) and runs N mutations per
 * format (default 10,000). Each format runs in a child process: the child answers case by case, and
 * a case that gets no answer within the time limit — even a synchronous infinite loop — is a hang:
 * the child is killed, the hang counted, and a fresh child carries on with the next case.
 * Exit status 1 if any mutation was judged valid (unless a no-op for the signature), crashed or hung.
 * The PRNG seed is printed; `--seed` replays the same mutations.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { FuzzTarget } from './fuzz-target';
import { emptyTally, FAILING, mutationAt, runMutation, type CaseResult, type Tally } from './mutation-loop';

const HERE = dirname(fileURLToPath(import.meta.url));
const TARGETS_DIR = join(HERE, 'targets');
const SETUP_TIMEOUT_MS = 120_000;

interface Job {
  format: string;
  seed: number;
  start: number;
  count: number;
  timeoutMs: number;
}
type ChildMessage =
  | { type: 'ready'; dir: string }
  | { type: 'result'; index: number; caseIndex: number; result: CaseResult; detail?: string }
  | { type: 'done'; maxRssKiB: number }
  | { type: 'fatal'; message: string };

async function loadTarget(format: string): Promise<FuzzTarget> {
  const mod = (await import(pathToFileURL(join(TARGETS_DIR, `${format}.ts`)).href)) as { default?: FuzzTarget };
  if (!mod.default || typeof mod.default.setup !== 'function') throw new Error(`${format}.ts does not default-export a FuzzTarget`);
  return mod.default;
}

// ------------------------------------------------------------------------------------ child side
async function child(job: Job): Promise<void> {
  const send = (m: ChildMessage) => new Promise<void>((resolve) => process.send!(m, () => resolve()));
  const dir = mkdtempSync(join(tmpdir(), `rv-fuzz-${job.format}-`));
  try {
    const target = await loadTarget(job.format);
    const cases = await target.setup(dir);
    if (cases.length === 0) throw new Error('target set up no cases');
    await send({ type: 'ready', dir });
    for (let i = job.start; i < job.count; i++) {
      const { fuzzCase, caseIndex, mutated } = mutationAt(cases, job.format, job.seed, i);
      const { result, detail } = await runMutation(fuzzCase, mutated, job.timeoutMs);
      await send({ type: 'result', index: i, caseIndex, result, detail });
    }
    await send({ type: 'done', maxRssKiB: process.resourceUsage().maxRSS });
  } catch (err) {
    await send({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------------------------- parent side
interface FormatReport {
  format: string;
  tally: Tally;
  failures: string[];
  fatal?: string;
  seconds: number;
  maxRssMiB: number;
}

function runFormat(format: string, seed: number, count: number, timeoutMs: number): Promise<FormatReport> {
  const tally = emptyTally();
  const failures: string[] = [];
  const began = Date.now();
  let next = 0;
  let fatal: string | undefined;
  let maxRssKiB = 0;

  return new Promise((resolve) => {
    const startChild = () => {
      const job: Job = { format, seed, start: next, count, timeoutMs };
      const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(job)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      let dir: string | undefined;
      let finished = false;
      let watchdog = setTimeout(() => onHang('setup'), SETUP_TIMEOUT_MS);
      const arm = () => {
        clearTimeout(watchdog);
        // the child's own per-case limit catches async hangs; this one catches a blocked event loop
        watchdog = setTimeout(() => onHang('case'), timeoutMs * 2 + 1000);
      };
      const onHang = (phase: 'setup' | 'case') => {
        finished = true;
        proc.kill('SIGKILL');
        if (dir) rmSync(dir, { recursive: true, force: true });
        if (phase === 'setup') {
          fatal = `setup did not finish within ${SETUP_TIMEOUT_MS} ms`;
          return finish();
        }
        tally.timeout++;
        failures.push(`#${next}: hang (no answer within ${timeoutMs * 2 + 1000} ms, event loop blocked)`);
        next++;
        if (next < count) startChild();
        else finish();
      };
      proc.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') {
          dir = m.dir;
          arm();
        } else if (m.type === 'result') {
          arm();
          tally[m.result]++;
          if (FAILING.has(m.result)) failures.push(`#${m.index} (case ${m.caseIndex}): ${m.result}${m.detail ? ` — ${m.detail}` : ''}`);
          next = m.index + 1;
        } else if (m.type === 'done') {
          maxRssKiB = Math.max(maxRssKiB, m.maxRssKiB);
          finished = true;
          clearTimeout(watchdog);
          finish();
        } else if (m.type === 'fatal') {
          finished = true;
          clearTimeout(watchdog);
          fatal = m.message;
          finish();
        }
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(watchdog);
        if (finished) return;
        // died without reporting: the case it was on crashed the process
        finished = true;
        tally.crash++;
        failures.push(`#${next}: process died (${signal ?? `exit ${code}`})`);
        next++;
        if (next < count) startChild();
        else finish();
      });
    };
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ format, tally, failures, fatal, seconds: (Date.now() - began) / 1000, maxRssMiB: maxRssKiB / 1024 });
    };
    startChild();
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    strict: true,
    options: {
      count: { type: 'string', default: '10000' },
      format: { type: 'string', multiple: true },
      seed: { type: 'string' },
      timeout: { type: 'string', default: '5000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run fuzz -- [--count N] [--format NAME]... [--seed N] [--timeout MS]\n');
    return 0;
  }
  const count = Number(values.count);
  const timeoutMs = Number(values.timeout);
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  if (!Number.isInteger(count) || count < 1 || !Number.isFinite(timeoutMs) || timeoutMs < 10 || !Number.isFinite(seed)) {
    process.stderr.write('fuzz: --count must be a positive integer, --timeout ≥ 10 ms, --seed a number\n');
    return 2;
  }
  const available = readdirSync(TARGETS_DIR)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => basename(f, '.ts'))
    .sort();
  const formats = values.format ?? available;
  const unknown = formats.filter((f) => !available.includes(f));
  if (unknown.length) {
    process.stderr.write(`fuzz: unknown format(s) ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
    return 2;
  }
  process.stdout.write(
    `fuzz: seed ${seed}, ${count} mutations per format, ${timeoutMs} ms per case (replay: npm run fuzz -- --seed ${seed}${values.format ? formats.map((f) => ` --format ${f}`).join('') : ''} --count ${count})\n`,
  );

  let failed = false;
  for (const format of formats) {
    const r = await runFormat(format, seed, count, timeoutMs);
    const t = r.tally;
    const total = t.valid + t.equivalent + t.invalid + t.error + t.crash + t.timeout;
    const bad = t.valid + t.crash + t.timeout > 0 || r.fatal !== undefined || total < count;
    failed ||= bad;
    process.stdout.write(
      (format.startsWith('compare-')
        ? `${bad ? 'FAIL' : 'ok  '} ${format.padEnd(14)} ${total} mutations: mismatch ${t.invalid}, typed error ${t.error}, match inside the transparent ranges ${t.equivalent}, ` +
          `MATCH OUTSIDE ${t.valid}, crash ${t.crash}, hang ${t.timeout}`
        : `${bad ? 'FAIL' : 'ok  '} ${format.padEnd(14)} ${total} mutations: invalid ${t.invalid}, error ${t.error}, valid-but-equivalent ${t.equivalent}, ` +
          `VALID ${t.valid}, crash ${t.crash}, timeout ${t.timeout}`) + ` (${r.seconds.toFixed(1)} s, max RSS ${r.maxRssMiB.toFixed(0)} MiB)\n`,
    );
    if (r.fatal) process.stdout.write(`     setup/loop failed: ${r.fatal}\n`);
    for (const f of r.failures.slice(0, 20)) process.stdout.write(`     ${f}\n`);
    if (r.failures.length > 20) process.stdout.write(`     … ${r.failures.length - 20} more\n`);
  }
  process.stdout.write(failed ? `fuzz: FAILED (seed ${seed})\n` : 'fuzz: no mutation was judged valid, crashed or hung\n');
  return failed ? 1 : 0;
}

const childIndex = process.argv.indexOf('--child');
if (childIndex !== -1 && process.send) {
  await child(JSON.parse(process.argv[childIndex + 1]!) as Job);
  process.disconnect();
} else {
  process.exitCode = await main();
}
