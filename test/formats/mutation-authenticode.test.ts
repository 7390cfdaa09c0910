/**
 * Bounded mutation test for Authenticode (the fuzz target's cases, 150 mutations): random byte
 * flips, truncations and insertions in a signed, timestamped PE and in its PKCS#7 must never crash,
 * hang or be judged valid — unless they only touched bytes no signature covers (the target's
 * `isEquivalent`). `npm run fuzz -- --format authenticode` runs ≥ 10,000.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import target from '../fuzz/targets/authenticode';
import type { FuzzCase } from '../fuzz/fuzz-target';
import { emptyTally, mutationAt, runMutation } from '../fuzz/mutation-loop';
import { toolsAvailable } from '../support/tools';
import { REQUIRED_TOOLS } from './support/authenticode-fixtures';

const MUTATIONS = 150;
const SEED = 20251122;

describe.skipIf(!toolsAvailable(...REQUIRED_TOOLS))('Authenticode mutations', () => {
  let dir: string;
  let cases: FuzzCase[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rv-mutation-authenticode-'));
    cases = await target.setup(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${MUTATIONS} mutations: never valid (unless a no-op for the signature), never a crash or hang`, async () => {
    const tally = emptyTally();
    const failures: string[] = [];
    for (let i = 0; i < MUTATIONS; i++) {
      const { fuzzCase, caseIndex, mutated } = mutationAt(cases, target.name, SEED, i);
      const { result, detail } = await runMutation(fuzzCase, mutated, 10_000);
      tally[result]++;
      if (result === 'valid' || result === 'crash' || result === 'timeout') failures.push(`#${i} case ${caseIndex}: ${result} ${detail ?? ''}`);
    }
    console.log(`authenticode mutations (seed ${SEED}):`, tally);
    expect(failures).toEqual([]);
    expect(tally.invalid + tally.error).toBeGreaterThan(MUTATIONS / 2);
  });
});
