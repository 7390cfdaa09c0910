import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface AttestationKeyProps {
  /** @default 'release-verifier run attestations (DSSE, in-toto)' */
  readonly description?: string;
  /**
   * Attestations stay in the Object-Locked results bucket after the stack is gone, and can only be
   * checked while the key's public half can be fetched: the key is kept.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Waiting period before a deleted key is gone (7–30 days). @default Duration.days(30) */
  readonly pendingWindow?: Duration;
}

/**
 * The key that signs run attestations (runs/<runId>/attestation.dsse.json): a KMS asymmetric
 * ECC_NIST_P256 key for SIGN_VERIFY (ECDSA with SHA-256). The private half never leaves KMS;
 * anyone given the public half (`aws kms get-public-key`) can check an attestation.
 *
 * Only the principal given to `allowSigning` may kms:Sign: it gets an IAM grant, and the key
 * policy denies kms:Sign to every other principal — administrators included, unless they change
 * the key policy (which CloudTrail records). Asymmetric keys cannot rotate automatically.
 */
export class AttestationKey extends Construct {
  readonly key: kms.Key;
  private signer?: iam.IRole;

  constructor(scope: Construct, id: string, props: AttestationKeyProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      description: props.description ?? 'release-verifier run attestations (DSSE, in-toto)',
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      pendingWindow: props.pendingWindow ?? Duration.days(30),
    });
  }

  /** Makes `role` the one principal allowed to sign with the key (call once). */
  allowSigning(role: iam.IRole): void {
    if (this.signer) throw new Error('AttestationKey: only one principal may sign');
    this.signer = role;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SignAttestations', actions: ['kms:Sign'], resources: [this.key.keyArn] }));
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheCheckerSigns',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Sign'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );
  }
}
