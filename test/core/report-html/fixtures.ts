/**
 * Run reports for the HTML tests (unit and browser): VERIFIED, MISMATCH (real comparisons of files
 * built at test time: a tar.gz whose text member differs, and an ELF built by cc from two sources
 * that differ in a constant), TAMPERED (a history change found by the ledger, and a manifest line
 * that does not match) and INCOMPLETE (a failed build). Verdicts come from the project's own
 * functions (verdictOf, summarize, assetChangeFindings), never typed in.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finding, verdictOf, type Finding } from '../../../lambda/core/findings';
import type { Ledger } from '../../../lambda/core/ledger';
import type { RunPlan } from '../../../lambda/core/run/plan';
import type { ArtifactReport, ComparisonReport, RunReport, TargetReport } from '../../../lambda/core/report';
import { summarize } from '../../../lambda/core/run/summary';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import { run } from '../../support/tools';

export const PROJECT = { gitlabUrl: 'https://gitlab.example.com', project: 'acme/app' };
export const RUN_IDS = {
  first: '20261124T060000Z-0a1b2c',
  verified: '20261201T060000Z-1a2b3c',
  mismatch: '20261201T070000Z-2b3c4d',
  tampered: '20261201T080000Z-3c4d5e',
  incomplete: '20261201T090000Z-4d5e6f',
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const COMMIT = 'c0ffee'.padEnd(40, '1');

function release(tag = 'v1.2.0') {
  return { tag, name: `App ${tag}`, commitSha: COMMIT, releasedAt: '2026-11-24T05:00:00Z', webUrl: `https://gitlab.example.com/acme/app/-/releases/${tag}` };
}

/** A minimal plan for summarize(): the targets planned and the run-level findings. */
function plan(runId: string, targets: string[], findings: Finding[] = []): RunPlan {
  return {
    runId,
    project: PROJECT,
    release: { ...release(), tagCommitSha: COMMIT, links: [] },
    targets: targets.map((name) => ({ name })),
    findings,
  } as unknown as RunPlan;
}

const meta = (startedAt: string) => ({ mode: 'local' as const, startedAt, finishedAt: startedAt.replace(/:00Z$/, ':42Z') });

function verifiedArtifact(asset: string, bytes: string, signer = 'RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3'): ArtifactReport {
  const digest = { sha256: sha(bytes), size: bytes.length };
  return {
    path: `dist/${asset}`,
    asset,
    published: { ...digest, url: `https://gitlab.example.com/acme/app/-/releases/v1.2.0/downloads/${asset}` },
    rebuilt: digest,
    comparison: { method: 'bytes', match: true, differences: [] },
    signature: { scheme: 'minisign', valid: true, signer, signatureAsset: `${asset}.minisig` },
    findings: [],
    verdict: verdictOf([], true),
  };
}

function target(name: string, artifacts: ArtifactReport[], findings: Finding[] = [], build: Partial<TargetReport['build']> = {}): TargetReport {
  const all = [...findings, ...artifacts.flatMap((a) => a.findings)];
  return {
    name,
    verdict: verdictOf(all, artifacts.length > 0 && artifacts.every((a) => a.verdict === 'VERIFIED') && !findings.some((f) => f.level !== 'NOTICE')),
    build: {
      id: `local:${name}`,
      status: 'SUCCEEDED',
      durationMs: 81_000,
      image: `registry.example.com/build@sha256:${sha('image')}`,
      imageEnforced: true,
      logLink: `https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/build-${name}`,
      ...build,
    },
    artifacts,
    findings,
  };
}

export function verifiedReport(): RunReport {
  const linux = target('linux', [verifiedArtifact('app-linux-x86_64.tar.gz', 'linux build'), verifiedArtifact('app-linux-aarch64.tar.gz', 'arm build')]);
  const windows = target('windows', [verifiedArtifact('app-setup.exe', 'windows build')]);
  return summarize(
    plan(RUN_IDS.verified, ['linux', 'windows'], [finding('AUDIT_TAG_UNPROTECTED', 'release tag v1.2.0 matches no protected-tag rule')]),
    [linux, windows],
    meta('2026-12-01T06:00:00Z'),
  );
}

