/**
 * What a run cost: every target's CodeBuild build (billed minutes × the price of its OS and compute
 * type; nothing per build on a reserved fleet, which is billed while it exists) and every checker
 * invocation (GB-seconds × the price of its architecture, plus the request), from the records the
 * run already keeps (report.ts: BuildReport.billing, TargetReport.lambda) and a price table.
 *
 * An item without a price or a duration is listed with `usd: null` and makes the cost incomplete
 * (the total is then a lower bound, and says so) — never silently zero. Pure: no I/O.
 */
import type { TargetReport } from '../report';
import { buildOsOf, DEFAULT_PRICES, type PriceTable } from './prices';
import type { CostItem, RunCost } from './types';

/** Rounds to 1/10000 USD (a build minute costs at least $0.005; the Lambda items are smaller). */
export const roundUsd = (usd: number): number => Math.round(usd * 10_000) / 10_000;

/** Lambda bills duration in 1 ms steps and memory in MB: GB-seconds of one invocation. */
export function gbSeconds(durationMs: number, memoryMb: number): number {
  return (Math.ceil(durationMs) / 1000) * (memoryMb / 1024);
}

/** CodeBuild bills from submission to the end of the build, rounded up to the minute. */
export function billedMinutes(startMs: number, endMs: number): number {
  return Math.max(1, Math.ceil((endMs - startMs) / 60_000));
}

function codebuildItem(t: TargetReport, prices: PriceTable): CostItem | undefined {
  const b = t.build?.billing;
  if (!t.build || !b) return undefined;
  const minutes = b.billedMinutes;
  const os = buildOsOf(b.environmentType);
  const what = `CodeBuild ${b.computeType ?? '(compute type unknown)'} ${b.environmentType ?? '(environment unknown)'}`;
  const base = { kind: 'codebuild' as const, target: t.name, quantity: minutes ?? 0, unit: 'build-minute' as const };
  if (b.fleetArn) {
    return {
      ...base,
      description: `${what} on reserved fleet ${b.fleetArn}`,
      unitPriceUsd: 0,
      usd: 0,
      note: 'a reserved fleet is billed while it exists, not per build: not part of the run cost',
    };
  }
  const key = `${os ?? b.environmentType ?? '?'}:${b.computeType ?? '?'}`;
  const price = prices.codebuildPerMinute[key];
  if (minutes === undefined) return { ...base, description: what, unitPriceUsd: price ?? null, usd: null, note: 'the build record has no start or end time' };
  if (price === undefined)
    return {
      ...base,
      description: `${what}, ${minutes} min`,
      unitPriceUsd: null,
      usd: null,
      note: `no price for ${key}: add it to the configuration's pricing.codebuildPerMinute`,
    };
  return { ...base, description: `${what}, ${minutes} min`, unitPriceUsd: price, usd: roundUsd(minutes * price) };
}

function lambdaItems(t: TargetReport, prices: PriceTable): CostItem[] {
  const l = t.lambda;
  if (!l) return [];
  const gbs = gbSeconds(l.durationMs, l.memoryMb);
  const price = prices.lambdaPerGbSecond[l.architecture];
  return [
    {
      kind: 'lambda',
      target: t.name,
      description: `Lambda ${l.function} ${l.memoryMb} MB ${l.architecture}, ${(l.durationMs / 1000).toFixed(1)} s`,
      quantity: Number(gbs.toFixed(3)),
      unit: 'GB-second',
      unitPriceUsd: price,
      usd: gbs * price,
    },
    {
      kind: 'lambda',
      target: t.name,
      description: `Lambda ${l.function} request`,
      quantity: 1,
      unit: 'request',
      unitPriceUsd: prices.lambdaPerRequest,
      usd: prices.lambdaPerRequest,
    },
  ];
}

/**
 * The run's cost. Local runs (`mode: 'local'`) build on this machine: no items, total 0, and a
 * note saying so. In AWS the launcher's and the dead-man's invocations are not measured (each is
 * well under a hundredth of a cent) and the note says that too.
 */
export function runCost(targets: readonly TargetReport[], mode: 'local' | 'aws', prices: PriceTable = DEFAULT_PRICES): RunCost {
  const head = { currency: 'USD' as const, prices: { region: prices.region, readOn: prices.readOn, source: prices.source } };
  if (mode === 'local') {
    return {
      ...head,
      totalUsd: 0,
      complete: true,
      items: [],
      note: 'local run: the builds ran on this machine and nothing was billed by AWS; no items are priced',
    };
  }
  const items: CostItem[] = [];
  const unrecorded: string[] = [];
  for (const t of targets) {
    const build = codebuildItem(t, prices);
    if (build) items.push(build);
    else if (t.build) unrecorded.push(t.name); // a build without billing facts (an older checker)
    items.push(...lambdaItems(t, prices));
  }
  const unpriced = items.filter((i) => i.usd === null);
  const total = items.reduce((sum, i) => sum + (i.usd ?? 0), 0);
  const notes = ["the launcher's and the dead-man Lambda's invocations, S3, KMS and CloudWatch are not included (see the README's monthly estimate)"];
  if (unpriced.length) notes.unshift(`${unpriced.length} item(s) not priced: the total is a lower bound`);
  if (unrecorded.length) {
    notes.unshift(`no billing record for the build(s) of ${unrecorded.join(', ')}: the total is a lower bound`);
  }
  return {
    ...head,
    totalUsd: roundUsd(total),
    complete: unpriced.length === 0 && unrecorded.length === 0,
    items: items.map((i) => (i.kind === 'lambda' && i.usd !== null ? { ...i, usd: Number(i.usd.toPrecision(4)) } : i)),
    note: notes.join('; '),
  };
}
