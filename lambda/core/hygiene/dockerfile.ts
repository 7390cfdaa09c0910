/**
 * Dockerfile / Containerfile rules. A small hand parser (no maintained Dockerfile parser for Node):
 * the `# escape=` directive, line continuations, comment lines (also inside continuations, as
 * BuildKit drops them), heredocs (`RUN <<EOF … EOF`), instruction flags (`--platform=…`).
 *
 * - FROM not pinned by `@sha256:` (stage names and `scratch` are not images; `FROM ${ARG}` is
 *   resolved from the ARGs declared before the first FROM, and reported when it has no pinned default)
 * - COPY --from=<image> (an image, not a stage) not pinned
 * - ADD <url> without --checksum; ADD of a git URL without a full commit SHA
 * - RUN: the shell rules (shell.ts), with ARG/ENV values known for `$REV` in a checkout
 */
import { shellHits, type ShellLine } from './shell';
import { FULL_SHA, hit, type HygieneHit } from './types';

export interface Instruction {
  /** upper-cased */
  keyword: string;
  /** the text after the keyword, continuations joined */
  args: string;
  line: number;
  /** heredoc bodies, each with the line its first line is on */
  heredocs: ShellLine[];
}

export function parseDockerfile(source: string): Instruction[] {
  const lines = source.split(/\r?\n/);
  let escapeChar = '\\';
  // parser directives: only at the very top, before any instruction or other comment
  for (const l of lines) {
    const m = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(l);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) escapeChar = m[2];
  }
  const out: Instruction[] = [];
  let i = 0;
  while (i < lines.length) {
    const first = lines[i]!;
    if (/^\s*(#|$)/.test(first)) {
      i++;
      continue;
    }
    const start = i;
    let text = '';
    for (;;) {
      const l = lines[i] ?? '';
      i++;
      const trimmed = l.replace(/\s+$/, '');
      if (trimmed.endsWith(escapeChar) && i < lines.length) {
        text += trimmed.slice(0, -1) + ' ';
        // comment and empty lines inside a continuation are dropped
        while (i < lines.length && /^\s*(#|$)/.test(lines[i]!)) i++;
        continue;
      }
      text += trimmed;
      break;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(text);
    if (!m) continue;
    const instr: Instruction = { keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1, heredocs: [] };
    // heredocs: <<EOF, <<-EOF, <<"EOF", <<'EOF'; bodies follow the instruction line in order
    for (const h of instr.args.matchAll(/<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g)) {
      const delimiter = h[3]!;
      const bodyStart = i;
      const body: string[] = [];
      while (i < lines.length && (h[1] ? lines[i]!.trim() : lines[i]) !== delimiter) body.push(lines[i++]!);
      i++; // the delimiter
      instr.heredocs.push({ line: bodyStart + 1, text: body.join('\n') });
    }
    out.push(instr);
  }
  return out;
}

/** `--flag=value` / `--flag value` options at the front of an instruction's arguments */
function splitFlags(args: string): { flags: Map<string, string>; rest: string[] } {
  const words = args.split(/\s+/).filter(Boolean);
  const flags = new Map<string, string>();
  let i = 0;
  while (i < words.length && words[i]!.startsWith('--')) {
    const w = words[i]!.slice(2);
    const eq = w.indexOf('=');
    if (eq >= 0) flags.set(w.slice(0, eq).toLowerCase(), w.slice(eq + 1));
    else flags.set(w.toLowerCase(), '');
    i++;
  }
  return { flags, rest: words.slice(i) };
}

function substitute(text: string, vars: Map<string, string>): { value: string; unresolved: string[] } {
  const unresolved: string[] = [];
  const value = text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+]([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, braced: string | undefined, dflt: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare)!;
      const v = vars.get(name);
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined && m.includes(':-')) return dflt;
      if (dflt !== undefined && m.includes('-') && !m.includes(':+')) return dflt;
      unresolved.push(name);
      return m;
    },
  );
  return { value, unresolved };
}

const PINNED_IMAGE = /@sha256:[0-9a-f]{64}$/i;

