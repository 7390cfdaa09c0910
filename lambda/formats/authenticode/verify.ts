/**
 * Authenticode verification (issue 4): the entry point. The rules are in judge.ts; this module is
 * light on purpose (issue 14): for a large signed PE it takes or starts the early digest
 * (early-digest.ts) first, then loads judge.ts with pkijs and the certificate code, so that hashing
 * and loading/parsing overlap on two cores.
 */
import type { SignatureInput, SignatureResult } from '../types';
import { earlyDigestFor } from './early-digest';
import type { VerifyAuthenticodeOptions } from './judge';

export type { VerifyAuthenticodeOptions };
export { earlyDigestPolicy } from './early-digest';

export async function verifyAuthenticode(input: SignatureInput, options: VerifyAuthenticodeOptions = {}): Promise<SignatureResult> {
  const early = input.policy.scheme === 'authenticode' ? await earlyDigestFor(input.assetPath) : undefined;
  try {
    const judge = await import('./judge');
    return await judge.verifyAuthenticode(input, options, early);
  } finally {
    early?.cancel();
  }
}
