// Where the launcher keeps Node's compile cache (Node ≥ 22.1: module.enableCompileCache): a
// directory only this user can write, or none. Node's default, os.tmpdir()/node-compile-cache, is
// shared: whoever creates it first could plant compiled code that a later run of this verifier
// would execute. The cache only saves start-up time, so anything doubtful means no cache.
import { lstatSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

/**
 * $XDG_CACHE_HOME/release-verifier/node-compile-cache (else ~/.cache/…), created 0700, when it and
 * its parent are real directories owned by this user and writable by nobody else; else undefined.
 * Undefined too when the user chose for themselves (NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE)
 * or the platform has no user ids (Windows).
 */
export function privateCompileCacheDir(env = process.env, home = homedir()) {
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  if (typeof process.getuid !== 'function') return undefined;
  let base = env.XDG_CACHE_HOME;
  if (!base || !isAbsolute(base)) {
    if (!home || !isAbsolute(home)) return undefined;
    base = join(home, '.cache');
  }
  const dir = join(base, 'release-verifier', 'node-compile-cache');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const uid = process.getuid();
    for (const d of [dir, dirname(dir)]) {
      const st = lstatSync(d);
      if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}
