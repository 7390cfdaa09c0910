/** Shared pieces of the fuzz targets: run a verifier on a mutated file and classify the answer. */
import { writeFileSync } from 'node:fs';
import { VerifierError } from '../../lambda/core/errors';
import type { SignatureResult } from '../../lambda/formats/types';
import type { FuzzOutcome } from './fuzz-target';

/**
 * Writes `mutated` to `path`, runs `verify`, and classifies: valid / invalid, or 'error' for a
 * typed rejection (VerifierError). Anything else thrown is a crash and propagates.
 */
export async function checkWith(path: string, mutated: Uint8Array, verify: () => Promise<SignatureResult>): Promise<FuzzOutcome> {
  writeFileSync(path, mutated);
  try {
    const r = await verify();
    return r.valid === true ? 'valid' : 'invalid';
  } catch (err) {
    if (err instanceof VerifierError) return 'error';
    throw err;
  }
}
