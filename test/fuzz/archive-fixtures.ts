/** The tree the archive fuzz targets pack (a few files, a directory, a symlink), and GNU tar. */
import { mkdirSync, symlinkSync, utimesSync, writeFileSync, readdirSync, lstatSync, lutimesSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../support/tools';

export function archiveTree(dir: string): string {
  const root = join(dir, 'tree');
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'README.txt'), 'release notes\n'.repeat(20));
  writeFileSync(join(root, 'bin', 'app'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) & 0xff)));
  writeFileSync(join(root, 'bin', 'empty'), '');
  symlinkSync('app', join(root, 'bin', 'app-link'));
  return root;
}

/** Sets every path's mtime under `root` (so two packs of one tree differ only in metadata). */
export function stamp(root: string, when: string): void {
  const t = new Date(when);
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
    if (st.isSymbolicLink()) lutimesSync(p, t, t);
    else utimesSync(p, t, t);
  };
  walk(root);
}

export function gnuTar(dir: string, root: string, name: string, o: { mtime: string; owner: number; gzip?: boolean }): string {
  const out = join(dir, name);
  run(
    'tar',
    ['--sort=name', `--mtime=${o.mtime}`, `--owner=${o.owner}`, '--group=0', '--numeric-owner', '--format=gnu', o.gzip ? '-czf' : '-cf', out, '-C', root, '.'],
    { env: { ...process.env, GZIP: '-n' } },
  );
  return out;
}
