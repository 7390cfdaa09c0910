/**
 * Authenticode verify + digest of a ≥ 256 MiB signed PE, next to `osslsigncode verify` on the same
 * file: prints both times, the ratio (ours / osslsigncode; target ≤ 1.0) and this process's peak RSS
 * (the digest streams, so RSS must stay far below the file size). Also times the PE comparer
 * (signed release vs unsigned rebuild), which reads both files.
 *
 * The PE is a mingw-w64 build with 256 MiB of random overlay (+ 8 bytes) appended, then signed by
 * osslsigncode (the overlay is part of the Authenticode digest). Files live in os.tmpdir() and are
 * deleted afterwards. Env: BENCH_MIB (default 256), BENCH_RUNS (default 3).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAuthenticode } from '../lambda/formats/authenticode/verify';
import { peComparer } from '../lambda/formats/pe/compare';
import { buildPe, HELLO_C, makePki, sign } from '../test/formats/support/authenticode-fixtures';

const MIB = Number(process.env.BENCH_MIB ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  for (const tool of ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.log(`authenticode bench skipped: ${tool} not installed`);
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'rv-bench-authenticode-'));
  try {
    const pki = makePki(dir);
    const small = buildPe(dir, 'bench', HELLO_C);
    // The overlay is written by a child process so that this process's peak RSS reflects only
    // verification and comparison.
    const big = join(dir, 'big.exe');
    const gen = spawnSync('sh', ['-c', `cat "$1" > "$2" && head -c ${MIB * 1024 * 1024} /dev/urandom >> "$2" && printf 'odd tail' >> "$2"`, 'sh', small, big]);
    if (gen.status !== 0) throw new Error(`could not write the benchmark PE: ${gen.stderr}`);
    const signed = sign(big, join(dir, 'big-signed.exe'), pki.leaf);
    const size = statSync(signed).size;
    console.log(`signed PE: ${mib(size)} (${size} bytes)`);

    const policy = { scheme: 'authenticode' as const, certSha256: [pki.leaf.sha256] };
    const rssBefore = process.resourceUsage().maxRSS * 1024;
    const ours: number[] = [];
    const theirs: number[] = [];
    // warm the page cache for both, then alternate
    await verifyAuthenticode({ assetPath: signed, policy });
    for (let i = 0; i < RUNS; i++) {
      let t = performance.now();
      const r = await verifyAuthenticode({ assetPath: signed, policy });
      ours.push(performance.now() - t);
      if (!r.valid) throw new Error(`benchmark PE did not verify: ${r.reason}`);
      t = performance.now();
      const o = spawnSync('osslsigncode', ['verify', '-CAfile', pki.ca.cert.crt, '-in', signed], { stdio: 'ignore' });
      theirs.push(performance.now() - t);
      if (o.status !== 0) throw new Error('osslsigncode verify failed on the benchmark PE');
    }
    const a = median(ours);
    const b = median(theirs);
    console.log(`verifyAuthenticode (digest + verify): ${a.toFixed(0)} ms median of ${RUNS} (${(size / 1024 / 1024 / (a / 1000)).toFixed(0)} MiB/s)`);
    console.log(`osslsigncode verify:                  ${b.toFixed(0)} ms median of ${RUNS}`);
    console.log(`ratio ours/osslsigncode: ${(a / b).toFixed(2)} (target ≤ 1.0)`);

    let t = performance.now();
    const cmp = await peComparer.compare(signed, big, {});
    console.log(`peComparer signed vs unsigned rebuild: match=${cmp.match} in ${(performance.now() - t).toFixed(0)} ms`);

    const rss = process.resourceUsage().maxRSS * 1024;
    console.log(`peak RSS of this process: ${mib(rss)} (${mib(rss - rssBefore)} above the peak before verifying; file ${mib(size)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
