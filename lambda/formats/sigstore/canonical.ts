/**
 * The protobuf JSON mapping silently drops fields it does not know, and decodes base64 leniently
 * (skipping stray characters). These compare a parsed JSON value with its decoded-then-re-encoded
 * form, so data the verifier would ignore (or read differently) can be refused.
 */
const MAX_DEPTH = 32;

export function isEmptyValue(v: unknown): boolean {
  return (
    v === null ||
    v === '' ||
    v === 0 ||
    v === '0' ||
    v === false ||
    (Array.isArray(v) && v.length === 0) ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)
  );
}

/** Paths of keys present (with a non-default value) in `input` but absent from its decoded form. */
export function unknownFields(input: unknown, decoded: unknown, path: string, depth = 0): string[] {
  if (depth > MAX_DEPTH) return [`${path} (nested too deep)`];
  if (Array.isArray(input)) {
    if (!Array.isArray(decoded)) return isEmptyValue(input) ? [] : [path];
    return input.flatMap((v, i) => unknownFields(v, decoded[i], `${path}[${i}]`, depth + 1));
  }
  if (typeof input !== 'object' || input === null) return [];
  const d = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<string, unknown>;
  return Object.entries(input as Record<string, unknown>).flatMap(([k, v]) =>
    k in d ? unknownFields(v, d[k], `${path}.${k}`, depth + 1) : isEmptyValue(v) ? [] : [`${path}.${k}`],
  );
}

/** Same value, allowing only the number/numeric-string variance of protobuf's int64 JSON mapping. */
function sameScalar(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((typeof a === 'number' || typeof a === 'string') && (typeof b === 'number' || typeof b === 'string'))
    return /^-?\d+$/.test(String(a)) && String(a) === String(b);
  return false;
}

/** Paths where the input's value differs from its decoded-then-re-encoded form (known fields only). */
export function nonCanonicalFields(input: unknown, decoded: unknown, path: string, depth = 0): string[] {
  if (depth > MAX_DEPTH) return [`${path} (nested too deep)`];
  if (Array.isArray(input)) {
    if (!Array.isArray(decoded)) return isEmptyValue(input) ? [] : [path];
    if (input.length !== decoded.length) return [path];
    return input.flatMap((v, i) => nonCanonicalFields(v, decoded[i], `${path}[${i}]`, depth + 1));
  }
  if (typeof input === 'object' && input !== null) {
    const d = (typeof decoded === 'object' && decoded !== null ? decoded : {}) as Record<string, unknown>;
    return Object.entries(input as Record<string, unknown>).flatMap(([k, v]) => (k in d ? nonCanonicalFields(v, d[k], `${path}.${k}`, depth + 1) : []));
  }
  if (decoded === undefined) return isEmptyValue(input) ? [] : [path];
  return sameScalar(input, decoded) ? [] : [path];
}
