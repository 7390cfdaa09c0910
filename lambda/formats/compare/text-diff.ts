/**
 * A bounded unified diff of two differing TEXT files (an archive member, a script, a manifest),
 * captured while the comparer still has both files, so the HTML report can show the person who got
 * the alert what changed without downloading anything.
 *
 * Bounded everywhere: files larger than MAX_TEXT_BYTES are not diffed (the report says so), the
 * diff gives up after MAX_EDIT_LENGTH edits or MAX_DIFF_MS milliseconds, and the kept diff is clipped to MAX_DIFF_LINES lines
 * and MAX_DIFF_CHARS characters. Text only: a NUL or another binary control byte, or invalid UTF-8, means "binary", no diff.
 * The diff is forge/build text: whoever renders it must neutralise and escape it.
 */
import { open } from 'node:fs/promises';
import type { Difference } from '../../base/comparison';

export const MAX_TEXT_BYTES = 256 * 1024;
export const MAX_DIFF_LINES = 200;
export const MAX_DIFF_CHARS = 16 * 1024;
const MAX_EDIT_LENGTH = 4000;
/**
 * The most time one diff may take. The diff runs on the event loop (it is a convenience, computed
 * synchronously): text crafted with many near-matching lines makes Myers' algorithm cost ≈ 2.5 s per
 * 256 KiB pair within MAX_EDIT_LENGTH, up to 8 members per archive level.
 */
export const MAX_DIFF_MS = 250;
/** tab, LF, VT, FF, CR, ESC */
const BENIGN_CONTROLS = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b]);

export type TextDiff = NonNullable<Difference['textDiff']>;

/** The file as text, or null when it is larger than `max` or not UTF-8 text. */
async function readText(path: string, max: number): Promise<string | null> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    if (size > max) return null;
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    const bytes = buf.subarray(0, off);
    // text as `file` judges it: C0 controls other than tab, line breaks, form feed and ESC (coloured
    // logs) mean binary — a run of 0x03 bytes is valid UTF-8, but no one reads it as a diff
    for (const b of bytes) if ((b < 0x20 && !BENIGN_CONTROLS.has(b)) || b === 0x7f) return null;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return null;
    }
  } finally {
    await fh.close();
  }
}

/** Clips a unified diff to whole lines within the bounds. */
export function clipDiff(unified: string, maxLines = MAX_DIFF_LINES, maxChars = MAX_DIFF_CHARS): TextDiff {
  const lines = unified.replace(/\n$/, '').split('\n');
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines) {
    if (kept.length >= maxLines || chars + line.length + 1 > maxChars) break;
    kept.push(line);
    chars += line.length + 1;
  }
  return kept.length < lines.length ? { unified: kept.join('\n'), truncated: true, totalLines: lines.length } : { unified: kept.join('\n'), truncated: false };
}

/**
 * The unified diff of two text files named `name`, or a reason there is none ('binary',
 * 'too large', 'too many changes'). Never throws for the files' content; I/O errors do throw
 * (the caller treats them as "no diff", the verdict does not depend on it).
 */
export async function textDiffOf(publishedPath: string, rebuiltPath: string, name: string): Promise<TextDiff | { unavailable: string }> {
  const [p, r] = await Promise.all([readText(publishedPath, MAX_TEXT_BYTES + 1), readText(rebuiltPath, MAX_TEXT_BYTES + 1)]);
  if (p === null || r === null) return { unavailable: `not compared as text: binary or larger than ${MAX_TEXT_BYTES / 1024} KiB` };
  // the diff library is loaded only when two text files differ (startup, issue 14)
  const { createTwoFilesPatch } = await import('diff');
  const unified = createTwoFilesPatch(`published/${name}`, `rebuilt/${name}`, p, r, undefined, undefined, {
    context: 3,
    maxEditLength: MAX_EDIT_LENGTH,
    timeout: MAX_DIFF_MS,
  });
  if (unified === undefined)
    return { unavailable: `more than ${MAX_EDIT_LENGTH} changed lines, or too costly to diff within ${MAX_DIFF_MS} ms: no inline diff` };
  // the library starts with a "=====" separator line (as `svn diff` does): not part of a unified diff
  return clipDiff(unified.replace(/^=+\n/, ''));
}

/** Adds the text diff to `difference` when both files are text (best effort: the verdict never depends on it). */
export async function withTextDiff(difference: Difference, publishedPath: string, rebuiltPath: string, name: string): Promise<Difference> {
  try {
    const d = await textDiffOf(publishedPath, rebuiltPath, name);
    if ('unified' in d) difference.textDiff = d;
  } catch {
    // unreadable here means no inline diff, nothing more
  }
  return difference;
}
