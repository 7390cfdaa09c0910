/**
 * Bounded mutation test for the signature schemes: the same targets as `npm run fuzz`, 150
 * mutations each (byte flips, truncations, insertions of the signature or of the signed file).
 * Never valid (unless the mutation is a no-op for the signature), never a crash, never a hang.
 * The seed is random per run and printed in every failure: MUTATION_SEED=<n> replays it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FuzzTarget } from '../fuzz/fuzz-target';
import { emptyTally, FAILING, mutationAt, runMutation } from '../fuzz/mutation-loop';
import minisign from '../fuzz/targets/minisign';
import openpgp from '../fuzz/targets/openpgp';
import sigstore from '../fuzz/targets/sigstore';
import tauri from '../fuzz/targets/tauri';
import { toolsAvailable } from '../support/tools';

const COUNT = 150;
const SEED = process.env.MUTATION_SEED !== undefined ? Number(process.env.MUTATION_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const targets: Array<[FuzzTarget, string[]]> = [
  [minisign, ['minisign']],
  [tauri, ['minisign']],
  [openpgp, ['gpg', 'gpgconf']],
  [sigstore, []],
];

describe.each(targets.map(([target, tools]) => ({ name: target.name, target, tools })))('mutations of $name signatures', ({ target, tools }) => {
  it.skipIf(tools.length > 0 && !toolsAvailable(...tools))(`${COUNT} mutations: never valid, never a crash or hang (seed ${SEED})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `rv-mut-${target.name}-`));
    dirs.push(dir);
    const cases = await target.setup(dir);
    expect(cases.length).toBeGreaterThan(0);
    // the genuine inputs must verify, or the mutations prove nothing
    for (const c of cases) expect(await c.check(c.bytes)).toBe('valid');
    const tally = emptyTally();
    const failures: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const { fuzzCase, caseIndex, mutated } = mutationAt(cases, target.name, SEED, i);
      const { result, detail } = await runMutation(fuzzCase, mutated, 5000);
      tally[result]++;
      if (FAILING.has(result)) failures.push(`#${i} (case ${caseIndex}) ${result}${detail ? `: ${detail}` : ''}`);
    }
    expect(failures, `seed ${SEED}: replay with MUTATION_SEED=${SEED}`).toEqual([]);
    expect(tally.invalid + tally.error).toBeGreaterThan(COUNT / 2);
  });
});
