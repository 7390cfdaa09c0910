/**
 * What a launch would do now, without doing it (`run-now --dry-run`, `doctor`): the release, the
 * run it would create or join, the targets, images and expected assets, and the findings known at
 * planning time. The same forge, token, ledger and planner as a launch; nothing is written.
 */
import type { Config } from '../config/schema';
import { errorMessage } from '../errors';
import type { Finding } from '../findings';
import { loadLedger } from '../ledger-store';
import type { Forge, Release, Store } from '../ports';
import { planRun } from './plan';
import { releaseIdentity, runIdForRelease } from './run-id';
import type { RunPlan } from './run-plan';
import { namesUnder, runKeys } from './store-layout';

export interface DryRunResult {
  dryRun: true;
  /** the run a launch now would create or join */
  runId?: string;
  /** true when that run's plan exists already (a launch now would join it, starting only missing targets) */
  planExists?: boolean;
  release?: Pick<Release, 'tag' | 'name' | 'commitSha' | 'tagCommitSha' | 'releasedAt' | 'webUrl'>;
  version?: string;
  /** what a launch now would build: targets, images, the commit, the expected assets */
  targets: { name: string; image: string; alreadyStarted: boolean; artifacts: { asset: string; path: string; source: string; signature: string }[] }[];
  /** findings already known at planning time */
  findings: Pick<Finding, 'level' | 'code' | 'message'>[];
  /** why the release could not be resolved (a launch now would send an INCOMPLETE alert) */
  error?: string;
  /** the deployed configuration, for `doctor` (no secret is in it: the token lives in Secrets Manager) */
  config: DeployedConfig;
}

export interface DeployedConfig {
  gitlab: { url: string; project: string | number; tokenSecretName?: string };
  release: Config['release'];
  schedule: string;
  alerts: Config['alerts'];
  aws: Config['aws'];
  targets: { name: string; platform: string; image: string; fleetArn?: string; computeType?: string }[];
}

/** Any `dryRun` other than absent or `false` is a dry run: a malformed one ("true", 1) must not launch. */
export function isDryRun(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const v = (event as { dryRun?: unknown }).dryRun;
  return v !== undefined && v !== false && v !== null;
}

export function deployedConfig(config: Config): DeployedConfig {
  return {
    gitlab: {
      url: config.gitlab.url,
      project: config.gitlab.project,
      ...(config.gitlab.token.secretName ? { tokenSecretName: config.gitlab.token.secretName } : {}),
    },
    release: config.release,
    schedule: config.schedule,
    alerts: config.alerts,
    aws: config.aws,
    targets: config.targets.map((t) => ({
      name: t.name,
      platform: t.platform,
      image: t.image,
      ...(t.fleetArn ? { fleetArn: t.fleetArn } : {}),
      ...(t.computeType ? { computeType: t.computeType } : {}),
    })),
  };
}

/**
 * Resolves the release and plans the run exactly as a launch would (same forge, token, ledger and
 * planner) and answers what it would build. Reads only: no plan, launch record, staged source,
 * summary or ledger is written, no build started, nothing published — a planning failure is
 * answered, not alerted.
 */
export async function previewLaunch(
  config: Config,
  deps: { store: Store; forge: () => Promise<Forge>; now?: () => Date },
  event: { tag?: string; fresh?: boolean; runWindowMs: number },
): Promise<DryRunResult> {
  const { store } = deps;
  const now = (deps.now ?? (() => new Date()))();
  const answer: DryRunResult = { dryRun: true, targets: [], findings: [], config: deployedConfig(config) };
  let planned: RunPlan;
  try {
    const ledger = await loadLedger(store);
    const forge = await deps.forge();
    planned = await planRun(config, forge, { runId: 'unassigned', tag: event.tag, now, ledger });
  } catch (err) {
    answer.error = errorMessage(err);
    return answer;
  }
  const identity = releaseIdentity({ url: config.gitlab.url, project: config.gitlab.project }, planned.release);
  const runId = event.fresh ? undefined : await runIdForRelease(store, now, event.runWindowMs, identity);
  const existingText = runId ? await store.get(runKeys.plan(runId)) : null;
  const existing = existingText === null ? null : (JSON.parse(existingText) as RunPlan);
  const started = new Set<string>();
  if (runId && existing) {
    for (const prefix of [runKeys.launchesPrefix(runId), runKeys.targetsPrefix(runId)])
      for (const t of namesUnder(prefix, await store.list(prefix))) started.add(t);
  }
  // a launch now would judge against the plan already fixed in this window, if there is one
  const plan = existing ?? planned;
  answer.runId = runId;
  answer.planExists = Boolean(existing);
  answer.release = {
    tag: plan.release.tag,
    name: plan.release.name,
    commitSha: plan.release.commitSha,
    tagCommitSha: plan.release.tagCommitSha,
    releasedAt: plan.release.releasedAt,
    webUrl: plan.release.webUrl,
  };
  answer.version = plan.version;
  answer.targets = plan.targets.map((t) => ({
    name: t.name,
    image: t.image,
    alreadyStarted: started.has(t.name),
    artifacts: t.artifacts.map((a) => ({ asset: a.asset, path: a.path, source: a.source.type, signature: a.signature.scheme })),
  }));
  answer.findings = plan.findings.map((f) => ({ level: f.level, code: f.code, message: f.message }));
  return answer;
}
