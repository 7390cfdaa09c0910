/**
 * Reading the configuration file: YAML or JSON, validated, key files inlined, errors that name the
 * field and the fix.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors';
import { ConfigSchema, type Config, type SignaturePolicy } from './schema';
import { nearestKey, unknownKeyMessage } from './suggest';
import { schemeOf } from '../../formats/schemes/registry';

/** Formats a zod path as `targets[1].artifacts[0].signature.publicKey`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/**
 * The valid keys of the object that reported each `unrecognized_keys` issue, keyed by the issue's
 * `keys` array (zod hands the same array to the error map and to the final issue).
 */
type ValidKeys = WeakMap<readonly string[], readonly string[]>;

/** A zod error map that records, for each unknown-key issue, the keys the object does accept. */
function recordValidKeys(validKeys: ValidKeys) {
  return (iss: { code?: string; keys?: readonly string[]; inst?: unknown }): undefined => {
    if (iss.code === 'unrecognized_keys' && iss.keys) {
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      if (shape) validKeys.set(iss.keys, Object.keys(shape));
    }
    return undefined; // zod's own message otherwise
  };
}

/** Of a union's failed branches, the one the input was meant for: the one that got past the input's type. */
function intendedBranch(errors: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const plausible = errors.filter((branch) => !branch.some((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value')));
  return plausible.length === 1 ? plausible[0] : undefined;
}

function issuesFromZod(
  error: { issues: readonly z.core.$ZodIssue[] },
  validKeys: ValidKeys = new WeakMap(),
  prefix: readonly PropertyKey[] = [],
): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    const fullPath = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      // one issue per key, at the key's own path, with the nearest valid key
      const valid = validKeys.get(issue.keys) ?? [];
      return issue.keys.map((key) => ({ path: formatPath([...fullPath, key]), message: unknownKeyMessage(key, valid) }));
    }
    if (issue.code === 'invalid_union' && !('discriminator' in issue && issue.discriminator) && issue.errors?.length) {
      const branch = intendedBranch(issue.errors);
      if (branch) return issuesFromZod({ issues: branch }, validKeys, fullPath);
    }
    let message = issue.message;
    if (issue.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator) {
      message = `unknown ${String(issue.discriminator)}: ${issue.message.replace(/^Invalid discriminator value\.\s*/, '')}`;
    }
    // a misspelt value of a fixed set (scheme: minisgn, compare: byte) names the nearest one too
    const raw = (issue as { input?: unknown }).input;
    const discriminator = 'discriminator' in issue ? issue.discriminator : undefined;
    // a discriminated union reports the whole object; the misspelt value is its discriminator
    const input = discriminator && raw && typeof raw === 'object' ? (raw as Record<PropertyKey, unknown>)[discriminator as PropertyKey] : raw;
    const choices = 'options' in issue && Array.isArray(issue.options) ? issue.options : issue.code === 'invalid_value' ? issue.values : undefined;
    if (typeof input === 'string' && choices) {
      const near = nearestKey(
        input,
        choices.filter((c): c is string => typeof c === 'string'),
      );
      if (near && near !== input) message += ` — did you mean ${near}?`;
    }
    if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
      message = `is required (${issue.expected})`;
    }
    return [{ path: formatPath(fullPath), message }];
  });
}

