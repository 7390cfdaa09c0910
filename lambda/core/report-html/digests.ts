/**
 * Digests shown so that a difference is visible: each digest in groups of 8 hex characters in a
 * monospace column (so the same position lines up in every row and wraps at the same place on a
 * phone), and every character that differs from the first row marked.
 */
import { escapeHtml } from './escape';

export interface DigestRow {
  label: string;
  /** hex digest; anything else (null, not hex) is shown as text */
  value: string | null | undefined;
}

const HEX = /^[0-9a-f]{16,128}$/i;

/** One digest as groups of 8, characters differing from `reference` in <mark>. */
function groups(value: string, reference: string | undefined): string {
  let out = '';
  for (let g = 0; g < value.length; g += 8) {
    let group = '';
    let marked = false;
    for (let i = g; i < Math.min(g + 8, value.length); i++) {
      const differs = reference !== undefined && value[i]!.toLowerCase() !== reference[i]?.toLowerCase();
      if (differs && !marked) group += '<mark>';
      if (!differs && marked) group += '</mark>';
      marked = differs;
      group += escapeHtml(value[i]);
    }
    if (marked) group += '</mark>';
    out += `<span class="g">${group}</span>`;
  }
  return out;
}

/** Index of the first differing character of two digests, or -1. */
export function firstDifference(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i]?.toLowerCase() !== b[i]?.toLowerCase()) return i;
  return -1;
}

/**
 * A block of digests compared with the first hex one. With two or more, a line says whether they
 * are the same or where they first differ.
 */
export function digestBlock(rows: readonly DigestRow[]): string {
  const shown = rows.filter((r) => r.value !== undefined);
  if (shown.length === 0) return '';
  const reference = shown.find((r) => typeof r.value === 'string' && HEX.test(r.value))?.value ?? undefined;
  const cells = shown
    .map((r, i) => {
      const v = r.value;
      const text =
        typeof v === 'string' && HEX.test(v)
          ? groups(v, i === shown.findIndex((x) => x.value === reference) ? undefined : reference)
          : `<span class="note">${escapeHtml(v ?? 'none')}</span>`;
      return `<div class="label">${escapeHtml(r.label)}</div><div class="d">${text}</div>`;
    })
    .join('');
  const hexes = shown.map((r) => r.value).filter((v): v is string => typeof v === 'string' && HEX.test(v));
  let verdict = '';
  if (hexes.length >= 2) {
    const differing = hexes
      .slice(1)
      .map((h) => firstDifference(hexes[0]!, h))
      .filter((i) => i >= 0);
    verdict =
      differing.length === 0
        ? '<p class="same">the digests are identical</p>'
        : `<p class="differs">the digests differ (first at character ${Math.min(...differing) + 1}; differing characters marked)</p>`;
  }
  return `<div class="digests">${cells}</div>${verdict}`;
}
