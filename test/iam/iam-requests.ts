/**
 * What IAM authorizes for a recorded SDK request: the action, the resource ARN and the
 * condition-key values the request carries — including the KMS requests a service makes with the
 * caller's permissions (S3 SSE-KMS objects, an encrypted SNS topic, a secret under a customer
 * key). From the Service Authorization Reference (S3, SNS, CodeBuild, KMS, Secrets Manager).
 */
import { ACCOUNT } from './cfn-resolve';
import type { IamRequest } from './evaluator';
import type { TemplatePolicies } from './policies';
import type { RecordedRequest } from './recorder';

export interface MappedRequest extends IamRequest {
  /** the SDK request it came from, for messages */
  from: string;
}

/** StartBuild fields → the condition key CodeBuild sets when the field is present */
export const START_BUILD_OVERRIDE_KEYS: Record<string, string> = {
  buildspecOverride: 'codebuild:source.buildspec',
  imageOverride: 'codebuild:environment.image',
  privilegedModeOverride: 'codebuild:environment.privilegedMode',
  environmentTypeOverride: 'codebuild:environment.type',
  computeTypeOverride: 'codebuild:environment.computeType',
  fleetOverride: 'codebuild:environment.fleet.fleetArn',
  imagePullCredentialsTypeOverride: 'codebuild:environment.imagePullCredentialsType',
  registryCredentialOverride: 'codebuild:environment.registryCredential',
  certificateOverride: 'codebuild:environment.certificate',
  sourceLocationOverride: 'codebuild:source.location',
  sourceAuthOverride: 'codebuild:source.auth.type',
  insecureSslOverride: 'codebuild:source.insecureSsl',
  artifactsOverride: 'codebuild:artifacts',
  secondaryArtifactsOverride: 'codebuild:secondaryArtifacts',
  secondarySourcesOverride: 'codebuild:secondarySources',
  cacheOverride: 'codebuild:cache',
  serviceRoleOverride: 'codebuild:serviceRole',
  encryptionKeyOverride: 'codebuild:encryptionKey',
  logsConfigOverride: 'codebuild:logsConfig',
  autoRetryLimitOverride: 'codebuild:autoRetryLimit',
};

const BOOL_KEYS = new Set([
  'codebuild:source.buildspec',
  'codebuild:environment.privilegedMode',
  'codebuild:source.insecureSsl',
  'codebuild:artifacts',
  'codebuild:secondaryArtifacts',
  'codebuild:secondarySources',
  'codebuild:cache',
  'codebuild:logsConfig',
  'codebuild:environment.registryCredential',
]);

/** The condition keys of a StartBuild request with this input. */
export function startBuildContext(input: Record<string, unknown>): Record<string, string | string[]> {
  const ctx: Record<string, string | string[]> = {};
  for (const [field, key] of Object.entries(START_BUILD_OVERRIDE_KEYS)) {
    const v = input[field];
    if (v === undefined || v === null) continue;
    ctx[key] = BOOL_KEYS.has(key) ? (typeof v === 'boolean' ? String(v) : 'true') : typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (field === 'artifactsOverride' && (v as { location?: string }).location)
      ctx['codebuild:artifacts.location'] = String((v as { location?: string }).location);
  }
  const vars = input.environmentVariablesOverride as { name?: string; value?: string }[] | undefined;
  if (vars?.length) {
    ctx['codebuild:environment.environmentVariables.name'] = vars.map((v) => v.name ?? '');
    ctx['codebuild:environment.environmentVariables.value'] = vars.map((v) => v.value ?? '');
  }
  return ctx;
}

const s3Object = (bucket: unknown, key: unknown) => `arn:aws:s3:::${String(bucket)}/${String(key)}`;

