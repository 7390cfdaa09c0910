/**
 * Pair comparison as whole processes (issue 14): `release-verifier compare A B` next to
 * `openssl dgst -sha256 A B` (one core's SHA-256 limit) and `sha256sum A B`, on the same two files,
 * min of BENCH_RUNS (default 5) runs each, alternating; peak RSS of each process (GNU time).
 * Ratios are project / reference (lower is better).
 *
 * Files: an unsigned mingw-w64 PE with real random overlay (not sparse, not compressible) up to the
 * size, and an identical copy; at the first size also that PE signed by osslsigncode.
 *   - bytes:  compare --method bytes A B           target ≤ 0.6× openssl
 *   - auto:   compare A B (PE → authenticode)      target ≤ 0.6× openssl
 *   - PE:     compare SIGNED A (signature-transparent)  target ≤ 1.15× compare --method bytes SIGNED A
 * Memory target: ≤ 150 MB at every size (flat). Files live in a temp dir on the disk of BENCH_DIR
 * (default: next to this repository, /work's disk) and are deleted afterwards.
 *
 *   npx tsx bench/compare.bench.ts            # 1024 and 4096 MiB
 *   npx tsx bench/compare.bench.ts 64         # one quick 64 MiB size
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPe, HELLO_C, makePki, sign } from '../test/formats/support/authenticode-fixtures';
import { best, buildCli, buildIsCurrent, CLI, load, row, type Command } from './measure';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MiB = 1024 * 1024;
const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

function sh(script: string, ...args: string[]): void {
  const r = spawnSync('sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
}

function compare(name: string, a: string, b: string, extra: string[] = []): Command {
  return { name, cmd: process.execPath, args: [CLI, 'compare', a, b, '--json', ...extra], ok: [0] };
}

async function main(): Promise<void> {
  for (const tool of ['openssl', 'sha256sum', 'osslsigncode', 'x86_64-w64-mingw32-gcc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.log(`compare bench skipped: ${tool} not installed`);
      return;
    }
  }
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  buildCli();
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? dirname(repo), '.rv-bench-compare-'));
  try {
    const pki = makePki(dir);
    const small = buildPe(dir, 'bench', HELLO_C);
    const smallSize = statSync(small).size;
    console.log(`pair compare, whole processes, min of ${RUNS}; ${load()}; files in ${dir} (page cache warm)`);
    for (const [i, size] of (sizes.length ? sizes : [1024, 4096]).entries()) {
      const a = join(dir, `a-${size}.exe`);
      const b = join(dir, `b-${size}.exe`);
      // a PE whose overlay (part of the Authenticode digest) is real random bytes; sizes just under
      // 4 GiB stay signable PE (32-bit certificate table offset)
      const total = Math.min(size * MiB, 4 * 1024 * MiB - 64 * 1024);
      sh(`cat "$1" > "$2" && head -c ${total - smallSize} /dev/urandom >> "$2" && cp "$2" "$3" && cat "$2" "$3" > /dev/null`, small, a, b);
      const cmds: Command[] = [
        { name: 'openssl dgst -sha256 A B', cmd: 'openssl', args: ['dgst', '-sha256', a, b] },
        { name: 'sha256sum A B', cmd: 'sha256sum', args: [a, b] },
        compare('compare --method bytes A B', a, b, ['--method', 'bytes']),
        compare('compare A B (auto: PE, identical)', a, b),
      ];
      let signed: string | undefined;
      if (i === 0) {
        signed = sign(a, join(dir, `s-${size}.exe`), pki.leaf);
        sh('cat "$1" > /dev/null', signed);
        cmds.push(
          compare('compare --method bytes SIGNED A', signed, a, ['--method', 'bytes']),
          compare('compare SIGNED A (PE: signed vs unsigned)', signed, a),
        );
        cmds[4]!.ok = [1]; // bytes differ (the signature): a mismatch, exit 1
      }
      const m = best(cmds, RUNS);
      const ossl = m[0]!;
      const sums = m[1]!;
      // the digests must agree with openssl's
      const sha = /= ([0-9a-f]{64})/.exec(ossl.stdout)![1];
      for (const k of [2, 3]) {
        const out = JSON.parse(m[k]!.stdout) as { match: boolean; published: { sha256: string } };
        if (!out.match || out.published.sha256 !== sha) throw new Error(`${m[k]!.name} disagrees with openssl`);
      }
      console.log(`${(statSync(a).size / MiB).toFixed(0)} MiB pair:`);
      console.log(row(ossl));
      console.log(row(sums, ossl));
      console.log(row(m[2]!, ossl, 0.6));
      console.log(row(m[3]!, ossl, 0.6));
      if (signed) {
        const pe = JSON.parse(m[5]!.stdout) as { match: boolean; method: string };
        if (!pe.match || pe.method !== 'authenticode') throw new Error('signed vs unsigned PE did not match');
        console.log(row(m[4]!, ossl));
        console.log(row(m[5]!, m[4]!, 1.15));
        rmSync(signed);
      }
      const worst = Math.max(...m.slice(2).map((x) => x.rssMiB[1]));
      console.log(`  peak RSS of the project's compares ≤ ${worst.toFixed(0)} MiB (target ≤ 150 MB ≈ 143 MiB)${worst <= 143 ? ' ✓' : ' ✗'}`);
      rmSync(a);
      rmSync(b);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `(measured through bin/release-verifier.mjs, which ran the dist/ build made at the start${buildIsCurrent() ? '' : ' — NOT for every run: a source changed meanwhile, so later runs went through tsx'})`,
  );
}

await main();
