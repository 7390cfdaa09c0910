/**
 * Bounded mutation test for the signature schemes: the same targets as `npm run fuzz`, a bounded
 * count per seed (byte flips, truncations, insertions of the signature or of the signed file) with
 * several seeds. Never valid (unless the mutation is a no-op for the signature), never a crash,
 * never a hang. The seeds are fixed so CI is reproducible; MUTATION_SEEDS=1,2,3 runs others, and
 * every failure names its seed and index (`npm run fuzz -- --format F --seed S --count N` replays).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FuzzCase, FuzzTarget } from '../fuzz/fuzz-target';
import { emptyTally, FAILING, mutationAt, runMutation } from '../fuzz/mutation-loop';
import authenticode from '../fuzz/targets/authenticode';
import minisign from '../fuzz/targets/minisign';
import openpgp from '../fuzz/targets/openpgp';
import sigstore from '../fuzz/targets/sigstore';
import tauri from '../fuzz/targets/tauri';
import { toolsAvailable } from '../support/tools';
import { REQUIRED_TOOLS as AUTHENTICODE_TOOLS } from './support/authenticode-fixtures';

const COUNT = 150; // per seed
/** 113: the seed on which `npm run fuzz` found the Tauri trailing-CR acceptance (issue 9, item 9) */
const SEEDS = process.env.MUTATION_SEEDS ? process.env.MUTATION_SEEDS.split(',').map((s) => Number(s) >>> 0) : [113, 20251122, 4242];
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const targets: Array<[FuzzTarget, readonly string[]]> = [
  [minisign, ['minisign']],
  [tauri, ['minisign']],
  [openpgp, ['gpg', 'gpgconf']],
  [sigstore, []],
  [authenticode, AUTHENTICODE_TOOLS],
];

async function setUp(target: FuzzTarget): Promise<FuzzCase[]> {
  const dir = mkdtempSync(join(tmpdir(), `rv-mut-${target.name}-`));
  dirs.push(dir);
  const cases = await target.setup(dir);
  expect(cases.length).toBeGreaterThan(0);
  // the genuine inputs must verify, or the mutations prove nothing
  for (const c of cases) expect(await c.check(c.bytes)).toBe('valid');
  return cases;
}

describe.each(targets.map(([target, tools]) => ({ name: target.name, target, tools })))('mutations of $name signatures', ({ target, tools }) => {
  it.skipIf(tools.length > 0 && !toolsAvailable(...tools))(
    `${COUNT} mutations × seeds ${SEEDS.join(', ')}: never valid, never a crash or hang`,
    async () => {
      const cases = await setUp(target);
      const failures: string[] = [];
      for (const seed of SEEDS) {
        const tally = emptyTally();
        for (let i = 0; i < COUNT; i++) {
          const { fuzzCase, caseIndex, mutated } = mutationAt(cases, target.name, seed, i);
          const { result, detail } = await runMutation(fuzzCase, mutated, 10_000);
          tally[result]++;
          if (FAILING.has(result)) failures.push(`seed ${seed} #${i} (case ${caseIndex}) ${result}${detail ? `: ${detail}` : ''}`);
        }
        expect(tally.invalid + tally.error, `seed ${seed}`).toBeGreaterThan(COUNT / 2);
      }
      expect(failures, `replay: npm run fuzz -- --format ${target.name} --seed S --count N`).toEqual([]);
    },
    120_000,
  );
});

describe.skipIf(!toolsAvailable('minisign'))('known fuzz findings, replayed', () => {
  it('Tauri, seed 113, mutation 668: "Cg==" → "Cg0=" (the signature text then ends "\\n\\r") is refused', async () => {
    const cases = await setUp(tauri);
    const { fuzzCase, caseIndex, mutated } = mutationAt(cases, 'tauri', 113, 668);
    expect(caseIndex).toBe(0);
    // still the same input as when it was found (the mutator and the fixture's layout are unchanged)
    expect(Buffer.from(Buffer.from(mutated).toString('latin1'), 'base64').toString('latin1')).toMatch(/\n\r$/);
    expect(fuzzCase.isEquivalent!(mutated)).toBe(false);
    expect(await fuzzCase.check(mutated)).toBe('invalid');
  });
});
