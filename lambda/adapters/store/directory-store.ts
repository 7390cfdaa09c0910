/**
 * The Store port on a local directory (the laptop stand-in for S3). Keys are `/`-separated and
 * must stay inside the directory. `ifNoneMatch` uses O_EXCL, so "write once" holds here as in S3.
 */
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { VerifierError } from '../../core/errors';
import type { Store } from '../../core/ports';

export class DirectoryStore implements Store {
  readonly root: string;
  constructor(root: string) {
    this.root = resolve(root);
  }

  private pathOf(key: string): string {
    const p = resolve(this.root, key);
    if (!key || key.startsWith('/') || key.split('/').includes('..') || !(p + sep).startsWith(this.root + sep))
      throw new VerifierError('STORE_KEY_INVALID', `invalid store key "${key}"`);
    return p;
  }

  async put(key: string, body: string | Uint8Array, options: { ifNoneMatch?: boolean } = {}): Promise<boolean> {
    const p = this.pathOf(key);
    await mkdir(dirname(p), { recursive: true });
    if (options.ifNoneMatch) {
      try {
        await writeFile(p, body, { flag: 'wx' });
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
    }
    // write-then-rename so a reader never sees half a record
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, p);
    return true;
  }

  async get(key: string): Promise<string | null> {
    try {
      return await readFile(this.pathOf(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string) => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.endsWith('.tmp')) {
          const key = relative(this.root, full).split(sep).join('/');
          if (key.startsWith(prefix)) out.push(key);
        }
      }
    };
    // walk only the prefix's folder: the store may be the working directory (`--store .`), and a
    // listing of runs/ must not read a whole project tree (node_modules, .git) to find it
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(folder ? this.pathOf(folder) : this.root);
    return out.sort();
  }

  locate(key: string): string {
    return this.pathOf(key);
  }
}
