/**
 * `npm run bench`: runs every bench/*.bench.ts in its own process (so each reports its own peak
 * RSS) and prints their figures. Benchmarks print; they do not assert.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const b of benches) {
  console.log(`\n=== ${b} ===`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, b)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(${b} exited with ${r.status})`);
  }
}
process.exit(failed ? 1 : 0);
