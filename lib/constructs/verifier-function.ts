import { join } from 'node:path';
import { Duration, type Size, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../../lambda/handlers/env';
import { METRIC_NAMESPACE } from '../../lambda/handlers/metric-names';
import { HANDLERS_DIR, LOCK_FILE, REPO_ROOT } from '../paths';
import { CONFIG_FILE_IN_LAMBDA, type ConfigLayer } from './config-layer';

export interface VerifierFunctionProps {
  /** handler module in lambda/handlers/, without extension (e.g. 'checker') */
  readonly handler: string;
  /** Powertools service name (also the `service` dimension of its metrics) */
  readonly serviceName: string;
  readonly configLayer: ConfigLayer;
  readonly environment?: Record<string, string>;
  /** @default Duration.minutes(5) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** /tmp size: downloads and rebuilt artifacts land there. @default Size.mebibytes(512) */
  readonly ephemeralStorageSize?: Size;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A release-verifier Lambda: Node.js 22 on arm64, bundled with the local esbuild into one ESM file
 * (no Docker), the pinned AWS SDK v3 bundled in (not the runtime's), the configuration layer attached, JSON logs to
 * its own log group. Handlers are thin: parse the event, wire adapters, call the core.
 */
export class VerifierFunction extends Construct {
  readonly fn: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: VerifierFunctionProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR });
    this.fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(HANDLERS_DIR, `${props.handler}.ts`),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: props.memorySize ?? 512,
      ephemeralStorageSize: props.ephemeralStorageSize,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      layers: [props.configLayer.layer],
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        [ENV.configFile]: CONFIG_FILE_IN_LAMBDA,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: 'node22',
        platform: 'node',
        mainFields: ['module', 'main'],
        // ESM output still contains CommonJS dependencies that call require() and use __dirname.
        banner:
          "import { createRequire as __rvCreateRequire } from 'node:module'; import { fileURLToPath as __rvFileURLToPath } from 'node:url'; import { dirname as __rvDirname } from 'node:path'; const require = __rvCreateRequire(import.meta.url); const __filename = __rvFileURLToPath(import.meta.url); const __dirname = __rvDirname(__filename);",
        // The SDK is bundled: the function runs the @aws-sdk/* versions package-lock.json pins and
        // the tests ran, not whatever version the Lambda runtime ships (which AWS updates without
        // notice). NodejsFunction leaves @aws-sdk/* external by default; this list replaces that.
        externalModules: [],
        minify: true,
        sourceMap: false,
        forceDockerBundling: false,
      },
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'AWS-managed basic execution role: CloudWatch Logs only; every other permission is hand-scoped on this role.',
    });
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime the code is built and tested for (engines: Node 20 and 22); moving to a newer runtime is a deliberate upgrade, not a default.',
    });
  }
}
