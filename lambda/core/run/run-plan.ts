/**
 * The run plan's data: what will be built and what is expected, fixed before any build starts and
 * stored once (store-layout.ts). Checkers judge against the plan, never against what a build or a
 * later forge answer says should be there. Data only, so that the ledger, the unverified-asset
 * rule and the history can name it without importing the planner.
 */
import type { AssetSource, SignaturePolicy } from '../config/schema';
import type { Finding } from '../findings';
import type { ProjectRef } from '../report';
import type { Release, ReleaseHistory } from '../ports';

export interface PlannedArtifact {
  /** path in the build output, placeholders expanded */
  path: string;
  /** release asset name, placeholders expanded */
  asset: string;
  source: AssetSource;
  compare: 'auto' | 'bytes';
  /** the policy with its asset-name fields expanded ({asset} → this asset) */
  signature: SignaturePolicy;
}

export interface PlannedTarget {
  name: string;
  image: string;
  artifacts: PlannedArtifact[];
}

export interface RunPlan {
  schemaVersion: 1;
  runId: string;
  createdAt: string;
  project: ProjectRef;
  release: Release;
  version: string;
  targets: PlannedTarget[];
  /** findings already known at planning time (the release commit and the tag disagree, history changed) */
  findings: Finding[];
  /** the forge's release history at planning time (null when it could not be read), for the ledger */
  history?: ReleaseHistory | null;
}

/** Run ids sort by time and are unique enough to never collide for one project. */
export function newRunId(now: Date = new Date(), random: () => number = Math.random): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const suffix = Math.floor(random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
  return `${stamp}-${suffix}`;
}

export const RUN_ID_PATTERN = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** The report's project block: the forge-neutral `forge` and, for older readers, `gitlabUrl`. */
export function projectRefOf(config: { gitlab: { url: string; project: string | number } }): ProjectRef {
  const { url, project } = config.gitlab;
  return { forge: { type: 'gitlab', url, project }, gitlabUrl: url, project };
}
