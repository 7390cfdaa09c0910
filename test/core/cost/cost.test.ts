/**
 * A run's cost from its records: CodeBuild minutes as CodeBuild bills them (BatchGetBuilds record:
 * submission to end, rounded up to the minute) by OS and compute type, nothing per build on a
 * reserved fleet, the checker's GB-seconds and request; unpriced items make the total a lower
 * bound (never a silent zero); the configuration's pricing overrides the table; local runs are 0.
 */
import type { Build } from '@aws-sdk/client-codebuild';
import { describe, expect, it } from 'vitest';
import { billingOf } from '../../../lambda/adapters/builder/codebuild-results';
import { parseConfig } from '../../../lambda/core/config/load';
import { DEFAULT_PRICES, priceTable } from '../../../lambda/core/cost/prices';
import { billedMinutes, gbSeconds, runCost } from '../../../lambda/core/cost/run-cost';
import type { BuildBilling, LambdaUsage } from '../../../lambda/core/cost/types';
import type { RunReport, TargetReport } from '../../../lambda/core/report';
import { alertFor } from '../../../lambda/core/alert';
import { costHtml } from '../../../lambda/core/cost/html';
import { renderHtml } from '../../../lambda/core/render-html';

function target(name: string, billing?: BuildBilling, lambda?: LambdaUsage): TargetReport {
  return {
    name,
    verdict: 'VERIFIED',
    artifacts: [],
    findings: [],
    build: { id: `${name}:1`, status: 'SUCCEEDED', image: 'x', imageEnforced: true, billing },
    lambda,
  };
}

