/**
 * npm rules, parsed as JSON: dependencies from git, GitHub shorthands or URLs without a full commit
 * hash; a package.json with dependencies but no lock file beside it or in a parent folder (npm
 * workspaces lock at the root); lock entries (package-lock.json / npm-shrinkwrap.json, v1–v3)
 * fetched from a registry or URL without an `integrity`.
 */
import { lineWith } from './text-lines';
import { HAS_FULL_SHA, hit, type HygieneHit } from './types';

const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies'];
export const NPM_LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lock', 'bun.lockb'];

/** what kind of source a dependency spec names */
export function specKind(spec: string): 'git' | 'url' | 'local' | 'registry' {
  const s = spec.trim();
  if (/^(?:git\+|git:\/\/|git@)/i.test(s) || /^(?:github|gitlab|bitbucket|gist):/i.test(s)) return 'git';
  if (/^https?:\/\//i.test(s)) return /\.git(?:#|$)/i.test(s) ? 'git' : 'url';
  if (/^(?:file|link|workspace|portal|patch):/i.test(s) || s.startsWith('.') || s.startsWith('/') || s.startsWith('~')) return 'local';
  if (/^npm:/i.test(s)) return 'registry';
  // GitHub shorthand: user/repo or user/repo#ref (a range never contains "/")
  if (/^[A-Za-z0-9][\w.-]*\/[\w.-]+(?:#.*)?$/.test(s)) return 'git';
  return 'registry';
}

function json(source: string): { value?: Record<string, unknown>; error?: string } {
  try {
    const v = JSON.parse(source) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'not a JSON object' };
    return { value: v as Record<string, unknown> };
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
}

export function packageJsonHits(file: string, source: string, hasLock: boolean): { hits: HygieneHit[]; error?: string } {
  const { value: pkg, error } = json(source);
  if (!pkg) return { hits: [], error };
  const hits: HygieneHit[] = [];
  let count = 0;
  for (const field of DEP_FIELDS) {
    const deps = pkg[field];
    if (typeof deps !== 'object' || deps === null) continue;
    for (const [name, spec] of Object.entries(deps as Record<string, unknown>)) {
      count++;
      if (typeof spec !== 'string') continue;
      const kind = specKind(spec);
      if (kind === 'git') {
        const hash = spec.includes('#') ? spec.slice(spec.indexOf('#') + 1).replace(/^commit=/, '') : '';
        if (HAS_FULL_SHA.test(hash) && /^[0-9a-f]+$/i.test(hash)) continue;
        hits.push(
          hit(
            'HYGIENE_GIT_DEP_NOT_PINNED',
            file,
            lineWith(source, [`"${name}"`, spec]),
            `"${name}": "${spec}" (${field})`,
            `pin the git dependency to a full commit: "${spec.split('#')[0]}#<full commit SHA>"`,
          ),
        );
      } else if (kind === 'url') {
        hits.push(
          hit(
            'HYGIENE_GIT_DEP_NOT_PINNED',
            file,
            lineWith(source, [`"${name}"`, spec]),
            `"${name}": "${spec}" (${field})`,
            'depend on a registry version (locked with integrity) or a git URL with #<full commit SHA>',
          ),
        );
      }
    }
  }
  if (!hasLock && count > 0) {
    hits.push(
      hit(
        'HYGIENE_LOCKFILE_MISSING',
        file,
        1,
        `${file} has ${count} dependencies and no lock file beside it or in a parent folder`,
        'commit package-lock.json and install with npm ci',
      ),
    );
  }
  return { hits };
}

export function packageLockHits(file: string, source: string): { hits: HygieneHit[]; error?: string } {
  const { value: lock, error } = json(source);
  if (!lock) return { hits: [], error };
  const hits: HygieneHit[] = [];
  const entry = (key: string, e: unknown, needle: string) => {
    if (typeof e !== 'object' || e === null) return;
    const x = e as Record<string, unknown>;
    if (x.link === true || x.bundled === true || x.inBundle === true) return;
    const resolved = typeof x.resolved === 'string' ? x.resolved : undefined;
    // git-resolved entries carry the commit in `resolved`; local ones (file:, workspaces) nothing to check
    if (!resolved || /^(?:git\+|git:|file:)/.test(resolved) || specKind(resolved) === 'git') return;
    if (typeof x.integrity === 'string' && /^sha(?:1|256|384|512)-/.test(x.integrity)) return;
    hits.push(
      hit(
        'HYGIENE_LOCKFILE_MISSING',
        file,
        lineWith(source, [needle]),
        `${key} (${resolved}) has no integrity`,
        'regenerate the lock file with npm install (it records an integrity hash for every fetched package)',
      ),
    );
  };
  if (typeof lock.packages === 'object' && lock.packages !== null) {
    let n = 0;
    for (const [key, e] of Object.entries(lock.packages as Record<string, unknown>)) {
      if (key === '' || ++n > 50_000) continue;
      entry(key, e, `"${key}"`);
    }
  } else if (typeof lock.dependencies === 'object' && lock.dependencies !== null) {
    // lockfile v1: nested `dependencies`, walked iteratively with a depth bound
    const stack: { deps: Record<string, unknown>; depth: number }[] = [{ deps: lock.dependencies as Record<string, unknown>, depth: 0 }];
    let n = 0;
    while (stack.length && n < 50_000) {
      const { deps, depth } = stack.pop()!;
      for (const [name, e] of Object.entries(deps)) {
        n++;
        entry(name, e, `"${name}": {`);
        const nested = (e as { dependencies?: unknown } | null)?.dependencies;
        if (depth < 64 && typeof nested === 'object' && nested !== null) stack.push({ deps: nested as Record<string, unknown>, depth: depth + 1 });
      }
    }
  }
  return { hits };
}