/** Validates an already-parsed object. `baseDir` resolves `…File` fields; without it they are refused. */
export function parseConfig(raw: unknown, options: { baseDir?: string; source?: string } = {}): Config {
  const validKeys: ValidKeys = new WeakMap();
  // reportInput: a rejected value is in its issue, to suggest the nearest valid one (never printed whole)
  const result = ConfigSchema.safeParse(raw, { error: recordValidKeys(validKeys), reportInput: true });
  if (!result.success) throw new ConfigError(issuesFromZod(result.error, validKeys), options.source);
  const config = result.data;
  const issues: ConfigIssue[] = [];

  const names = new Set<string>();
  config.targets.forEach((t, ti) => {
    if (names.has(t.name)) issues.push({ path: `targets[${ti}].name`, message: `duplicate target name "${t.name}"; names must be unique` });
    names.add(t.name);
    if (t.platform === 'macos' && t.fleetArn === undefined) {
      // Not an error for the CLI, but the stack cannot build macOS on demand. Checked in lib/.
    }
    const assets = new Set<string>();
    t.artifacts.forEach((a, ai) => {
      const at = `targets[${ti}].artifacts[${ai}]`;
      if (assets.has(a.asset)) issues.push({ path: `${at}.asset`, message: `asset "${a.asset}" is listed twice in this target` });
      assets.add(a.asset);
      inlinePolicy(a.signature, `${at}.signature`, options.baseDir, issues);
    });
  });
  if (issues.length) throw new ConfigError(issues, options.source);
  return config;
}

/** Loads, validates and resolves a configuration file (`.yaml`, `.yml` or `.json`). */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read configuration file ${file}: ${(err as Error).message}` }]);
  }
  let raw: unknown;
  try {
    raw = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([{ path: '', message: `not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(err as Error).message}` }], file);
  }
  return parseConfig(raw, { baseDir: dirname(resolve(file)), source: file });
}

type Inlinable = { [k: string]: unknown };

/** For each `x` / `xFile` pair: require exactly one, and replace the file by its content. */
function inlinePair(obj: Inlinable, field: string, path: string, baseDir: string | undefined, issues: ConfigIssue[], required: boolean) {
  const fileField = `${field}File`;
  const inline = obj[field];
  const file = obj[fileField];
  if (inline !== undefined && file !== undefined) {
    issues.push({ path: `${path}.${fileField}`, message: `give either ${field} or ${fileField}, not both` });
    return;
  }
  if (inline === undefined && file === undefined) {
    if (required)
      issues.push({ path: `${path}.${field}`, message: `is required: give ${field} (inline) or ${fileField} (a path relative to the config file)` });
    return;
  }
  if (typeof file === 'string') {
    if (!baseDir) {
      issues.push({ path: `${path}.${fileField}`, message: 'file references need a config file location; inline the value instead' });
      return;
    }
    const p = isAbsolute(file) ? file : resolve(baseDir, file);
    try {
      obj[field] = readFileSync(p, 'utf8');
      delete obj[fileField];
    } catch (err) {
      issues.push({ path: `${path}.${fileField}`, message: `cannot read ${p}: ${(err as Error).message}` });
    }
  }
}

function inlinePolicy(policy: SignaturePolicy, path: string, baseDir: string | undefined, issues: ConfigIssue[]) {
  if (policy.scheme === 'none') return;
  if (policy.scheme === 'sha256sums') {
    inlinePolicy(policy.manifestSignature, `${path}.manifestSignature`, baseDir, issues);
    return;
  }
  // the scheme module names its key fields and any further rule (formats/schemes/)
  const scheme = schemeOf(policy);
  for (const { field, required } of scheme.keyFields) inlinePair(policy as unknown as Inlinable, field, path, baseDir, issues, required);
  for (const issue of scheme.loadRules?.(policy) ?? []) issues.push({ path: `${path}.${issue.path}`, message: issue.message });
}

export interface PlaceholderValues {
  tag: string;
  version: string;
  asset?: string;
}

/** `v1.2.3` → `1.2.3`; other tags are kept as they are. */
export function versionFromTag(tag: string): string {
  return /^v\d/.test(tag) ? tag.slice(1) : tag;
}

/** Expands {tag}, {version} and {asset}; an unknown placeholder is an error, not left in place. */
export function expandPlaceholders(template: string, values: PlaceholderValues): string {
  return template.replace(/\{([a-z]+)\}/g, (m, key: string) => {
    const v = (values as unknown as Record<string, string | undefined>)[key];
    if (v === undefined) throw new ConfigError([{ path: '', message: `unknown placeholder ${m} in "${template}"` }]);
    return v;
  });
}
