import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';

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
