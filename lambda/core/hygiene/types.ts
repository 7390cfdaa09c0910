/**
 * Repository hygiene at the release commit (issue 11): what a rebuild cannot see because it is in
 * the source itself — unpinned images and tools, git dependencies without a revision, missing lock
 * files, third-party apt sources, piped installers, unchecked downloads, floating toolchains, CI
 * includes that follow a branch, CI jobs that publish releases. Each hit names the file, the line,
 * the offending text (bounded, neutralised) and a one-line fix; the runner turns hits into NOTICE
 * findings (advisory: never a verdict change).
 */
import { neutralise } from '../text/neutralise';
import type { RepositoryTree } from '../ports';

export const HYGIENE_CODES = [
  'HYGIENE_IMAGE_NOT_PINNED',
  'HYGIENE_TOOL_NOT_PINNED',
  'HYGIENE_GIT_DEP_NOT_PINNED',
  'HYGIENE_LOCKFILE_MISSING',
  'HYGIENE_APT_SOURCE',
  'HYGIENE_REMOTE_SCRIPT',
  'HYGIENE_UNVERIFIED_DOWNLOAD',
  'HYGIENE_TOOLCHAIN_NOT_PINNED',
  'HYGIENE_CI_INCLUDE_NOT_PINNED',
  'HYGIENE_CI_PUBLISHES_RELEASE',
] as const;
export type HygieneCode = (typeof HYGIENE_CODES)[number];

/** One problem at one place. `text` is repository text: bounded and neutralised when made. */
export interface HygieneHit {
  code: HygieneCode;
  file: string;
  /** 1-based; the first line of a continued instruction */
  line: number;
  text: string;
  /** one line: what to change */
  fix: string;
}

/** offending text is at most this many characters (then "…") */
export const MAX_HIT_TEXT = 200;

export function hit(code: HygieneCode, file: string, line: number, text: string, fix: string): HygieneHit {
  // neutralised first (escapes are longer than what they stand for), then bounded without cutting an escape
  const oneLine = neutralise(text.replace(/[ \t\r\n]+/g, ' ').trim());
  const bounded = oneLine.length > MAX_HIT_TEXT ? `${oneLine.slice(0, MAX_HIT_TEXT - 1).replace(/\\u\{[0-9a-f]*$/, '')}…` : oneLine;
  return { code, file: neutralise(file), line, text: bounded, fix };
}

/** A full git commit SHA (SHA-1; SHA-256 repositories use 64). */
export const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;
export const HAS_FULL_SHA = /(?:^|[^0-9a-f])(?:[0-9a-f]{40}|[0-9a-f]{64})(?![0-9a-f])/i;

/** Read access to the repository at one commit (the forge through its API, or a map in tests). */
export interface TreeReader {
  commitSha: string;
  list(): Promise<RepositoryTree>;
  /** one file as text; throws when it cannot be read (too large, gone) */
  read(path: string): Promise<string>;
}
