/**
 * The run's cost in the HTML report: one line, the items in a collapsible table (stacked cards on
 * a phone, as the report's other tables). Item text is ours (compute types, ARNs from the build
 * record) but is escaped like everything else.
 */
import { escapeHtml } from '../report-html/escape';
import { costLine, formatUsd } from './format';
import type { RunCost } from './types';

export function costHtml(cost: RunCost): string {
  const line = `<span class="label">Cost:</span> ${escapeHtml(costLine(cost))}`;
  if (cost.items.length === 0) return `<p class="meta">${line}</p>`;
  const rows = cost.items
    .map(
      (i) =>
        `<tr><td data-label="item">${escapeHtml(i.target ? `${i.target}: ${i.description}` : i.description)}${i.note ? `<br><small>${escapeHtml(i.note)}</small>` : ''}</td>` +
        `<td data-label="quantity">${escapeHtml(`${i.quantity} ${i.unit}`)}</td>` +
        `<td data-label="USD">${i.usd === null ? 'not priced' : escapeHtml(formatUsd(i.usd))}</td></tr>`,
    )
    .join('');
  const note = cost.note ? `<p><small>${escapeHtml(cost.note)}. Prices: ${escapeHtml(cost.prices.source)}.</small></p>` : '';
  return `<details class="meta"><summary>${line}</summary><table class="cards"><thead><tr><th>item</th><th>quantity</th><th>USD</th></tr></thead><tbody>${rows}</tbody></table>${note}</details>`;
}
