/**
 * The checker's judgement, with the forge, the build output and the format operations replaced by
 * small in-memory doubles (the real ones have their own tests). What matters here: every way a
 * target can go wrong yields the right finding and never VERIFIED.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import { checkTarget } from '../../lambda/core/check-target';
import { ForgeError } from '../../lambda/core/errors';
import type { FormatOps } from '../../lambda/core/format-ops';
import { planTargets, type RunPlan } from '../../lambda/core/run/plan';
import type { BuildResult, Forge, Release } from '../../lambda/core/ports';
import { summarize } from '../../lambda/core/run/summary';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const COMMIT = 'c'.repeat(40);

function config(signature: unknown) {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.example.com', project: 'g/app' },
    targets: [
      {
        name: 'linux',
        image: `debian@sha256:${'a'.repeat(64)}`,
        command: 'make',
        artifacts: [{ path: 'out/app-{version}', asset: 'app-{version}', signature }],
      },
    ],
  });
}

const MINISIGN = { scheme: 'minisign', publicKey: 'RWQ' + 'A'.repeat(53) };

function planFor(cfg: ReturnType<typeof config>): RunPlan {
  const release: Release = { tag: 'v1.0.0', name: 'v1.0.0', commitSha: COMMIT, tagCommitSha: COMMIT, links: [] };
  const { version, targets } = planTargets(cfg, release);
  return {
    schemaVersion: 1,
    runId: 'r1',
    createdAt: new Date().toISOString(),
    project: { gitlabUrl: cfg.gitlab.url, project: cfg.gitlab.project },
    release,
    version,
    targets,
    findings: [],
  };
}

/** A forge serving `files` by name; a value that is an Error is thrown instead. */
function forgeOf(files: Record<string, string | Error>): Forge {
  return {
    async getRelease() {
      throw new Error('unused');
    },
    cloneUrl: () => 'file:///nowhere',
    async getHistory() {
      return { releases: [], tags: {}, complete: true };
    },
    async getProtections() {
      return { protectedTags: [], protectedBranches: [] };
    },
    async downloadAsset(req, dest) {
      const f = files[req.name];
      if (f === undefined) throw new ForgeError('not-found', `no asset named ${req.name}`);
      if (f instanceof Error) throw f;
      writeFileSync(dest, f);
      return { path: dest, sha256: sha(f), size: f.length, url: `https://gitlab.example.com/${req.name}` };
    },
  };
}

function buildOf(outputs: Record<string, string>, over: Partial<BuildResult> = {}): BuildResult {
  return {
    target: 'linux',
    buildId: 'b1',
    status: 'SUCCEEDED',
    image: { ref: 'debian@sha256:' + 'a'.repeat(64), enforced: true },
    checkedOutSha: COMMIT,
    artifacts: {
      async fetch(rel, dest) {
        const f = outputs[rel];
        if (f === undefined) return null;
        writeFileSync(dest, f);
        return { path: dest, sha256: sha(f), size: f.length };
      },
    },
    ...over,
    sandbox: over.sandbox ?? 'docker',
  };
}

/** Format doubles: signature validity by content of the signature file; comparison by digest. */
function formats(over: Partial<FormatOps> = {}): FormatOps {
  return {
    async verifySignature(input) {
      const { readFileSync } = await import('node:fs');
      const sig = input.signaturePath ? readFileSync(input.signaturePath, 'utf8') : '';
      if (sig === 'good') return { valid: true, scheme: input.policy.scheme, signer: 'KEY1' };
      if (sig === 'other-key') return { valid: false, scheme: input.policy.scheme, signer: 'KEY2', unpinnedSigner: true, reason: 'key id differs' };
      return { valid: false, scheme: input.policy.scheme, reason: 'signature does not verify' };
    },
    async compareArtifacts(_a, _b, ctx) {
      const match = ctx.publishedSha256 === ctx.rebuiltSha256;
      return { method: 'bytes', match, differences: match ? [] : [{ where: 'bytes', publishedRange: [0, 3], rebuiltRange: [0, 3] }] };
    },
    async checkManifestEntry(path, asset, digest) {
      const { readFileSync } = await import('node:fs');
      const lines = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+\*?/));
      const hits = lines.filter(([, n]) => n === asset);
      if (hits.length === 0) return { status: 'missing' };
      if (hits.length > 1) return { status: 'duplicate' };
      return hits[0]![0] === digest ? { status: 'ok', expected: digest } : { status: 'mismatch', expected: hits[0]![0] };
    },
    ...over,
  };
}

