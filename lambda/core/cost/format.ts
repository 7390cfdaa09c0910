/** The run's cost in one line, for the alert and the HTML report. */
import type { RunCost } from './types';

/** Dollars as a reader wants them: cents from a cent up, four decimals below. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

export function costLine(cost: RunCost): string {
  const priced = `${cost.prices.region} prices read ${cost.prices.readOn}`;
  if (cost.items.length === 0) return `${formatUsd(cost.totalUsd)} (${cost.note ?? 'nothing priced'})`;
  const builds = cost.items.filter((i) => i.kind === 'codebuild').length;
  return `${cost.complete ? '' : 'at least '}${formatUsd(cost.totalUsd)} estimated: ${builds} build(s) and the checker, ${priced}${cost.complete ? '' : ' — some items could not be priced'}`;
}
