/**
 * Archive comparer, tar.gz (gzip layer): GNU tar | gzip -n of a tree at one mtime against the same
 * tree at another. A match is allowed only when the mutated file still gunzips (zlib: CRC-32 and
 * length checked, nothing after the last member) to a tar an independent reader finds the same
 * content in. The gzip header's MTIME/XFL/OS are not content.
 */
import { readFileSync } from 'node:fs';
import { archiveTree, gnuTar } from '../archive-fixtures';
import { compareCase } from '../compare-support';
import { sameModel, tarGzContent } from '../content-oracles';
import type { FuzzTarget } from '../fuzz-target';

const target: FuzzTarget = {
  name: 'compare-gzip',
  async setup(dir) {
    const root = archiveTree(dir);
    const published = readFileSync(gnuTar(dir, root, 'release.tar.gz', { mtime: '2024-01-01 00:00:00Z', owner: 0, gzip: true }));
    const rebuilt = gnuTar(dir, root, 'rebuild.tar.gz', { mtime: '2025-02-03 04:05:06Z', owner: 1000, gzip: true });
    const genuine = tarGzContent(published);
    if (!genuine || !sameModel(genuine, tarGzContent(readFileSync(rebuilt)))) throw new Error('fixture: the oracle cannot read the archives, or they differ');
    return [compareCase({ published, rebuiltPath: rebuilt, dir, name: 'release.tar.gz', transparent: (m) => sameModel(tarGzContent(m), genuine) })];
  },
};
export default target;
