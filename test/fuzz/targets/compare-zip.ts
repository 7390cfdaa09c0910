/**
 * Archive comparer, zip: a tree packed with the `zip` CLI at one time against the same tree packed
 * at another (different mtimes: metadata the comparer documents as not content). A match is
 * allowed only when an independent reader (content-oracles.ts) finds the same content — names,
 * types, bytes — in the mutated zip, with its local headers agreeing with its central directory and
 * every CRC right.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../support/tools';
import { archiveTree, stamp } from '../archive-fixtures';
import { compareCase } from '../compare-support';
import { sameModel, zipContent } from '../content-oracles';
import type { FuzzTarget } from '../fuzz-target';

const target: FuzzTarget = {
  name: 'compare-zip',
  async setup(dir) {
    const root = archiveTree(dir);
    const zip = (name: string, when: string) => {
      stamp(root, when);
      const out = join(dir, name);
      run('zip', ['-q', '-r', '-X', out, '.'], { cwd: root });
      return out;
    };
    const published = readFileSync(zip('release.zip', '2024-01-01T00:00:00Z'));
    const rebuilt = zip('rebuild.zip', '2025-02-03T04:05:06Z');
    const genuine = zipContent(published);
    if (!genuine || !sameModel(genuine, zipContent(readFileSync(rebuilt)))) throw new Error('fixture: the oracle cannot read the zips, or they differ');
    return [compareCase({ published, rebuiltPath: rebuilt, dir, name: 'release.zip', transparent: (m) => sameModel(zipContent(m), genuine) })];
  },
};
export default target;
