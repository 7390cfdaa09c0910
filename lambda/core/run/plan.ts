/**
 * The run plan: what will be built and what is expected, fixed before any build starts and
 * stored at runs/<runId>/plan.json. Checkers judge against the plan, never against what a build or
 * a later forge answer says should be there.
 */
import type { Config, SignaturePolicy } from '../config/schema';
import { expandSource } from '../asset-sources/registry';
import { expandSchemePolicy } from '../../formats/schemes/registry';
import { expandPlaceholders, versionFromTag, type PlaceholderValues } from '../config/load';
import { finding, type Finding } from '../findings';
import type { Forge, Release, ReleaseHistory } from '../ports';
import { historyFindings, type Ledger } from '../ledger';
import { auditFindings } from '../audit';
import { errorMessage } from '../errors';
import { unverifiedAssetFindings } from '../unverified-assets';

export { newRunId, RUN_ID_PATTERN, type PlannedArtifact, type PlannedTarget, type RunPlan } from './run-plan';
import { projectRefOf, type PlannedTarget, type RunPlan } from './run-plan';

/** Expands the placeholders of a policy: the scheme's own fields (formats/schemes/), and the sha256sums wrapper's. */
export function expandPolicy(policy: SignaturePolicy, values: PlaceholderValues): SignaturePolicy {
  if (policy.scheme === 'none') return policy;
  if (policy.scheme === 'sha256sums') {
    const manifestAsset = expandPlaceholders(policy.manifestAsset, values);
    return {
      ...policy,
      manifestAsset,
      manifestSignature: expandPolicy(policy.manifestSignature, { ...values, asset: manifestAsset }) as typeof policy.manifestSignature,
    };
  }
  return expandSchemePolicy(policy, (template) => expandPlaceholders(template, values));
}

/** Expands the configuration's targets for one release. Pure: no I/O. */
export function planTargets(config: Config, release: Pick<Release, 'tag'>): { version: string; targets: PlannedTarget[] } {
  const version = versionFromTag(release.tag);
  const base = { tag: release.tag, version };
  const targets = config.targets.map((t) => ({
    name: t.name,
    image: t.image,
    artifacts: t.artifacts.map((a) => {
      const asset = expandPlaceholders(a.asset, base);
      const values = { ...base, asset };
      return {
        path: expandPlaceholders(a.path, values),
        asset,
        source: expandSource(a.source, (template) => expandPlaceholders(template, values), asset),
        compare: a.compare,
        signature: expandPolicy(a.signature, values),
      };
    }),
  }));
  return { version, targets };
}

/**
 * Finds the release (latest, the configured tag, or `options.tag`) and fixes the plan. Forge
 * failures propagate as ForgeError: the caller turns them into an INCOMPLETE report.
 */
export async function planRun(config: Config, forge: Forge, options: { runId: string; tag?: string; now?: Date; ledger?: Ledger | null }): Promise<RunPlan> {
  const tag = options.tag ?? (config.release === 'latest' ? undefined : config.release.tag);
  const release = await forge.getRelease(tag);
  const findings: Finding[] = [];
  if (tag !== undefined && release.tag !== tag) {
    findings.push(
      finding('RELEASE_NOT_FOUND', `asked for release ${tag} but the forge answered with ${release.tag}`, { evidence: { asked: tag, got: release.tag } }),
    );
  }
  if (release.commitSha !== release.tagCommitSha) {
    findings.push(
      finding('RELEASE_COMMIT_DIFFERS', `release ${release.tag} names commit ${release.commitSha} but tag ${release.tag} points to ${release.tagCommitSha}`, {
        evidence: { releaseCommit: release.commitSha, tagCommit: release.tagCommitSha },
      }),
    );
  }
  // Release history against the ledger: a moved tag or a changed past release is news on every run.
  let history: ReleaseHistory | null = null;
  try {
    history = await forge.getHistory();
    findings.push(...historyFindings(options.ledger ?? null, history));
  } catch (err) {
    findings.push(finding('HISTORY_UNCHECKED', `release history could not be checked: ${errorMessage(err)}`, { evidence: { error: errorMessage(err) } }));
  }
  // The forge's own protections (advisory notices; a token without Maintainer rights may not see them).
  try {
    findings.push(...auditFindings(await forge.getProtections(), release));
  } catch (err) {
    findings.push(finding('AUDIT_UNAVAILABLE', `GitLab's tag and branch protections could not be read: ${errorMessage(err)}`));
  }
  const { version, targets } = planTargets(config, release);
  // Links nobody verifies (not an artifact, signature or manifest, not ignored) are news on every run.
  findings.push(...unverifiedAssetFindings(release, targets, { ignoreAssets: config.ignoreAssets, gitlabUrl: config.gitlab.url }));
  return {
    schemaVersion: 1,
    runId: options.runId,
    createdAt: (options.now ?? new Date()).toISOString(),
    project: projectRefOf(config),
    release,
    version,
    targets,
    findings,
    history,
  };
}
