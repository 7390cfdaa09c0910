/**
 * CloudFormation references in a synthesized template resolved to the concrete values AWS would
 * give them in one fixed account, region and partition — enough to evaluate the template's
 * policies with an IAM evaluator: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and
 * the pseudo parameters, for the resource types this stack creates. Names CloudFormation would
 * generate are derived from the logical id (deterministic; AWS adds a random suffix).
 * Anything else is an error: an unresolvable value must never match a policy by accident.
 */
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const PARTITION = 'aws';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, unknown>;
}

const PSEUDO: Record<string, string> = {
  'AWS::AccountId': ACCOUNT,
  'AWS::Region': REGION,
  'AWS::Partition': PARTITION,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'ReleaseVerifier',
  'AWS::NoValue': '',
};

/** generated physical names: lower-case logical id with a fixed suffix (deterministic) */
const generated = (id: string) => `${id.toLowerCase().slice(0, 40)}-gen`;
/** a KMS key id is a UUID; derive a stable one from the logical id */
const keyIdOf = (id: string) => {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const hex = (h.toString(16).padStart(8, '0') + id.length.toString(16).padStart(4, '0')).slice(0, 12);
  return `${hex.slice(0, 8)}-0000-4000-8000-${hex.padEnd(12, '0')}`;
};

export class CfnResolver {
  constructor(readonly template: CfnTemplate) {}

  private resource(id: string): CfnResource {
    const r = this.template.Resources[id];
    if (!r) throw new Error(`template has no resource ${id}`);
    return r;
  }

  private prop(id: string, name: string): string | undefined {
    const v = this.resource(id).Properties?.[name];
    return v === undefined ? undefined : String(this.resolve(v));
  }

  /** The value `Ref` gives for a resource. */
  ref(id: string): string {
    if (id in PSEUDO) return PSEUDO[id]!;
    const r = this.resource(id);
    switch (r.Type) {
      case 'AWS::S3::Bucket':
        return this.prop(id, 'BucketName') ?? generated(id);
      case 'AWS::KMS::Key':
        return keyIdOf(id);
      case 'AWS::SNS::Topic':
        return `arn:${PARTITION}:sns:${REGION}:${ACCOUNT}:${this.prop(id, 'TopicName') ?? generated(id)}`;
      case 'AWS::IAM::Role':
        return this.prop(id, 'RoleName') ?? generated(id);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${PARTITION}:iam::${ACCOUNT}:policy/${this.prop(id, 'ManagedPolicyName') ?? generated(id)}`;
      case 'AWS::IAM::Policy':
        return this.prop(id, 'PolicyName') ?? generated(id);
      case 'AWS::Lambda::Function':
        return this.prop(id, 'FunctionName') ?? generated(id);
      case 'AWS::CodeBuild::Project':
        return this.prop(id, 'Name') ?? generated(id);
      case 'AWS::SecretsManager::Secret':
        return `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:${this.prop(id, 'Name') ?? generated(id)}-AbCdEf`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${this.prop(id, 'QueueName') ?? generated(id)}`;
      case 'AWS::CloudWatch::Alarm':
        return this.prop(id, 'AlarmName') ?? generated(id);
      case 'AWS::Logs::LogGroup':
        return this.prop(id, 'LogGroupName') ?? generated(id);
      case 'AWS::Events::Rule':
        return this.prop(id, 'Name') ?? generated(id);
      case 'AWS::Lambda::LayerVersion':
        return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:layer:${generated(id)}:1`;
      default:
        return generated(id);
    }
  }

  /** The value `Fn::GetAtt` gives. */
  getAtt(id: string, attr: string): string {
    const r = this.resource(id);
    const name = () => this.ref(id);
    const key = `${r.Type}.${attr}`;
    switch (key) {
      case 'AWS::S3::Bucket.Arn':
        return `arn:${PARTITION}:s3:::${name()}`;
      case 'AWS::S3::Bucket.DomainName':
        return `${name()}.s3.amazonaws.com`;
      case 'AWS::KMS::Key.Arn':
        return `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${name()}`;
      case 'AWS::KMS::Key.KeyId':
        return name();
      case 'AWS::SNS::Topic.TopicArn':
        return name();
      case 'AWS::SNS::Topic.TopicName':
        return name().split(':').at(-1)!;
      case 'AWS::IAM::Role.Arn':
        return `arn:${PARTITION}:iam::${ACCOUNT}:role/${name()}`;
      case 'AWS::Lambda::Function.Arn':
        return `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${name()}`;
      case 'AWS::CodeBuild::Project.Arn':
        return `arn:${PARTITION}:codebuild:${REGION}:${ACCOUNT}:project/${name()}`;
      case 'AWS::SQS::Queue.Arn':
        return `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${name().split('/').at(-1)}`;
      case 'AWS::SQS::Queue.QueueName':
        return name().split('/').at(-1)!;
      case 'AWS::CloudWatch::Alarm.Arn':
        return `arn:${PARTITION}:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name()}`;
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${name()}:*`;
      case 'AWS::Events::Rule.Arn':
        return `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:rule/${name()}`;
      default:
        throw new Error(`cannot resolve Fn::GetAtt ${id}.${attr} (${r.Type})`);
    }
  }

  /** Resolves every intrinsic in `value`, recursively (templates are finite trees). */
  resolve(value: unknown, depth = 0): unknown {
    if (depth > 64) throw new Error('template value nested too deeply');
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, depth + 1));
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0]!;
      switch (fn) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
          return this.getAtt(id!, attr!);
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (this.resolve(parts, depth + 1) as unknown[]).map(String).join(sep);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          const items = this.resolve(list, depth + 1) as unknown[];
          return items[Number(this.resolve(index, depth + 1))];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return String(this.resolve(text, depth + 1)).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
          const resolvedVars = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(this.resolve(v, depth + 1))]));
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in resolvedVars) return resolvedVars[name]!;
            const [id, attr] = name.split('.');
            return attr ? this.getAtt(id!, attr) : this.ref(id!);
          });
        }
        default:
          if (fn.startsWith('Fn::') || fn === 'Condition') throw new Error(`cannot resolve ${fn}`);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v, depth + 1)]));
  }

  /** logical ids of the resources of a type */
  idsOf(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => id);
  }
}
