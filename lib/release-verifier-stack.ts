import { CfnOutput, Duration, SecretValue, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Size } from 'aws-cdk-lib';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { Construct } from 'constructs';
import type { Config } from '../lambda/core/config/schema';
import { ENV } from '../lambda/handlers/env';
import { SERVICE } from '../lambda/handlers/metric-names';
import { ANONYMOUS_TOKEN } from '../lambda/adapters/secrets';
import { AccessLogsBucket } from './constructs/access-logs-bucket';
import { AlertsTopic } from './constructs/alerts-topic';
import { AttestationKey, type AttestationKeyProps } from './constructs/attestation-key';
import { ArtifactsBucket } from './constructs/artifacts-bucket';
import { ConfigLayer } from './constructs/config-layer';
import { DeadMansSwitch } from './constructs/dead-mans-switch';
import { DiffJobProject, type DiffJobProjectProps } from './constructs/diff-job-project';
import { OperationalAlarms } from './constructs/operational-alarms';
import { ResultsBucket } from './constructs/results-bucket';
import { TargetBuildProject } from './constructs/target-build-project';
import { VerifierFunction } from './constructs/verifier-function';
import { StartBuildGuard } from './constructs/start-build-guard';
import { WatchSchedule } from './constructs/watch-schedule';
import { BUILD_ENV } from '../lambda/adapters/builder/codebuild-env';
import { DIFF_ENV } from '../lambda/adapters/builder/codebuild-diff-env';
import { STORE_PREFIXES } from '../lambda/core/run/store-layout';

/** The variables the launcher passes to a target build (codebuild-launcher.ts); RELVERIFY_COMMAND is the project's. */
const LAUNCHER_VARIABLES = [
  BUILD_ENV.runId,
  BUILD_ENV.target,
  BUILD_ENV.commit,
  BUILD_ENV.tag,
  BUILD_ENV.version,
  BUILD_ENV.cloneUrl,
  BUILD_ENV.artifacts,
  BUILD_ENV.sourceS3,
];

export interface ReleaseVerifierStackProps extends StackProps {
  /** the resolved configuration (`loadConfig` of the same file the CLI uses) */
  readonly config: Config;
  /**
   * Prefix of the CodeBuild project names (`<prefix>-<target>`).
   * @default `relverify-<stack name>` in lower case
   */
  readonly projectNamePrefix?: string;
  /**
   * A launch of the same release within this long after a previous one joins that run instead
   * of starting new builds.
   * @default Duration.hours(12)
   */
  readonly runWindow?: Duration;
  /** @default 8 days (weekly schedule + 1 day) */
  readonly maxDaysWithoutRun?: number;
  /** Break-glass principals allowed to bypass Object Lock governance retention. @default none */
  readonly governanceBypassPrincipalArns?: string[];
  /**
   * The diffoscope job a mismatch starts (image pinned by digest, time limit, compute type). The
   * image can also be given as CDK context: `cdk deploy -c diffJobImage=<name>@sha256:<digest>`.
   * @default - DiffJobProject defaults: a digest-pinned Debian bookworm image — pin your own
   */
  readonly diffJob?: Omit<DiffJobProjectProps, 'projectName' | 'artifactsBucket' | 'artifactsKey'>;
  /**
   * The KMS key the checker signs run attestations with (runs/<runId>/attestation.dsse.json).
   * @default - AttestationKey defaults: ECC_NIST_P256 SIGN_VERIFY, retained when the stack is deleted
   */
  readonly attestationKey?: AttestationKeyProps;
}

/** The name of the secret the stack creates when the config names none. */
export const defaultTokenSecretName = (stackName: string) => `release-verifier/${stackName}/gitlab-token`;

/**
 * The weekly serverless verifier, for a dedicated AWS account: schedule → launcher Lambda → one
 * CodeBuild build per target → build state-change events → checker Lambda → S3 records → SNS.
 * The judgement is the core's (planRun, checkTarget, summarize, alertFor), the same as the CLI's.
 */
