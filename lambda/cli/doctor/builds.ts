/**
 * What the builds need: every target image present by digest (private ECR: DescribeImages; a
 * public registry cannot be asked with AWS credentials: "cannot check"), each reserved fleet
 * present and ACTIVE (macOS: MAC_ARM), and CodeBuild's concurrent-build quotas against the number
 * of targets the launcher starts at once.
 */
import { BatchGetFleetsCommand, ListFleetsCommand, type CodeBuildClient, type Fleet } from '@aws-sdk/client-codebuild';
import { DescribeImagesCommand, type ECRClient } from '@aws-sdk/client-ecr';
import { ListAWSDefaultServiceQuotasCommand, ListServiceQuotasCommand, type ServiceQuota, type ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { DeployedConfig } from '../../handlers/launcher';
import { cannot, failed, nameOf, ok, problem, type CheckResult, type DoctorContext } from './check';

type Target = DeployedConfig['targets'][number];

/** `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>@sha256:<digest>` */
const PRIVATE_ECR = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^@:]+)(?::[^@]+)?@(sha256:[0-9a-f]{64})$/;
const CURATED = /^aws\/codebuild\//;

export function privateEcrImage(image: string): { registryId: string; region: string; repositoryName: string; imageDigest: string } | null {
  const m = PRIVATE_ECR.exec(image);
  return m ? { registryId: m[1]!, region: m[2]!, repositoryName: m[3]!, imageDigest: m[4]! } : null;
}

export async function imageCheck(ecrFor: (region: string) => ECRClient, target: Target): Promise<CheckResult> {
  const id = `image:${target.name}`;
  if (CURATED.test(target.image)) {
    return cannot(
      id,
      `${target.name}: ${target.image} is CodeBuild's curated image${target.fleetArn ? ' (the fleet provides it)' : ''}; it has no digest to check — the report says so as not pinned`,
      'nothing to do here; the fleet check below covers what can be checked',
    );
  }
  const ecr = privateEcrImage(target.image);
  if (!ecr) {
    const registry = target.image.includes('/') && /[.:]/.test(target.image.split('/')[0]!) ? target.image.split('/')[0] : 'Docker Hub';
    return cannot(
      id,
      `${target.name}: ${target.image} is in a public registry (${registry}); doctor checks private ECR images only`,
      `pull it once to be sure: docker pull ${target.image}`,
    );
  }
  try {
    const out = await ecrFor(ecr.region).send(
      new DescribeImagesCommand({ registryId: ecr.registryId, repositoryName: ecr.repositoryName, imageIds: [{ imageDigest: ecr.imageDigest }] }),
    );
    const found = (out.imageDetails ?? []).find((d) => d.imageDigest === ecr.imageDigest);
    if (found)
      return ok(
        id,
        `${target.name}: ${ecr.repositoryName}@${ecr.imageDigest} exists in ECR ${ecr.registryId} (${ecr.region})${found.imagePushedAt ? `, pushed ${found.imagePushedAt.toISOString()}` : ''}`,
      );
    return problem(
      id,
      `${target.name}: ECR did not list ${ecr.repositoryName}@${ecr.imageDigest}`,
      `push the image, or pin the digest that exists: aws ecr describe-images --repository-name ${ecr.repositoryName}`,
    );
  } catch (err) {
    const name = nameOf(err);
    if (name === 'ImageNotFoundException')
      return problem(
        id,
        `${target.name}: no image ${ecr.imageDigest} in ${ecr.repositoryName} (ECR ${ecr.registryId}, ${ecr.region}): every build of this target fails`,
        `push the image, or pin the digest that exists: aws ecr describe-images --repository-name ${ecr.repositoryName} --region ${ecr.region}`,
      );
    if (name === 'RepositoryNotFoundException')
      return problem(
        id,
        `${target.name}: no ECR repository ${ecr.repositoryName} in ${ecr.registryId} (${ecr.region})`,
        'create the repository and push the image, or fix targets[].image',
      );
    return failed(id, `${target.name}: looking up ${target.image}`, 'ecr:DescribeImages', err);
  }
}

