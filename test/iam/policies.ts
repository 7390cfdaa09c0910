/**
 * The policies of a synthesized template, resolved to concrete ARNs, as an IAM evaluator needs
 * them: per role its identity policies (inline, AWS::IAM::Policy, customer and AWS managed
 * policies) and its permissions boundary; per resource ARN its resource policy (S3 bucket
 * policies, KMS key policies, SNS topic policies, SQS queue policies, Secrets Manager policies).
 */
import { CfnResolver, type CfnTemplate } from './cfn-resolve';

export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}
export interface RolePolicies {
  logicalId: string;
  arn: string;
  identity: { name: string; policy: PolicyDocument }[];
  boundary?: { name: string; policy: PolicyDocument };
}

/** The AWS managed policies the stack attaches (their documents as AWS publishes them). */
const AWS_MANAGED: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
  },
};

export class TemplatePolicies {
  readonly resolver: CfnResolver;
  readonly roles = new Map<string, RolePolicies>();
  /** resource ARN (bucket, key, topic, queue, secret) → its resource policy */
  readonly resourcePolicies = new Map<string, PolicyDocument>();
  /** bucket name → KMS key ARN of its default encryption */
  readonly bucketKeys = new Map<string, string>();
  /** topic ARN → KMS key ARN */
  readonly topicKeys = new Map<string, string>();
  /** secret ARN → KMS key ARN */
  readonly secretKeys = new Map<string, string>();

  constructor(readonly template: CfnTemplate) {
    const r = (this.resolver = new CfnResolver(template));
    const doc = (v: unknown) => r.resolve(v) as PolicyDocument;
    const managed = new Map<string, { name: string; policy: PolicyDocument }>();
    for (const id of r.idsOf('AWS::IAM::ManagedPolicy')) managed.set(r.ref(id), { name: id, policy: doc(template.Resources[id]!.Properties!.PolicyDocument) });

    for (const id of r.idsOf('AWS::IAM::Role')) {
      const p = template.Resources[id]!.Properties ?? {};
      const identity: RolePolicies['identity'] = [];
      for (const inline of (p.Policies as { PolicyName: string; PolicyDocument: unknown }[] | undefined) ?? [])
        identity.push({ name: inline.PolicyName, policy: doc(inline.PolicyDocument) });
      for (const arn of r.resolve(p.ManagedPolicyArns ?? []) as string[]) {
        const awsManaged = /^arn:aws:iam::aws:policy\/(.+)$/.exec(arn);
        if (awsManaged) {
          const d = AWS_MANAGED[awsManaged[1]!];
          if (!d) throw new Error(`role ${id}: AWS managed policy ${arn} is not modelled in test/iam/policies.ts`);
          identity.push({ name: awsManaged[1]!, policy: d });
        } else {
          const m = managed.get(arn);
          if (!m) throw new Error(`role ${id}: managed policy ${arn} not in the template`);
          identity.push(m);
        }
      }
      const boundaryArn = p.PermissionsBoundary ? String(r.resolve(p.PermissionsBoundary)) : undefined;
      const boundary = boundaryArn ? managed.get(boundaryArn) : undefined;
      if (boundaryArn && !boundary) throw new Error(`role ${id}: permissions boundary ${boundaryArn} not in the template`);
      this.roles.set(id, { logicalId: id, arn: r.getAtt(id, 'Arn'), identity, boundary });
    }
    const attach = (policyId: string, roles: unknown, policy: { name: string; policy: PolicyDocument }) => {
      for (const roleName of r.resolve(roles ?? []) as string[]) {
        const role = [...this.roles.values()].find((x) => r.ref(x.logicalId) === roleName);
        if (!role) throw new Error(`${policyId}: attached to unknown role ${roleName}`);
        role.identity.push(policy);
      }
    };
    for (const id of r.idsOf('AWS::IAM::Policy')) {
      const p = template.Resources[id]!.Properties!;
      attach(id, p.Roles, { name: id, policy: doc(p.PolicyDocument) });
    }
    for (const id of r.idsOf('AWS::IAM::ManagedPolicy')) {
      const p = template.Resources[id]!.Properties!;
      if (p.Roles) attach(id, p.Roles, managed.get(r.ref(id))!);
    }

    for (const id of r.idsOf('AWS::S3::BucketPolicy')) {
      const p = template.Resources[id]!.Properties!;
      this.addResourcePolicy(`arn:aws:s3:::${r.resolve(p.Bucket)}`, doc(p.PolicyDocument));
    }
    for (const id of r.idsOf('AWS::KMS::Key')) this.addResourcePolicy(r.getAtt(id, 'Arn'), doc(template.Resources[id]!.Properties!.KeyPolicy));
    for (const id of r.idsOf('AWS::SNS::TopicPolicy')) {
      const p = template.Resources[id]!.Properties!;
      for (const topic of r.resolve(p.Topics) as string[]) this.addResourcePolicy(topic, doc(p.PolicyDocument));
    }
    for (const id of r.idsOf('AWS::SQS::QueuePolicy')) {
      const p = template.Resources[id]!.Properties!;
      for (const url of r.resolve(p.Queues) as string[]) {
        const [, region, account, name] = /^https:\/\/sqs\.([^.]+)\.amazonaws\.com\/(\d+)\/(.+)$/.exec(url) ?? [];
        this.addResourcePolicy(`arn:aws:sqs:${region}:${account}:${name}`, doc(p.PolicyDocument));
      }
    }
    for (const id of r.idsOf('AWS::SecretsManager::ResourcePolicy')) {
      const p = template.Resources[id]!.Properties!;
      this.addResourcePolicy(String(r.resolve(p.SecretId)), doc(p.ResourcePolicy));
    }

    const keyArnOf = (v: unknown): string => {
      const s = String(r.resolve(v));
      if (s.startsWith('arn:')) return s;
      const key = r.idsOf('AWS::KMS::Key').find((k) => r.ref(k) === s);
      if (!key) throw new Error(`KMS key ${s} is not in the template`);
      return r.getAtt(key, 'Arn');
    };
    for (const id of r.idsOf('AWS::S3::Bucket')) {
      const enc = (
        template.Resources[id]!.Properties?.BucketEncryption as
          | { ServerSideEncryptionConfiguration?: { ServerSideEncryptionByDefault?: { KMSMasterKeyID?: unknown } }[] }
          | undefined
      )?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.KMSMasterKeyID;
      if (enc) this.bucketKeys.set(r.ref(id), keyArnOf(enc));
    }
    for (const id of r.idsOf('AWS::SNS::Topic')) {
      const k = template.Resources[id]!.Properties?.KmsMasterKeyId;
      if (k) this.topicKeys.set(r.ref(id), keyArnOf(k));
    }
    for (const id of r.idsOf('AWS::SecretsManager::Secret')) {
      const k = template.Resources[id]!.Properties?.KmsKeyId;
      if (k) this.secretKeys.set(r.ref(id), keyArnOf(k));
    }
  }

