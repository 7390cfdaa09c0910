/**
 * Key material is checked when the configuration is loaded for `verify` and for `cdk synth` /
 * `cdk deploy`, not at the first release: a pinned key that does not parse, or a fingerprint that
 * is not the key's, would otherwise only show as SIGNATURE_UNCHECKED runs later (or, worse, be
 * deployed). Each problem is a ConfigIssue naming the field: a configuration error, exit 3.
 *
 *  - minisign / tauri: the public key parses (Ed25519, canonical base64); a pinned `keyId` is the key's;
 *  - openpgp: the key or keyring parses, is public, and holds the pinned `fingerprint` as a primary
 *    key exactly once;
 *  - authenticode: the pinned CA and timestamp CA PEMs parse (at least one certificate each);
 *  - sigstore: the pinned trusted root parses as a sigstore trusted root; a pinned key (key-based
 *    bundles) is a PEM public key.
 *
 * Each scheme module makes its own checks (formats/schemes/<scheme>.ts `checkKeys`), reading keys
 * with the format parsers themselves (the same code that verifies later), so "parses here" means
 * "parses when it matters".
 */
import { ConfigError, type ConfigIssue } from '../errors';
import type { Config, SignaturePolicy } from './schema';
import { schemeOf } from '../../formats/schemes/registry';

async function policyIssues(policy: SignaturePolicy, path: string, out: ConfigIssue[]): Promise<void> {
  if (policy.scheme === 'none') return;
  if (policy.scheme === 'sha256sums') return policyIssues(policy.manifestSignature, `${path}.manifestSignature`, out);
  // each scheme checks its own keys, importing its parsers only when a policy of it is loaded
  out.push(...(await schemeOf(policy).checkKeys(policy, path)));
}

/** Every key-material problem of a loaded (inlined) configuration. */
export async function keyMaterialIssues(config: Config): Promise<ConfigIssue[]> {
  const out: ConfigIssue[] = [];
  for (const [ti, t] of config.targets.entries())
    for (const [ai, a] of t.artifacts.entries()) await policyIssues(a.signature, `targets[${ti}].artifacts[${ai}].signature`, out);
  return out;
}

/** Throws a ConfigError listing every key-material problem (see keyMaterialIssues). */
export async function assertKeyMaterial(config: Config, source?: string): Promise<void> {
  const issues = await keyMaterialIssues(config);
  if (issues.length) throw new ConfigError(issues, source);
}
