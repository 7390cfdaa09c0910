/**
 * The hygiene runner: lists the tree at the release commit, picks the files the rules read
 * (bounded: entries listed, files read, bytes per file, bytes in total), runs each rule family and
 * returns the hits and what was covered. A file that cannot be read or parsed is named in
 * `skipped`, never silently passed; a bound hit makes the result `complete: false`.
 */
import { errorMessage } from '../errors';
import { neutralise } from '../text/neutralise';
import type { TreeEntry, TreeLimits } from '../ports';
import { aptSourceHits, isAptSourceFile } from './apt';
import { cargoLockHits, cargoTomlHits } from './cargo';
import { dockerfileHits } from './dockerfile';
import { gitlabCiHits } from './gitlab-ci';
import { NPM_LOCKFILES, packageJsonHits, packageLockHits } from './npm';
import { isScriptFile, scriptHits } from './scripts';
import { toolchainHits } from './toolchain';
import type { HygieneHit, TreeReader } from './types';

export const DEFAULT_TREE_LIMITS: TreeLimits = { maxEntries: 5_000, maxFiles: 200, maxFileBytes: 1024 * 1024, maxTotalBytes: 16 * 1024 * 1024 };

export type RuleFamily = 'dockerfile' | 'gitlab-ci' | 'cargo' | 'cargo-lock' | 'npm' | 'npm-lock' | 'toolchain' | 'apt' | 'script';

export interface HygieneResult {
  commitSha: string;
  hits: HygieneHit[];
  coverage: {
    treeEntries: number;
    treeComplete: boolean;
    candidates: number;
    filesRead: number;
    bytesRead: number;
    /** files a rule wanted but could not read or parse, with why */
    skipped: { file: string; reason: string }[];
    /** false when a bound cut the listing or the files read */
    complete: boolean;
  };
}

/** vendored and generated folders: not the project's own build inputs */
const SKIP_DIRS = /(?:^|\/)(?:node_modules|vendor|target|\.git|dist|third_party)\//;

export function ruleFor(path: string): RuleFamily | undefined {
  if (SKIP_DIRS.test(path)) return undefined;
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (path === '.gitlab-ci.yml' || path === '.gitlab-ci.yaml') return 'gitlab-ci';
  if (/^(?:Dockerfile|Containerfile)(?:\..+)?$/i.test(base) || /\.(?:dockerfile|containerfile)$/i.test(base)) return 'dockerfile';
  if (base === 'Cargo.toml') return 'cargo';
  if (base === 'Cargo.lock') return 'cargo-lock';
  if (base === 'package.json') return 'npm';
  if (base === 'package-lock.json' || base === 'npm-shrinkwrap.json') return 'npm-lock';
  if (base === 'rust-toolchain' || base === 'rust-toolchain.toml') return 'toolchain';
  if (isAptSourceFile(path)) return 'apt';
  if (isScriptFile(path)) return 'script';
  return undefined;
}

const PRIORITY: RuleFamily[] = ['gitlab-ci', 'dockerfile', 'toolchain', 'cargo', 'npm', 'cargo-lock', 'npm-lock', 'apt', 'script'];

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** true when `name` exists in `dir` or a parent folder (workspace roots lock for their members) */
function inDirOrParent(files: Set<string>, dir: string, names: string[]): boolean {
  let d = dir;
  for (let guard = 0; guard < 64; guard++) {
    if (names.some((n) => files.has(d ? `${d}/${n}` : n))) return true;
    if (!d) return false;
    d = dirOf(d);
  }
  return false;
}

