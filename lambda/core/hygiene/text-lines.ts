/** Finding the line of a value in a file the parser gave no positions for (TOML, JSON). */

/** 1-based line of the first line matching all `needles` (literal, in order on the line), from `from`; else `fallback`. */
export function lineWith(source: string, needles: string[], fallback = 1, from = 1): number {
  const lines = source.split(/\r?\n/);
  for (let i = Math.max(0, from - 1); i < lines.length; i++) {
    let at = 0;
    const l = lines[i]!;
    let ok = true;
    for (const n of needles) {
      const j = l.indexOf(n, at);
      if (j < 0) {
        ok = false;
        break;
      }
      at = j + n.length;
    }
    if (ok) return i + 1;
  }
  return fallback;
}