/** Files that differ for real, compared by the project's comparers. */
export async function mismatchComparisons(
  dir: string,
): Promise<{ archive: ComparisonReport; elf: ComparisonReport; digests: Record<string, { sha256: string; size: number }> }> {
  for (const side of ['published', 'rebuilt']) {
    const root = join(dir, side, 'tree');
    mkdirSync(join(root, 'etc'), { recursive: true });
    const conf = [
      '# app configuration',
      'listen = 127.0.0.1:8080',
      side === 'published' ? 'update_url = https://updates.evil.example/app' : 'update_url = https://updates.example.com/app',
      'log_level = info',
      '',
    ].join('\n');
    writeFileSync(join(root, 'etc', 'app.conf'), conf);
    writeFileSync(join(root, 'README'), 'same in both\n');
    run(
      'tar',
      ['--sort=name', '--mtime=2026-11-24 00:00:00Z', '--owner=0', '--group=0', '--numeric-owner', '-czf', join(dir, side, 'app.tar.gz'), '-C', root, '.'],
      { env: { ...process.env, GZIP: '-n' } },
    );
    const src = join(dir, side, 'main.c');
    writeFileSync(
      src,
      `#include <stdio.h>\nstatic const char key[] = "${side === 'published' ? 'BACKDOOR-KEY-0123456789abcdef' : 'release-key-fedcba9876543210'}";\nint main(void) { puts(key); return 0; }\n`,
    );
    run('cc', ['-O0', '-o', join(dir, side, 'app'), src]);
  }
  const archive = await compareArtifacts(join(dir, 'published', 'app.tar.gz'), join(dir, 'rebuilt', 'app.tar.gz'));
  const elf = await compareArtifacts(join(dir, 'published', 'app'), join(dir, 'rebuilt', 'app'));
  const d = (c: ComparisonReport, k: 'published' | 'rebuilt') => (c.details as Record<string, { sha256: string; size: number }>)[k]!;
  return { archive, elf, digests: { archiveP: d(archive, 'published'), archiveR: d(archive, 'rebuilt'), elfP: d(elf, 'published'), elfR: d(elf, 'rebuilt') } };
}

export async function mismatchReport(dir: string): Promise<RunReport> {
  const { archive, elf, digests } = await mismatchComparisons(dir);
  const artifact = (asset: string, c: ComparisonReport, p: { sha256: string; size: number }, r: { sha256: string; size: number }): ArtifactReport => {
    const findings = [
      finding('ARTIFACT_MISMATCH', `${asset} differs from the rebuild of dist/${asset} (${c.method}) — first difference: ${c.differences[0]?.where}`, {
        target: 'linux',
        artifact: asset,
        evidence: { method: c.method, published: p.sha256, rebuilt: r.sha256, differences: c.differences.slice(0, 10) },
      }),
      finding(
        'DIFFOSCOPE_REPORT',
        `diff report for ${asset}: s3://results/diff/${asset}/report.html (console: https://eu-west-1.console.aws.amazon.com/s3/object/results?region=eu-west-1&prefix=diff%2F${asset}%2Freport.html)`,
        {
          target: 'linux',
          artifact: asset,
          evidence: {
            report: `s3://results/diff/${asset}/report.html (console: https://eu-west-1.console.aws.amazon.com/s3/object/results?region=eu-west-1&prefix=diff%2F${asset}%2Freport.html; text: s3://results/diff/${asset}/report.txt)`,
          },
        },
      ),
    ];
    return {
      path: `dist/${asset}`,
      asset,
      published: p,
      rebuilt: r,
      comparison: c,
      signature: { scheme: 'minisign', valid: true, signer: 'RWQf6LRCGA9i53ml', signatureAsset: `${asset}.minisig` },
      findings,
      verdict: verdictOf(findings, c.match),
    };
  };
  const linux = target('linux', [artifact('app.tar.gz', archive, digests.archiveP!, digests.archiveR!), artifact('app', elf, digests.elfP!, digests.elfR!)]);
  return summarize(plan(RUN_IDS.mismatch, ['linux']), [linux], meta('2026-12-01T07:00:00Z'));
}

