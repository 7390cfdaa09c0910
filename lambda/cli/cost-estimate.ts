/**
 * The README's monthly cost estimate, computed from the same price table as each run's `cost`
 * (prices.ts), so the two cannot drift: test/core/cost-estimate.test.ts checks that the README's
 * table is exactly `estimateMarkdown()`, and `npm run cost-estimate` prints it (for another
 * scenario edit ESTIMATE_SCENARIO, or pass a PricingOverride).
 */
import { METRIC } from '../handlers/metric-names';
import { formatUsd } from '../core/cost/format';
import { DEFAULT_PRICES, priceTable, type PriceTable, type PricingOverride } from '../core/cost/prices';
import { gbSeconds, roundUsd } from '../core/cost/run-cost';

export interface EstimateScenario {
  /** full runs per month (weekly: 52/12) */
  runsPerMonth: number;
  targets: number;
  buildMinutes: number;
  computeType: string;
  /** the checker per target: duration and memory (the stack: 2048 MB, arm64) */
  checker: { seconds: number; memoryMb: number };
  launcher: { seconds: number; memoryMb: number };
  /** dead-man invocations per month (every 3 h) */
  deadman: { perMonth: number; seconds: number; memoryMb: number };
  /** watch invocations per month (hourly) */
  watch: { perMonth: number; seconds: number; memoryMb: number };
  /** customer-managed KMS keys: results, artifacts, alerts, attestation signing */
  kmsKeys: number;
  secrets: number;
  alarms: number;
  /** average GB stored (records, access logs, rebuilt artifacts kept artifactRetentionDays) */
  s3GbMonth: number;
}

export const ESTIMATE_SCENARIO: EstimateScenario = {
  runsPerMonth: 52 / 12,
  targets: 3,
  buildMinutes: 20,
  computeType: 'BUILD_GENERAL1_MEDIUM',
  checker: { seconds: 180, memoryMb: 2048 },
  launcher: { seconds: 30, memoryMb: 1024 },
  deadman: { perMonth: 8 * 30.4, seconds: 2, memoryMb: 512 },
  watch: { perMonth: 24 * 30.4, seconds: 2, memoryMb: 256 },
  kmsKeys: 4,
  secrets: 1,
  alarms: 6,
  s3GbMonth: 6.5,
};

export interface EstimateRow {
  item: string;
  usd: number;
}

/** The monthly estimate, one row per item; every figure from `prices` (the Lambdas run on arm64). */
export function monthlyEstimate(s: EstimateScenario = ESTIMATE_SCENARIO, prices: PriceTable = DEFAULT_PRICES): { rows: EstimateRow[]; totalUsd: number } {
  const minutes = s.runsPerMonth * s.targets * s.buildMinutes;
  const perMinute = (size: string) => {
    const p = prices.codebuildPerMinute[`linux:${size}`];
    if (p === undefined) throw new Error(`no price for linux:${size}`);
    return p;
  };
  const gbs = (n: number, sec: number, mb: number) => n * gbSeconds(sec * 1000, mb);
  const lambdaGbs =
    gbs(s.runsPerMonth * s.targets, s.checker.seconds, s.checker.memoryMb) +
    gbs(s.runsPerMonth, s.launcher.seconds, s.launcher.memoryMb) +
    gbs(s.deadman.perMonth, s.deadman.seconds, s.deadman.memoryMb);
  const lambdaRequests = s.runsPerMonth * (s.targets + 1) + s.deadman.perMonth;
  const watchGbs = gbs(s.watch.perMonth, s.watch.seconds, s.watch.memoryMb);
  const metrics = Object.keys(METRIC).length;
  const rows: EstimateRow[] = [
    {
      item: `CodeBuild \`${s.computeType}\`, ${Math.round(minutes)} build-min/month (${s.targets} Linux targets × ${s.buildMinutes} min, ${(s.runsPerMonth).toFixed(2)} runs) at ${formatUsd(perMinute(s.computeType))}/min`,
      usd: minutes * perMinute(s.computeType),
    },
    {
      item: `Lambda: checker ${s.checker.memoryMb} MB × ${s.checker.seconds / 60} min per target, launcher, dead-man every 3 h (${Math.round(lambdaGbs)} GB-s, arm64; usually within the free tier)`,
      usd: lambdaGbs * prices.lambdaPerGbSecond.arm64 + lambdaRequests * prices.lambdaPerRequest,
    },
    {
      item: `Lambda: the hourly watch, ${Math.round(s.watch.perMonth)} checks × ${s.watch.seconds} s at ${s.watch.memoryMb} MB`,
      usd: watchGbs * prices.lambdaPerGbSecond.arm64 + s.watch.perMonth * prices.lambdaPerRequest,
    },
    { item: `S3: ~${s.s3GbMonth} GB-month (records, access logs, rebuilt artifacts kept 30 days)`, usd: s.s3GbMonth * prices.monthly.s3PerGb },
    { item: `KMS: ${s.kmsKeys} customer-managed keys (results, artifacts, alerts, attestation signing)`, usd: s.kmsKeys * prices.monthly.kmsKey },
    { item: `Secrets Manager: ${s.secrets} secret`, usd: s.secrets * prices.monthly.secret },
    { item: `CloudWatch: ${s.alarms} alarms + ${metrics} custom metrics`, usd: s.alarms * prices.monthly.alarm + metrics * prices.monthly.customMetric },
  ];
  return { rows, totalUsd: roundUsd(rows.reduce((sum, r) => sum + r.usd, 0)) };
}

