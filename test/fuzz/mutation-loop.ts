/**
 * The mutation loop shared by `npm run fuzz` (run-fuzz.ts) and the bounded vitest mutation test:
 * deterministic per (seed, format, index), so any failure can be replayed.
 */
import { mutate, prng, type FuzzCase } from './fuzz-target';

export type CaseResult = 'valid' | 'equivalent' | 'invalid' | 'error' | 'crash' | 'timeout';
export const FAILING: ReadonlySet<CaseResult> = new Set(['valid', 'crash', 'timeout']);

export interface Tally {
  valid: number; // judged valid although the signed content changed: a failure
  equivalent: number; // judged valid, and the mutation was a no-op for the signature (allowed)
  invalid: number;
  error: number; // rejected with a typed error
  crash: number; // an untyped exception: a failure
  timeout: number; // a hang: a failure
}

export const emptyTally = (): Tally => ({ valid: 0, equivalent: 0, invalid: 0, error: 0, crash: 0, timeout: 0 });

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The mutation number `index` of `format`: which case, and the mutated bytes. */
export function mutationAt(cases: FuzzCase[], format: string, seed: number, index: number): { fuzzCase: FuzzCase; caseIndex: number; mutated: Uint8Array } {
  const caseIndex = index % cases.length;
  const rand = prng((seed ^ hashName(format)) + Math.imul(index, 0x9e3779b1));
  const fuzzCase = cases[caseIndex]!;
  return { fuzzCase, caseIndex, mutated: mutate(fuzzCase.bytes, rand) };
}

/** Runs one mutated case with a time limit (an async hang becomes 'timeout'). */
export async function runMutation(fuzzCase: FuzzCase, mutated: Uint8Array, timeoutMs: number): Promise<{ result: CaseResult; detail?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([fuzzCase.check(mutated), timeout]);
    if (outcome === 'timeout') return { result: 'timeout', detail: `no answer within ${timeoutMs} ms` };
    if (outcome === 'valid') return fuzzCase.isEquivalent?.(mutated) ? { result: 'equivalent' } : { result: 'valid', detail: 'mutated input judged valid' };
    return { result: outcome };
  } catch (err) {
    return { result: 'crash', detail: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 500) : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
