import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

// the folders the store reads while listing
const read = vi.hoisted(() => ({ dirs: [] as string[] }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    readdir: ((path: string, options: never) => {
      read.dirs.push(String(path));
      return fs.readdir(path, options);
    }) as typeof fs.readdir,
  };
});
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';

describe('DirectoryStore', () => {
  const store = new DirectoryStore(mkdtempSync(join(tmpdir(), 'store-')));

  it('writes, reads and lists keys', async () => {
    expect(await store.put('runs/r1/plan.json', '{"a":1}')).toBe(true);
    await store.put('runs/r1/targets/linux.json', '{}');
    await store.put('runs/r2/plan.json', '{}');
    expect(await store.get('runs/r1/plan.json')).toBe('{"a":1}');
    expect(await store.get('runs/r1/missing.json')).toBeNull();
    expect(await store.list('runs/r1/')).toEqual(['runs/r1/plan.json', 'runs/r1/targets/linux.json']);
  });

  it('lists a prefix by walking only its folder (a store in a project directory does not read the whole tree)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'store-walk-'));
    const s = new DirectoryStore(root);
    await s.put('runs/a/summary.json', '{}');
    await s.put('runs/b/report.html', 'x');
    await s.put('runsx/c.json', '{}');
    await s.put('node_modules/big/index.js', 'x');
    read.dirs.length = 0;
    expect(await s.list('runs/')).toEqual(['runs/a/summary.json', 'runs/b/report.html']);
    expect(read.dirs.map((d) => relative(root, d)).sort()).toEqual(['runs', join('runs', 'a'), join('runs', 'b')]);
    expect(await s.list('runs/a/')).toEqual(['runs/a/summary.json']);
    expect(await s.list('missing/')).toEqual([]);
    // a prefix without a folder part lists from the root (everything starting with it)
    expect(await s.list('run')).toEqual(['runs/a/summary.json', 'runs/b/report.html', 'runsx/c.json']);
  });

  it('writes once with ifNoneMatch, like an S3 conditional write', async () => {
    expect(await store.put('runs/r1/summary.json', 'first', { ifNoneMatch: true })).toBe(true);
    expect(await store.put('runs/r1/summary.json', 'second', { ifNoneMatch: true })).toBe(false);
    expect(await store.get('runs/r1/summary.json')).toBe('first');
    const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => store.put('runs/r1/race.json', String(i), { ifNoneMatch: true })));
    expect(racers.filter(Boolean)).toHaveLength(1);
  });

  it('refuses keys that leave the directory', async () => {
    await expect(store.put('../escape', 'x')).rejects.toThrow(/invalid store key/);
    await expect(store.put('/etc/x', 'x')).rejects.toThrow(/invalid store key/);
    await expect(store.get('runs/../../x')).rejects.toThrow(/invalid store key/);
  });
});
