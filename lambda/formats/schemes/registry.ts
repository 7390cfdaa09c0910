/**
 * The signature schemes, in the order of the configuration's discriminated union (and of
 * check-signature's --scheme choices). A new scheme: its policy schema in policy/<scheme>.ts (listed
 * in policies.ts), its module <scheme>.ts, one line here, and its tests.
 *
 * Importing this module loads only the schemes' declarations (zod schemas and small functions);
 * each scheme's verifier and key parsers are imported when first used.
 */
import type * as z from 'zod/mini';
import type { DirectSignaturePolicy } from '../types';
import { appleScheme } from './apple';
import { authenticodeScheme } from './authenticode';
import { minisignScheme } from './minisign';
import { openpgpScheme } from './openpgp';
import type { DIRECT_POLICY_SCHEMAS } from './policies';
import type { openpgpManifestPolicy } from './policy/openpgp';
import type { SignatureScheme } from './scheme';
import { sigstoreScheme } from './sigstore';
import { tauriScheme } from './tauri';

const LIST = [minisignScheme, tauriScheme, openpgpScheme, authenticodeScheme, sigstoreScheme, appleScheme] as const;

// policies.ts must list the same schemes in the same order (a compile error otherwise)
type NamesOf<T extends readonly unknown[]> = { [K in keyof T]: T[K] extends { name: infer N } ? N : never };
type SchemesOf<T extends readonly z.ZodMiniType[]> = { [K in keyof T]: z.output<T[K]> extends { scheme: infer N } ? N : never };
type RegistryNames = NamesOf<typeof LIST>;
type PolicyNames = SchemesOf<typeof DIRECT_POLICY_SCHEMAS>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameOrder: Same<RegistryNames, PolicyNames> = true;
void sameOrder;

/** Every signature scheme, in registry order. */
export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = LIST as unknown as readonly SignatureScheme[];

export type SchemeName = DirectSignaturePolicy['scheme'];
export const SCHEME_NAMES = SIGNATURE_SCHEMES.map((s) => s.name) as readonly SchemeName[];

/** The scheme of that name, or undefined (an unknown name from outside: a CLI flag, a stored plan). */
export function findScheme(name: string): SignatureScheme | undefined {
  return SIGNATURE_SCHEMES.find((s) => s.name === name);
}

/** The scheme of a policy (whose scheme the config schema has validated). */
export function schemeOf(policy: { scheme: string }): SignatureScheme {
  const scheme = findScheme(policy.scheme);
  if (!scheme) throw new Error(`unknown signature scheme "${policy.scheme}"`);
  return scheme;
}

/** The policy schemas in registry order, for the configuration's discriminated union. */
export function directPolicySchemas(): typeof DIRECT_POLICY_SCHEMAS {
  return SIGNATURE_SCHEMES.map((s) => s.policySchema) as unknown as typeof DIRECT_POLICY_SCHEMAS;
}

type ManifestPolicySchema = (typeof DIRECT_POLICY_SCHEMAS)[number] | typeof openpgpManifestPolicy;

/** The schemas a sha256sums manifest may be signed with (their manifest variants), in registry order. */
export function manifestPolicySchemas(): readonly [ManifestPolicySchema, ...ManifestPolicySchema[]] {
  return SIGNATURE_SCHEMES.filter((s) => s.usableForManifest).map((s) => s.manifestPolicySchema ?? s.policySchema) as unknown as readonly [
    ManifestPolicySchema,
    ...ManifestPolicySchema[],
  ];
}

/** The detached file a policy makes the checker read (its name as the policy gives it, and its bound), or undefined when embedded. */
export function companionOf(policy: DirectSignaturePolicy): { name: string; maxBytes: number } | undefined {
  const companion = schemeOf(policy).companion;
  if (companion === 'embedded') return undefined;
  const fields = policy as unknown as Record<string, unknown>;
  if (companion.embeddedWhen?.(fields)) return undefined;
  return { name: String(fields[companion.field]), maxBytes: companion.maxBytes };
}

/** The download bound of a scheme's detached file; undefined for embedded schemes. */
export function companionLimit(name: SchemeName): number | undefined {
  const companion = findScheme(name)?.companion;
  return companion === undefined || companion === 'embedded' ? undefined : companion.maxBytes;
}

/** Expands the placeholders of a policy's own fields: the scheme's `expand`, else its companion field. */
export function expandSchemePolicy<P extends DirectSignaturePolicy>(policy: P, expandName: (template: string) => string): P {
  const scheme = schemeOf(policy);
  if (scheme.expand) return scheme.expand(policy, expandName) as P;
  if (scheme.companion === 'embedded') return policy;
  const field = scheme.companion.field;
  const value = (policy as unknown as Record<string, unknown>)[field];
  return typeof value === 'string' ? { ...policy, [field]: expandName(value) } : policy;
}
