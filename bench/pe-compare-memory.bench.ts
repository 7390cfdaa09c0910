/**
 * Memory of the PE comparer (signed release vs unsigned rebuild) as the file grows: peak RSS for a
 * 256 MiB and a 1 GiB PE, each compared in its own process. The comparer streams, so peak RSS must
 * not grow with the file (issue: "memory stays flat for a 1 GiB PE").
 *
 * The PE is a mingw-w64 build with random overlay appended (part of the Authenticode digest), signed
 * by osslsigncode. Files live in os.tmpdir() and are deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peComparer } from '../lambda/formats/pe/compare';
import { buildPe, HELLO_C, makePki, sign } from '../test/formats/support/authenticode-fixtures';

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

async function child(signed: string, unsigned: string): Promise<void> {
  const t = performance.now();
  const r = await peComparer.compare(signed, unsigned, {});
  const ms = performance.now() - t;
  console.log(JSON.stringify({ match: r.match, ms, maxRss: process.resourceUsage().maxRSS * 1024 }));
}

async function main(): Promise<void> {
  for (const tool of ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.log(`PE compare memory bench skipped: ${tool} not installed`);
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'rv-bench-pe-mem-'));
  try {
    const pki = makePki(dir);
    const small = buildPe(dir, 'bench', HELLO_C);
    const rows: string[] = [];
    for (const size of [256, 1024]) {
      const unsigned = join(dir, `app-${size}.exe`);
      const gen = spawnSync('sh', ['-c', `cat "$1" > "$2" && head -c ${size * 1024 * 1024} /dev/urandom >> "$2"`, 'sh', small, unsigned]);
      if (gen.status !== 0) throw new Error(`could not write the benchmark PE: ${gen.stderr}`);
      const signed = sign(unsigned, join(dir, `app-${size}-signed.exe`), pki.leaf);
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', signed, unsigned], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`comparer child failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { match: boolean; ms: number; maxRss: number };
      const bytes = statSync(signed).size;
      rows.push(`${mib(bytes).padStart(9)} signed vs unsigned: match=${out.match}  ${(out.ms / 1000).toFixed(1)} s (${(bytes / 1024 / 1024 / (out.ms / 1000)).toFixed(0)} MiB/s)  peak RSS ${mib(out.maxRss)}`);
      rmSync(signed);
      rmSync(unsigned);
    }
    console.log('PE comparer (Authenticode-transparent), one process per size:');
    for (const r of rows) console.log(`  ${r}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1]!, process.argv[i + 2]!);
else await main();
