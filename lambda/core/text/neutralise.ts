/**
 * One sanitizer for every piece of text that leaves the verifier for a human: terminal lines, SMS
 * and email bodies, HTML. Release names, tags, URLs, asset names, commit messages, archive entry
 * names and build logs come from the forge or from a build, so an attacker chooses them: an ESC
 * sequence can clear a terminal or rewrite earlier lines, a CR can overwrite a line, and bidi
 * controls can make "exe.txt" read as "txt.exe".
 *
 * Such characters are rendered visibly as `\u{…}` (never dropped: a reader must be able to see that
 * something was there, and two different names must not become the same text):
 *  - C0 and C1 control characters and DEL (general category Cc), except "\n" and "\t" when the
 *    text is a multi-line body we assembled ourselves;
 *  - format characters (Cf): bidi embeddings/overrides/isolates U+202A–202E, U+2066–2069, the marks
 *    U+200E/U+200F/U+061C, zero-width characters, BOM, soft hyphen, tag characters…;
 *  - line and paragraph separators U+2028/U+2029 and lone surrogates.
 * The text is otherwise unchanged, so neutralising twice is the same as once.
 */

/** Characters that must never reach an output raw (see above). */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const UNSAFE_ONE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const UNSAFE_KEEP_LINES = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function visible(ch: string): string {
  return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
}

/** Neutralises one line of text: every unsafe character, "\n" included, becomes `\u{…}`. */
export function neutralise(text: unknown): string {
  return String(text ?? '').replace(UNSAFE, visible);
}

/** Neutralises a multi-line text we assembled: keeps "\n" and "\t", renders everything else visibly. */
export function neutraliseLines(text: unknown): string {
  return String(text ?? '').replace(UNSAFE_KEEP_LINES, visible);
}

/** True when `text` holds a character `neutralise` would render visibly. */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE_ONE.test(text);
}

/**
 * JSON for a terminal or a file: the same data as JSON.stringify, but every unsafe character is
 * written as a JSON `\uXXXX` escape (JSON.stringify escapes C0 only; C1, bidi and format
 * characters would reach the terminal raw). Parsing the result gives back the original value.
 */
export function safeJson(value: unknown, space?: number): string {
  const json = JSON.stringify(value, null, space);
  if (json === undefined) return 'null';
  // JSON.stringify already escapes C0 inside strings, so a raw "\n" is layout (kept); the rest
  // can only occur inside strings, where a \uXXXX escape means the same character
  return json.replace(UNSAFE_KEEP_LINES, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