/** TAMPERED by history: the asset's bytes changed since the first run (the ledger), and a manifest line does not match. */
export function tamperedReport(): RunReport {
  const original = sha('original bytes');
  const app = verifiedArtifact('app-linux-x86_64.tar.gz', 'changed bytes!');
  // the rebuild matches the NEW bytes: only the ledger knows they changed
  const listed = sha('what the manifest lists');
  const cli: ArtifactReport = {
    path: 'dist/cli',
    asset: 'cli-linux',
    published: { sha256: sha('cli bytes'), size: 9 },
    rebuilt: { sha256: sha('cli bytes'), size: 9 },
    comparison: { method: 'bytes', match: true, differences: [] },
    signature: {
      scheme: 'sha256sums+minisign',
      valid: false,
      signer: 'RWQf6LRCGA9i53ml',
      signatureAsset: 'SHA256SUMS',
      reason: 'cli-linux does not match its line in the signed SHA256SUMS',
    },
    findings: [
      finding('MANIFEST_DIGEST_MISMATCH', 'cli-linux does not match its line in the signed SHA256SUMS', {
        target: 'linux',
        artifact: 'cli-linux',
        evidence: { manifest: 'SHA256SUMS', published: sha('cli bytes'), listed },
      }),
    ],
    verdict: 'INCOMPLETE',
  };
  cli.verdict = verdictOf(cli.findings, false);
  const ledger: Ledger = {
    schemaVersion: 1,
    project: 'acme/app',
    updatedAt: '2026-11-24T06:00:42Z',
    updatedByRunId: RUN_IDS.first,
    releases: {
      'v1.2.0': {
        tagCommitSha: COMMIT,
        releaseCommitSha: COMMIT,
        links: {},
        assets: { 'app-linux-x86_64.tar.gz': { sha256: original, firstSeenRunId: RUN_IDS.first, firstSeenAt: '2026-11-24T06:00:42Z' } },
        firstSeenRunId: RUN_IDS.first,
        firstSeenAt: '2026-11-24T06:00:42Z',
      },
    },
  };
  const linux = target('linux', [app, cli]);
  return summarize(plan(RUN_IDS.tampered, ['linux']), [linux], meta('2026-12-01T08:00:00Z'), ledger);
}

export function incompleteReport(): RunReport {
  const failed = finding('BUILD_FAILED', 'build of macos failed: exit status 2 in phase BUILD', {
    target: 'macos',
    evidence: {
      buildId: 'rv-macos:5e1f',
      status: 'FAILED',
      log: 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/rv-macos',
      logTail: 'error: linker command failed with exit code 1\nmake: *** [app] Error 2',
    },
  });
  const notChecked: ArtifactReport = {
    path: 'dist/App.dmg',
    asset: 'App.dmg',
    findings: [finding('NOT_CHECKED', 'App.dmg was not compared with a rebuild: the build did not succeed', { target: 'macos', artifact: 'App.dmg' })],
    verdict: 'INCOMPLETE',
    published: { sha256: sha('dmg'), size: 3 },
    signature: { scheme: 'apple', valid: true, signer: 'Developer ID Application: Acme (ABCDE12345)' },
  };
  const macos = target('macos', [notChecked], [failed], { status: 'FAILED' });
  const linux = target('linux', [verifiedArtifact('app-linux-x86_64.tar.gz', 'linux build')]);
  return summarize(plan(RUN_IDS.incomplete, ['linux', 'macos', 'windows']), [linux, macos], meta('2026-12-01T09:00:00Z'));
}
