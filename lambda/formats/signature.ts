/**
 * One entry point for every detached or embedded signature scheme: dispatches on the policy's
 * scheme. Each scheme module answers `valid: false` with a reason for any bad signature, and throws
 * only when it could not check (unreadable files, unusable pinned key material).
 */
import { FormatError } from '../base/errors';
import type { SignatureInput, SignatureResult } from './types';

type Verify = (input: SignatureInput) => Promise<SignatureResult>;

async function verifyAuthenticode(input: SignatureInput): Promise<SignatureResult> {
  // Loaded on demand: PE/MSI parsing and pkijs are only needed for Windows assets.
  const { verifyAuthenticode: verify } = await import('./authenticode/verify');
  const policy = input.policy;
  const tsa = policy.scheme === 'authenticode' ? policy.tsaCertificate : undefined;
  return verify(input, { tsaTrustAnchors: tsa ? [tsa] : undefined });
}

async function verifyApple(input: SignatureInput): Promise<SignatureResult> {
  // Loaded on demand, like Authenticode: Mach-O, archive and plist parsing only for macOS assets.
  const { verifyApple: verify } = await import('./apple/verify');
  return verify(input);
}

// Every scheme's code is imported when a signature of that scheme is checked, never before (issue
// 14): openpgp, the sigstore libraries and pkijs cost a few hundred milliseconds to load, and a
// check-signature of one scheme must not pay for the others.
const verifyMinisign: Verify = async (input) => (await import('./minisign')).verifyMinisign(input);
const verifyTauri: Verify = async (input) => (await import('./tauri')).verifyTauri(input);
const verifyOpenpgp: Verify = async (input) => (await import('./openpgp')).verifyOpenpgp(input);
const verifySigstore: Verify = async (input) => (await import('./sigstore')).verifySigstore(input);

const VERIFIERS: Record<SignatureInput['policy']['scheme'], Verify> = {
  minisign: verifyMinisign,
  tauri: verifyTauri,
  openpgp: verifyOpenpgp,
  sigstore: verifySigstore,
  authenticode: verifyAuthenticode,
  apple: verifyApple,
};

export async function verifySignature(input: SignatureInput): Promise<SignatureResult> {
  const verify = VERIFIERS[input.policy.scheme];
  if (!verify) throw new FormatError('signature', `unknown signature scheme "${String((input.policy as { scheme?: unknown }).scheme)}"`);
  const result = await verify(input);
  // Fail closed whatever a scheme module does: `valid` must be exactly true, for the scheme asked.
  if (result.valid !== true || result.scheme !== input.policy.scheme) return { ...result, valid: false, scheme: input.policy.scheme };
  return result;
}
