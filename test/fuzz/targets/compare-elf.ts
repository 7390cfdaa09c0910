/**
 * ELF (gcc): the bytes comparer with section naming. An ELF has no signature-transparent part: any
 * mutation must be a mismatch — and naming the differing ranges after the (mutated) file's
 * sections must never crash or hang.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../support/tools';
import { compareCase } from '../compare-support';
import { sameBytes } from '../equivalence';
import type { FuzzTarget } from '../fuzz-target';

const target: FuzzTarget = {
  name: 'compare-elf',
  async setup(dir) {
    const c = join(dir, 'hello.c');
    writeFileSync(c, 'int helper(int x) { return x * 3; }\nint main(void) { return helper(2); }\n');
    const out = join(dir, 'hello');
    run('gcc', ['-O1', '-o', out, c]);
    const elf = readFileSync(out);
    return [compareCase({ published: elf, rebuiltPath: out, dir, name: 'hello', transparent: (m) => sameBytes(elf, m) })];
  },
};
export default target;
