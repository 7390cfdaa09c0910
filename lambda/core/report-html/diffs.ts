/**
 * What differs between a published file and its rebuild, from what the comparers put in
 * `comparison.differences`: a table of differing byte ranges by section (binaries), the other
 * differences as a list (entries, format, size), and a bounded unified diff for differing text
 * members (`textDiff`, captured by formats/compare/text-diff.ts).
 */
import type { ComparisonReport, Difference } from '../report';
import { escapeBlock, escapeHtml } from './escape';

/** rows of the byte-range table and items of the list, at most */
export const MAX_RANGE_ROWS = 50;
export const MAX_OTHER_DIFFERENCES = 50;
/** text diffs shown inline, and lines of each (the capture is bounded too) */
export const MAX_TEXT_DIFFS = 8;
export const MAX_DIFF_LINES = 200;

const hex = (n: number) => `0x${n.toString(16)}`;

function rangeText(r: [number, number] | undefined): string {
  if (!r || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1])) return '—';
  return `${hex(r[0])}–${hex(Math.max(r[0], r[1] - 1))}`;
}

function rangeSize(d: Difference): string {
  const r = d.publishedRange ?? d.rebuiltRange;
  if (!r || !Number.isSafeInteger(r[0]) || !Number.isSafeInteger(r[1])) return '—';
  const n = r[1] - r[0];
  return `${n} byte${n === 1 ? '' : 's'}`;
}

/** The table of differing byte ranges, by the section each falls in. */
export function byteRangeTable(differences: readonly Difference[]): string {
  const ranged = differences.filter((d) => d.publishedRange || d.rebuiltRange);
  if (ranged.length === 0) return '';
  const rows = ranged
    .slice(0, MAX_RANGE_ROWS)
    .map(
      (d) =>
        `<tr><td data-label="section">${escapeHtml(d.where)}</td><td data-label="published bytes" class="mono">${rangeText(d.publishedRange)}</td><td data-label="rebuilt bytes" class="mono">${rangeText(d.rebuiltRange)}</td><td data-label="size">${rangeSize(d)}</td><td data-label="detail">${escapeHtml(d.detail ?? '')}</td></tr>`,
    )
    .join('\n');
  const more = ranged.length > MAX_RANGE_ROWS ? `<p class="note">${ranged.length - MAX_RANGE_ROWS} more range(s) not shown (see the JSON record).</p>` : '';
  return `<h4>Differing byte ranges</h4>
<table class="cards ranges"><thead><tr><th>section</th><th>published bytes</th><th>rebuilt bytes</th><th>size</th><th>detail</th></tr></thead><tbody>
${rows}
</tbody></table>${more}`;
}

/** The unified diff, one line each, coloured by kind. */
export function unifiedDiff(textDiff: NonNullable<Difference['textDiff']>): string {
  const lines = String(textDiff.unified).split('\n');
  const shown = lines.slice(0, MAX_DIFF_LINES);
  const body = shown
    .map((line) => {
      const kind = line.startsWith('@@')
        ? 'hunk'
        : line.startsWith('+++') || line.startsWith('---')
          ? 'hunk'
          : line.startsWith('+')
            ? 'add'
            : line.startsWith('-')
              ? 'del'
              : 'ctx';
      return `<span class="${kind}">${escapeBlock(line) || ' '}</span>`;
    })
    .join('');
  const cut = textDiff.truncated || lines.length > shown.length;
  const note = cut
    ? `<p class="note">diff shortened${textDiff.totalLines ? ` (${textDiff.totalLines} lines in all)` : ''}: the diffoscope report or \`release-verifier compare\` has all of it.</p>`
    : '';
  return `<pre class="diff">${body}</pre>${note}`;
}

/** The differences of one comparison: byte ranges, other differences, text diffs. */
export function differencesSection(comparison: ComparisonReport): string {
  const differences = Array.isArray(comparison.differences) ? comparison.differences : [];
  if (comparison.match || differences.length === 0) return '';
  const other = differences.filter((d) => !d.publishedRange && !d.rebuiltRange);
  const texts = differences.filter((d) => d.textDiff && typeof d.textDiff.unified === 'string');
  const parts: string[] = [];
  if (other.length) {
    const items = other
      .slice(0, MAX_OTHER_DIFFERENCES)
      .map((d) => `<li><b>${escapeHtml(d.where)}</b>${d.detail ? `: ${escapeHtml(d.detail)}` : ''}</li>`)
      .join('\n');
    const more = other.length > MAX_OTHER_DIFFERENCES ? `<li class="note">${other.length - MAX_OTHER_DIFFERENCES} more not shown</li>` : '';
    parts.push(`<h4>Differences</h4><ul>${items}${more}</ul>`);
  }
  parts.push(byteRangeTable(differences));
  for (const d of texts.slice(0, MAX_TEXT_DIFFS)) {
    parts.push(`<details open><summary>text diff: ${escapeHtml(d.where)}</summary>${unifiedDiff(d.textDiff!)}</details>`);
  }
  if (texts.length > MAX_TEXT_DIFFS) parts.push(`<p class="note">${texts.length - MAX_TEXT_DIFFS} more text diff(s) not shown.</p>`);
  return parts.join('\n');
}
