/**
 * Cargo rules, parsed with smol-toml: git dependencies without `rev` (every dependency table:
 * [dependencies], dev-, build-, target.*, workspace, [patch.*]); a Cargo.toml without a Cargo.lock
 * beside it or in a parent folder (the workspace root); Cargo.lock registry entries without a
 * checksum (lock format v1 keeps them under [metadata]).
 */
import { parse } from 'smol-toml';
import { lineWith } from './text-lines';
import { FULL_SHA, hit, type HygieneHit } from './types';

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

const DEP_TABLES = ['dependencies', 'dev-dependencies', 'build-dependencies'];

function dependencyTables(manifest: Table): { where: string; deps: Table }[] {
  const out: { where: string; deps: Table }[] = [];
  for (const t of DEP_TABLES) if (isTable(manifest[t])) out.push({ where: t, deps: manifest[t] });
  if (isTable(manifest.target)) {
    for (const [cfg, tbl] of Object.entries(manifest.target)) {
      if (isTable(tbl)) for (const t of DEP_TABLES) if (isTable(tbl[t])) out.push({ where: `target.${cfg}.${t}`, deps: tbl[t] });
    }
  }
  if (isTable(manifest.workspace) && isTable(manifest.workspace.dependencies))
    out.push({ where: 'workspace.dependencies', deps: manifest.workspace.dependencies });
  if (isTable(manifest.patch)) for (const [src, tbl] of Object.entries(manifest.patch)) if (isTable(tbl)) out.push({ where: `patch.${src}`, deps: tbl });
  return out;
}

export function cargoTomlHits(file: string, source: string, hasLock: boolean): { hits: HygieneHit[]; error?: string } {
  let manifest: Table;
  try {
    manifest = parse(source) as Table;
  } catch (err) {
    return { hits: [], error: `not TOML: ${(err as Error).message.split('\n')[0]}` };
  }
  const hits: HygieneHit[] = [];
  for (const { where, deps } of dependencyTables(manifest)) {
    for (const [name, spec] of Object.entries(deps)) {
      if (!isTable(spec) || typeof spec.git !== 'string') continue;
      const rev = typeof spec.rev === 'string' ? spec.rev : undefined;
      if (rev && FULL_SHA.test(rev)) continue;
      const line = lineWith(source, [spec.git], lineWith(source, [name]));
      const how = rev
        ? `rev = "${rev}" (not a full SHA)`
        : typeof spec.branch === 'string'
          ? `branch = "${spec.branch}"`
          : typeof spec.tag === 'string'
            ? `tag = "${spec.tag}"`
            : 'no rev';
      hits.push(
        hit(
          'HYGIENE_GIT_DEP_NOT_PINNED',
          file,
          line,
          `[${where}] ${name} = { git = "${spec.git}", ${how} }`,
          `add rev = "<full commit SHA>" to the ${name} git dependency`,
        ),
      );
    }
  }
  const hasDeps = dependencyTables(manifest).some((t) => Object.keys(t.deps).length > 0);
  if (!hasLock && hasDeps) {
    hits.push(
      hit('HYGIENE_LOCKFILE_MISSING', file, 1, `${file} has no Cargo.lock beside it or in a parent folder`, 'commit Cargo.lock and build with --locked'),
    );
  }
  return { hits };
}

export function cargoLockHits(file: string, source: string): { hits: HygieneHit[]; error?: string } {
  let lock: Table;
  try {
    lock = parse(source) as Table;
  } catch (err) {
    return { hits: [], error: `not TOML: ${(err as Error).message.split('\n')[0]}` };
  }
  const hits: HygieneHit[] = [];
  const metadata = isTable(lock.metadata) ? lock.metadata : {};
  const packages = Array.isArray(lock.package) ? lock.package : [];
  let from = 1;
  for (const p of packages.slice(0, 20_000)) {
    if (!isTable(p) || typeof p.source !== 'string' || !p.source.startsWith('registry+')) continue;
    const name = String(p.name);
    const version = String(p.version);
    const line = lineWith(source, [`name = "${name}"`], from, from);
    from = line;
    if (typeof p.checksum === 'string' && /^[0-9a-f]{64}$/.test(p.checksum)) continue;
    if (Object.keys(metadata).some((k) => k.startsWith(`checksum ${name} ${version} `))) continue;
    hits.push(
      hit(
        'HYGIENE_LOCKFILE_MISSING',
        file,
        line,
        `${name} ${version} (${p.source}) has no checksum`,
        'regenerate Cargo.lock with cargo (it records a checksum for every registry package)',
      ),
    );
  }
  return { hits };
}
