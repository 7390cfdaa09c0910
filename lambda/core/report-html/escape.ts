/**
 * Escaping for the HTML pages. Everything from the forge or a build (release names, asset names,
 * messages, archive member names, diffs) is untrusted: markup is escaped, and control, bidi and
 * format characters are rendered visibly by the shared sanitizer (text/neutralise.ts).
 */
import { neutralise, neutraliseLines } from '../text/neutralise';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const entity = (c: string) => ENTITIES[c]!;

/** Escapes for HTML text and attributes, and renders control/bidi/format characters visibly. */
export function escapeHtml(s: unknown): string {
  return neutralise(s).replace(/[&<>"']/g, entity);
}

/** As escapeHtml, for a <pre> block: keeps its line breaks and tabs. */
export function escapeBlock(s: unknown): string {
  return neutraliseLines(s).replace(/[&<>"']/g, entity);
}

/**
 * A URL fit for an href: http(s) only (no javascript:, data:, file: from the forge), normalised by
 * the URL parser, escaped for the attribute. `null` when it is not one.
 */
export function safeHref(url: unknown): string | null {
  if (typeof url !== 'string' || url.length > 4096) return null;
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    if (u.username || u.password) return null; // never render credentials
    return escapeHtml(u.href);
  } catch {
    return null;
  }
}

/** A link when `url` is a safe http(s) URL, else the escaped text. */
export function link(url: unknown, text: unknown = url): string {
  const href = safeHref(url);
  return href ? `<a href="${href}" rel="noreferrer">${escapeHtml(text)}</a>` : escapeHtml(text);
}

/** A relative link to one of our own records (a path we built from validated ids). */
export function relLink(path: string, text: unknown): string {
  const hash = path.indexOf('#');
  const [p, fragment] = hash < 0 ? [path, ''] : [path.slice(0, hash), path.slice(hash + 1)];
  const href = p.split('/').map(encodeURIComponent).join('/') + (fragment ? `#${encodeURIComponent(fragment)}` : '');
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`;
}
