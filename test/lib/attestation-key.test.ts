/**
 * The attestation key in the synthesized stack: an ECC_NIST_P256 SIGN_VERIFY key, kept on stack
 * deletion; only the checker's role may kms:Sign (IAM grant + key-policy deny for anyone else);
 * builds, launcher and dead-man get nothing of it; the checker knows its ARN; it is an output.
 * cdk-nag for the whole stack runs in stack.test.ts.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import { ENV } from '../../lambda/handlers/env';
import { ReleaseVerifierStack } from '../../lib/release-verifier-stack';

const IMG = `public.ecr.aws/docker/library/rust@sha256:${'5'.repeat(64)}`;
const none = { scheme: 'none', reason: 'test asset' } as const;
const config = parseConfig({
  version: 1,
  gitlab: { url: 'https://gitlab.com', project: 'group/app' },
  targets: [
    { name: 'linux-x64', image: IMG, command: 'make', artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }] },
    {
      name: 'windows-x64',
      platform: 'windows',
      image: IMG,
      command: 'make win',
      artifacts: [{ path: 'dist/app.exe', asset: 'app-{version}.exe', signature: none }],
    },
  ],
});

const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stack = new ReleaseVerifierStack(app, 'RV', { config });
const template = Template.fromStack(stack);
const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: any; DeletionPolicy?: string }>; Outputs: Record<string, any> };
const ofType = (type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);

const [keyId, key] = ofType('AWS::KMS::Key').find(([, r]) => r.Properties.KeySpec === 'ECC_NIST_P256')!;
const roleOfFunction = (envVar: string) =>
  ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.Environment?.Variables?.[envVar] !== undefined)![1].Properties.Role['Fn::GetAtt'][0] as string;
const checkerRole = roleOfFunction(ENV.diffProject);

/** Every statement (of every IAM policy) that allows `action`, with the roles it is attached to. */
function allowing(action: string): { roles: string[]; statement: any }[] {
  const out: { roles: string[]; statement: any }[] = [];
  for (const [, p] of [...ofType('AWS::IAM::Policy'), ...ofType('AWS::IAM::ManagedPolicy')]) {
    for (const s of p.Properties.PolicyDocument.Statement) {
      const actions = [s.Action].flat() as string[];
      const matches = actions.some((a) => a === action || a === '*' || a === 'kms:*' || (a.endsWith('*') && action.startsWith(a.slice(0, -1))));
      if (s.Effect === 'Allow' && matches) out.push({ roles: (p.Properties.Roles ?? []).map((r: { Ref: string }) => r.Ref), statement: s });
    }
  }
  return out;
}

describe('attestation key', () => {
  it('is an asymmetric P-256 signing key, retained with the stack (old attestations stay checkable)', () => {
    expect(key.Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', PendingWindowInDays: 30 });
    expect(key.Properties.EnableKeyRotation ?? false).toBe(false); // KMS cannot rotate asymmetric keys
    expect(key.DeletionPolicy).toBe('Retain');
  });

  it('only the checker role may kms:Sign: the one IAM grant, and a key-policy deny for every other principal', () => {
    const signers = allowing('kms:Sign');
    expect(signers).toHaveLength(1);
    expect(signers[0]!.roles).toEqual([checkerRole]);
    expect(signers[0]!.statement).toMatchObject({ Action: 'kms:Sign', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    // no other role gets any use of this key (builds, diff job, launcher, dead-man)
    for (const [, p] of ofType('AWS::IAM::Policy')) {
      if (JSON.stringify(p.Properties.PolicyDocument).includes(keyId)) expect(p.Properties.Roles.map((r: { Ref: string }) => r.Ref)).toEqual([checkerRole]);
    }
    const deny = key.Properties.KeyPolicy.Statement.find((s: { Sid?: string }) => s.Sid === 'OnlyTheCheckerSigns');
    expect(deny).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:Sign',
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [checkerRole, 'Arn'] } } },
    });
  });

  it('the checker gets the key ARN; the ARN is a stack output', () => {
    const checker = ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.Role['Fn::GetAtt'][0] === checkerRole)![1];
    expect(checker.Properties.Environment.Variables[ENV.attestationKey]).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const others = ofType('AWS::Lambda::Function').filter(([, r]) => r.Properties.Role?.['Fn::GetAtt']?.[0] !== checkerRole);
    for (const [, fn] of others) expect(fn.Properties.Environment?.Variables?.[ENV.attestationKey]).toBeUndefined();
    expect(json.Outputs.AttestationKeyArn).toMatchObject({
      Value: { 'Fn::GetAtt': [keyId, 'Arn'] },
      Description: expect.stringContaining('aws kms get-public-key'),
    });
  });
});
