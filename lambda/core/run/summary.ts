/**
 * The run summary: every planned target must have reported, or the run is INCOMPLETE.
 */
import type { Config } from '../config/schema';
import { errorMessage, ForgeError } from '../errors';
import { finding, verdictOf, worseOf, type Finding, type Verdict } from '../findings';
import { projectRefOf, type RunPlan } from './run-plan';
import type { RunReport, TargetReport } from '../report';
import { runCost } from '../cost/run-cost';
import type { PriceTable } from '../cost/prices';
import { assetChangeFindings, type Ledger } from '../ledger';

export interface RunMeta {
  mode: 'local' | 'aws';
  startedAt: string;
  finishedAt?: string;
  /** prices for the run's `cost` (the configuration's pricing over the defaults). @default DEFAULT_PRICES */
  prices?: PriceTable;
}

/**
 * The run report. With the ledger as it was before this run, assets whose bytes changed since an
 * earlier run saw them are reported (PAST_ASSET_CHANGED).
 */
export function summarize(plan: RunPlan, reported: readonly TargetReport[], meta: RunMeta, ledger: Ledger | null = null): RunReport {
  const findings: Finding[] = [...plan.findings];
  const targets: TargetReport[] = [];
  for (const t of plan.targets) {
    const r = reported.find((x) => x.name === t.name);
    if (r) targets.push(r);
    else {
      const f = finding('TARGET_NOT_REPORTED', `target ${t.name} never reported a result`, { target: t.name });
      targets.push({ name: t.name, verdict: 'INCOMPLETE', artifacts: [], findings: [f] });
    }
  }
  if (targets.length === 0) findings.push(finding('NO_TARGETS', 'no target was planned, so nothing was verified'));

  findings.push(...assetChangeFindings(ledger, { release: { tag: plan.release.tag }, targets } as RunReport));

  let verdict: Verdict = verdictOf(findings, targets.length > 0);
  for (const t of targets) verdict = worseOf(verdict, t.verdict);
  return {
    schemaVersion: 1,
    runId: plan.runId,
    startedAt: meta.startedAt,
    finishedAt: meta.finishedAt ?? new Date().toISOString(),
    verdict,
    project: plan.project,
    release: {
      tag: plan.release.tag,
      name: plan.release.name,
      commitSha: plan.release.tagCommitSha,
      releasedAt: plan.release.releasedAt,
      webUrl: plan.release.webUrl,
    },
    targets,
    findings,
    mode: meta.mode,
    cost: runCost(targets, meta.mode, meta.prices),
  };
}

/** The report of a run that could not even be planned (forge unreachable, no release…). */
export function failedRunReport(config: Pick<Config, 'gitlab'>, runId: string, meta: RunMeta, error: unknown, tag?: string): RunReport {
  let f: Finding;
  if (error instanceof ForgeError) {
    const evidence = { url: error.url, status: error.status, error: error.userMessage };
    f =
      error.details?.code === 'LATEST_RELEASE_DISAGREES'
        ? finding('LATEST_RELEASE_DISAGREES', `cannot tell which release is the latest: ${error.userMessage}`, { evidence: { ...evidence, ...error.details } })
        : error.kind === 'not-found'
          ? finding('RELEASE_NOT_FOUND', `release ${tag ?? '(latest)'} not found: ${error.userMessage}`, { evidence })
          : error.kind === 'unreachable' || error.kind === 'timeout'
            ? finding('FORGE_UNREACHABLE', `GitLab could not be reached: ${error.userMessage}`, { evidence })
            : finding('FORGE_ERROR', `GitLab answered unexpectedly: ${error.userMessage}`, { evidence });
  } else {
    f = finding('CHECK_FAILED', `the run failed before any build: ${errorMessage(error)}`, { evidence: { error: errorMessage(error) } });
  }
  return {
    schemaVersion: 1,
    runId,
    startedAt: meta.startedAt,
    finishedAt: meta.finishedAt ?? new Date().toISOString(),
    verdict: verdictOf([f], false),
    project: projectRefOf(config),
    release: tag ? { tag } : null,
    targets: [],
    findings: [f],
    mode: meta.mode,
    cost: runCost([], meta.mode, meta.prices),
  };
}

export { runKeys } from './store-layout';
