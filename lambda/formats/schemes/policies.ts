/**
 * The policy schemas of the signature schemes, in registry order, without the schemes' code: the
 * format contracts (types.ts) take their policy types from here, and the implementations import
 * types.ts, so this list must not import the scheme modules (that would be an import cycle).
 * registry.ts checks at compile time that it lists the same schemes in the same order.
 */
import type * as z from 'zod/mini';
import { applePolicy } from './policy/apple';
import { authenticodePolicy } from './policy/authenticode';
import { minisignPolicy } from './policy/minisign';
import { openpgpPolicy } from './policy/openpgp';
import { sigstorePolicy } from './policy/sigstore';
import { tauriPolicy } from './policy/tauri';

export const DIRECT_POLICY_SCHEMAS = [minisignPolicy, tauriPolicy, openpgpPolicy, authenticodePolicy, sigstorePolicy, applePolicy] as const;

/** A signature policy over the asset itself (not a sha256sums manifest, not "none"). */
export type DirectSignaturePolicy = z.output<(typeof DIRECT_POLICY_SCHEMAS)[number]>;
export type DirectSchemeName = DirectSignaturePolicy['scheme'];