export class ReleaseVerifierStack extends Stack {
  readonly results: ResultsBucket;
  readonly accessLogs: AccessLogsBucket;
  readonly artifacts: ArtifactsBucket;
  readonly alerts: AlertsTopic;
  readonly attestationKey: AttestationKey;
  readonly projects: TargetBuildProject[];
  readonly diffJob: DiffJobProject;
  readonly launcher: VerifierFunction;
  readonly checker: VerifierFunction;
  readonly deadman: VerifierFunction;
  /** the hourly watch (config `watch`); undefined when `watch.enabled` is false */
  readonly watch?: WatchSchedule;
  readonly deadLetterQueue: sqs.Queue;
  readonly tokenSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: ReleaseVerifierStackProps) {
    super(scope, id, props);
    // Access logs are delivered under a bucket policy naming logging.s3.amazonaws.com, not the
    // legacy log-delivery ACL (the buckets enforce bucket-owner object ownership: no ACLs). Set
    // here, not only in cdk.json, so every app that instantiates the stack gets the same template.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const { config } = props;
    const prefix = (props.projectNamePrefix ?? `relverify-${this.stackName}`)
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 200);

    // ── storage, alerts, token ──
    // S3 server access logs of both buckets, in a separate bucket (Object Lock and SSE-KMS buckets
    // cannot receive them), kept as long as the records they describe
    this.accessLogs = new AccessLogsBucket(this, 'AccessLogs', { retention: Duration.days(config.aws.resultsRetentionDays) });
    this.results = new ResultsBucket(this, 'Results', {
      retention: Duration.days(config.aws.resultsRetentionDays),
      objectLockMode: config.aws.objectLockMode,
      governanceBypassPrincipalArns: props.governanceBypassPrincipalArns,
      accessLogs: { bucket: this.accessLogs.bucket, prefix: 'results/' },
    });
    this.artifacts = new ArtifactsBucket(this, 'Artifacts', {
      retention: Duration.days(config.aws.artifactRetentionDays),
      accessLogs: { bucket: this.accessLogs.bucket, prefix: 'artifacts/' },
    });
    this.alerts = new AlertsTopic(this, 'Alerts', { emails: config.alerts.emails, smsNumbers: config.alerts.sms });
    this.attestationKey = new AttestationKey(this, 'Attestation', props.attestationKey);

    this.tokenSecret = this.createTokenSecret(config);

    // ── one build project per target, and the diff job ──
    this.projects = this.createTargetProjects(config, prefix);
    const projectArns = this.projects.map((p) => p.project.projectArn);
    this.diffJob = this.createDiffJob(props, prefix);
    const projectMap = JSON.stringify(Object.fromEntries(this.projects.map((p) => [p.target.name, `${prefix}-${p.target.name}`])));

    // ── Lambdas ──
    const configLayer = new ConfigLayer(this, 'Config', { config });
    const maxTimeout = Math.max(...config.targets.map((t) => t.timeoutMinutes));
    const staleRunMinutes = maxTimeout + 8 * 60 + 120;
    this.deadLetterQueue = this.createDeadLetterQueue();
    const fns = this.createFunctions(props, configLayer, projectMap, staleRunMinutes);
    this.launcher = fns.launcher;
    this.checker = fns.checker;
    this.deadman = fns.deadman;

    this.grantFunctionPermissions(config, projectArns);
    this.addTriggers(config, prefix);
    // the watch (lambda/handlers/watch.ts): a new release gets a full run within one interval
    if (config.watch.enabled) {
      this.watch = new WatchSchedule(this, 'Watch', {
        schedule: config.watch.schedule,
        configLayer,
        launcher: this.launcher.fn,
        results: this.results,
        tokenSecret: this.tokenSecret,
        topic: this.alerts.topic,
        topicKey: this.alerts.key,
        deadLetterQueue: this.deadLetterQueue,
        relaunchAfterMinutes: staleRunMinutes,
      });
    }

    this.addAlarms(props);
    this.addOutputs();
  }

  private createTargetProjects(config: Config, prefix: string): TargetBuildProject[] {
    return config.targets.map(
      (target) =>
        new TargetBuildProject(this, `Target-${target.name}`, {
          target,
          projectName: `${prefix}-${target.name}`,
          artifactsBucket: this.artifacts.bucket,
          artifactsKey: this.artifacts.key,
          stagedSource: config.aws.stageSource,
        }),
    );
  }

  private createDiffJob(props: ReleaseVerifierStackProps, prefix: string): DiffJobProject {
    // `--` cannot occur in a target's project name (target names start with a letter or digit)
    const diffJobImage = props.diffJob?.image ?? ((this.node.tryGetContext('diffJobImage') as string | undefined) || undefined);
    return new DiffJobProject(this, 'DiffJob', {
      ...props.diffJob,
      image: diffJobImage,
      projectName: `${prefix}--diffoscope`,
      artifactsBucket: this.artifacts.bucket,
      artifactsKey: this.artifacts.key,
    });
  }

  /** the GitLab token: the config's secret, or a new one holding the anonymous placeholder */
  private createTokenSecret(config: Config): secretsmanager.ISecret {
    if (config.gitlab.token.secretName) {
      return secretsmanager.Secret.fromSecretNameV2(this, 'GitLabToken', config.gitlab.token.secretName);
    } else {
      const secret = new secretsmanager.Secret(this, 'GitLabToken', {
        secretName: defaultTokenSecretName(this.stackName),
        description: `GitLab token (read-only scope) for ${config.gitlab.url} ${config.gitlab.project}; "${ANONYMOUS_TOKEN}" reads a public project without one`,
        encryptionKey: this.results.key,
        // A placeholder, not a secret: the operator stores the real token after deploy.
        secretStringValue: SecretValue.unsafePlainText(ANONYMOUS_TOKEN),
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'A GitLab token cannot be rotated by Secrets Manager; it is rotated in GitLab (with an expiry date) and stored again.',
      });
      return secret;
    }
  }

  private createDeadLetterQueue(): sqs.Queue {
    const queue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue.' });
    return queue;
  }

  /** the launcher, checker and dead-man Lambdas with their environments */
  private createFunctions(
    props: ReleaseVerifierStackProps,
    configLayer: ConfigLayer,
    projectMap: string,
    staleRunMinutes: number,
  ): { launcher: VerifierFunction; checker: VerifierFunction; deadman: VerifierFunction } {
    const { config } = props;
    const common = {
      [ENV.resultsBucket]: this.results.bucket.bucketName,
      [ENV.topicArn]: this.alerts.topic.topicArn,
    };
    const launcher = new VerifierFunction(this, 'Launcher', {
      handler: 'launcher',
      serviceName: SERVICE.launcher,
      configLayer,
      timeout: Duration.minutes(15),
      // staging the source holds the fetched git pack in memory (isomorphic-git), up to 512 MiB
      memorySize: config.aws.stageSource ? 3008 : 1024,
      ephemeralStorageSize: Size.gibibytes(10),
      environment: {
        ...common,
        [ENV.tokenSecret]: this.tokenSecret.secretArn,
        [ENV.projects]: projectMap,
        [ENV.runWindowMinutes]: String((props.runWindow ?? Duration.hours(12)).toMinutes()),
        ...(config.aws.stageSource ? { [ENV.artifactsBucket]: this.artifacts.bucket.bucketName } : {}),
      },
    });
    const checker = new VerifierFunction(this, 'Checker', {
      handler: 'checker',
      serviceName: SERVICE.checker,
      configLayer,
      timeout: Duration.minutes(15),
      memorySize: 2048,
      ephemeralStorageSize: Size.gibibytes(10),
      environment: {
        ...common,
        [ENV.tokenSecret]: this.tokenSecret.secretArn,
        [ENV.projects]: projectMap,
        [ENV.artifactsBucket]: this.artifacts.bucket.bucketName,
        [ENV.diffProject]: this.diffJob.project.projectName,
        [ENV.attestationKey]: this.attestationKey.key.keyArn,
      },
    });
    const deadman = new VerifierFunction(this, 'DeadMan', {
      handler: 'deadman',
      serviceName: SERVICE.deadman,
      configLayer,
      timeout: Duration.minutes(5),
      memorySize: 512,
      environment: { ...common, [ENV.staleRunMinutes]: String(staleRunMinutes) },
    });
    return { launcher, checker, deadman };
  }

  /** hand-scoped permissions of the three Lambdas; no deletes anywhere */
  private grantFunctionPermissions(config: Config, projectArns: string[]): void {
    const launcher = this.launcher.fn;
    const checker = this.checker.fn;
    const deadman = this.deadman.fn;
    // runs/: the run records; ledger/: the release-history ledger (read at planning, written by
    // whoever writes a run's summary — the checker, or the launcher/dead-man closing a run).
    const { runs, ledger, deadman: deadmanPrefix } = STORE_PREFIXES;
    this.results.grantRecords(launcher, { write: true, prefixes: [runs, ledger] });
    this.results.grantRecords(checker, { write: true, prefixes: [runs, ledger] });
    this.results.grantRecords(deadman, { write: true, prefixes: [runs, ledger, deadmanPrefix] });
    this.artifacts.grantReadArtifacts(checker);
    // aws.stageSource: the launcher writes sources/<runId>/source.tar, the target builds read it
    if (config.aws.stageSource) this.artifacts.grantWriteSources(launcher);
    for (const fn of [launcher, checker]) this.tokenSecret.grantRead(fn);
    for (const fn of [launcher, checker, deadman]) {
      // hand-written instead of grantPublish, which grants kms:GenerateDataKey* (a wildcard)
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.alerts.topic.topicArn] }));
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.alerts.key.keyArn] }));
    }
    launcher.addToRolePolicy(new iam.PolicyStatement({ sid: 'StartTargetBuilds', actions: ['codebuild:StartBuild'], resources: projectArns }));
    // no override of what a project fixes (image, buildspec, source, artifacts, privileges…);
    // only the run's own variables (the command is the project's, not the launcher's)
    new StartBuildGuard(this, 'LauncherStartBuildGuard', { role: launcher.role!, projectArns, allowedVariables: LAUNCHER_VARIABLES });
    // The checker that writes a summary signs the run's attestation; no one else may use the key.
    this.attestationKey.allowSigning(checker.role!);
    checker.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadTargetBuilds', actions: ['codebuild:BatchGetBuilds'], resources: projectArns }));
    // A mismatch: the checker uploads the two files under diffs/ and starts the diff job — that
    // project only, with its own buildspec.
    this.artifacts.grantWriteDiffInputs(checker);
    checker.addToRolePolicy(new iam.PolicyStatement({ sid: 'StartDiffJobs', actions: ['codebuild:StartBuild'], resources: [this.diffJob.project.projectArn] }));
    new StartBuildGuard(this, 'CheckerStartBuildGuard', {
      role: checker.role!,
      projectArns: [this.diffJob.project.projectArn],
      allowedVariables: [DIFF_ENV.prefix],
    });
  }

  /** the weekly schedule, build state changes → checker, and the dead-letter routes */
  private addTriggers(config: Config, prefix: string): void {
    const launcher = this.launcher.fn;
    const checker = this.checker.fn;
    new events.Rule(this, 'Schedule', {
      description: 'release-verifier: weekly run',
      schedule: events.Schedule.expression(config.schedule),
      targets: [
        new targets.LambdaFunction(launcher, {
          event: events.RuleTargetInput.fromObject({ source: 'schedule' }),
          retryAttempts: 2,
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
    new events.Rule(this, 'BuildFinished', {
      description: 'release-verifier: a target build ended (any status but IN_PROGRESS)',
      eventPattern: {
        source: ['aws.codebuild'],
        detailType: ['CodeBuild Build State Change'],
        detail: {
          'project-name': this.projects.map((p) => `${prefix}-${p.target.name}`),
          'build-status': events.Match.anythingBut('IN_PROGRESS'),
        },
      },
      targets: [new targets.LambdaFunction(checker, { retryAttempts: 8, maxEventAge: Duration.hours(24), deadLetterQueue: this.deadLetterQueue })],
    });
    // EventBridge's retries and DLQ cover delivery; a checker that fails after delivery is retried
    // by Lambda's asynchronous invocation and then lands in the same queue.
    checker.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(this.deadLetterQueue) });
    launcher.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(this.deadLetterQueue) });
  }

  private addAlarms(props: ReleaseVerifierStackProps): void {
    const launcher = this.launcher.fn;
    const checker = this.checker.fn;
    const deadman = this.deadman.fn;
    new OperationalAlarms(this, 'Alarms', {
      topic: this.alerts.topic,
      functions: { Launcher: launcher, Checker: checker, DeadMan: deadman, ...(this.watch ? { Watch: this.watch.function.fn } : {}) },
      deadLetterQueue: this.deadLetterQueue,
    });
    new DeadMansSwitch(this, 'DeadMansSwitch', { handler: deadman, topic: this.alerts.topic, maxDaysWithoutRun: props.maxDaysWithoutRun ?? 8 });
  }

  /** outputs (run-now finds the launcher here) */
  private addOutputs(): void {
    const launcher = this.launcher.fn;
    new CfnOutput(this, 'LauncherFunctionName', {
      value: launcher.functionName,
      description: 'invoke to start a run now (release-verifier run-now --stack …)',
    });
    new CfnOutput(this, 'ResultsBucketName', {
      value: this.results.bucket.bucketName,
      description: 'run records: runs/<runId>/{plan,summary}.json, targets/<target>.json, report.html',
    });
    new CfnOutput(this, 'AccessLogsBucketName', {
      value: this.accessLogs.bucket.bucketName,
      description: 'S3 server access logs of the results (results/) and artifacts (artifacts/) buckets',
    });
    new CfnOutput(this, 'ArtifactsBucketName', {
      value: this.artifacts.bucket.bucketName,
      description: 'rebuilt artifacts (builds/<target>/…) and mismatch reports (diffs/<runId>/<target>/<asset>/report.html)',
    });
    new CfnOutput(this, 'DiffJobProjectName', { value: this.diffJob.project.projectName, description: 'CodeBuild project that runs diffoscope on a mismatch' });
    new CfnOutput(this, 'AlertsTopicArn', { value: this.alerts.topic.topicArn });
    new CfnOutput(this, 'GitLabTokenSecretArn', {
      value: this.tokenSecret.secretArn,
      description: 'store the GitLab token here (aws secretsmanager put-secret-value)',
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'AttestationKeyArn', {
      value: this.attestationKey.key.keyArn,
      description: 'verifies runs/<runId>/attestation.dsse.json: aws kms get-public-key --key-id <this ARN>',
    });
  }
}
