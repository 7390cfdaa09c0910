/**
 * The README's monthly estimate is the price table's: the block between the cost-estimate markers
 * must be exactly `estimateMarkdown()` (regenerate with `npm run cost-estimate`), its figures add up,
 * and the README's pricing example is a valid configuration block.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../lambda/core/config/load';
import { estimateMarkdown, ESTIMATE_SCENARIO, monthlyEstimate } from '../../lambda/cli/cost-estimate';
import { DEFAULT_PRICES, priceTable } from '../../lambda/core/cost/prices';
import { REPO_ROOT } from '../../lib/paths';

const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Cost estimate'), readme.indexOf('### What the stack cannot do'));

describe('README cost estimate', () => {
  it('is exactly what the price table gives (npm run cost-estimate)', () => {
    const block = /<!-- cost-estimate:start[^>]*-->\n([\s\S]*?)\n<!-- cost-estimate:end -->/.exec(readme)?.[1];
    expect(block, 'README.md has no cost-estimate block').toBeDefined();
    expect(block).toBe(estimateMarkdown());
  });

  it('adds up: rows × prices, and a price change moves the README figure', () => {
    const { rows, totalUsd } = monthlyEstimate();
    expect(rows[0]!.usd).toBeCloseTo(ESTIMATE_SCENARIO.runsPerMonth * 3 * 20 * DEFAULT_PRICES.codebuildPerMinute['linux:BUILD_GENERAL1_MEDIUM']!, 9);
    expect(totalUsd).toBeCloseTo(
      rows.reduce((s, r) => s + r.usd, 0),
      3,
    );
    const dearer = estimateMarkdown(ESTIMATE_SCENARIO, priceTable({ codebuildPerMinute: { 'linux:BUILD_GENERAL1_MEDIUM': 0.02 } }));
    expect(dearer).not.toBe(estimateMarkdown());
    expect(dearer).toContain('| $5.20 |');
  });

  it("the README's pricing example is a valid configuration block", () => {
    const yaml = /```yaml\n(pricing:[\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const base = {
      version: 1,
      gitlab: { project: 'g/app' },
      targets: [
        {
          name: 'linux',
          image: `debian@sha256:${'d'.repeat(64)}`,
          command: 'make',
          artifacts: [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }],
        },
      ],
    };
    const config = parseConfig({ ...base, ...(parseYaml(yaml!) as object) });
    expect(priceTable(config.pricing).region).toBe('eu-west-1');
  });
});
