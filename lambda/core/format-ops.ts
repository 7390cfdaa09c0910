/**
 * The format operations the checker needs, as one injectable object. The contract is the formats'
 * own (formats/types.ts: formats stand below the core and never import it); the real
 * implementations are bound in formats/ops.ts, and tests may substitute them to exercise the
 * checker's judgement without building signed binaries.
 */
export type { FormatOps } from '../formats/types';
export type { ManifestEntryStatus } from '../base/comparison';
