/**
 * `npm run demo`: the offline end-to-end demo. Exits 0 only when every scenario ends as expected.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allFindings } from '../lambda/core/report';
import { type DemoScenario, setupDemo, type VerifyOutcome } from './demo-scenario';

const root = fileURLToPath(new URL('..', import.meta.url));
const workspace = join(root, '.demo');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

/** One scenario's outcome next to what it should be. */
interface ScenarioResult {
  scenario: string;
  expected: string;
  got: string;
  exit: number;
  expectedExit: number;
}

/** The problems the audit must list at the demo's release commit (the files REPO_HYGIENE_FILES plants). */
const EXPECTED_AUDIT = [
  'Dockerfile:4 HYGIENE_IMAGE_NOT_PINNED',
  'Dockerfile:5 HYGIENE_APT_SOURCE',
  'Dockerfile:9 HYGIENE_TOOL_NOT_PINNED',
  'Dockerfile:10 HYGIENE_REMOTE_SCRIPT',
  'Dockerfile:11 HYGIENE_UNVERIFIED_DOWNLOAD',
  '.gitlab-ci.yml:4 HYGIENE_CI_INCLUDE_NOT_PINNED',
  '.gitlab-ci.yml:18 HYGIENE_CI_PUBLISHES_RELEASE',
  '.gitlab-ci.yml:19 HYGIENE_CI_PUBLISHES_RELEASE',
  'Dockerfile:18 HYGIENE_IMAGE_NOT_PINNED',
  'ci/setup-cross.sh:4 HYGIENE_TOOL_NOT_PINNED',
  'rust-toolchain.toml:2 HYGIENE_TOOLCHAIN_NOT_PINNED',
  'desktop/package.json:6 HYGIENE_GIT_DEP_NOT_PINNED',
];

function banner(s: string) {
  console.log(`\n${bold('━━━ ' + s + ' ' + '━'.repeat(Math.max(0, 70 - s.length)))}`);
}

function show(o: VerifyOutcome, store: string) {
  const r = o.report;
  console.log(`verdict ${bold(r.verdict)} (exit ${o.exitCode}) — release ${r.release?.tag} @ ${r.release?.commitSha}`);
  for (const t of r.targets) {
    for (const a of t.artifacts) {
      console.log(`  ${t.name.padEnd(10)} ${a.asset}: ${a.verdict}`);
      console.log(`    published ${a.published?.sha256 ?? '—'}`);
      console.log(`    rebuilt   ${a.rebuilt?.sha256 ?? '—'}`);
      if (a.comparison) console.log(`    compare   ${a.comparison.method}: ${a.comparison.match ? 'match' : 'DIFFERS'}`);
      // a manifest line that does not match is not an invalid signature: the manifest's signature held
      const line = a.findings.find((f) => f.code.startsWith('MANIFEST_'));
      if (a.signature)
        console.log(
          `    signature ${a.signature.scheme}: ${a.signature.valid ? 'valid' : line ? `manifest signature valid, but ${line.code}` : 'INVALID'}${a.signature.signer ? ` (${a.signature.signer})` : ''}`,
        );
    }
  }
  for (const f of allFindings(r).filter((x) => x.level !== 'NOTICE')) console.log(`  → ${f.level} ${f.code}: ${f.message}`);
  const c = r.audit?.changes;
  if (c?.previousRunId) {
    for (const e of c.appeared) console.log(`  audit: [WARNING] new since ${c.previousRunId}: ${e.code}: ${e.message}`);
    for (const e of c.disappeared) console.log(`  audit: gone since ${c.previousRunId}: ${e.code}: ${e.message}`);
    console.log(`  audit: unchanged since ${c.previousRunId}: ${c.unchanged} weakness(es)`);
  }
  console.log(`  report: ${relative(process.cwd(), join(store, 'runs', r.runId, 'summary.json'))} (+ report.html)`);
}