export async function fleetChecks(codebuild: CodeBuildClient, ctx: DoctorContext): Promise<CheckResult[]> {
  if (!ctx.config) return [cannot('fleets', `which targets use fleets is unknown (${ctx.configSource})`, 'fix the launcher dry run, or pass --config FILE')];
  const results: CheckResult[] = [];
  for (const t of ctx.config.targets) {
    if (t.platform === 'macos' && !t.fleetArn)
      results.push(
        problem(
          `fleet:${t.name}`,
          `${t.name}: a macOS target without a fleet cannot build (on-demand CodeBuild has no macOS)`,
          'create a MAC_ARM reserved-capacity fleet and set targets[].fleetArn',
        ),
      );
  }
  const withFleet = ctx.config.targets.filter((t) => t.fleetArn);
  if (withFleet.length === 0) return results;
  const arns = [...new Set(withFleet.map((t) => t.fleetArn!))];
  let fleets: Fleet[];
  let notFound: string[];
  try {
    const out = await codebuild.send(new BatchGetFleetsCommand({ names: arns }));
    fleets = out.fleets ?? [];
    notFound = out.fleetsNotFound ?? [];
  } catch (err) {
    return [...results, ...withFleet.map((t) => failed(`fleet:${t.name}`, `${t.name}: reading fleet ${t.fleetArn}`, 'codebuild:BatchGetFleets', err))];
  }
  let existing: Promise<string> | undefined;
  for (const t of withFleet) {
    const id = `fleet:${t.name}`;
    const fleet = fleets.find((f) => f.arn === t.fleetArn || f.name === t.fleetArn);
    if (!fleet || notFound.includes(t.fleetArn!)) {
      existing ??= fleetsInRegion(codebuild);
      results.push(
        problem(
          id,
          `${t.name}: fleet ${t.fleetArn} does not exist (in this region)`,
          `create the fleet (CodeBuild → Compute fleets) or fix targets[].fleetArn; ${await existing}`,
        ),
      );
      continue;
    }
    const status = fleet.status?.statusCode ?? 'UNKNOWN';
    if (status !== 'ACTIVE') {
      results.push(
        problem(
          id,
          `${t.name}: fleet ${fleet.name} is ${status}${fleet.status?.message ? ` (${fleet.status.message})` : ''}, not ACTIVE: builds on it queue or fail`,
          status === 'CREATING' || status === 'UPDATING'
            ? 'wait until it is ACTIVE and run doctor again'
            : 'fix or recreate the fleet in the CodeBuild console',
        ),
      );
      continue;
    }
    if (t.platform === 'macos' && fleet.environmentType !== 'MAC_ARM') {
      results.push(
        problem(
          id,
          `${t.name}: fleet ${fleet.name} is ${fleet.environmentType}, not MAC_ARM: a macOS target cannot build on it`,
          'use a MAC_ARM fleet for macOS targets',
        ),
      );
      continue;
    }
    const sharing = withFleet.filter((x) => x.fleetArn === t.fleetArn).length;
    const capacity = fleet.baseCapacity ?? 0;
    const detail = `${t.name}: fleet ${fleet.name} is ACTIVE (${fleet.environmentType}, ${fleet.computeType}, capacity ${capacity})`;
    results.push(
      capacity > 0 && sharing > capacity
        ? problem(
            id,
            `${detail}, but ${sharing} targets share it: builds beyond ${capacity} wait (overflow: ${fleet.overflowBehavior ?? 'QUEUE'})`,
            'raise the fleet capacity, or accept the queueing (a queued build is dropped after its queue timeout)',
          )
        : ok(id, detail),
    );
  }
  return results;
}

/** The fleets there are, for the fix of a fleet that is not (ListFleets answers ARNs). */
async function fleetsInRegion(codebuild: CodeBuildClient): Promise<string> {
  try {
    const arns = (await codebuild.send(new ListFleetsCommand({ maxResults: 10 }))).fleets ?? [];
    return arns.length ? `fleets in this region: ${arns.slice(0, 5).join(', ')}${arns.length > 5 ? ' …' : ''}` : 'there is no fleet in this region';
  } catch {
    return 'aws codebuild list-fleets lists what there is';
  }
}

/** The Service Quotas label of a target's on-demand environment, e.g. "linux/medium". */
export function quotaLabel(t: Target): string {
  const compute = (t.computeType ?? 'BUILD_GENERAL1_MEDIUM')
    .replace(/^BUILD_GENERAL1_/, '')
    .replace(/^BUILD_LAMBDA_/, 'lambda/')
    .toLowerCase();
  const env = t.platform === 'windows' ? 'windows server 2019' : 'linux';
  return compute.startsWith('lambda/') ? `${env} ${compute}` : `${env}/${compute}`;
}