function parseArgDecl(args: string, vars: Map<string, string>): void {
  for (const decl of args.split(/\s+/).filter(Boolean)) {
    const eq = decl.indexOf('=');
    const name = eq >= 0 ? decl.slice(0, eq) : decl;
    if (eq >= 0) vars.set(name, substitute(decl.slice(eq + 1).replace(/^["']|["']$/g, ''), vars).value);
    else if (!vars.has(name)) vars.set(name, '');
  }
}

function parseEnv(args: string, vars: Map<string, string>): void {
  // ENV k=v k2=v2, or the legacy ENV k v
  if (/^[A-Za-z_][A-Za-z0-9_]*\s+[^=]*$/.test(args) && !args.includes('=')) {
    const [k, ...v] = args.split(/\s+/);
    vars.set(k!, v.join(' '));
    return;
  }
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|(\S*))/g)) vars.set(m[1]!, m[3] ?? m[4] ?? m[5] ?? '');
}

/** FROM <image>: a hit unless the image is pinned by digest, a previous stage or scratch. */
function fromImageHit(file: string, ins: Instruction, image: string, globalArgs: Map<string, string>, stages: Set<string>): HygieneHit | undefined {
  const { value, unresolved } = substitute(image, globalArgs);
  if (value.toLowerCase() === 'scratch' || stages.has(value.toLowerCase())) {
    // a previous stage or the empty image: nothing to pin
  } else if (unresolved.length) {
    return hit(
      'HYGIENE_IMAGE_NOT_PINNED',
      file,
      ins.line,
      `FROM ${ins.args}`,
      `give ARG ${unresolved[0]} a default pinned by @sha256:<digest> (the image is chosen at build time)`,
    );
  } else if (!PINNED_IMAGE.test(value)) {
    return hit('HYGIENE_IMAGE_NOT_PINNED', file, ins.line, `FROM ${ins.args}`, `pin the image by digest: FROM ${value.replace(/@.*$/, '')}@sha256:<digest>`);
  }
  return undefined;
}

/** COPY --from=<image>: a hit unless it names a stage, a stage index or an image pinned by digest. */
function copyFromHit(file: string, ins: Instruction, stageVars: Map<string, string>, stages: Set<string>): HygieneHit | undefined {
  const from = splitFlags(ins.args).flags.get('from');
  if (from !== undefined) {
    const { value } = substitute(from, stageVars);
    if (!/^\d+$/.test(value) && !stages.has(value.toLowerCase()) && /[:/.]/.test(value) && !PINNED_IMAGE.test(value)) {
      return hit(
        'HYGIENE_IMAGE_NOT_PINNED',
        file,
        ins.line,
        `COPY ${ins.args}`,
        `pin the image by digest: --from=${value.replace(/@.*$/, '')}@sha256:<digest>`,
      );
    }
  }
  return undefined;
}

/** ADD of a git source (pinned to a full SHA?) or a URL (with --checksum?). */
function addHits(file: string, ins: Instruction, stageVars: Map<string, string>): HygieneHit[] {
  const hits: HygieneHit[] = [];
  const { flags, rest } = splitFlags(ins.args);
  const sources = rest.slice(0, -1);
  for (const src of sources) {
    const s = substitute(src.replace(/^["']|["']$/g, ''), stageVars).value;
    const isGit = /^git@|\.git(?:#|$)|^https?:\/\/[^#]+\.git#/.test(s) || (/^https?:\/\//.test(s) && s.includes('#'));
    if (isGit) {
      const ref = s.split('#')[1]?.split(':')[0];
      if (!(ref && FULL_SHA.test(ref)))
        hits.push(hit('HYGIENE_TOOL_NOT_PINNED', file, ins.line, `ADD ${ins.args}`, 'pin the git source to a full commit SHA: ADD <repo>.git#<sha>'));
    } else if (/^(?:https?|ftp):\/\//i.test(s) && !/^sha(?:256|384|512):[0-9a-f]+$/i.test(flags.get('checksum') ?? '')) {
      hits.push(hit('HYGIENE_UNVERIFIED_DOWNLOAD', file, ins.line, `ADD ${ins.args}`, 'add --checksum=sha256:<digest> to the ADD of a URL'));
    }
  }
  return hits;
}

/** The shell lines of a RUN: its command, or its heredoc bodies line by line (comments and blank lines left out). */
function runShellLines(ins: Instruction): ShellLine[] {
  const stageRuns: ShellLine[] = [];
  const { rest } = splitFlags(ins.args);
  const cmd = rest.join(' ');
  if (ins.heredocs.length) {
    stageRuns.push({ line: ins.line, text: cmd.replace(/<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1/g, '') });
    for (const h of ins.heredocs)
      stageRuns.push(
        ...h.text
          .split('\n')
          .map((text, k) => ({ line: h.line + k, text }))
          .filter((l) => l.text.trim() && !/^\s*#/.test(l.text)),
      );
  } else {
    stageRuns.push({ line: ins.line, text: cmd.startsWith('[') ? execForm(cmd) : cmd });
  }
  return stageRuns;
}

export function dockerfileHits(file: string, source: string): HygieneHit[] {
  const hits: HygieneHit[] = [];
  const instructions = parseDockerfile(source);
  const globalArgs = new Map<string, string>();
  const stages = new Set<string>();
  let stageVars = new Map<string, string>();
  let seenFrom = false;
  let stageRuns: ShellLine[] = [];
  const flushStage = () => {
    hits.push(...shellHits(stageRuns, { file, vars: stageVars }));
    stageRuns = [];
  };
  for (const ins of instructions) {
    switch (ins.keyword) {
      case 'ARG':
        parseArgDecl(ins.args, seenFrom ? stageVars : globalArgs);
        break;
      case 'ENV':
        parseEnv(ins.args, stageVars);
        break;
      case 'FROM': {
        if (seenFrom) flushStage();
        seenFrom = true;
        stageVars = new Map(globalArgs);
        const { rest } = splitFlags(ins.args);
        const image = rest[0] ?? '';
        const alias = rest[1]?.toUpperCase() === 'AS' ? rest[2] : undefined;
        const pinHit = fromImageHit(file, ins, image, globalArgs, stages);
        if (pinHit) hits.push(pinHit);
        if (alias) stages.add(alias.toLowerCase());
        break;
      }
      case 'COPY': {
        const copyHit = copyFromHit(file, ins, stageVars, stages);
        if (copyHit) hits.push(copyHit);
        break;
      }
      case 'ADD': {
        hits.push(...addHits(file, ins, stageVars));
        break;
      }
      case 'RUN': {
        stageRuns.push(...runShellLines(ins));
        break;
      }
      default:
        break;
    }
  }
  if (seenFrom || stageRuns.length) flushStage();
  return hits.sort((a, b) => a.line - b.line || a.code.localeCompare(b.code));
}

/** RUN ["sh", "-c", "…"] → the command text */
function execForm(json: string): string {
  try {
    const words = JSON.parse(json) as unknown;
    if (Array.isArray(words)) return words.map(String).join(' ');
  } catch {
    /* not JSON: judge the text as it is */
  }
  return json;
}