describe('cost', () => {
  it('CodeBuild minutes: submission to end, rounded up to the minute (at least one); Lambda GB-seconds in 1 ms steps', () => {
    expect(billedMinutes(0, 60_000)).toBe(1);
    expect(billedMinutes(0, 60_001)).toBe(2);
    expect(billedMinutes(0, 0)).toBe(1);
    expect(gbSeconds(1000, 1024)).toBe(1);
    expect(gbSeconds(1500.2, 2048)).toBeCloseTo(3.002, 9);
  });

  it('billingOf reads the build record: environment type, compute type, fleet, billed minutes', () => {
    const build: Build = {
      id: 'p:1',
      startTime: new Date('2026-03-02T03:00:00Z'),
      endTime: new Date('2026-03-02T03:19:00.500Z'),
      environment: { type: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_MEDIUM', image: 'i' },
    };
    expect(billingOf(build)).toEqual({ environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_MEDIUM', fleetArn: undefined, billedMinutes: 20 });
    const fleet: Build = {
      ...build,
      environment: { type: 'MAC_ARM', computeType: 'BUILD_GENERAL1_MEDIUM', image: 'i', fleet: { fleetArn: 'arn:aws:codebuild:us-east-1:1:fleet/mac:1' } },
    };
    expect(billingOf(fleet).fleetArn).toBe('arn:aws:codebuild:us-east-1:1:fleet/mac:1');
    expect(billingOf({ id: 'p:2' }).billedMinutes).toBeUndefined();
  });

  it('prices every item from the table; a fleet build costs nothing per build; an unknown type is unpriced and the total a lower bound', () => {
    const cost = runCost(
      [
        target(
          'linux',
          { environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_MEDIUM', billedMinutes: 20 },
          { function: 'checker', durationMs: 90_000, memoryMb: 2048, architecture: 'arm64' },
        ),
        target('windows', { environmentType: 'WINDOWS_SERVER_2022_CONTAINER', computeType: 'BUILD_GENERAL1_LARGE', billedMinutes: 3 }),
        target('macos', { environmentType: 'MAC_ARM', computeType: 'BUILD_GENERAL1_MEDIUM', fleetArn: 'arn:fleet', billedMinutes: 30 }),
      ],
      'aws',
    );
    const usd = cost.items.map((i) => [i.target, i.kind, i.unit, i.usd]);
    expect(usd).toEqual([
      ['linux', 'codebuild', 'build-minute', 0.2],
      ['linux', 'lambda', 'GB-second', Number((180 * 0.0000133334).toPrecision(4))],
      ['linux', 'lambda', 'request', 0.0000002],
      ['windows', 'codebuild', 'build-minute', 0.12],
      ['macos', 'codebuild', 'build-minute', 0],
    ]);
    expect(cost.items.at(-1)!.note).toMatch(/reserved fleet is billed while it exists/);
    expect(cost).toMatchObject({ currency: 'USD', complete: true, totalUsd: 0.3224, prices: { region: 'us-east-1', readOn: DEFAULT_PRICES.readOn } });

    const arm = runCost(
      [
        target('arm', { environmentType: 'ARM_CONTAINER', computeType: 'BUILD_GENERAL1_SMALL', billedMinutes: 5 }),
        target('linux', { environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_SMALL', billedMinutes: 5 }),
      ],
      'aws',
    );
    expect(arm.items[0]).toMatchObject({ usd: null, unitPriceUsd: null, note: expect.stringMatching(/no price for arm:BUILD_GENERAL1_SMALL/) });
    expect(arm).toMatchObject({ complete: false, totalUsd: 0.025, note: expect.stringMatching(/lower bound/) });

    // a build without billing facts (written by an older checker) is not a zero either
    const old = runCost([{ ...target('x'), build: { id: 'x:1', status: 'SUCCEEDED', image: 'i', imageEnforced: true } }], 'aws');
    expect(old).toMatchObject({ complete: false, totalUsd: 0, note: expect.stringMatching(/no billing record for the build\(s\) of x/) });
    const noTimes = runCost([target('y', { environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_SMALL' })], 'aws');
    expect(noTimes).toMatchObject({ complete: false, items: [{ usd: null, note: expect.stringMatching(/no start or end time/) }] });
  });

  it("the configuration's pricing block overrides the table (and is validated)", () => {
    const base = {
      version: 1,
      gitlab: { url: 'https://gitlab.example', project: 'g/app' },
      targets: [
        {
          name: 'linux',
          image: `debian@sha256:${'d'.repeat(64)}`,
          command: 'make',
          artifacts: [{ path: 'a', asset: 'a', signature: { scheme: 'none', reason: 'test' } }],
        },
      ],
    };
    const config = parseConfig({
      ...base,
      pricing: {
        region: 'eu-west-1',
        readOn: '2026-11-30',
        codebuildPerMinute: { 'arm:BUILD_GENERAL1_SMALL': 0.004, 'linux:BUILD_GENERAL1_SMALL': 0.006 },
        lambdaPerGbSecond: { arm64: 0.00002 },
      },
    });
    const prices = priceTable(config.pricing);
    expect(prices.codebuildPerMinute['linux:BUILD_GENERAL1_MEDIUM']).toBe(DEFAULT_PRICES.codebuildPerMinute['linux:BUILD_GENERAL1_MEDIUM']);
    const cost = runCost(
      [
        target(
          'arm',
          { environmentType: 'ARM_CONTAINER', computeType: 'BUILD_GENERAL1_SMALL', billedMinutes: 5 },
          { function: 'checker', durationMs: 1000, memoryMb: 1024, architecture: 'arm64' },
        ),
        target('linux', { environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_SMALL', billedMinutes: 5 }),
      ],
      'aws',
      prices,
    );
    expect(cost).toMatchObject({
      complete: true,
      totalUsd: 0.05,
      prices: { region: 'eu-west-1', readOn: '2026-11-30', source: expect.stringMatching(/pricing block/) },
    });
    expect(cost.items[1]).toMatchObject({ usd: 0.00002 });
    expect(priceTable(undefined)).toBe(DEFAULT_PRICES);
    expect(() => parseConfig({ ...base, pricing: { codebuildPerMinute: { BUILD_GENERAL1_SMALL: 1 } } })).toThrow(
      /pricing.codebuildPerMinute.BUILD_GENERAL1_SMALL/,
    );
    expect(() => parseConfig({ ...base, pricing: { lambdaPerRequest: -1 } })).toThrow();
    expect(() => parseConfig({ ...base, pricing: { colour: 'red' } })).toThrow();
  });

  it('a local run costs nothing in AWS and says so; its items are absent', () => {
    const cost = runCost([target('linux', { environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_MEDIUM', billedMinutes: 20 })], 'local');
    expect(cost).toMatchObject({ totalUsd: 0, complete: true, items: [], note: expect.stringMatching(/^local run: .*nothing was billed by AWS/) });
  });
});

describe('cost in the HTML report and the alert', () => {
  const targets = [
    target(
      'linux',
      { environmentType: 'LINUX_CONTAINER', computeType: 'BUILD_GENERAL1_MEDIUM', billedMinutes: 20 },
      { function: 'checker', durationMs: 90_000, memoryMb: 2048, architecture: 'arm64' },
    ),
    target('odd<b>', { environmentType: 'ARM_CONTAINER', computeType: 'BUILD_GENERAL1_SMALL', billedMinutes: 2 }),
  ];
  const report: RunReport = {
    schemaVersion: 1,
    runId: '20260302T000000Z-abcdef',
    startedAt: '2026-03-02T03:00:00.000Z',
    finishedAt: '2026-03-02T03:20:00.000Z',
    verdict: 'VERIFIED',
    project: { gitlabUrl: 'https://gitlab.example', project: 'g/app' },
    release: { tag: 'v1' },
    mode: 'aws',
    findings: [],
    targets,
    cost: runCost(targets, 'aws'),
  };

  it('the report shows the total and each item (escaped), the alert one line; a lower bound says so', () => {
    const html = renderHtml(report);
    expect(html).toContain('<span class="label">Cost:</span> at least $0.20 estimated: 2 build(s) and the checker, us-east-1 prices read');
    expect(html).toContain('linux: CodeBuild BUILD_GENERAL1_MEDIUM LINUX_CONTAINER, 20 min');
    expect(html).toContain('odd&lt;b&gt;: CodeBuild');
    expect(html).not.toContain('odd<b>');
    expect(html).toContain('not priced');
    expect(alertFor(report).body).toMatch(/^Cost: {5}at least \$0\.20 estimated: .* some items could not be priced$/m);
    const local = { ...report, mode: 'local' as const, cost: runCost(targets, 'local') };
    expect(costHtml(local.cost)).toBe(
      '<p class="meta"><span class="label">Cost:</span> $0 (local run: the builds ran on this machine and nothing was billed by AWS; no items are priced)</p>',
    );
    expect(alertFor(local).body).toContain('Cost:     $0 (local run:');
    // older summaries without a cost: no line at all
    expect(alertFor({ ...report, cost: undefined }).body).not.toContain('Cost:');
  });
});
