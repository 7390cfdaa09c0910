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
 * This module reads keys with the format parsers themselves (the same code that verifies later),
 * so "parses here" means "parses when it matters".
 */
import { ConfigError, type ConfigIssue } from '../errors';
import type { Config, SignaturePolicy } from './schema';

function reason(err: unknown): string {
  const e = err as { userMessage?: string; message?: string };
  return e?.userMessage ?? e?.message ?? String(err);
}

/** Minisign shows key ids without leading zeros; compare them as numbers written in hex. */
function sameKeyId(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .trim()
      .toUpperCase()
      .replace(/^0+(?=.)/, '');
  return norm(a) === norm(b);
}

async function policyIssues(policy: SignaturePolicy, path: string, out: ConfigIssue[]): Promise<void> {
  const p = policy as SignaturePolicy & { publicKey?: string; keyId?: string; caCertificate?: string; tsaCertificate?: string; trustedRoot?: string };
  switch (policy.scheme) {
    case 'minisign':
    case 'tauri': {
      if (p.publicKey === undefined) return; // "is required" is reported by load.ts
      const { parseMinisignPublicKey } = await import('../../formats/minisign');
      const { parseTauriPublicKey } = await import('../../formats/tauri');
      let keyIdHex: string;
      try {
        keyIdHex = (policy.scheme === 'minisign' ? parseMinisignPublicKey(p.publicKey) : parseTauriPublicKey(p.publicKey)).keyIdHex;
      } catch (err) {
        out.push({ path: `${path}.publicKey`, message: `is not a usable ${policy.scheme} public key: ${reason(err)}` });
        return;
      }
      if (p.keyId !== undefined && !sameKeyId(p.keyId, keyIdHex))
        out.push({ path: `${path}.keyId`, message: `pins key id ${p.keyId}, but the public key has key id ${keyIdHex}` });
      return;
    }
    case 'openpgp': {
      if (p.publicKey === undefined) return;
      // a keyring is allowed (formats/openpgp.ts verifies with the ring's pinned key): the pinned
      // fingerprint must be a primary key of the ring exactly once — never "some key of the ring"
      const { primaryFingerprint, readOpenpgpKeys } = await import('../../formats/openpgp');
      let fprs: string[];
      try {
        fprs = (await readOpenpgpKeys(p.publicKey)).map(primaryFingerprint);
      } catch (err) {
        out.push({ path: `${path}.publicKey`, message: `is not a usable OpenPGP public key: ${reason(err)}` });
        return;
      }
      const pinned = policy.fingerprint.toUpperCase();
      const hits = fprs.filter((f) => f === pinned).length;
      if (hits === 1) return;
      if (hits > 1)
        out.push({
          path: `${path}.publicKey`,
          message: `holds the pinned key ${pinned} ${hits} times: export the ring again (gpg --armor --export) so each key appears once`,
        });
      else if (fprs.length === 1) out.push({ path: `${path}.fingerprint`, message: `pins ${pinned}, but the public key's primary fingerprint is ${fprs[0]}` });
      else
        out.push({
          path: `${path}.fingerprint`,
          message: `pins ${pinned}, but none of the ${fprs.length} keys of the keyring has that primary fingerprint (${fprs.join(', ').slice(0, 600)})`,
        });
      return;
    }
    case 'authenticode': {
      const { parsePemCertificates } = await import('../../formats/authenticode/certs');
      for (const field of ['caCertificate', 'tsaCertificate'] as const) {
        const pem = p[field];
        if (pem === undefined) continue;
        try {
          if (parsePemCertificates(pem).length === 0) throw new Error('no "-----BEGIN CERTIFICATE-----" block');
        } catch (err) {
          out.push({ path: `${path}.${field}`, message: `is not a PEM certificate: ${reason(err)}` });
        }
      }
      return;
    }
    case 'sigstore': {
      if (p.publicKey !== undefined) {
        // a key-based bundle's pinned key: a PEM "PUBLIC KEY" node can read
        const { createPublicKey } = await import('node:crypto');
        try {
          if (!/-----BEGIN PUBLIC KEY-----/.test(p.publicKey)) throw new Error('no "-----BEGIN PUBLIC KEY-----" block');
          createPublicKey(p.publicKey);
        } catch (err) {
          out.push({ path: `${path}.publicKey`, message: `is not a usable PEM public key: ${reason(err)}` });
        }
      }
      if (p.trustedRoot === undefined) return;
      const { parseTrustedRoot } = await import('../../formats/sigstore');
      try {
        parseTrustedRoot(p.trustedRoot);
      } catch (err) {
        out.push({ path: `${path}.trustedRoot`, message: `is not a usable sigstore trusted root: ${reason(err)}` });
      }
      return;
    }
    case 'sha256sums':
      return policyIssues(policy.manifestSignature, `${path}.manifestSignature`, out);
    case 'none':
      return;
  }
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
