/**
 * What a signature scheme module declares, so that the configuration schema, key-file inlining,
 * key checks, plan expansion, companion downloads and check-signature's flags all come from it
 * (registry.ts lists the modules). A scheme verifies a signature over the asset itself; the
 * sha256sums wrapper and "none" are configuration concepts and live in the core.
 */
import type * as z from 'zod/mini';
import type { DirectSignaturePolicy, SignatureInput, SignatureResult } from '../types';

/** A problem with a policy's key material or pins, at a path (`targets[0].artifacts[1].signature.publicKey`). */
export interface PolicyIssue {
  path: string;
  message: string;
}

/** An `x` / `xFile` pair: give exactly one (or none, when not required); the file is inlined at load. */
export interface KeyField {
  field: string;
  required: boolean;
}

/** The detached file a scheme reads beside the asset (a signature, a bundle). */
export interface DetachedCompanion {
  /** the policy field naming it (placeholders allowed: {asset}, {tag}, {version}) */
  field: 'signatureAsset' | 'bundleAsset';
  /** the most bytes it may have: the download is cut there (the format module refuses more anyway) */
  maxBytes: number;
  /** true when this policy's signature is embedded after all (a cleartext-signed OpenPGP manifest) */
  embeddedWhen?: (policy: Record<string, unknown>) => boolean;
}

export type Companion = 'embedded' | DetachedCompanion;

/** check-signature's flag values, as node:util parseArgs returns them. */
export type CliValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface CliFlag {
  type: 'string' | 'boolean';
  multiple?: boolean;
}

/** What check-signature hands a scheme to build a policy from its flags. */
export interface CliContext {
  values: CliValues;
  /** reads a small text file (a key, a certificate) within `max` bytes */
  readText(path: string, max: number, what: string): Promise<string>;
  readBytes(path: string, max: number, what: string): Promise<Buffer>;
  /** the value of a required string flag, or a usage error naming it */
  required(flag: string): string;
  /** a usage error (exit 3) to throw */
  usage(message: string): Error;
  /** a note printed after the answer */
  note(message: string): void;
}

export interface SchemeCli {
  /** the flags this scheme accepts besides --scheme, --file, --json and (detached schemes) --signature */
  flags: Readonly<Record<string, CliFlag>>;
  /** the scheme's lines of check-signature's help ("scheme-specific:"), each flag as `  --flag ARG   scheme: what it does` */
  help?: string;
  /** file name suffixes tried beside --file when no --signature is given (detached schemes) */
  signatureSuffixes: readonly string[];
  /**
   * The raw policy (validated with the scheme's policy schema afterwards); `extra` is merged after
   * validation (options the config schema allows only in a manifest, e.g. openpgp --cleartext).
   */
  policy(ctx: CliContext): Promise<{ raw: Record<string, unknown>; extra?: Record<string, unknown> }>;
}

export interface SignatureScheme<P extends DirectSignaturePolicy = DirectSignaturePolicy> {
  name: P['scheme'];
  /** the zod/mini schema of the policy, with descriptions (they go into the JSON Schema); see policy/fields.ts */
  policySchema: z.ZodMiniType<P, unknown>;
  /** the schema when the policy signs a sha256sums manifest (default: policySchema) */
  manifestPolicySchema?: z.ZodMiniType;
  /** may sign a sha256sums manifest */
  usableForManifest: boolean;
  /** key material that may be given inline or as a file next to the configuration */
  keyFields: readonly KeyField[];
  /** further load-time rules over the inlined policy; paths are relative field names */
  loadRules?(policy: P): PolicyIssue[];
  /** the key-material checks at load (lazily importing the parsers); `path` prefixes each issue */
  checkKeys(policy: P, path: string): Promise<PolicyIssue[]>;
  companion: Companion;
  /** placeholder expansion of the policy's own fields; default: the companion field */
  expand?(policy: P, expandName: (template: string) => string): P;
  /** verifies, lazily importing the implementation (issue 14: one scheme never loads the others) */
  verify(input: SignatureInput & { policy: P }): Promise<SignatureResult>;
  cli: SchemeCli;
}

/** Why a key did not parse, as the format modules say it. */
export function reason(err: unknown): string {
  const e = err as { userMessage?: string; message?: string };
  return e?.userMessage ?? e?.message ?? String(err);
}

/** check-signature's bound on a key or certificate file */
export const CLI_MAX_KEY_FILE = 1024 * 1024;
/** check-signature's bound on a sigstore trusted root */
export const CLI_MAX_TRUSTED_ROOT = 4 * 1024 * 1024;

/** `--cert-sha256` values as fingerprints: colons and spaces removed */
export function certFingerprints(values: CliValues): string[] | undefined {
  const v = values['cert-sha256'];
  return Array.isArray(v) ? v.map((h) => h.replace(/[:\s]/g, '')) : undefined;
}