/** The README table (between the cost-estimate markers). */
export function estimateMarkdown(s: EstimateScenario = ESTIMATE_SCENARIO, prices: PriceTable = DEFAULT_PRICES): string {
  const { rows, totalUsd } = monthlyEstimate(s, prices);
  const perMinute = (size: string) => prices.codebuildPerMinute[`linux:${size}`] ?? NaN;
  const small = s.runsPerMonth * s.targets * s.buildMinutes * (prices.codebuildPerMinute['linux:BUILD_GENERAL1_SMALL'] ?? NaN);
  const large = s.runsPerMonth * s.targets * s.buildMinutes * (prices.codebuildPerMinute['linux:BUILD_GENERAL1_LARGE'] ?? NaN);
  return [
    `Prices: ${prices.region}, read ${prices.readOn} (\`lambda/core/cost/prices.ts\`; ${prices.source}).`,
    '',
    '| item | per month |',
    '|---|---|',
    ...rows.map((r) => `| ${r.item} | ${formatUsd(roundUsd(r.usd))} |`),
    `| SNS: email is free at this volume; SMS per message and country | SMS extra |`,
    `| diff jobs: only on a mismatch, 3–10 min \`${s.computeType}\` per differing asset | ${formatUsd(roundUsd(3 * perMinute(s.computeType)))}–${formatUsd(roundUsd(10 * perMinute(s.computeType)))} each |`,
    `| **total** | **${formatUsd(totalUsd)} / month** (+ SMS; builds on \`BUILD_GENERAL1_SMALL\`: ${formatUsd(roundUsd(small))}, \`BUILD_GENERAL1_LARGE\`: ${formatUsd(roundUsd(large))}) |`,
    '',
    `Windows builds cost ${formatUsd(prices.codebuildPerMinute['windows:BUILD_GENERAL1_MEDIUM'] ?? NaN)}/min on \`BUILD_GENERAL1_MEDIUM\` (Linux: ${formatUsd(perMinute('BUILD_GENERAL1_MEDIUM'))}).`,
  ].join('\n');
}

/** `npm run cost-estimate [pricing.json]`: prints the README table for the defaults or a pricing override. */
async function main(): Promise<void> {
  const file = process.argv[2];
  const override = file ? (JSON.parse(await (await import('node:fs/promises')).readFile(file, 'utf8')) as PricingOverride) : undefined;
  process.stdout.write(estimateMarkdown(ESTIMATE_SCENARIO, priceTable(override)) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) void main();
