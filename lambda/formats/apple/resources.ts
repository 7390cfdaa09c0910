/**
 * `_CodeSignature/CodeResources`: the resource seal of a bundle (an XML plist). Its `files2`
 * dictionary maps each sealed path (relative to the bundle's content directory) to the SHA-256 of
 * a file (`hash2`), a symlink target (`symlink`) or the cdhash of nested code (`cdhash`), and
 * may mark entries `optional`. Its `rules2` say which paths are sealed at all: the matching rule
 * with the highest weight wins, and a rule with `omit` leaves the path unsealed (Info.plist,
 * .DS_Store, …). Only files2/rules2 are used: the legacy `files`/`rules` hold SHA-1 hashes.
 *
 * The plist is read only after the signature binding its hash verified, so its rules come from
 * the pinned signer; they are still bounded (count, pattern length) and a pattern that does not
 * compile fails closed.
 */
import { parse as parsePlist } from 'plist';
import { FormatError } from '../../base/errors';

const MAX_RULES = 256;
const MAX_PATTERN = 1024;
const MAX_SEALED = 200_000;

export interface SealedEntry {
  hash2?: Buffer;
  symlink?: string;
  cdhash?: Buffer;
  /** nested code: the requirement (text form) the seal records beside its cdhash */
  requirement?: string;
  optional: boolean;
}

export interface Rule {
  pattern: string;
  regex: RegExp;
  weight: number;
  omit: boolean;
  optional: boolean;
  nested: boolean;
}

export interface ResourceSeal {
  files2: Map<string, SealedEntry>;
  rules2: Rule[];
}

function bad(message: string): FormatError {
  return new FormatError('apple', `CodeResources: ${message}`);
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Date);
}

export function parseCodeResources(bytes: Buffer): ResourceSeal {
  let root: unknown;
  try {
    root = parsePlist(bytes.toString('utf8'));
  } catch (err) {
    throw bad(`not an XML property list (${(err as Error).message})`);
  }
  if (!isDict(root)) throw bad('not a dictionary');
  const files2 = root.files2;
  const rules2 = root.rules2;
  if (!isDict(files2) || !isDict(rules2)) throw bad('no files2 / rules2 (a SHA-1-only resource seal is not accepted)');
  const sealed = new Map<string, SealedEntry>();
  const keys = Object.keys(files2);
  if (keys.length > MAX_SEALED) throw bad(`${keys.length} sealed files (limit ${MAX_SEALED})`);
  for (const k of keys) {
    const v = files2[k];
    if (!isDict(v)) throw bad(`files2 entry ${JSON.stringify(k)} is not a dictionary (SHA-1 only?)`);
    const e: SealedEntry = { optional: v.optional === true };
    if (v.hash2 instanceof Uint8Array) e.hash2 = Buffer.from(v.hash2);
    if (typeof v.symlink === 'string') e.symlink = v.symlink;
    if (v.cdhash instanceof Uint8Array) e.cdhash = Buffer.from(v.cdhash);
    if (typeof v.requirement === 'string' && v.requirement.length <= MAX_PATTERN) e.requirement = v.requirement;
    if ([e.hash2, e.symlink, e.cdhash].filter((x) => x !== undefined).length !== 1)
      throw bad(`files2 entry ${JSON.stringify(k)} has no SHA-256 hash, symlink or cdhash`);
    if (e.hash2 && e.hash2.length !== 32) throw bad(`files2 entry ${JSON.stringify(k)}: hash2 is not a SHA-256`);
    sealed.set(k, e);
  }
  const patterns = Object.keys(rules2);
  if (patterns.length > MAX_RULES) throw bad(`${patterns.length} rules (limit ${MAX_RULES})`);
  const rules: Rule[] = patterns.map((pattern) => {
    if (pattern.length > MAX_PATTERN) throw bad(`rule pattern longer than ${MAX_PATTERN} characters`);
    const v = rules2[pattern];
    let regex: RegExp;
    try {
      regex = new RegExp(pattern);
    } catch (err) {
      throw bad(`rule ${JSON.stringify(pattern)} is not a usable regular expression (${(err as Error).message})`);
    }
    if (v === true) return { pattern, regex, weight: 1, omit: false, optional: false, nested: false };
    if (!isDict(v)) throw bad(`rule ${JSON.stringify(pattern)} is neither true nor a dictionary`);
    const weight = typeof v.weight === 'number' ? v.weight : 1;
    return { pattern, regex, weight, omit: v.omit === true, optional: v.optional === true, nested: v.nested === true };
  });
  return { files2: sealed, rules2: rules };
}

/**
 * What a sealed requirement of the usual designated form (`identifier "X" and anchor apple generic
 * and certificate leaf[subject.OU] = "T"`) demands of the code's identifier and team. Only a
 * requirement without `or` / `not` (each clause then must hold) is read; anything else yields
 * nothing here and the sealed cdhash alone binds the code.
 */
export function requirementClauses(requirement: string | undefined): { identifier?: string; teamId?: string } {
  if (!requirement || /(^|[\s()])(or|not)([\s()]|$)|\|\||!/.test(requirement)) return {};
  const value = (m: RegExpExecArray | null) => (m ? (m[1] ?? m[2])!.replace(/\\(.)/g, '$1') : undefined);
  const ids = [...requirement.matchAll(/(?:^|[\s(])identifier\s*=?\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9._-]+))/g)];
  const ous = [...requirement.matchAll(/certificate\s+leaf\s*\[\s*subject\.OU\s*\]\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9._-]+))/g)];
  return {
    ...(ids.length === 1 ? { identifier: value(ids[0]!) } : {}),
    ...(ous.length === 1 ? { teamId: value(ous[0]!) } : {}),
  };
}

/** The rule deciding `path`: the highest weight among matching rules (the first of equals), or none. */
export function ruleFor(seal: ResourceSeal, path: string): Rule | undefined {
  let best: Rule | undefined;
  for (const r of seal.rules2) if (r.regex.test(path) && (!best || r.weight > best.weight)) best = r;
  return best;
}
