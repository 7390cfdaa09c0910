/**
 * AWS stand-ins for the conformance runs, each a real SDK v3 client per caller (so the recorder
 * knows who sent what): S3 is s3rver (answering missing keys as S3 does for the caller's
 * ListBucket permission), the others aws-sdk-client-mock stubs with AWS's response shapes.
 * CodeBuild runs no code here: a build "uploads" the bytes the test says it produced, with its
 * own project role, to where the project's S3 artifacts would put them; the diff job reads its
 * two inputs and writes its reports with the diff project's role, as buildspecs/diffoscope.yml does.
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand, type Build, type StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import { KMSClient, SignCommand, type SignCommandInput } from '@aws-sdk/client-kms';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { ANONYMOUS_TOKEN } from '../../lambda/adapters/secrets';
import { ARTIFACTS_NAME, artifactsPathFor, BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';
import { DIFF_ENV, DIFF_OBJECTS } from '../../lambda/adapters/builder/codebuild-diff-env';
import type { Config } from '../../lambda/core/config/schema';
import type { LocalS3 } from '../support/s3-local';
import { ACCOUNT, REGION } from './cfn-resolve';
import type { StackNames, StackUnderTest } from './conformance';
import type { RequestRecorder } from './recorder';

export class StandIns {
  readonly builds = new Map<string, Build>();
  private readonly byToken = new Map<string, string>();
  private readonly pending: Promise<void>[] = [];
  private readonly signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  readonly published: string[] = [];

  constructor(
    private readonly options: {
      stack: StackUnderTest;
      names: StackNames;
      s3: LocalS3;
      recorder: RequestRecorder;
      config: Config;
      /** what each target's build produces: artifact path → content (undefined: the build fails) */
      produce: (target: string, env: Map<string, string>) => Record<string, string> | undefined;
    },
  ) {}

  /** S3 as `caller` (launcher | checker | deadman | build:<t> | diff), with conditional writes */
  s3(caller: string): S3Client {
    return this.options.recorder.attach(this.options.s3.conditionalClient({ canListBucket: this.options.stack.canListBucket(caller) }), caller);
  }

  sns(caller: string): SNSClient {
    const c = new SNSClient({ region: REGION });
    mockClient(c)
      .on(PublishCommand)
      .callsFake(() => {
        this.published.push(caller);
        return { MessageId: randomUUID() };
      });
    return this.options.recorder.attach(c, caller);
  }

  secrets(caller: string): SecretsManagerClient {
    const c = new SecretsManagerClient({ region: REGION });
    mockClient(c)
      .on(GetSecretValueCommand)
      .callsFake((input: { SecretId: string }) => ({ ARN: input.SecretId, Name: input.SecretId.split(':').at(-1), SecretString: ANONYMOUS_TOKEN }));
    return this.options.recorder.attach(c, caller);
  }

  kms(caller: string): KMSClient {
    const c = new KMSClient({ region: REGION });
    mockClient(c)
      .on(SignCommand)
      .callsFake((input: SignCommandInput) => {
        const message = Buffer.from(input.Message!);
        const signature =
          input.MessageType === 'DIGEST'
            ? sign(null, message, { key: this.signingKey.privateKey, dsaEncoding: 'der' })
            : sign('sha256', message, { key: this.signingKey.privateKey, dsaEncoding: 'der' });
        return { KeyId: input.KeyId, Signature: signature, SigningAlgorithm: 'ECDSA_SHA_256' };
      });
    return this.options.recorder.attach(c, caller);
  }

  /** CodeBuild as `caller`: StartBuild on target projects and the diff project, BatchGetBuilds */
  codebuild(caller: string): CodeBuildClient {
    const c = new CodeBuildClient({ region: REGION });
    const mock = mockClient(c);
    mock.on(StartBuildCommand).callsFake(async (input: StartBuildCommandInput) => this.startBuild(input));
    mock.on(BatchGetBuildsCommand).callsFake(async (input: { ids: string[] }) => ({
      builds: input.ids.filter((i) => this.builds.has(i)).map((i) => structuredClone(this.builds.get(i)!)),
      buildsNotFound: input.ids.filter((i) => !this.builds.has(i)),
    }));
    return this.options.recorder.attach(c, caller);
  }

  async settled(): Promise<void> {
    await Promise.all(this.pending);
  }

  private startBuild(input: StartBuildCommandInput) {
    const { names, config } = this.options;
    const token = input.idempotencyToken;
    if (token && this.byToken.has(token)) return { build: this.builds.get(this.byToken.get(token)!) };
    const isDiff = input.projectName === names.diffProject;
    const targetName = Object.entries(names.projects).find(([, p]) => p === input.projectName)?.[0];
    const target = config.targets.find((t) => t.name === targetName);
    if (!isDiff && !target) throw Object.assign(new Error(`Project cannot be found: ${input.projectName}`), { name: 'ResourceNotFoundException' });
    const uuid = randomUUID();
    const id = `${input.projectName}:${uuid}`;
    // the project's own variables (IaC), then the overrides
    const env = [
      ...(target
        ? [
            { name: BUILD_ENV.command, value: target.command, type: 'PLAINTEXT' as const },
            { name: BUILD_ENV.target, value: target.name, type: 'PLAINTEXT' as const },
          ]
        : []),
      ...(input.environmentVariablesOverride ?? []),
    ];
    const envMap = new Map(env.map((e) => [e.name!, e.value!]));
    const build: Build = {
      id,
      arn: `arn:aws:codebuild:${REGION}:${ACCOUNT}:build/${id}`,
      projectName: input.projectName,
      buildStatus: 'IN_PROGRESS',
      buildComplete: false,
      startTime: new Date(),
      environment: {
        type: 'LINUX_CONTAINER',
        image: input.imageOverride ?? target?.image ?? 'diff-image',
        computeType: 'BUILD_GENERAL1_MEDIUM',
        privilegedMode: false,
        environmentVariables: env,
      },
    };
    this.builds.set(id, build);
    if (token) this.byToken.set(token, id);
    this.pending.push(isDiff ? this.runDiffJob(build, envMap) : this.runTargetBuild(build, target!.name, uuid, envMap));
    return { build: { id, arn: build.arn, buildStatus: 'IN_PROGRESS' } };
  }

  private async runTargetBuild(build: Build, target: string, uuid: string, env: Map<string, string>): Promise<void> {
    const files = this.options.produce(target, env);
    const prefix = `${artifactsPathFor(target)}/${uuid}/${ARTIFACTS_NAME}`;
    const s3 = this.s3(`build:${target}`);
    // aws.stageSource: the buildspec downloads the staged source with the build's own role
    const staged = env.get(BUILD_ENV.sourceS3);
    if (staged) {
      const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(staged)!;
      await (await s3.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }))).Body!.transformToByteArray();
    }
    if (files) {
      for (const [path, content] of Object.entries(files))
        await s3.send(new PutObjectCommand({ Bucket: this.options.names.artifactsBucket, Key: `${prefix}/${path}`, Body: content }));
    }
    Object.assign(build, {
      buildStatus: files ? 'SUCCEEDED' : 'FAILED',
      buildComplete: true,
      endTime: new Date(),
      artifacts: { location: `arn:aws:s3:::${this.options.names.artifactsBucket}/${prefix}` },
      phases: [{ phaseType: 'BUILD', phaseStatus: files ? 'SUCCEEDED' : 'FAILED' }],
    });
  }

  /** buildspecs/diffoscope.yml's S3 requests: read both inputs, write both reports */
  private async runDiffJob(build: Build, env: Map<string, string>): Promise<void> {
    const prefix = env.get(DIFF_ENV.prefix)!;
    const s3 = this.s3('diff');
    const bucket = this.options.names.artifactsBucket;
    for (const o of [DIFF_OBJECTS.published, DIFF_OBJECTS.rebuilt])
      await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${o}` }))).Body!.transformToString();
    for (const o of [DIFF_OBJECTS.html, DIFF_OBJECTS.text])
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${o}`, Body: `diffoscope ${o}` }));
    Object.assign(build, { buildStatus: 'SUCCEEDED', buildComplete: true, endTime: new Date() });
  }
}
