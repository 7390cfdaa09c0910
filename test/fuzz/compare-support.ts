/**
 * Comparer fuzzing: mutate the PUBLISHED file, compare it with the genuine rebuild through the
 * dispatcher (`compareArtifacts`, as a run does), and judge the verdict against an oracle written
 * from the comparer's documented signature-transparent parts:
 *   - a match is allowed only when the mutation lies inside them (`isEquivalent`),
 *   - outside, the verdict must be a mismatch or a typed error (VerifierError), never a match,
 *   - never a crash (untyped exception) or a hang (the runner's time limit).
 *
 * Byte-range oracles (PE, Mach-O, ELF) take the edit window of a mutation — the differing bytes for
 * an in-place change, else everything between the common prefix and the common suffix (for an
 * insertion: the point, which must lie strictly inside a range) — and require all of it inside.
 * Content oracles (MSI, archives) read the mutated file with an independent reader and require the
 * same signed content.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VerifierError } from '../../lambda/core/errors';
import { compareArtifacts } from '../../lambda/formats/compare/index';
import type { ComparisonReport } from '../../lambda/core/report';
import type { FuzzCase, FuzzOutcome } from './fuzz-target';

export type Range = [number, number];

/** The edit window of `mutated` against `original`, in the original's offsets. */
export function editOf(original: Uint8Array, mutated: Uint8Array): { sameLength: true; changed: number[] } | { sameLength: false; start: number; end: number } {
  if (original.length === mutated.length) {
    const changed: number[] = [];
    for (let i = 0; i < original.length; i++) if (original[i] !== mutated[i]) changed.push(i);
    return { sameLength: true, changed };
  }
  let prefix = 0;
  const min = Math.min(original.length, mutated.length);
  while (prefix < min && original[prefix] === mutated[prefix]) prefix++;
  let suffix = 0;
  while (suffix < min - prefix && original[original.length - 1 - suffix] === mutated[mutated.length - 1 - suffix]) suffix++;
  return { sameLength: false, start: prefix, end: original.length - suffix };
}

/** True when every byte the mutation touched lies inside one of `ranges` (see the module comment). */
export function insideRanges(original: Uint8Array, mutated: Uint8Array, ranges: readonly Range[]): boolean {
  const edit = editOf(original, mutated);
  const inAny = (i: number) => ranges.some(([s, e]) => i >= s && i < e);
  if (edit.sameLength) return edit.changed.every(inAny);
  const { start, end } = edit;
  if (start === end) return ranges.some(([s, e]) => start > s && start < e); // a pure insertion point
  return ranges.some(([s, e]) => start >= s && end <= e);
}

export interface CompareCaseSpec {
  /** the published file (what the mutator changes) */
  published: Uint8Array;
  /** the genuine rebuild */
  rebuiltPath: string;
  /** where mutated copies and scratch files go */
  dir: string;
  /** file name for the mutated copy (comparers detect by content, the name is only for humans) */
  name: string;
  /** the oracle: may a mutated published file match the rebuild? */
  transparent(mutated: Uint8Array): boolean;
}

export async function compareOutcome(
  publishedPath: string,
  rebuiltPath: string,
  scratchDir: string,
): Promise<{ outcome: FuzzOutcome; report?: ComparisonReport }> {
  try {
    const report = await compareArtifacts(publishedPath, rebuiltPath, { scratchDir });
    return { outcome: report.match ? 'valid' : 'invalid', report };
  } catch (err) {
    if (err instanceof VerifierError) return { outcome: 'error' };
    throw err;
  }
}

/** A FuzzCase for one (published, rebuilt) pair: 'valid' means the comparer said "match". */
export function compareCase(spec: CompareCaseSpec): FuzzCase {
  const mutPath = join(spec.dir, `mut-${spec.name}`);
  const scratch = join(spec.dir, 'scratch');
  mkdirSync(scratch, { recursive: true });
  return {
    bytes: spec.published,
    async check(mutated) {
      writeFileSync(mutPath, mutated);
      return (await compareOutcome(mutPath, spec.rebuiltPath, scratch)).outcome;
    },
    isEquivalent: (m) => spec.transparent(m),
  };
}

/** Offsets of every occurrence of `needle` in `hay`. */
export function occurrences(hay: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  const h = Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength);
  for (let at = h.indexOf(needle); at !== -1; at = h.indexOf(needle, at + 1)) out.push(at);
  return out;
}

/** `ranges` minus `holes` (both half-open), for "the signature except the digest it carries". */
export function subtract(ranges: readonly Range[], holes: readonly Range[]): Range[] {
  let out: Range[] = ranges.map(([s, e]) => [s, e]);
  for (const [hs, he] of holes) {
    out = out.flatMap(([s, e]): Range[] => {
      if (he <= s || hs >= e) return [[s, e]];
      const parts: Range[] = [];
      if (hs > s) parts.push([s, hs]);
      if (he < e) parts.push([he, e]);
      return parts;
    });
  }
  return out;
}
