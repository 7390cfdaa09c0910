/**
 * A format under mutation testing: a genuine, valid input, and a check that runs the verifier on a
 * mutated copy. Used by the bounded mutation tests (vitest) and by `npm run fuzz` (≥ 10,000
 * mutations per format). The contract: a mutation may be judged invalid or rejected with a typed
 * error, but must never crash, hang, or be judged valid — unless the mutation left the bytes that
 * the signature covers unchanged, which `isEquivalent` (when given) decides.
 */
export type FuzzOutcome = 'valid' | 'invalid' | 'error';

export interface FuzzCase {
  /** the file the mutator flips bytes in / truncates (the signed file or the signature) */
  bytes: Uint8Array;
  /** runs the verifier on a mutated copy of `bytes` */
  check(mutated: Uint8Array): Promise<FuzzOutcome>;
  /** true when a mutation is semantically a no-op (e.g. only flipped an unsigned, ignored field) */
  isEquivalent?(mutated: Uint8Array): boolean;
}

export interface FuzzTarget {
  name: string;
  /** builds the genuine inputs (may shell out to reference tools) in `dir`; one or more cases */
  setup(dir: string): Promise<FuzzCase[]>;
}

/** Deterministic PRNG (mulberry32) so that a failing mutation can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random mutation: 1–4 byte flips, a truncation, or an insertion. */
export function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const kind = rand();
  if (kind < 0.6 || bytes.length < 2) {
    const out = Uint8Array.from(bytes);
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips && out.length; i++) out[Math.floor(rand() * out.length)] ^= 1 + Math.floor(rand() * 255);
    return out;
  }
  if (kind < 0.85) return bytes.slice(0, Math.floor(rand() * bytes.length));
  const at = Math.floor(rand() * bytes.length);
  const extra = Uint8Array.from({ length: 1 + Math.floor(rand() * 16) }, () => Math.floor(rand() * 256));
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes.subarray(0, at));
  out.set(extra, at);
  out.set(bytes.subarray(at), at + extra.length);
  return out;
}
