/**
 * "Did you mean …?" for configuration keys: the nearest valid key by Damerau–Levenshtein distance
 * (optimal string alignment: insertions, deletions, substitutions and adjacent transpositions),
 * case-insensitive, within a distance that scales with the key's length so that unrelated keys
 * are not suggested.
 */

/** Optimal-string-alignment distance between two (short) strings. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (m === 0) return n;
  if (n === 0) return m;
  // three rows suffice for the transposition step
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/**
 * The valid key nearest to `unknown`, or undefined when none is near enough. A key that starts
 * with a valid key plus a unit suffix or the reverse (`timeout` → `timeoutMinutes`) counts as near.
 */
export function nearestKey(unknown: string, valid: readonly string[]): string | undefined {
  const u = unknown.toLowerCase();
  if (u.length > 100) return undefined;
  let best: { key: string; score: number } | undefined;
  for (const key of valid) {
    const k = key.toLowerCase();
    let score = editDistance(u, k);
    // a prefix of a valid key (at least 4 characters: "timeout" of "timeoutMinutes") is near too
    if (u.length >= 4 && k.startsWith(u)) score = Math.min(score, 1);
    const limit = Math.max(1, Math.min(3, Math.floor(Math.max(u.length, 4) / 3)));
    if (score <= limit && (!best || score < best.score)) best = { key, score };
  }
  return best?.key;
}

/** The message for an unknown key: "unknown key — did you mean notifyOnVerified?". */
export function unknownKeyMessage(unknown: string, valid: readonly string[]): string {
  const near = nearestKey(unknown, valid);
  if (near) return `unknown key — did you mean ${near}?`;
  const list = valid.filter((k) => k !== '$schema');
  return `unknown key — valid keys here: ${list.length ? list.join(', ') : '(none)'}`;
}
