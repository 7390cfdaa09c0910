/**
 * `.gitlab-ci.yml` rules, parsed with `yaml` (positions from its LineCounter; aliases never expanded;
 * GitLab's `!reference` tag is kept as an unresolved sequence, never followed):
 * - `image:` / `services:` (top level, `default:`, jobs) not pinned by `@sha256:`
 * - `include:` of a project, remote file or component not pinned to a full commit SHA
 * - jobs that publish: the `release:` keyword, release-cli / glab release, uploads to the package
 *   registry or the releases API
 * - the shell rules (shell.ts) over each job's `before_script`, `script`, `after_script`
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { shellHits, type ShellLine } from './shell';
import { FULL_SHA, HAS_FULL_SHA, hit, type HygieneHit } from './types';

/** keys at the top of .gitlab-ci.yml that are not jobs */
const GLOBAL_KEYWORDS = new Set([
  'stages',
  'variables',
  'default',
  'include',
  'workflow',
  'image',
  'services',
  'before_script',
  'after_script',
  'cache',
  'spec',
  'types',
  'pages:deploy',
]);

const PUBLISHES = [
  /\brelease-cli\b/,
  /\bglab\s+release\s+(?:create|upload)\b/,
  /\/api\/v4\/projects\/[^\s"']*\/(?:releases|packages|uploads)\b/,
  /\bpackages\/generic\//,
  /\b(?:npm|yarn|pnpm)\s+publish\b/,
  /\bcargo\s+publish\b/,
  /\btwine\s+upload\b/,
];

export interface CiParse {
  hits: HygieneHit[];
  /** `include: local:` paths (repository files the pipeline also runs) */
  localIncludes: string[];
  /** a parse error, when the file is not YAML */
  error?: string;
}

/** what every rule needs: where it is, how to find a node's line, where hits go */
interface CiContext {
  file: string;
  hits: HygieneHit[];
  localIncludes: string[];
  lineOf: (n: Node | null | undefined) => number;
  expand: (s: string) => string;
}

export function gitlabCiHits(file: string, source: string): CiParse {
  const lc = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lc, uniqueKeys: false, strict: false });
  if (doc.errors.length) return { hits: [], localIncludes: [], error: doc.errors[0]!.message.split('\n')[0] };
  const root = doc.contents;
  if (!isMap(root)) return { hits: [], localIncludes: [] };
  const vars = rootVariables(root);
  const ctx: CiContext = {
    file,
    hits: [],
    localIncludes: [],
    lineOf: (n) => (n?.range ? lc.linePos(n.range[0]).line : 1),
    expand: (s) => s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, n: string) => vars.get(n) ?? m),
  };
  checkIncludes(ctx, get(root, 'include'));
  checkImage(ctx, get(root, 'image'), 'image');
  checkServices(ctx, get(root, 'services'));
  const dflt = get(root, 'default');
  if (isMap(dflt)) {
    checkImage(ctx, get(dflt, 'image'), 'default: image');
    checkServices(ctx, get(dflt, 'services'));
  }
  const globalScripts = [...scriptLines(ctx, get(root, 'before_script')), ...scriptLines(ctx, get(root, 'after_script'))];
  if (globalScripts.length) ctx.hits.push(...shellHits(globalScripts, { file, vars: new Map(vars) }));
  for (const pair of root.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const name = String(pair.key.value);
    if (GLOBAL_KEYWORDS.has(name) || !isMap(pair.value)) continue;
    checkJob(ctx, name, pair.value, vars);
  }
  return { hits: ctx.hits.sort((a, b) => a.line - b.line || a.code.localeCompare(b.code)), localIncludes: ctx.localIncludes };
}

/** top-level `variables:` (plain values and `{ value: … }` forms), used to expand image names and scripts */
function rootVariables(root: YAMLMap): Map<string, string> {
  const vars = new Map<string, string>();
  const rootVars = get(root, 'variables');
  if (isMap(rootVars)) {
    for (const p of rootVars.items) {
      if (!isPair(p) || !isScalar(p.key)) continue;
      const v = isScalar(p.value) ? p.value.value : isMap(p.value) ? (get(p.value, 'value') as { value?: unknown } | undefined)?.value : undefined;
      if (v !== undefined && v !== null) vars.set(String(p.key.value), String(v));
    }
  }
  return vars;
}

/** `image:` as a string or `{ name: … }`: must end in `@sha256:<digest>` once variables are expanded */
function checkImage(ctx: CiContext, node: unknown, what: string): void {
  const { file, hits, lineOf } = ctx;
  const n = node as Node;
  let name: string | undefined;
  let at: Node = n;
  if (isScalar(n)) name = String(n.value ?? '');
  else if (isMap(n)) {
    const nm = get(n, 'name');
    if (isScalar(nm)) {
      name = String(nm.value ?? '');
      at = nm;
    }
  }
  if (!name) return;
  const value = ctx.expand(name);
  if (/\$/.test(value)) {
    hits.push(
      hit(
        'HYGIENE_IMAGE_NOT_PINNED',
        file,
        lineOf(at),
        `${what}: ${name}`,
        'set the variable to an image pinned by @sha256:<digest> (or name the pinned image directly)',
      ),
    );
  } else if (!/@sha256:[0-9a-f]{64}$/i.test(value)) {
    hits.push(hit('HYGIENE_IMAGE_NOT_PINNED', file, lineOf(at), `${what}: ${name}`, `pin the image by digest: ${value.replace(/@.*$/, '')}@sha256:<digest>`));
  }
}