/** "Concurrently running builds for Linux/Medium environment" (per environment and compute type) */
const QUOTA_NAME = /^Concurrently running builds for (.+) environment$/i;
/** "Concurrently running builds" (all environments of the account) */
const ACCOUNT_QUOTA = /^Concurrently running builds$/i;
const normal = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

async function allQuotas(quotas: ServiceQuotasClient, which: 'applied' | 'default'): Promise<ServiceQuota[]> {
  const out: ServiceQuota[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page =
      which === 'applied'
        ? await quotas.send(new ListServiceQuotasCommand({ ServiceCode: 'codebuild', NextToken: token, MaxResults: 100 }))
        : await quotas.send(new ListAWSDefaultServiceQuotasCommand({ ServiceCode: 'codebuild', NextToken: token, MaxResults: 100 }));
    out.push(...(page.Quotas ?? []));
    token = page.NextToken;
  } while (token && ++pages < 20);
  return out;
}

function quotaFor(byLabel: Map<string, ServiceQuota>, label: string): ServiceQuota | undefined {
  const exact = byLabel.get(label);
  if (exact || !label.startsWith('windows')) return exact;
  // Windows quota names name the server version; any Windows entry of the same compute type
  const compute = label.slice(label.indexOf('/'));
  return [...byLabel].find(([l]) => l.startsWith('windows') && l.endsWith(compute))?.[1];
}

export async function quotaCheck(quotas: ServiceQuotasClient, ctx: DoctorContext): Promise<CheckResult> {
  const id = 'codebuild-quota';
  if (!ctx.config) return cannot(id, `the targets are unknown (${ctx.configSource})`, 'fix the launcher dry run, or pass --config FILE');
  // fleet builds run on the fleet's own capacity; the launcher starts every other target at once
  const onDemand = ctx.config.targets.filter((t) => !t.fleetArn);
  if (onDemand.length === 0) return ok(id, 'every target builds on a reserved fleet: on-demand concurrency quotas do not apply');
  let applied: ServiceQuota[];
  let defaults: ServiceQuota[];
  try {
    applied = await allQuotas(quotas, 'applied');
    defaults = await allQuotas(quotas, 'default');
  } catch (err) {
    return failed(id, 'reading the CodeBuild service quotas', 'servicequotas:ListServiceQuotas and servicequotas:ListAWSDefaultServiceQuotas', err);
  }
  const byLabel = new Map<string, ServiceQuota>();
  let account: ServiceQuota | undefined;
  // applied values win over defaults (ListServiceQuotas leaves out quotas without an applied value)
  for (const q of [...defaults, ...applied]) {
    if (q.Value === undefined) continue;
    const m = QUOTA_NAME.exec(q.QuotaName ?? '');
    if (m) byLabel.set(normal(m[1]!), q);
    else if (ACCOUNT_QUOTA.test(q.QuotaName ?? '')) account = q;
  }
  const need = new Map<string, string[]>();
  for (const t of onDemand) need.set(quotaLabel(t), [...(need.get(quotaLabel(t)) ?? []), t.name]);
  const short: string[] = [];
  const unknown: string[] = [];
  const fine: string[] = [];
  for (const [label, names] of need) {
    const q = quotaFor(byLabel, label);
    if (!q) unknown.push(`${label} (${names.join(', ')})`);
    else if (q.Value! < names.length)
      short.push(`${q.QuotaName} is ${q.Value} (${q.QuotaCode}) but ${names.length} targets build there at once: ${names.join(', ')}`);
    else fine.push(`${label}: ${names.length} of ${q.Value}`);
  }
  if (account) {
    if (account.Value! < onDemand.length)
      short.push(`${account.QuotaName} is ${account.Value} (${account.QuotaCode}) but ${onDemand.length} targets build at once`);
    else fine.push(`account: ${onDemand.length} of ${account.Value}`);
  }
  if (short.length) {
    return problem(
      id,
      `${short.join('; ')} — builds beyond the quota queue, and a queued build is dropped after its queue timeout`,
      'request an increase in Service Quotas → AWS CodeBuild (new accounts start as low as 1)',
    );
  }
  if (unknown.length)
    return cannot(
      id,
      `no Service Quotas entry found for ${unknown.join('; ')}${fine.length ? ` (checked: ${fine.join('; ')})` : ''}`,
      'look the quota up in Service Quotas → AWS CodeBuild',
    );
  return ok(id, `CodeBuild concurrent builds: ${fine.join('; ')}`);
}