/** The four scenarios (and the audit check on the first), in order; each pushes its outcome to `results`. */
async function runScenarios(demo: DemoScenario, results: ScenarioResult[]): Promise<void> {
  // Scenarios 1, 2 and 4 each start from an empty store: what a first look at such a release reports.
  const stores = { first: join(workspace, 'store-1'), second: join(workspace, 'store-2'), third: join(workspace, 'store-3') };
  banner('1. The genuine release');
  const genuine = await demo.verify({ echo: true, store: stores.first });
  show(genuine, stores.first);
  results.push({ scenario: 'genuine release', expected: 'VERIFIED', got: genuine.report.verdict, exit: genuine.exitCode, expectedExit: 0 });

  banner('1b. The same run: the repository at the release commit and the forge (audit, advisory)');
  const audit = genuine.report.audit;
  for (const h of audit?.hygiene.findings ?? [])
    console.log(`  ${`${h.file}:${h.line}`.padEnd(24)} ${h.code}\n  ${''.padEnd(24)} ${h.text}\n  ${''.padEnd(24)} fix: ${h.fix}`);
  for (const f of genuine.report.findings.filter((x) => x.code.startsWith('AUDIT_'))) console.log(`  forge${''.padEnd(19)} ${f.code}: ${f.message}`);
  const seen = new Set((audit?.hygiene.findings ?? []).map((h) => `${h.file}:${h.line} ${h.code}`));
  const missing = EXPECTED_AUDIT.filter((e) => !seen.has(e));
  results.push({
    scenario: 'audit lists the commit problems',
    expected: 'VERIFIED',
    got: missing.length ? `${genuine.report.verdict} (missing ${missing.join(', ')})` : genuine.report.verdict,
    exit: genuine.exitCode,
    expectedExit: 0,
  });

  banner('2. The Linux asset swapped for a build of modified source, signed with the maintainer key');
  demo.publishBackdooredLinuxBuild();
  const swapped = await demo.verify({ echo: true, store: stores.second });
  show(swapped, stores.second);
  results.push({ scenario: 'asset from modified source', expected: 'MISMATCH', got: swapped.report.verdict, exit: swapped.exitCode, expectedExit: 1 });

  banner('3. The same swap, seen by a verifier that checked the release before (its ledger); meanwhile a deploy key got push access');
  demo.grantDeployKeyPush();
  const again = await demo.verify({ echo: false, store: stores.first });
  show(again, stores.first);
  const changed = allFindings(again.report).some((f) => f.code === 'PAST_ASSET_CHANGED');
  // the audit compares with the first run in this store: the deploy key's push access is new
  const newKey = again.report.audit?.changes.appeared.some((e) => e.code === 'AUDIT_DEPLOY_KEY_CAN_PUSH') ?? false;
  results.push({
    scenario: 'asset changed since last run',
    expected: 'TAMPERED',
    got: !changed
      ? `${again.report.verdict} (no PAST_ASSET_CHANGED)`
      : !newKey
        ? `${again.report.verdict} (no new AUDIT_DEPLOY_KEY_CAN_PUSH)`
        : again.report.verdict,
    exit: again.exitCode,
    expectedExit: 1,
  });

  banner('4. The web bundle swapped without updating the signed SHA256SUMS');
  demo.restoreLinux();
  demo.swapWebBundleBehindManifest();
  const tampered = await demo.verify({ echo: true, store: stores.third });
  show(tampered, stores.third);
  results.push({ scenario: 'asset not in signed manifest', expected: 'TAMPERED', got: tampered.report.verdict, exit: tampered.exitCode, expectedExit: 1 });
}

/** Prints each scenario's outcome and the reports' places; true when every scenario and every store's run history is as expected. */
function printSummary(results: ScenarioResult[]): boolean {
  banner('Summary');
  let ok = true;
  for (const r of results) {
    const pass = r.got === r.expected && r.exit === r.expectedExit;
    ok &&= pass;
    console.log(
      `  ${pass ? 'as expected' : 'UNEXPECTED '}  ${r.scenario.padEnd(30)} expected ${r.expected} (exit ${r.expectedExit}), got ${r.got} (exit ${r.exit})`,
    );
  }
  console.log(`\nReports (JSON + HTML): ${relative(process.cwd(), workspace)}/store-*/runs/`);
  // the run history each store keeps (runs/index.html + index.json); store-1 saw two runs of the release
  const histories = ['store-1', 'store-2', 'store-3'].map((s) => join(workspace, s, 'runs', 'index.html')).filter((p) => existsSync(p));
  for (const h of histories) console.log(`Run history: ${relative(process.cwd(), h)}`);
  if (histories.length < 3) ok = false;
  return ok;
}

async function main(): Promise<number> {
  rmSync(workspace, { recursive: true, force: true });
  banner('Setting up: demo app, signed release on a GitLab stand-in (127.0.0.1)');
  const demo = await setupDemo(workspace);
  console.log(`GitLab stand-in: ${demo.gitlab.url}  project demo/mealplanner  release ${demo.repo.tag} @ ${demo.repo.commitSha}`);
  console.log(`configuration:   ${relative(process.cwd(), demo.configPath)}`);
  const results: ScenarioResult[] = [];
  try {
    await runScenarios(demo, results);
  } finally {
    await demo.close();
  }

  return printSummary(results) && results.length === 5 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`demo failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