export async function runHygiene(reader: TreeReader, limits: TreeLimits = DEFAULT_TREE_LIMITS): Promise<HygieneResult> {
  const tree = await reader.list();
  const entries = tree.entries.slice(0, limits.maxEntries);
  const blobs = entries.filter((e: TreeEntry) => e.type === 'blob');
  const files = new Set(blobs.map((e) => e.path));
  const wanted = blobs
    .map((e) => ({ path: e.path, rule: ruleFor(e.path) }))
    .filter((c): c is { path: string; rule: RuleFamily } => c.rule !== undefined)
    .sort((a, b) => PRIORITY.indexOf(a.rule) - PRIORITY.indexOf(b.rule) || a.path.split('/').length - b.path.split('/').length || a.path.localeCompare(b.path));
  const result: HygieneResult = {
    commitSha: reader.commitSha,
    hits: [],
    coverage: {
      treeEntries: entries.length,
      treeComplete: tree.complete && tree.entries.length <= limits.maxEntries,
      candidates: wanted.length,
      filesRead: 0,
      bytesRead: 0,
      skipped: [],
      complete: true,
    },
  };
  const queue = [...wanted];
  const queued = new Set(queue.map((q) => q.path));
  while (queue.length) {
    const { path, rule } = queue.shift()!;
    if (result.coverage.filesRead >= limits.maxFiles) {
      result.coverage.skipped.push({ file: neutralise(path), reason: `over the ${limits.maxFiles}-file bound` });
      result.coverage.complete = false;
      continue;
    }
    if (result.coverage.bytesRead >= limits.maxTotalBytes) {
      result.coverage.skipped.push({ file: neutralise(path), reason: `over the ${limits.maxTotalBytes}-byte total bound` });
      result.coverage.complete = false;
      continue;
    }
    let text: string;
    try {
      text = await reader.read(path);
    } catch (err) {
      result.coverage.skipped.push({ file: neutralise(path), reason: neutralise(errorMessage(err)) });
      result.coverage.complete = false;
      continue;
    }
    const bytes = Buffer.byteLength(text);
    result.coverage.filesRead++;
    result.coverage.bytesRead += bytes;
    if (bytes > limits.maxFileBytes) {
      result.coverage.skipped.push({ file: neutralise(path), reason: `${bytes} bytes, over the ${limits.maxFileBytes}-byte file bound` });
      result.coverage.complete = false;
      continue;
    }
    const { hits, error } = judge(path, rule, text, files);
    if (error) result.coverage.skipped.push({ file: neutralise(path), reason: neutralise(error) });
    result.hits.push(...hits);
    // local CI includes are pipeline files too
    if (rule === 'gitlab-ci') {
      for (const inc of gitlabCiHits(path, text).localIncludes) {
        const p = inc.replace(/^\/+/, '');
        if (files.has(p) && !queued.has(p) && !/[*?]/.test(p)) {
          queued.add(p);
          queue.unshift({ path: p, rule: 'gitlab-ci' });
        }
      }
    }
  }
  if (!result.coverage.treeComplete) result.coverage.complete = false;
  result.hits.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.code.localeCompare(b.code));
  return result;
}

function judge(path: string, rule: RuleFamily, text: string, files: Set<string>): { hits: HygieneHit[]; error?: string } {
  switch (rule) {
    case 'gitlab-ci': {
      const r = gitlabCiHits(path, text);
      return { hits: r.hits, error: r.error };
    }
    case 'dockerfile':
      return { hits: dockerfileHits(path, text) };
    case 'cargo':
      return cargoTomlHits(path, text, inDirOrParent(files, dirOf(path), ['Cargo.lock']));
    case 'cargo-lock':
      return cargoLockHits(path, text);
    case 'npm':
      return packageJsonHits(path, text, inDirOrParent(files, dirOf(path), NPM_LOCKFILES));
    case 'npm-lock':
      return packageLockHits(path, text);
    case 'toolchain':
      return toolchainHits(path, text);
    case 'apt':
      return { hits: aptSourceHits(path, text) };
    case 'script':
      return { hits: scriptHits(path, text) };
  }
}

/** A reader over an in-memory map of files (tests, the demo's fixture commit). */
export function memoryTree(commitSha: string, filesByPath: Record<string, string>): TreeReader {
  return {
    commitSha,
    list: async () => ({ commitSha, entries: Object.keys(filesByPath).map((path) => ({ path, type: 'blob' as const })), complete: true }),
    read: async (path) => {
      if (!Object.hasOwn(filesByPath, path)) throw new Error(`${path}: no such file`);
      return filesByPath[path]!;
    },
  };
}
