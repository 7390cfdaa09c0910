/**
 * Archive comparer, tar: GNU tar of a tree at one mtime and owner against the same tree at
 * another. A match is allowed only when an independent reader (content-oracles.ts) finds the same
 * content — names, types, bytes, link targets — in the mutated tar (checksums right).
 */
import { readFileSync } from 'node:fs';
import { archiveTree, gnuTar } from '../archive-fixtures';
import { compareCase } from '../compare-support';
import { sameModel, tarContent } from '../content-oracles';
import type { FuzzTarget } from '../fuzz-target';

const target: FuzzTarget = {
  name: 'compare-tar',
  async setup(dir) {
    const root = archiveTree(dir);
    const published = readFileSync(gnuTar(dir, root, 'release.tar', { mtime: '2024-01-01 00:00:00Z', owner: 0 }));
    const rebuilt = gnuTar(dir, root, 'rebuild.tar', { mtime: '2025-02-03 04:05:06Z', owner: 1000 });
    const genuine = tarContent(published);
    if (!genuine || !sameModel(genuine, tarContent(readFileSync(rebuilt)))) throw new Error('fixture: the oracle cannot read the tars, or they differ');
    return [compareCase({ published, rebuiltPath: rebuilt, dir, name: 'release.tar', transparent: (m) => sameModel(tarContent(m), genuine) })];
  },
};
export default target;