/** The IAM requests behind one recorded SDK request. Unknown operations are an error (never skipped). */
export function iamRequestsFor(r: RecordedRequest, policies: TemplatePolicies): MappedRequest[] {
  const from = `${r.caller}: ${r.client}.${r.operation}`;
  const region = r.region;
  const i = r.input;
  const out: MappedRequest[] = [];
  const add = (action: string, resource: string, context?: Record<string, string | string[]>) => out.push({ action, resource, context, from });
  const viaKms = (keyArn: string | undefined, action: string, service: string, context: Record<string, string> = {}) => {
    if (keyArn) add(action, keyArn, { 'kms:ViaService': `${service}.${region}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT, ...context });
  };
  const succeeded = r.outcome?.ok !== false;
  switch (`${r.client}.${r.operation}`) {
    case 'S3Client.GetObjectCommand':
    case 'S3Client.HeadObjectCommand': {
      add('s3:GetObject', s3Object(i.Bucket, i.Key));
      // a missing key is answered 404 only to a caller allowed to list the bucket (else 403)
      if (!succeeded && (r.outcome as { status?: number }).status === 404) add('s3:ListBucket', `arn:aws:s3:::${String(i.Bucket)}`);
      // S3 decrypts with the caller's permissions; with a bucket key the context is the bucket ARN
      if (succeeded)
        viaKms(policies.bucketKeys.get(String(i.Bucket)), 'kms:Decrypt', 's3', { 'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${String(i.Bucket)}` });
      break;
    }
    case 'S3Client.PutObjectCommand':
      add('s3:PutObject', s3Object(i.Bucket, i.Key));
      viaKms(policies.bucketKeys.get(String(i.Bucket)), 'kms:GenerateDataKey', 's3', {
        'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${String(i.Bucket)}`,
      });
      break;
    case 'S3Client.ListObjectsV2Command':
      add('s3:ListBucket', `arn:aws:s3:::${String(i.Bucket)}`, i.Prefix !== undefined ? { 's3:prefix': String(i.Prefix) } : {});
      break;
    case 'SNSClient.PublishCommand': {
      const topic = String(i.TopicArn);
      add('sns:Publish', topic);
      // publishing to an encrypted topic: the publisher needs GenerateDataKey and Decrypt on its key
      viaKms(policies.topicKeys.get(topic), 'kms:GenerateDataKey', 'sns');
      viaKms(policies.topicKeys.get(topic), 'kms:Decrypt', 'sns');
      break;
    }
    case 'CodeBuildClient.StartBuildCommand':
      add('codebuild:StartBuild', `arn:aws:codebuild:${region}:${ACCOUNT}:project/${String(i.projectName)}`, startBuildContext(i));
      break;
    case 'CodeBuildClient.BatchGetBuildsCommand':
      for (const id of (i.ids as string[]) ?? []) add('codebuild:BatchGetBuilds', `arn:aws:codebuild:${region}:${ACCOUNT}:project/${id.split(':')[0]}`);
      break;
    case 'KMSClient.SignCommand':
      add('kms:Sign', String(i.KeyId), {
        'kms:SigningAlgorithm': String(i.SigningAlgorithm),
        'kms:MessageType': String(i.MessageType ?? 'RAW'),
        'kms:CallerAccount': ACCOUNT,
      });
      break;
    case 'KMSClient.GetPublicKeyCommand':
      add('kms:GetPublicKey', String(i.KeyId), { 'kms:CallerAccount': ACCOUNT });
      break;
    case 'LambdaClient.InvokeCommand': {
      // the watch starts a run: an unqualified function name (or ARN) is the function itself
      const fn = String(i.FunctionName);
      add('lambda:InvokeFunction', fn.startsWith('arn:') ? fn : `arn:aws:lambda:${region}:${ACCOUNT}:function:${fn}`);
      break;
    }
    case 'SecretsManagerClient.GetSecretValueCommand': {
      const id = String(i.SecretId);
      // a full secret ARN ends in -<6 random characters>; a name or partial ARN gets them in AWS
      const arn =
        /-[A-Za-z0-9]{6}$/.test(id) && id.startsWith('arn:')
          ? id
          : `${id.startsWith('arn:') ? id : `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${id}`}-AbCdEf`;
      add('secretsmanager:GetSecretValue', arn);
      viaKms(policies.secretKeys.get(id) ?? policies.secretKeys.get(arn), 'kms:Decrypt', 'secretsmanager', { 'kms:EncryptionContext:SecretARN': arn });
      break;
    }
    default:
      throw new Error(`${from}: no IAM mapping for this operation — add one in test/iam/iam-requests.ts`);
  }
  return out;
}
