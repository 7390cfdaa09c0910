/**
 * SMS text in the GSM 7-bit default alphabet (3GPP TS 23.038, formerly GSM 03.38).
 *
 * SNS picks the encoding from the content: one character outside the GSM-7 alphabet (an ellipsis,
 * a curly quote, an emoji in a release name) switches the whole message to UCS-2, 70 characters a
 * segment instead of 160, and a short alert becomes three or four billed messages or is cut by the
 * carrier. So the SMS form is mapped to GSM-7 here (lookalikes where they exist, `?` otherwise —
 * never dropped silently) and bounded to at most two segments.
 *
 * Segment sizes: one message holds 160 septets; a concatenated message 153 septets a segment (the
 * user data header takes the rest). Characters of the extension table (`^ { } \ [ ~ ] | €` and
 * form feed) take two septets (ESC + code) and are never split across segments.
 */

/** The default alphabet, code 0x00–0x7F. 0x1B is the escape to the extension table (not a character). */
const BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' + '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';

/** The extension table: character → code after the escape (ESC 0x1B). */
const EXTENDED: Record<string, number> = { '\f': 0x0a, '^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2f, '[': 0x3c, '~': 0x3d, ']': 0x3e, '|': 0x40, '€': 0x65 };
const ESC = 0x1b;

const SEPTETS = new Map<string, 1 | 2>();
const CODES = new Map<string, number[]>();
Array.from(BASIC).forEach((ch, code) => {
  if (code === ESC) return;
  SEPTETS.set(ch, 1);
  CODES.set(ch, [code]);
});
for (const [ch, code] of Object.entries(EXTENDED)) {
  SEPTETS.set(ch, 2);
  CODES.set(ch, [ESC, code]);
}

/** The septets of a GSM-7 text (unpacked, one per element; ESC + code for the extension table). */
export function gsm7Encode(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const codes = CODES.get(ch);
    if (!codes) throw new RangeError(`U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} is not in the GSM 7-bit alphabet`);
    out.push(...codes);
  }
  return out;
}

export const SINGLE_SEGMENT_SEPTETS = 160;
export const CONCATENATED_SEGMENT_SEPTETS = 153;

/** Septets one character takes in GSM-7 (1, or 2 for the extension table); undefined if it has none. */
export function gsm7Septets(ch: string): 1 | 2 | undefined {
  return SEPTETS.get(ch);
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!SEPTETS.has(ch)) return false;
  return true;
}

/** Septets the whole text takes; throws on a character outside GSM-7 (call toGsm7 first). */
export function gsm7Length(text: string): number {
  let n = 0;
  for (const ch of text) {
    const s = SEPTETS.get(ch);
    if (s === undefined) throw new RangeError(`U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} is not in the GSM 7-bit alphabet`);
    n += s;
  }
  return n;
}

/** How many SMS segments the GSM-7 text takes (an escape pair never straddles two segments). */
export function gsm7Segments(text: string): number {
  const total = gsm7Length(text);
  if (total <= SINGLE_SEGMENT_SEPTETS) return 1;
  let segments = 1;
  let used = 0;
  for (const ch of text) {
    const s = SEPTETS.get(ch)!;
    if (used + s > CONCATENATED_SEGMENT_SEPTETS) {
      segments++;
      used = 0;
    }
    used += s;
  }
  return segments;
}

/** Lookalikes for common characters outside GSM-7 (punctuation that editors and forges produce). */
const LOOKALIKE: Record<string, string> = {
  '\u2026': '...', // … horizontal ellipsis
  '\u2018': "'",
  '\u2019': "'",
  '\u201a': "'",
  '\u201b': "'",
  '\u2032': "'",
  '`': "'",
  '\u00b4': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u201e': '"',
  '\u201f': '"',
  '\u2033': '"',
  '\u00ab': '"',
  '\u00bb': '"',
  '\u2010': '-',
  '\u2011': '-',
  '\u2012': '-',
  '\u2013': '-',
  '\u2014': '-',
  '\u2015': '-',
  '\u2212': '-',
  '\u2022': '*',
  '\u00b7': '.',
  '\u2192': '->',
  '\u2190': '<-',
  '\u00d7': 'x',
  '\t': ' ',
  '\u00a0': ' ',
  '\u00e7': 'Ç', // GSM 03.38 has only the capital; the common mapping for ç
};

/**
 * Maps any text to GSM-7: characters of the alphabet are kept, lookalikes replace common
 * punctuation, accented letters lose their accents (NFKD) when the base letters are GSM-7, other
 * spaces become a space, control characters a space, everything else `?`.
 */
export function toGsm7(text: string): string {
  let out = '';
  for (const ch of text) {
    if (SEPTETS.has(ch)) {
      out += ch;
      continue;
    }
    const look = LOOKALIKE[ch];
    if (look !== undefined) {
      out += look;
      continue;
    }
    if (/\p{Zs}/u.test(ch) || /\p{Cc}/u.test(ch)) {
      out += ' ';
      continue;
    }
    // compatibility decomposition: accents dropped, ĳ → ij, ſ → s, fullwidth → ASCII
    const base = ch.normalize('NFKD').replace(/\p{M}/gu, '');
    out += base !== '' && base !== ch && isGsm7(base) ? base : '?';
  }
  return out;
}

/**
 * The SMS form of a text: GSM-7, on one line, at most `maxSegments` segments. A longer text is
 * cut (at a word boundary when one is near) and ends in "..." — three GSM-7 dots, never "…".
 */
export function smsText(text: string, maxSegments = 2): string {
  const flat = toGsm7(text)
    .replace(/[\n\r\f]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (gsm7Segments(flat) <= maxSegments) return flat;
  const marker = '...';
  const chars = Array.from(flat);
  // longest prefix that fits together with the marker
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (gsm7Segments(chars.slice(0, mid).join('') + marker) <= maxSegments) lo = mid;
    else hi = mid - 1;
  }
  let cut = chars.slice(0, lo).join('');
  const space = cut.lastIndexOf(' ');
  if (space > 0 && cut.length - space <= 20) cut = cut.slice(0, space);
  return cut.trimEnd() + marker;
}