  private addResourcePolicy(arn: string, policy: PolicyDocument): void {
    const existing = this.resourcePolicies.get(arn);
    this.resourcePolicies.set(arn, existing ? { Version: '2012-10-17', Statement: [...existing.Statement, ...policy.Statement] } : policy);
  }

  /** The role a Lambda function (by logical id prefix, e.g. 'Launcher') or CodeBuild project runs as. */
  roleOf(resourceLogicalId: string): RolePolicies {
    const res = this.template.Resources[resourceLogicalId];
    if (!res) throw new Error(`no resource ${resourceLogicalId}`);
    const roleRef =
      res.Type === 'AWS::Lambda::Function' ? res.Properties!.Role : res.Type === 'AWS::CodeBuild::Project' ? res.Properties!.ServiceRole : undefined;
    const roleArn = String(this.resolver.resolve(roleRef));
    const role = [...this.roles.values()].find((x) => x.arn === roleArn || this.resolver.ref(x.logicalId) === roleArn);
    if (!role) throw new Error(`${resourceLogicalId}: role ${roleArn} not in the template`);
    return role;
  }

  /** logical id of the one resource of `type` whose id starts with `prefix` */
  find(type: string, prefix: string): string {
    const ids = this.resolver.idsOf(type).filter((id) => id.startsWith(prefix));
    if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
    return ids[0]!;
  }

  /** The resource policy that governs `resourceArn` (object ARNs → their bucket's policy). */
  resourcePolicyFor(resourceArn: string): PolicyDocument | undefined {
    const s3 = /^arn:aws:s3:::([^/]+)/.exec(resourceArn);
    if (s3) return this.resourcePolicies.get(`arn:aws:s3:::${s3[1]}`);
    return this.resourcePolicies.get(resourceArn);
  }
}
