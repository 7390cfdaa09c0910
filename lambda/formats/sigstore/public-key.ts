/**
 * A pinned signing key for key-based bundles (`cosign sign-blob --key … --bundle`: the bundle
 * carries only a key hint, which is unauthenticated, so the key itself is what the policy pins).
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { FormatError } from '../../base/errors';

export interface PinnedPublicKey {
  key: KeyObject;
  /** DER SubjectPublicKeyInfo */
  spki: Buffer;
  /** SHA-256 of the SPKI, hex: how the signer is reported */
  sha256: string;
}

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?$/;

/** Parses a PEM "PUBLIC KEY" (ECDSA P-256/P-384/P-521, RSA ≥ 2048 or Ed25519). Throws FormatError. */
export function parseSigstorePublicKey(pem: string): PinnedPublicKey {
  const m = PEM.exec(pem.trim() + '\n');
  if (!m)
    throw new FormatError('sigstore', 'pinned public key must be one PEM "-----BEGIN PUBLIC KEY-----" block (as cosign generate-key-pair writes cosign.pub)');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
  } catch (err) {
    throw new FormatError('sigstore', `pinned public key unreadable: ${(err as Error).message}`, { cause: err });
  }
  const t = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const ok =
    (t === 'ec' && ['prime256v1', 'secp384r1', 'secp521r1'].includes(curve ?? '')) ||
    (t === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048) ||
    t === 'ed25519';
  if (!ok) throw new FormatError('sigstore', `pinned public key type ${t}${curve ? ` (${curve})` : ''} is not one sigstore signs with`);
  const spki = key.export({ format: 'der', type: 'spki' });
  return { key, spki, sha256: createHash('sha256').update(spki).digest('hex') };
}
