/**
 * Shell text rules, shared by Dockerfile RUN instructions, CI `script:` lines and script files:
 * a download piped into a shell, apt sources that are not the distribution's, git clones and
 * `cargo install --git` without a pinned revision, downloads whose checksum is never checked.
 *
 * Not a shell parser (no maintained one handles every dialect); commands are split on `;`, `&&`,
 * `||` and newlines, and judged by their words. What it cannot resolve (a revision in a variable
 * set elsewhere) is reported, with the fix saying what would satisfy it.
 */
import { FULL_SHA, HAS_FULL_SHA, hit, type HygieneHit } from './types';

/** One logical shell line (continuations joined) and where it started. */
export interface ShellLine {
  line: number;
  text: string;
}

/** Joins backslash-newline continuations; drops comment-only lines. */
export function shellLines(source: string, firstLine = 1): ShellLine[] {
  const out: ShellLine[] = [];
  const raw = source.split(/\r?\n/);
  let buf = '';
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i]!;
    if (buf === '' && /^\s*#/.test(l)) continue;
    if (buf === '') start = i;
    if (/\\$/.test(l)) {
      buf += l.slice(0, -1) + ' ';
      continue;
    }
    buf += l;
    if (buf.trim()) out.push({ line: firstLine + start, text: buf });
    buf = '';
  }
  if (buf.trim()) out.push({ line: firstLine + start, text: buf });
  return out;
}

/** the distributions' own archives (Debian, Ubuntu, their mirrors and snapshots) */
const DISTRO_HOSTS =
  /^(?:deb\.debian\.org|security\.debian\.org|snapshot\.debian\.org|archive\.debian\.org|ftp\.[a-z.]*debian\.org|[a-z]{2}\.archive\.ubuntu\.com|archive\.ubuntu\.com|security\.ubuntu\.com|ports\.ubuntu\.com|old-releases\.ubuntu\.com|snapshot\.ubuntu\.com|cdn-fastly\.deb\.debian\.org|httpredir\.debian\.org)$/i;

const DOWNLOADER = /(?:^|[\s;&|(])(curl|wget)\s/;
const HAS_DOWNLOADER = /\b(?:curl|wget)\b/;
// Each of these is matched only at the start of the text after a pipe, and on a bounded prefix, so
// the backtracking they allow stays bounded whatever the line holds (the review found the unanchored
// `curl[^|]*\|` forms quadratic and worse on long hostile lines: seconds per line, minutes per file).
const SHELL_AFTER_PIPE = /^\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+\S+=\S*\s+)*(?:\/(?:usr\/)?bin\/)?(?:ba|z|da|k|fi)?sh\b/;
const INTERPRETER_AFTER_PIPE = /^\s*(?:sudo\s+)?(?:python3?|perl|ruby|node)\b/;
const SUBSHELL_OPEN = /\$\(\s*(?:curl|wget)\b/g;
const SHELL_BEFORE_SUBSHELL = /\b(?:ba|z|da)?sh\s+(?:-\S+\s+)*(?:-c\s+)?["']?$/;
const CHECKSUM_TOOLS = new Set(['sha1sum', 'sha224sum', 'sha256sum', 'sha384sum', 'sha512sum', 'b2sum', 'md5sum', 'shasum']);
/** how much of the text after a pipe (or before `$(`) the anchored expressions look at */
const WINDOW = 256;

/**
 * A download piped into a shell or an interpreter (`curl … | sh`, `wget -qO- … | sudo bash`,
 * `sh -c "$(curl …)"`). The pipe's left side is the segment since the previous `|`, `;` or `&`,
 * as the former single expression had it; found by one linear split, not by backtracking.
 */
export function pipesDownloadIntoShell(text: string): boolean {
  const parts = text.split(/([|;&])/);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    if (parts[i] !== '|' || parts[i + 1] === '' /* `||` */ || parts[i - 1] === '') continue;
    if (!HAS_DOWNLOADER.test(parts[i - 1]!)) continue;
    const after = parts
      .slice(i + 1)
      .join('')
      .slice(0, WINDOW);
    if (SHELL_AFTER_PIPE.test(after) || INTERPRETER_AFTER_PIPE.test(after)) return true;
  }
  for (const m of text.matchAll(SUBSHELL_OPEN)) {
    if (SHELL_BEFORE_SUBSHELL.test(text.slice(Math.max(0, m.index - WINDOW), m.index))) return true;
  }
  return false;
}

/** a command that checks a checksum or a signature, judged by its words in one backwards pass */
function checksCommand(cmd: string): boolean {
  for (const segment of cmd.split('|')) {
    const words = segment
      .trim()
      .split(/\s+/)
      .map((w) => w.slice(w.lastIndexOf('/') + 1));
    // flags seen after the current word
    let check = false;
    let verify = false;
    let bigV = false;
    for (let i = words.length - 1; i >= 0; i--) {
      const w = words[i]!;
      if (CHECKSUM_TOOLS.has(w) && check) return true;
      if (w === 'gpg' && verify) return true;
      if (w === 'gpgv') return true;
      if (w === 'minisign' && bigV) return true;
      if (w === 'cosign' && (words[i + 1] === 'verify' || words[i + 1] === 'verify-blob')) return true;
      if ((w === 'signtool' || w === 'osslsigncode') && words[i + 1] === 'verify') return true;
      if (w === '--check' || (/^-[a-zA-Z]+$/.test(w) && w.includes('c'))) check = true;
      if (w === '--verify') verify = true;
      if (w === '-V') bigV = true;
    }
  }
  return false;
}

const MAX_LINE = 8192;

export interface ShellContext {
  file: string;
  /** variable → value, from ARG/ENV/assignments seen before (for `$REV` in a checkout) */
  vars?: Map<string, string>;
}

/** Splits one logical line into simple commands (quotes respected, crudely). */
function commands(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
      cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      cur += c;
      continue;
    }
    if (c === ';' || (c === '&' && text[i + 1] === '&') || (c === '|' && text[i + 1] === '|')) {
      if (c !== ';') i++;
      out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

function expand(word: string, vars: Map<string, string> | undefined): string {
  return word.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, name: string) => vars?.get(name) ?? m);
}

