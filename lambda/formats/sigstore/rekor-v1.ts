/**
 * Rekor v1 bodies name the signer too: a hashedrekord 0.0.1 body's `spec.signature.publicKey.content`
 * and a dsse 0.0.1 body's `spec.signatures[].verifier` hold base64 of a PEM certificate or public
 * key. @sigstore/verify compares the signature and the digest, not the signer; sigstore-python
 * compares the whole expected body. Here the named signer must be the bundle's: the same
 * certificate, or the same public key (the leaf's key or the pinned one) — an entry logged for
 * another key cannot stand in, even with the same signature bytes.
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import type { SigningMaterial } from './rekor-v2';

const PEM_BLOCK = /^-----BEGIN ([A-Z ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----\r?\n?$/;

/** Whether base64(PEM) names the signing material. */
function namesSigner(b64pem: unknown, m: SigningMaterial): boolean {
  if (typeof b64pem !== 'string') return false;
  const pem = Buffer.from(b64pem, 'base64').toString('utf8');
  const block = PEM_BLOCK.exec(pem.trim() + '\n');
  if (!block) return false;
  const der = Buffer.from(block[2]!.replace(/\s+/g, ''), 'base64');
  const spki = m.key.export({ format: 'der', type: 'spki' });
  try {
    if (block[1] === 'CERTIFICATE')
      return m.kind === 'certificate' ? der.equals(m.der) : new X509Certificate(der).publicKey.export({ format: 'der', type: 'spki' }).equals(spki);
    if (block[1] === 'PUBLIC KEY') return createPublicKey({ key: der, format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' }).equals(spki);
  } catch {
    return false;
  }
  return false;
}

/** `v[key]` when `v` is an object, else undefined: a step through JSON of unknown shape. */
function field(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
}

/** Entry `i`'s Rekor v1 body (already shape-checked): a reason when it names another signer. */
export function checkV1Signer(i: number, kind: string, spec: Record<string, unknown>, m: SigningMaterial): string | undefined {
  const named =
    kind === 'hashedrekord'
      ? [field(field(spec.signature, 'publicKey'), 'content')]
      : kind === 'dsse'
        ? (spec.signatures as Array<{ verifier?: unknown }>).map((s) => s.verifier)
        : undefined; // intoto: left to the library
  if (named === undefined) return undefined;
  if (named.length === 0 || !named.every((n) => namesSigner(n, m)))
    return `tlog entry ${i}: Rekor ${kind} body names another signer than the bundle's ${m.kind === 'certificate' ? 'certificate' : 'pinned key'}`;
  return undefined;
}
