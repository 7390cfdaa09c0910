#!/usr/bin/env node
// Entry point for `npx release-verifier …`. It runs the compiled CLI in dist/ (built by
// `npm run build`, which `npm ci` runs through the `prepare` script) when that build is current:
// no TypeScript is transpiled at start (issue 14: `--version` in well under 0.15 s). Otherwise —
// no dist/ (esbuild absent), or a source listed in dist/inputs.json is newer than the build, as
// while developing — it runs the TypeScript through tsx, so a stale build is never what runs.
// RELEASE_VERIFIER_FROM_SOURCE=1 forces tsx; RELEASE_VERIFIER_FROM_DIST=1 forces dist/ even when a
// source is newer (benchmarks and build tests measure what they built). Neither available: exit 2.
//
// The last line of defence (issue 15), installed before anything else: a fault nobody caught ends
// the process with exit code 2 (INCOMPLETE) and one line — never a stack-trace crash with exit code
// 1, which would read as MISMATCH/TAMPERED. While a run is under way, guardRun
// (lambda/core/last-resort.ts) sets these aside and turns the fault into the run's report.
for (const event of ['unhandledRejection', 'uncaughtException']) {
  process.on(event, (err) => {
    process.stderr.write(`release-verifier: INCOMPLETE — internal error (${event}): ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
import { readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);

/** dist/ exists and no source it was built from changed since (a few hundred stat calls, ~2 ms). */
function currentBuild() {
  if (process.env.RELEASE_VERIFIER_FROM_SOURCE === '1') return false;
  try {
    const info = JSON.parse(readFileSync(new URL('dist/inputs.json', root), 'utf8'));
    if (!Array.isArray(info.inputs) || typeof info.builtAt !== 'number') return false;
    if (process.env.RELEASE_VERIFIER_FROM_DIST === '1') return true;
    return info.inputs.every((f) => statSync(new URL(f, root)).mtimeMs < info.builtAt);
  } catch {
    return false;
  }
}

let main;
if (currentBuild()) {
  // Node ≥ 22.1 keeps compiled code between runs: start-up without re-compiling the bundle. Only
  // in this user's private cache directory (bin/private-cache-dir.mjs), never the shared default
  // under /tmp. Best effort: no usable directory changes nothing but speed.
  try {
    const { enableCompileCache } = await import('node:module');
    if (enableCompileCache) {
      const { privateCompileCacheDir } = await import('./private-cache-dir.mjs');
      const dir = privateCompileCacheDir();
      if (dir) enableCompileCache(dir);
    }
  } catch {}
  ({ main } = await import(new URL('dist/cli.js', root).href));
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('release-verifier: INCOMPLETE — no current build in dist/ and tsx is not installed: run `npm ci` (or `npm run build`)\n');
    process.exit(2);
  }
  register();
  ({ main } = await import('./cli.ts'));
}
const code = await main(process.argv.slice(2));
process.exitCode = code;
// The command is done. Abandoned work (a hung socket a run deadline gave up on, a build ignoring its
// kill) must not keep the process alive: leave with the same code if it has not exited by then.
setTimeout(() => process.exit(code), 2_000).unref();