/** records simple `NAME=value` assignments (shell, `export`) into vars */
function noteAssignments(cmd: string, vars: Map<string, string>): void {
  const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(["']?)([^"'\s]*)\2$/.exec(cmd);
  if (m) vars.set(m[1]!, expand(m[3]!, vars));
}

interface PendingClone {
  line: number;
  text: string;
}
interface PendingDownload {
  line: number;
  text: string;
}

/**
 * Judges a sequence of shell lines that run one after the other (one RUN, one job's scripts, one
 * file). A clone is pinned when a later command checks out (or resets to) a full SHA, or the clone
 * names one (`--revision`); a download is checked when a later command verifies a checksum or
 * signature.
 */
export function shellHits(lines: readonly ShellLine[], ctx: ShellContext): HygieneHit[] {
  const hits: HygieneHit[] = [];
  const vars = ctx.vars ?? new Map<string, string>();
  const clones: PendingClone[] = [];
  const downloads: PendingDownload[] = [];
  for (const { line, text: full } of lines) {
    // a logical line is judged on its first MAX_LINE characters: the regular expressions stay linear-ish on hostile input
    const text = full.length > MAX_LINE ? full.slice(0, MAX_LINE) : full;
    // whole-line rules (pipes span commands)
    const remoteScript = pipesDownloadIntoShell(text);
    if (remoteScript) {
      hits.push(
        hit('HYGIENE_REMOTE_SCRIPT', ctx.file, line, text, 'download the installer to a file, check its SHA-256 (sha256sum -c) or signature, then run it'),
      );
    }
    const aptSource = aptSourceHit(ctx.file, line, text);
    if (aptSource) hits.push(aptSource);
    for (const cmd of commands(text)) {
      noteAssignments(cmd, vars);
      const words = cmd.split(/\s+/);
      noteGit(words, vars, clones, { line, text: cmd });
      const cargo = cargoInstallHit(words, vars, ctx.file, line, cmd);
      if (cargo) hits.push(cargo);
      if (!remoteScript && DOWNLOADER.test(` ${cmd} `) && writesFile(cmd)) downloads.push({ line, text: cmd });
      if (checksCommand(cmd)) downloads.length = 0;
    }
  }
  hits.push(...unpinnedCloneHits(ctx.file, clones), ...unverifiedDownloadHits(ctx.file, downloads));
  return hits.sort((a, b) => a.line - b.line);
}

/** a PPA, add-apt-repository, or a `deb` line naming a host that is not the distribution's archive (one hit per line) */
function aptSourceHit(file: string, line: number, text: string): HygieneHit | undefined {
  if (/\badd-apt-repository\b/.test(text) || /(?:^|[\s'"])ppa:[\w.-]+\/[\w.-]+/.test(text)) {
    return hit('HYGIENE_APT_SOURCE', file, line, text, "use only the distribution's own archive; vendor the package or build it from pinned source");
  }
  for (const m of text.matchAll(/\bdeb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(https?|ftp):\/\/([^/\s'"]+)/g)) {
    if (!DISTRO_HOSTS.test(m[2]!)) {
      return hit(
        'HYGIENE_APT_SOURCE',
        file,
        line,
        text,
        `remove the apt source on ${m[2]}; install from the distribution archive or from pinned, checksummed files`,
      );
    }
  }
  return undefined;
}

/** a `git clone` not naming a full SHA becomes pending; a later checkout/reset/switch/fetch of a full SHA pins the clones before it */
function noteGit(words: readonly string[], vars: Map<string, string>, clones: PendingClone[], at: PendingClone): void {
  const gitAt = words.findIndex((w) => w === 'git' || w.endsWith('/git'));
  if (gitAt < 0) return;
  const rest = words.slice(gitAt + 1);
  // skip git's own options (-C dir, -c k=v)
  let i = 0;
  while (i < rest.length && rest[i]!.startsWith('-')) i += rest[i] === '-C' || rest[i] === '-c' ? 2 : 1;
  const sub = rest[i];
  const args = rest.slice(i + 1).map((w) => expand(w.replace(/^["']|["']$/g, ''), vars));
  if (sub === 'clone') {
    const revision = args.find((a) => a.startsWith('--revision='))?.slice('--revision='.length);
    if (!(revision && FULL_SHA.test(revision))) clones.push(at);
  } else if (sub === 'checkout' || sub === 'reset' || sub === 'switch' || (sub === 'fetch' && args.some((a) => FULL_SHA.test(a)))) {
    if (args.some((a) => FULL_SHA.test(a))) clones.length = 0; // pins the clones before it
  }
}

/** `cargo install --git` without `--rev <full SHA>` */
function cargoInstallHit(words: readonly string[], vars: Map<string, string>, file: string, line: number, cmd: string): HygieneHit | undefined {
  const cargoAt = words.indexOf('cargo');
  if (!(cargoAt >= 0 && words[cargoAt + 1] === 'install' && words.includes('--git'))) return undefined;
  const revAt = words.indexOf('--rev');
  const rev = revAt >= 0 ? expand(words[revAt + 1] ?? '', vars) : words.find((w) => w.startsWith('--rev='))?.slice(6);
  if (rev && FULL_SHA.test(rev.replace(/^["']|["']$/g, ''))) return undefined;
  return hit('HYGIENE_TOOL_NOT_PINNED', file, line, cmd, 'add --rev <full commit SHA> to cargo install --git (a branch or tag can be moved)');
}

function unpinnedCloneHits(file: string, clones: readonly PendingClone[]): HygieneHit[] {
  return clones.map((c) =>
    hit(
      'HYGIENE_TOOL_NOT_PINNED',
      file,
      c.line,
      c.text,
      'after the clone, git checkout <full commit SHA> (or git clone --revision=<SHA>); a branch or tag can be moved',
    ),
  );
}

function unverifiedDownloadHits(file: string, downloads: readonly PendingDownload[]): HygieneHit[] {
  return downloads.map((d) =>
    hit(
      'HYGIENE_UNVERIFIED_DOWNLOAD',
      file,
      d.line,
      d.text,
      'check the download against a pinned SHA-256 (echo "<sha256>  <file>" | sha256sum -c) before using it',
    ),
  );
}

/** curl/wget that saves to a file or feeds an unpacker (not a probe like `curl -fsS …/health`) */
function writesFile(cmd: string): boolean {
  if (/\bwget\b/.test(cmd)) return !/\s-O\s*-(?:\s|$)|\s-qO-|--spider\b/.test(cmd);
  return /\s(?:-o|--output)\s|\s-[a-zA-Z]*[oO](?:\s|$)|\s--remote-name\b|\s-[a-zA-Z]*O[a-zA-Z]*\s|\|\s*(?:tar|unzip|bsdtar|gunzip|xz|zstd)\b|>\s*\S/.test(
    ` ${cmd} `,
  );
}

export { HAS_FULL_SHA };
