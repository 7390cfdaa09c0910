/**
 * The cost shapes of the run report (report.ts carries them: BuildReport.billing,
 * TargetReport.lambda, RunReport.cost). A contract like the rest of the report: extend, never rename.
 */

/** A CodeBuild build's billed usage, from its own record (BatchGetBuilds). */
export interface BuildBilling {
  /** CodeBuild environment type, e.g. LINUX_CONTAINER, WINDOWS_SERVER_2022_CONTAINER, MAC_ARM */
  environmentType?: string;
  /** e.g. BUILD_GENERAL1_MEDIUM */
  computeType?: string;
  /** set for a build on a reserved fleet: billed while the fleet exists, not per build */
  fleetArn?: string;
  /** build time as CodeBuild bills it: submission to end, rounded up to the minute */
  billedMinutes?: number;
}

/** One Lambda invocation's billed usage (the checker's, per target). */
export interface LambdaUsage {
  function: string;
  durationMs: number;
  memoryMb: number;
  architecture: 'x86_64' | 'arm64';
}

/** One line of a run's cost. `usd` null: not priced (no price for it, or no duration known). */
export interface CostItem {
  kind: 'codebuild' | 'lambda';
  target?: string;
  description: string;
  quantity: number;
  unit: 'build-minute' | 'GB-second' | 'request';
  unitPriceUsd: number | null;
  usd: number | null;
  note?: string;
}

/** A run's cost: the sum of its priced items (run-cost.ts). */
export interface RunCost {
  currency: 'USD';
  /** sum of the priced items, rounded to 1/10000 USD */
  totalUsd: number;
  /** false when an item could not be priced: the total is then a lower bound */
  complete: boolean;
  prices: { region: string; readOn: string; source: string };
  items: CostItem[];
  /** what the total leaves out */
  note?: string;
}
