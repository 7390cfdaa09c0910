/**
 * The launcher's compile cache directory (bin/private-cache-dir.mjs): Node ≥ 22.1 would otherwise
 * keep compiled code in the shared os.tmpdir()/node-compile-cache, where another account could
 * plant code this verifier then runs. Only a directory this user owns and nobody else can write is
 * used; anything else means no cache. (Node 20 has no compile cache: the launcher then never asks.)
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript module of the launcher, no declarations
import { privateCompileCacheDir } from '../../bin/private-cache-dir.mjs';

const choose = privateCompileCacheDir as (env: NodeJS.ProcessEnv, home?: string) => string | undefined;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'rv-cache-dir-'));
  dirs.push(d);
  return d;
};

describe.skipIf(typeof process.getuid !== 'function')('private compile cache directory', () => {
  it('creates $XDG_CACHE_HOME/release-verifier/node-compile-cache, mode 0700', () => {
    const base = scratch();
    const dir = choose({ XDG_CACHE_HOME: base });
    expect(dir).toBe(join(base, 'release-verifier', 'node-compile-cache'));
    expect(statSync(dir!).mode & 0o777).toBe(0o700);
    expect(statSync(join(base, 'release-verifier')).mode & 0o077).toBe(0);
    // and again: the existing directory is accepted
    expect(choose({ XDG_CACHE_HOME: base })).toBe(dir);
  });

  it('falls back to ~/.cache when XDG_CACHE_HOME is unset or relative; no absolute home, no cache', () => {
    const home = scratch();
    expect(choose({ XDG_CACHE_HOME: 'relative/cache' }, home)).toBe(join(home, '.cache', 'release-verifier', 'node-compile-cache'));
    expect(choose({}, home)).toBe(join(home, '.cache', 'release-verifier', 'node-compile-cache'));
    expect(choose({}, '')).toBeUndefined();
    expect(choose({}, 'relative/home')).toBeUndefined();
  });

  it('refuses a directory others can write, at the cache or its parent', () => {
    const base = scratch();
    mkdirSync(join(base, 'release-verifier', 'node-compile-cache'), { recursive: true, mode: 0o700 });
    chmodSync(join(base, 'release-verifier', 'node-compile-cache'), 0o777);
    expect(choose({ XDG_CACHE_HOME: base })).toBeUndefined();
    chmodSync(join(base, 'release-verifier', 'node-compile-cache'), 0o700);
    chmodSync(join(base, 'release-verifier'), 0o775);
    expect(choose({ XDG_CACHE_HOME: base })).toBeUndefined();
    chmodSync(join(base, 'release-verifier'), 0o755);
    expect(choose({ XDG_CACHE_HOME: base })).toBe(join(base, 'release-verifier', 'node-compile-cache'));
  });

  it('refuses a symbolic link in place of the directory (it could point anywhere)', () => {
    const base = scratch();
    const elsewhere = scratch();
    mkdirSync(join(base, 'release-verifier'), { mode: 0o700 });
    symlinkSync(elsewhere, join(base, 'release-verifier', 'node-compile-cache'));
    expect(choose({ XDG_CACHE_HOME: base })).toBeUndefined();
  });

  it("leaves the user's own choice alone (NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE)", () => {
    const base = scratch();
    expect(choose({ XDG_CACHE_HOME: base, NODE_COMPILE_CACHE: '/somewhere' })).toBeUndefined();
    expect(choose({ XDG_CACHE_HOME: base, NODE_DISABLE_COMPILE_CACHE: '1' })).toBeUndefined();
  });

  it('a cache path that cannot be made (a file in the way) means no cache, not an error', () => {
    const base = scratch();
    // a regular file where the directory would go
    writeFileSync(join(base, 'release-verifier'), 'not a directory');
    expect(choose({ XDG_CACHE_HOME: base })).toBeUndefined();
  });
});