function checkServices(ctx: CiContext, node: unknown): void {
  if (isSeq(node)) for (const s of node.items) checkImage(ctx, s, 'services');
}

/** `include:` (one entry or a list): remote, project and component includes must name a full commit SHA */
function checkIncludes(ctx: CiContext, include: unknown): void {
  const includes = isSeq(include) ? include.items : include ? [include] : [];
  for (const inc of includes) {
    const n = inc as Node;
    if (isScalar(n)) checkIncludeString(ctx, n);
    else if (isMap(n)) checkIncludeMap(ctx, n);
  }
}

/** the short form: a URL is a remote include, anything else a local file */
function checkIncludeString(ctx: CiContext, n: Node & { value: unknown }): void {
  const s = String(n.value ?? '');
  if (/^https?:\/\//i.test(s)) {
    if (!HAS_FULL_SHA.test(s))
      ctx.hits.push(
        hit(
          'HYGIENE_CI_INCLUDE_NOT_PINNED',
          ctx.file,
          ctx.lineOf(n),
          `include: ${s}`,
          'include a file pinned to a commit: a project include with ref: <full commit SHA>, or a remote URL naming the SHA',
        ),
      );
  } else ctx.localIncludes.push(s);
}

function checkIncludeMap(ctx: CiContext, n: YAMLMap): void {
  const { file, hits, lineOf } = ctx;
  const project = get(n, 'project');
  const remote = get(n, 'remote');
  const component = get(n, 'component');
  const local = get(n, 'local');
  if (isScalar(local)) ctx.localIncludes.push(String(local.value ?? ''));
  if (isScalar(project)) {
    const ref = get(n, 'ref');
    const refValue = isScalar(ref) ? String(ref.value ?? '') : '';
    if (!FULL_SHA.test(refValue)) {
      hits.push(
        hit(
          'HYGIENE_CI_INCLUDE_NOT_PINNED',
          file,
          lineOf(isScalar(ref) ? ref : project),
          `include: project: ${project.value}${refValue ? ` ref: ${refValue}` : ' (no ref: the default branch)'}`,
          'set ref: to a full commit SHA (a branch or tag can change what the pipeline runs)',
        ),
      );
    }
  }
  if (isScalar(remote)) {
    const s = String(remote.value ?? '');
    if (!HAS_FULL_SHA.test(s))
      hits.push(
        hit(
          'HYGIENE_CI_INCLUDE_NOT_PINNED',
          file,
          lineOf(remote),
          `include: remote: ${s}`,
          'include the file from a URL that names a full commit SHA, or copy it into the repository',
        ),
      );
  }
  if (isScalar(component)) {
    const s = String(component.value ?? '');
    const version = s.includes('@') ? s.slice(s.lastIndexOf('@') + 1) : '';
    if (!FULL_SHA.test(version))
      hits.push(
        hit(
          'HYGIENE_CI_INCLUDE_NOT_PINNED',
          file,
          lineOf(component),
          `include: component: ${s}`,
          'pin the component to a full commit SHA: component: <path>@<sha>',
        ),
      );
  }
}

/** a script key (string or list) as shell lines with their file line numbers */
function scriptLines(ctx: CiContext, node: unknown): ShellLine[] {
  const items = isSeq(node) ? node.items : node ? [node] : [];
  const out: ShellLine[] = [];
  for (const it of items) {
    const s = it as Node;
    if (!isScalar(s) || typeof s.value !== 'string') continue; // !reference and nested lists: not followed
    const block = s.type === 'BLOCK_LITERAL' || s.type === 'BLOCK_FOLDED';
    const first = ctx.lineOf(s) + (block ? 1 : 0);
    s.value.split('\n').forEach((text, k) => {
      if (text.trim() && !/^\s*#/.test(text)) out.push({ line: first + k, text });
    });
  }
  return out;
}

/** one job: its images, the `release:` keyword, publishing commands, then the shell rules over its scripts */
function checkJob(ctx: CiContext, name: string, job: YAMLMap, vars: Map<string, string>): void {
  const { file, hits, lineOf } = ctx;
  checkImage(ctx, get(job, 'image'), `${name}: image`);
  checkServices(ctx, get(job, 'services'));
  const release = get(job, 'release');
  if (release !== undefined) {
    const key = job.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === 'release');
    hits.push(
      hit(
        'HYGIENE_CI_PUBLISHES_RELEASE',
        file,
        lineOf((key?.key as Node) ?? job),
        `${name}: release:`,
        'publish releases from a protected, reviewed process outside this pipeline, or keep the job manual and limited to protected tags',
      ),
    );
  }
  const lines = [...scriptLines(ctx, get(job, 'before_script')), ...scriptLines(ctx, get(job, 'script')), ...scriptLines(ctx, get(job, 'after_script'))];
  for (const l of lines) {
    if (PUBLISHES.some((re) => re.test(l.text))) {
      hits.push(
        hit(
          'HYGIENE_CI_PUBLISHES_RELEASE',
          file,
          l.line,
          `${name}: ${l.text}`,
          'upload release assets from the verified release process only; remove the upload from CI',
        ),
      );
    }
  }
  hits.push(...shellHits(lines, { file, vars: new Map(vars) }));
}

function get(map: YAMLMap | unknown, key: string): unknown {
  if (!isMap(map)) return undefined;
  for (const p of map.items) if (isPair(p) && isScalar(p.key) && p.key.value === key) return p.value ?? null;
  return undefined;
}
