/**
 * The price table a run's cost and the README's monthly estimate are computed from: one region's
 * on-demand list prices in USD, with the date they were read. The configuration's `pricing` block
 * overrides any entry (another region, a negotiated rate, a compute type missing here).
 *
 * Read 2026-12-01 for us-east-1 from the AWS pricing pages as quoted by secondary sources (the
 * figures the README always used); AWS changes prices — check https://aws.amazon.com/codebuild/pricing/,
 * https://aws.amazon.com/lambda/pricing/, https://aws.amazon.com/kms/pricing/ before relying on them.
 */

/** CodeBuild's operating-system classes (from the build's environment type), as prices are listed. */
export type BuildOs = 'linux' | 'arm' | 'windows' | 'macos' | 'linux-gpu' | 'lambda';

export interface PriceTable {
  region: string;
  /** the day the prices were read (ISO date) */
  readOn: string;
  source: string;
  /** USD per build minute by "<os>:<compute type>" (on-demand; reserved fleets are billed while they exist) */
  codebuildPerMinute: Record<string, number>;
  /** USD per GB-second of Lambda duration, by architecture */
  lambdaPerGbSecond: { x86_64: number; arm64: number };
  /** USD per Lambda request */
  lambdaPerRequest: number;
  /** monthly fixed prices used by the README estimate */
  monthly: {
    kmsKey: number;
    secret: number;
    alarm: number;
    customMetric: number;
    s3PerGb: number;
  };
}

export const DEFAULT_PRICES: PriceTable = {
  region: 'us-east-1',
  readOn: '2026-12-01',
  source: 'AWS pricing pages (CodeBuild, Lambda, KMS, Secrets Manager, CloudWatch, S3), us-east-1 on-demand, via secondary sources',
  codebuildPerMinute: {
    'linux:BUILD_GENERAL1_SMALL': 0.005,
    'linux:BUILD_GENERAL1_MEDIUM': 0.01,
    'linux:BUILD_GENERAL1_LARGE': 0.02,
    'windows:BUILD_GENERAL1_MEDIUM': 0.02,
    'windows:BUILD_GENERAL1_LARGE': 0.04,
  },
  lambdaPerGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  lambdaPerRequest: 0.0000002,
  monthly: { kmsKey: 1.0, secret: 0.4, alarm: 0.1, customMetric: 0.3, s3PerGb: 0.023 },
};

/** The configuration's `pricing` block (every field optional; entries replace the defaults'). */
export interface PricingOverride {
  region?: string;
  readOn?: string;
  codebuildPerMinute?: Record<string, number>;
  lambdaPerGbSecond?: { x86_64?: number; arm64?: number };
  lambdaPerRequest?: number;
}

/** The defaults with the configuration's entries laid over them; the source says so when overridden. */
export function priceTable(override?: PricingOverride): PriceTable {
  if (!override || Object.keys(override).length === 0) return DEFAULT_PRICES;
  return {
    ...DEFAULT_PRICES,
    region: override.region ?? DEFAULT_PRICES.region,
    readOn: override.readOn ?? DEFAULT_PRICES.readOn,
    source: `the configuration's pricing block over the defaults (${DEFAULT_PRICES.region}, read ${DEFAULT_PRICES.readOn})`,
    codebuildPerMinute: { ...DEFAULT_PRICES.codebuildPerMinute, ...override.codebuildPerMinute },
    lambdaPerGbSecond: { ...DEFAULT_PRICES.lambdaPerGbSecond, ...override.lambdaPerGbSecond },
    lambdaPerRequest: override.lambdaPerRequest ?? DEFAULT_PRICES.lambdaPerRequest,
  };
}

/** CodeBuild environment type → the OS class its price is listed under (undefined: unknown type). */
export function buildOsOf(environmentType: string | undefined): BuildOs | undefined {
  switch (environmentType) {
    case 'LINUX_CONTAINER':
      return 'linux';
    case 'ARM_CONTAINER':
      return 'arm';
    case 'WINDOWS_CONTAINER':
    case 'WINDOWS_SERVER_2019_CONTAINER':
    case 'WINDOWS_SERVER_2022_CONTAINER':
      return 'windows';
    case 'MAC_ARM':
      return 'macos';
    case 'LINUX_GPU_CONTAINER':
      return 'linux-gpu';
    case 'LINUX_LAMBDA_CONTAINER':
    case 'ARM_LAMBDA_CONTAINER':
      return 'lambda';
    default:
      return undefined;
  }
}