async function check(files: Record<string, string | Error>, build: BuildResult, sig: unknown = MINISIGN, ops = formats()) {
  const cfg = config(sig);
  const plan = planFor(cfg);
  const workDir = mkdtempSync(join(tmpdir(), 'ct-'));
  return checkTarget(plan, 'linux', build, { forge: forgeOf(files), workDir, limits: { maxBytes: 1 << 20, timeoutMs: 5000 }, formats: ops });
}

const codes = (r: Awaited<ReturnType<typeof check>>) => [...r.findings, ...r.artifacts.flatMap((a) => a.findings)].map((f) => f.code);

describe('checkTarget', () => {
  it('VERIFIED when the rebuild matches and the signature is valid, with both digests reported', async () => {
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({ 'out/app-1.0.0': 'BIN' }));
    expect(r.verdict).toBe('VERIFIED');
    expect(r.artifacts[0]).toMatchObject({
      verdict: 'VERIFIED',
      published: { sha256: sha('BIN') },
      rebuilt: { sha256: sha('BIN') },
      signature: { valid: true, signer: 'KEY1' },
    });
  });

  it('MISMATCH when the rebuild differs, with the difference as evidence', async () => {
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({ 'out/app-1.0.0': 'BIX' }));
    expect(r.verdict).toBe('MISMATCH');
    const f = r.artifacts[0]!.findings[0]!;
    expect(f).toMatchObject({ code: 'ARTIFACT_MISMATCH', level: 'MISMATCH', evidence: { published: sha('BIN'), rebuilt: sha('BIX') } });
  });

  it('TAMPERED for an invalid signature or an unpinned signer, even when the bytes match', async () => {
    expect((await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'bad' }, buildOf({ 'out/app-1.0.0': 'BIN' }))).verdict).toBe('TAMPERED');
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'other-key' }, buildOf({ 'out/app-1.0.0': 'BIN' }));
    expect(r.verdict).toBe('TAMPERED');
    expect(codes(r)).toContain('SIGNER_NOT_PINNED');
  });

  it('INCOMPLETE when the signature file is missing', async () => {
    const r = await check({ 'app-1.0.0': 'BIN' }, buildOf({ 'out/app-1.0.0': 'BIN' }));
    expect(r.verdict).toBe('INCOMPLETE');
    expect(codes(r)).toEqual(['SIGNATURE_MISSING']);
  });

  it('INCOMPLETE when the published asset is missing', async () => {
    const r = await check({}, buildOf({ 'out/app-1.0.0': 'BIN' }));
    expect(r.verdict).toBe('INCOMPLETE');
    expect(codes(r)).toContain('ASSET_MISSING');
  });

  it('INCOMPLETE when the build did not produce the artifact', async () => {
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({}));
    expect(r.verdict).toBe('INCOMPLETE');
    expect(codes(r)).toEqual(['ARTIFACT_MISSING']);
  });

  it('INCOMPLETE when the build failed — but still checks the signature, so tampering is reported', async () => {
    const failed = buildOf({ 'out/app-1.0.0': 'BIN' }, { status: 'FAILED', message: 'exit 2', logTail: 'error: boom' });
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, failed);
    expect(r.verdict).toBe('INCOMPLETE');
    expect(codes(r)).toEqual(['BUILD_FAILED', 'NOT_CHECKED']);
    expect(r.findings[0]!.evidence).toMatchObject({ logTail: 'error: boom' });
    const r2 = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'bad' }, failed);
    expect(r2.verdict).toBe('TAMPERED');
  });

  it('INCOMPLETE for a timed-out build and for a build that checked out another commit', async () => {
    expect(codes(await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({}, { status: 'TIMED_OUT' })))).toContain('BUILD_TIMED_OUT');
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({ 'out/app-1.0.0': 'BIN' }, { checkedOutSha: 'd'.repeat(40) }));
    expect(r.verdict).toBe('INCOMPLETE');
    expect(codes(r)).toContain('BUILD_WRONG_COMMIT');
  });

  it('INCOMPLETE when the comparer fails, never a match', async () => {
    const ops = formats({ compareArtifacts: async () => Promise.reject(new Error('disk on fire')) });
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({ 'out/app-1.0.0': 'BIN' }), MINISIGN, ops);
    expect(r.verdict).toBe('INCOMPLETE');
    expect(codes(r)).toEqual(['COMPARE_FAILED']);
  });

  it('INCOMPLETE when the signature verifier throws (could not check)', async () => {
    const ops = formats({ verifySignature: async () => Promise.reject(new Error('EIO')) });
    const r = await check({ 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' }, buildOf({ 'out/app-1.0.0': 'BIN' }), MINISIGN, ops);
    expect(codes(r)).toEqual(['SIGNATURE_UNCHECKED']);
    expect(r.verdict).toBe('INCOMPLETE');
  });

  it('TAMPERED when GitLab’s recorded digest disagrees with the bytes it serves', async () => {
    const err = new ForgeError('bad-response', 'file_sha256 differs');
    (err as { details?: Record<string, unknown> }).details!.code = 'FORGE_DIGEST_MISMATCH';
    const r = await check({ 'app-1.0.0': err }, buildOf({ 'out/app-1.0.0': 'BIN' }));
    expect(codes(r)).toContain('FORGE_DIGEST_MISMATCH');
    expect(r.verdict).toBe('TAMPERED');
  });

  it('reports a notice, not a failure, when the image was not enforced', async () => {
    const r = await check(
      { 'app-1.0.0': 'BIN', 'app-1.0.0.minisig': 'good' },
      buildOf({ 'out/app-1.0.0': 'BIN' }, { image: { ref: 'x', enforced: false, note: 'no docker' } }),
    );
    expect(r.verdict).toBe('VERIFIED');
    expect(r.findings[0]).toMatchObject({ code: 'IMAGE_NOT_ENFORCED', level: 'NOTICE' });
  });

  describe('SHA256SUMS manifests', () => {
    const policy = { scheme: 'sha256sums', manifestSignature: { ...MINISIGN, signatureAsset: 'SHA256SUMS.minisig' } };
    const manifest = (lines: string[]) => lines.join('\n') + '\n';
    it('VERIFIED when the signed manifest lists the asset with its digest', async () => {
      const r = await check(
        { 'app-1.0.0': 'BIN', SHA256SUMS: manifest([`${sha('BIN')}  app-1.0.0`]), 'SHA256SUMS.minisig': 'good' },
        buildOf({ 'out/app-1.0.0': 'BIN' }),
        policy,
      );
      expect(r.verdict).toBe('VERIFIED');
      expect(r.artifacts[0]!.signature).toMatchObject({ scheme: 'sha256sums+minisign', valid: true });
    });
    it.each([
      ['a different digest', [`${sha('OTHER')}  app-1.0.0`], 'MANIFEST_DIGEST_MISMATCH'],
      ['no line for the asset', [`${sha('BIN')}  something-else`], 'MANIFEST_ENTRY_MISSING'],
      ['two lines for the asset', [`${sha('BIN')}  app-1.0.0`, `${sha('BIN')}  app-1.0.0`], 'MANIFEST_ENTRY_DUPLICATE'],
    ])('TAMPERED when the manifest has %s', async (_n, lines, code) => {
      const r = await check({ 'app-1.0.0': 'BIN', SHA256SUMS: manifest(lines), 'SHA256SUMS.minisig': 'good' }, buildOf({ 'out/app-1.0.0': 'BIN' }), policy);
      expect(r.verdict).toBe('TAMPERED');
      expect(codes(r)).toContain(code);
    });
    it('TAMPERED when the manifest signature is invalid; INCOMPLETE when the manifest is missing', async () => {
      const bad = await check(
        { 'app-1.0.0': 'BIN', SHA256SUMS: manifest([`${sha('BIN')}  app-1.0.0`]), 'SHA256SUMS.minisig': 'bad' },
        buildOf({ 'out/app-1.0.0': 'BIN' }),
        policy,
      );
      expect(bad.verdict).toBe('TAMPERED');
      const missing = await check({ 'app-1.0.0': 'BIN' }, buildOf({ 'out/app-1.0.0': 'BIN' }), policy);
      expect(missing.verdict).toBe('INCOMPLETE');
      expect(codes(missing)).toContain('SIGNATURE_MISSING');
    });
  });
});

describe('summarize', () => {
  it('is INCOMPLETE when a planned target never reported', () => {
    const plan = planFor(config(MINISIGN));
    const report = summarize(plan, [], { mode: 'local', startedAt: new Date().toISOString() });
    expect(report.verdict).toBe('INCOMPLETE');
    expect(report.targets[0]!.findings[0]!.code).toBe('TARGET_NOT_REPORTED');
  });

  it('takes the worst target verdict and carries plan findings', () => {
    const plan = planFor(config(MINISIGN));
    plan.findings.push({ code: 'RELEASE_COMMIT_DIFFERS', level: 'TAMPERED', message: 'm' });
    const report = summarize(plan, [{ name: 'linux', verdict: 'VERIFIED', artifacts: [], findings: [] }], { mode: 'local', startedAt: '' });
    expect(report.verdict).toBe('TAMPERED');
  });
});
