#!/usr/bin/env node
// Entry point for `npx release-verifier …`: the CLI is TypeScript, run through tsx's loader so that
// a fresh `npm ci` is enough (no build step to forget).
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
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// The command is done. Abandoned work (a hung socket a run deadline gave up on, a build ignoring its
// kill) must not keep the process alive: leave with the same code if it has not exited by then.
setTimeout(() => process.exit(code), 2_000).unref();
