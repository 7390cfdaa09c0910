/**
 * One entry point for every detached or embedded signature scheme: dispatches on the policy's
 * scheme through the registry (formats/schemes/). Each scheme module answers `valid: false` with a
 * reason for any bad signature, and throws only when it could not check (unreadable files, unusable
 * pinned key material).
 *
 * Every scheme's code is imported when a signature of that scheme is checked, never before (issue
 * 14): openpgp, the sigstore libraries and pkijs cost a few hundred milliseconds to load, and a
 * check-signature of one scheme must not pay for the others. The registry holds only declarations.
 */
import { FormatError } from '../base/errors';
import { findScheme } from './schemes/registry';
import type { SignatureInput, SignatureResult } from './types';

export async function verifySignature(input: SignatureInput): Promise<SignatureResult> {
  const scheme = findScheme(String((input.policy as { scheme?: unknown }).scheme));
  if (!scheme) throw new FormatError('signature', `unknown signature scheme "${String((input.policy as { scheme?: unknown }).scheme)}"`);
  const result = await scheme.verify(input);
  // Fail closed whatever a scheme module does: `valid` must be exactly true, for the scheme asked.
  if (result.valid !== true || result.scheme !== input.policy.scheme) return { ...result, valid: false, scheme: input.policy.scheme };
  return result;
}
