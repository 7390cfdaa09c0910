/**
 * A finding's evidence, collapsed in <details>: digests as aligned digest blocks, URLs as links,
 * everything else as escaped text (objects as bounded JSON). The evidence is forge/build text.
 */
import { digestBlock, type DigestRow } from './digests';
import { escapeBlock, escapeHtml, link, safeHref } from './escape';

const MAX_VALUE_CHARS = 4000;
const MAX_KEYS = 30;
/** evidence keys holding digests, in the order they are compared (the first is the reference) */
const DIGEST_KEYS = ['published', 'listed', 'rebuilt', 'was', 'now', 'expected', 'actual', 'forge'] as const;
const HEX = /^[0-9a-f]{40,128}$/i;

function value(v: unknown): string {
  if (typeof v === 'string') {
    if (safeHref(v)) return link(v);
    return v.length > 120 || v.includes('\n')
      ? `<pre>${escapeBlock(v.slice(0, MAX_VALUE_CHARS))}${v.length > MAX_VALUE_CHARS ? '\n…' : ''}</pre>`
      : `<code>${escapeHtml(v)}</code>`;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return `<code>${escapeHtml(String(v))}</code>`;
  let json: string;
  try {
    json = JSON.stringify(v, null, 2) ?? String(v);
  } catch {
    json = String(v);
  }
  return `<pre>${escapeBlock(json.slice(0, MAX_VALUE_CHARS))}${json.length > MAX_VALUE_CHARS ? '\n…' : ''}</pre>`;
}

/** Digest rows found in the evidence (hex values under the known keys, and `null` for "none now"). */
export function evidenceDigests(evidence: Record<string, unknown>): DigestRow[] {
  const rows: DigestRow[] = [];
  for (const key of DIGEST_KEYS) {
    const v = evidence[key];
    if (typeof v === 'string' && HEX.test(v)) rows.push({ label: key, value: v });
  }
  return rows;
}

/** The evidence block; `open` for the problems that need it read first. */
export function evidenceDetails(evidence: Record<string, unknown> | undefined, options: { skip?: readonly string[] } = {}): string {
  if (!evidence || typeof evidence !== 'object') return '';
  const digests = evidenceDigests(evidence);
  const skip = new Set([...(options.skip ?? []), ...digests.map((d) => d.label)]);
  const entries = Object.entries(evidence).filter(([k, v]) => !skip.has(k) && v !== undefined && v !== '');
  const dl = entries
    .slice(0, MAX_KEYS)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${value(v)}</dd>`)
    .join('');
  const more = entries.length > MAX_KEYS ? `<p class="note">${entries.length - MAX_KEYS} more field(s) in the JSON record</p>` : '';
  const digestHtml = digests.length ? digestBlock(digests) : '';
  if (!dl && !digestHtml) return '';
  return `${digestHtml}${dl ? `<details><summary>evidence</summary><dl class="ev">${dl}</dl>${more}</details>` : ''}`;
}
