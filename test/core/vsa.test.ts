/**
 * The run's SLSA Verification Summary (https://slsa.dev/spec/v1.0/verification_summary): what each
 * field says for each verdict, the policy digest of the effective configuration, canonical bytes,
 * and the CLI run writing vsa.intoto.json (unsigned) next to its summary.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';
import { stableJson, statementSubjects } from '../../lambda/core/attestation';
import { parseConfig } from '../../lambda/core/config/load';
import type { RunReport } from '../../lambda/core/report';
import { renderHtml } from '../../lambda/core/render-html';
import { runVerification } from '../../lambda/core/run/in-process';
import { runKeys } from '../../lambda/core/run/summary';
import { oneAssetBuilder, oneAssetForge, oneReleaseOf } from '../support/one-asset-ports';
import { configurationDigest, policyRef, resourceUriOf, VERIFIER_ID, VSA_PREDICATE_TYPE, vsaBytes, vsaKeys, vsaStatement } from '../../lambda/core/vsa';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const A = 'a'.repeat(64);
const POLICY = { uri: 'file:///etc/rv.yaml', sha256: 'f'.repeat(64) };

function report(verdict: RunReport['verdict'], over: Partial<RunReport> = {}): RunReport {
  return {
    schemaVersion: 1,
    runId: '20260302T000000Z-abcdef',
    startedAt: '2026-03-02T03:00:00.000Z',
    finishedAt: '2026-03-02T03:20:00.000Z',
    verdict,
    project: { gitlabUrl: 'https://gitlab.example/', project: 'g/app' },
    release: { tag: 'v1.0.0+x', commitSha: 'c'.repeat(40) },
    mode: 'aws',
    findings: [],
    targets: [
      { name: 'linux', verdict, findings: [], artifacts: [{ path: 'a', asset: 'app.tar.gz', verdict, published: { sha256: A, size: 1 }, findings: [] }] },
      {
        name: 'win',
        verdict,
        findings: [],
        artifacts: [
          { path: 'a', asset: 'app.tar.gz', verdict, published: { sha256: A, size: 1 }, findings: [] },
          { path: 'b', asset: 'missing', verdict, findings: [] },
        ],
      },
    ],
    ...over,
  };
}

describe('VSA statement', () => {
  it('PASSED with SLSA_BUILD_LEVEL_0 only for VERIFIED; FAILED with ["FAILED"] for every other verdict', () => {
    for (const verdict of ['VERIFIED', 'INCOMPLETE', 'MISMATCH', 'TAMPERED'] as const) {
      const st = vsaStatement(report(verdict), POLICY) as { predicate: Record<string, unknown> };
      const passed = verdict === 'VERIFIED';
      expect(st, verdict).toEqual({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'app.tar.gz', digest: { sha256: A } }], // one per (name, digest); assets without a published digest are no subject
        predicateType: VSA_PREDICATE_TYPE,
        predicate: {
          verifier: { id: VERIFIER_ID },
          timeVerified: '2026-03-02T03:20:00.000Z',
          resourceUri: 'https://gitlab.example/g/app/-/releases/v1.0.0%2Bx',
          policy: { uri: 'file:///etc/rv.yaml', digest: { sha256: 'f'.repeat(64) } },
          verificationResult: passed ? 'PASSED' : 'FAILED',
          verifiedLevels: passed ? ['SLSA_BUILD_LEVEL_0'] : ['FAILED'],
          slsaVersion: '1.0',
        },
      });
      expect(st.predicate.inputAttestations).toBeUndefined();
    }
    expect(VSA_PREDICATE_TYPE).toBe('https://slsa.dev/verification_summary/v1');
  });

  it('resourceUri: the release web URL when known, else built from the project; the project without a release', () => {
    expect(resourceUriOf(report('VERIFIED', { release: { tag: 'v1', webUrl: 'https://gitlab.example/g/app/-/releases/v1' } }))).toBe(
      'https://gitlab.example/g/app/-/releases/v1',
    );
    expect(resourceUriOf(report('INCOMPLETE', { release: null }))).toBe('https://gitlab.example/g/app');
    expect(resourceUriOf(report('INCOMPLETE', { project: { gitlabUrl: 'https://gl.example', project: 42 }, release: { tag: 'v2' } }))).toBe(
      'https://gl.example/projects/42/-/releases/v2',
    );
  });

  it('the policy digest is the effective configuration in canonical JSON: key order does not matter, any value does', () => {
    const a = { version: 1, gitlab: { url: 'https://g', project: 'g/a' }, targets: [{ name: 'x' }] };
    const b = { targets: [{ name: 'x' }], gitlab: { project: 'g/a', url: 'https://g' }, version: 1 };
    expect(configurationDigest(a)).toBe(configurationDigest(b));
    expect(configurationDigest(a)).toBe(sha(stableJson(a)));
    expect(configurationDigest({ ...a, targets: [{ name: 'y' }] })).not.toBe(configurationDigest(a));
    expect(policyRef(a)).toEqual({ uri: `urn:release-verifier:configuration:sha256:${configurationDigest(a)}`, sha256: configurationDigest(a) });
    expect(policyRef(a, 'file:///x.yaml').uri).toBe('file:///x.yaml');
    expect(() => vsaStatement(report('VERIFIED'), { uri: 'x', sha256: 'nope' })).toThrow(/64 hex/);
  });

  it('the HTML report links the VSA record next to the run (signed in AWS, unsigned locally)', () => {
    expect(renderHtml(report('VERIFIED'))).toContain('href="vsa.dsse.json"');
    expect(renderHtml(report('VERIFIED', { mode: 'local' }))).toContain('href="vsa.intoto.json"');
  });

  it("bytes are canonical and share the detailed statement's subjects", () => {
    const r = report('VERIFIED');
    expect(vsaBytes(r, POLICY).toString('utf8')).toBe(stableJson(vsaStatement(r, POLICY)));
    expect(vsaBytes(r, POLICY).toString('utf8')).not.toMatch(/\s/);
    expect((vsaStatement(r, POLICY) as { subject: unknown }).subject).toEqual(statementSubjects(r));
  });
});

describe('CLI run: vsa.intoto.json', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const COMMIT = 'c'.repeat(40);
  const cfg = parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.example', project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: `debian@sha256:${'d'.repeat(64)}`,
        command: 'make',
        artifacts: [{ path: 'out/app-{version}', asset: 'app-{version}', signature: { scheme: 'none', reason: 'test' } }],
      },
    ],
  });
  const release = oneReleaseOf(COMMIT);
  const forge = (published: string) => oneAssetForge(release, published);
  const builder = oneAssetBuilder(COMMIT, 'the app 1.0.0\n');

  it('PASSED for a verified run, FAILED for a mismatch; the policy names the config file and its digest', async () => {
    const formats = (await import('../../lambda/formats/ops')).formatOps;
    for (const [published, result] of [
      ['the app 1.0.0\n', 'PASSED'],
      ['something else\n', 'FAILED'],
    ] as const) {
      const root = mkdtempSync(join(tmpdir(), 'relverify-vsa-'));
      dirs.push(root);
      const store = new DirectoryStore(root);
      const runId = '20260302T030000Z-abcdef';
      await runVerification(
        cfg,
        { forge: forge(published), builder, store, formats, notifier: { notify: async () => {} } },
        { runId, now: new Date('2026-03-02T03:00:00Z'), policyUri: 'file:///home/me/rv.yaml' },
      );
      const written = readFileSync(join(root, vsaKeys.statement(runId)));
      expect(join(root, vsaKeys.statement(runId))).toBe(join(root, 'runs', runId, 'vsa.intoto.json'));
      const summary = JSON.parse(readFileSync(join(root, runKeys.summary(runId)), 'utf8')) as RunReport;
      expect(written.equals(vsaBytes(summary, { uri: 'file:///home/me/rv.yaml', sha256: configurationDigest(cfg) }))).toBe(true);
      expect(JSON.parse(written.toString('utf8'))).toMatchObject({
        subject: [{ name: 'app-1.0.0', digest: { sha256: sha(published) } }],
        predicate: { verificationResult: result },
      });
    }
  });
});
