/**
 * Benchmark: byte comparison (both SHA-256s + equality, one streaming pass) next to `sha256sum a b`
 * on the same two files, for a 256 MiB and a 1 GiB identical pseudo-random pair in os.tmpdir().
 *
 * Each compare runs in its own child process, so the reported peak RSS belongs to one file size;
 * constant-memory streaming means it must not grow from 256 MiB to 1 GiB. Target: throughput
 * ≥ 0.9× sha256sum. Both tools read from the page cache (the files are read once beforehand), so
 * this measures hashing and comparison, not the disk. Files are deleted afterwards.
 *
 *   npx tsx bench/compare.bench.ts            # both sizes
 *   npx tsx bench/compare.bench.ts 64         # only a 64 MiB pair (quick check)
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, copyFileSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;

async function child(a: string, b: string): Promise<void> {
  const { compareArtifacts } = await import('../lambda/formats/compare/index');
  const t0 = process.hrtime.bigint();
  const report = await compareArtifacts(a, b, { method: 'bytes' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const details = report.details as { published: { sha256: string }; rebuilt: { sha256: string } };
  process.stdout.write(
    JSON.stringify({ seconds, match: report.match, sha256: details.published.sha256, rebuiltSha256: details.rebuilt.sha256, maxRssKiB: process.resourceUsage().maxRSS }) + '\n',
  );
}

function generate(path: string, bytes: number): void {
  // a 16 MiB random block, re-keyed per block so no two blocks repeat (pseudo-random, not compressible)
  const fd = openSync(path, 'w');
  try {
    for (let written = 0; written < bytes; ) {
      const block = randomBytes(Math.min(16 * MiB, bytes - written));
      writeSync(fd, block);
      written += block.length;
    }
  } finally {
    closeSync(fd);
  }
}

function warm(path: string): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(8 * MiB);
  try {
    while (readSync(fd, buf, 0, buf.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function benchSize(sizeMiB: number): { sizeMiB: number; compareS: number; sha256sumS: number; maxRssMiB: number; rssRange: [number, number] } {
  const dir = mkdtempSync(join(tmpdir(), 'rv-bench-compare-'));
  try {
    const a = join(dir, 'a.bin');
    const b = join(dir, 'b.bin');
    generate(a, sizeMiB * MiB);
    copyFileSync(a, b);
    warm(a);
    warm(b);

    // best of three runs each, alternating, to damp noise from other processes on a shared machine;
    // peak RSS is taken as the smallest of the three peaks (noise — GC timing, a busy machine — only
    // ever adds), with the range printed too
    let sha256sumS = Infinity;
    let compareS = Infinity;
    const rss: number[] = [];
    let shaOut = '';
    for (let round = 0; round < 3; round++) {
      sha256sumS = Math.min(
        sha256sumS,
        time(() => {
          const r = spawnSync('sha256sum', [a, b], { encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`sha256sum failed: ${r.stderr}`);
          shaOut = r.stdout;
        }),
      );
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', a, b], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`compare child failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; match: boolean; sha256: string; rebuiltSha256: string; maxRssKiB: number };
      if (!res.match || !shaOut.startsWith(res.sha256) || res.sha256 !== res.rebuiltSha256) throw new Error('compare disagrees with sha256sum');
      compareS = Math.min(compareS, res.seconds);
      rss.push(res.maxRssKiB / 1024);
    }
    return { sizeMiB, compareS, sha256sumS, maxRssMiB: Math.min(...rss), rssRange: [Math.min(...rss), Math.max(...rss)] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]!, args[2]!);
  const sizes = args.length > 0 ? args.map(Number) : [256, 1024];
  console.log('compare --method bytes (SHA-256 of both files + equality) vs `sha256sum a b`, identical pairs, page cache warm');
  const results = [];
  for (const size of sizes) {
    const r = benchSize(size);
    results.push(r);
    const total = (2 * r.sizeMiB) / 1024; // GiB read per run (both files)
    console.log(
      `${String(r.sizeMiB).padStart(5)} MiB pair: compare ${(total / r.compareS).toFixed(2)} GiB/s (${r.compareS.toFixed(2)} s), ` +
        `sha256sum ${(total / r.sha256sumS).toFixed(2)} GiB/s (${r.sha256sumS.toFixed(2)} s), ratio ${(r.sha256sumS / r.compareS).toFixed(2)}× (target ≥ 0.90×), ` +
        `peak RSS ${r.maxRssMiB.toFixed(0)} MiB (${r.rssRange[0].toFixed(0)}–${r.rssRange[1].toFixed(0)} over 3 runs)`,
    );
  }
  if (results.length > 1) {
    const first = results[0]!;
    const last = results[results.length - 1]!;
    console.log(`peak RSS ${first.sizeMiB} MiB → ${last.sizeMiB} MiB: ${first.maxRssMiB.toFixed(0)} → ${last.maxRssMiB.toFixed(0)} MiB (${last.maxRssMiB - first.maxRssMiB > 16 ? 'GROWS — not constant memory' : 'flat'})`);
  }
}

await main();
