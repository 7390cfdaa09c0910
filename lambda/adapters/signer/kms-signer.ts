/**
 * The attestation signer on an AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY): ECDSA with
 * SHA-256 over the DSSE PAE, DER-encoded as KMS returns it. KMS takes at most 4096 bytes as a RAW
 * message (it hashes them itself); a longer PAE is hashed here and sent as a DIGEST — the same
 * signature either way, verifiable with the key's public half over the PAE.
 */
import { createHash } from 'node:crypto';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import type { AttestationSigner } from '../../core/attestation';
import { VerifierError } from '../../core/errors';

/** KMS Sign: the largest message accepted with MessageType RAW. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;

export interface KmsSignerOptions {
  /** the key ARN (also the envelope's keyid) */
  keyArn: string;
  /** @default a new KMSClient for the Lambda's region */
  client?: KMSClient;
}

export class KmsAttestationSigner implements AttestationSigner {
  readonly keyId: string;
  private readonly client: KMSClient;

  constructor(options: KmsSignerOptions) {
    this.keyId = options.keyArn;
    this.client = options.client ?? new KMSClient({});
  }

  async sign(pae: Uint8Array): Promise<Uint8Array> {
    const raw = pae.byteLength <= KMS_RAW_MESSAGE_LIMIT;
    const out = await this.client.send(
      new SignCommand({
        KeyId: this.keyId,
        SigningAlgorithm: 'ECDSA_SHA_256',
        MessageType: raw ? 'RAW' : 'DIGEST',
        Message: raw ? pae : createHash('sha256').update(pae).digest(),
      }),
    );
    if (!out.Signature || out.Signature.byteLength === 0)
      throw new VerifierError('ATTESTATION_SIGN_FAILED', `KMS Sign with ${this.keyId} returned no signature`);
    return out.Signature;
  }
}
