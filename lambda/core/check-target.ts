/**
 * The checker: judges one target's build against the plan. Runs outside the build — it fetches the
 * published asset and the rebuilt artifact itself, digests and compares them itself, and verifies
 * signatures against the pinned keys itself. Nothing the build wrote (digests, logs, verdicts) is
 * believed. Shared by the CLI and the checker Lambda.
 */
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { errorMessage, ForgeError, VerifierError } from './errors';
import { finding, verdictOf, type Finding } from './findings';
import type { AssetSource, DirectSignaturePolicy } from './config/schema';
import { CURATED_MACOS_IMAGE } from './config/schema';
import type { PlannedArtifact, RunPlan } from './run/plan';
import type { BuildResult, DownloadLimits, DownloadedFile, Forge } from './ports';
import type { ArtifactReport, ComparisonReport, SignatureReport, TargetReport } from './report';
import type { FormatOps } from './format-ops';
import { MANIFEST_DOWNLOAD_LIMIT } from './companion-limits';
import { companionSource } from './asset-sources/registry';
import { companionOf } from '../formats/schemes/registry';
import type { ComputedDigest } from '../formats/digest';
import type { SignatureInput } from '../formats/types';

export interface CheckDeps {
  forge: Forge;
  /** scratch directory for downloads; one sub-directory per target is created and removed */
  workDir: string;
  limits: DownloadLimits;
  formats: FormatOps;
  /** keep downloaded files after the check (CLI --keep); default false */
  keepFiles?: boolean;
  /**
   * Called on a mismatch with both files, to attach a deeper explanation (diffoscope locally, a diff
   * job in AWS). Returns a location to report, or undefined. Its failure never changes the verdict.
   */
  explainMismatch?: (publishedPath: string, rebuiltPath: string, context: { target: string; asset: string }) => Promise<string | undefined>;
  now?: Date;
}

/** Maps a forge failure while fetching `what` to the finding that describes it. */
export function findingForDownloadError(err: unknown, what: string, ctx: { target?: string; artifact?: string }): Finding {
  if (err instanceof ForgeError) {
    const evidence = { url: err.url, status: err.status, error: err.userMessage, ...(err.details ?? {}) };
    if (err.details?.code === 'FORGE_DIGEST_MISMATCH')
      return finding('FORGE_DIGEST_MISMATCH', `${what}: GitLab's recorded digest does not match the bytes it serves`, { ...ctx, evidence });
    switch (err.kind) {
      case 'not-found':
        return finding('ASSET_MISSING', `${what} is not published: ${err.userMessage}`, { ...ctx, evidence });
      case 'too-large':
        return finding('DOWNLOAD_TOO_LARGE', `${what} exceeds the download size limit: ${err.userMessage}`, { ...ctx, evidence });
      case 'refused-host':
        return finding('DOWNLOAD_REFUSED', `${what} was refused: ${err.userMessage}`, { ...ctx, evidence });
      case 'unreachable':
      case 'timeout':
        return finding('FORGE_UNREACHABLE', `${what} could not be fetched: ${err.userMessage}`, { ...ctx, evidence });
      default:
        return finding('DOWNLOAD_FAILED', `${what} could not be fetched: ${err.userMessage}`, { ...ctx, evidence });
    }
  }
  return finding('DOWNLOAD_FAILED', `${what} could not be fetched: ${errorMessage(err)}`, { ...ctx, evidence: { error: errorMessage(err) } });
}

/** A rebuilt artifact copied out of the build's outputs. */
type RebuiltFile = { path: string; sha256: string; size: number };

/** The build's part of the target report. */
function buildSummary(build: BuildResult): TargetReport['build'] {
  return {
    id: build.buildId,
    status: build.status,
    durationMs: build.durationMs,
    image: build.image.ref,
    imageEnforced: build.image.enforced,
    logLink: build.logLink,
    message: build.message,
  };
}

function safeFileName(name: string): string {
  return basename(name).replace(/[^A-Za-z0-9._-]/g, '_') || 'file';
}

class TargetChecker {
  private readonly dir: string;
  private counter = 0;
  constructor(
    private readonly plan: RunPlan,
    private readonly target: string,
    private readonly deps: CheckDeps,
  ) {
    this.dir = join(deps.workDir, safeFileName(target));
  }

  private scratch(name: string): string {
    return join(this.dir, `${++this.counter}-${safeFileName(name)}`);
  }

  /** `maxBytes`: a tighter bound than the asset limit (signatures, manifests: companion-limits.ts) */
  async download(name: string, source: AssetSource, maxBytes?: number): Promise<DownloadedFile> {
    const limits = maxBytes === undefined ? this.deps.limits : { ...this.deps.limits, maxBytes: Math.min(maxBytes, this.deps.limits.maxBytes) };
    return this.deps.forge.downloadAsset({ name, source, release: this.plan.release }, this.scratch(name), limits);
  }

  async run(build: BuildResult): Promise<TargetReport> {
    await mkdir(this.dir, { recursive: true });
    try {
      return await this.check(build);
    } finally {
      if (!this.deps.keepFiles) await rm(this.dir, { recursive: true, force: true });
    }
  }

  private async check(build: BuildResult): Promise<TargetReport> {
    const planned = this.plan.targets.find((t) => t.name === this.target);
    const ctx = { target: this.target };
    const findings: Finding[] = [];
    if (!planned) {
      findings.push(finding('CHECK_FAILED', `target ${this.target} is not in the run plan`, ctx));
      return { name: this.target, verdict: verdictOf(findings, false), artifacts: [], findings };
    }

    const built = build.status === 'SUCCEEDED';
    const expectedSha = this.plan.release.tagCommitSha;
    const wrongCommit = built && build.checkedOutSha !== undefined && build.checkedOutSha !== expectedSha;
    findings.push(...this.buildFindings(build, built, wrongCommit));

    const artifacts: ArtifactReport[] = [];
    for (const artifact of planned.artifacts) {
      artifacts.push(await this.checkArtifact(artifact, build, built && !wrongCommit));
    }
    const allPositive = built && !wrongCommit && artifacts.length > 0 && artifacts.every((a) => a.verdict === 'VERIFIED');
    const verdict = verdictOf([...findings, ...artifacts.flatMap((a) => a.findings)], allPositive);
    return {
      name: this.target,
      verdict,
      build: buildSummary(build),
      artifacts,
      findings,
    };
  }

  private async checkArtifact(artifact: PlannedArtifact, build: BuildResult, compareRebuild: boolean): Promise<ArtifactReport> {
    const ctx = { target: this.target, artifact: artifact.asset };
    const findings: Finding[] = [];
    const report: ArtifactReport = { path: artifact.path, asset: artifact.asset, verdict: 'INCOMPLETE', findings };

    // 1. The published asset.
    let published: DownloadedFile | undefined;
    try {
      published = await this.download(artifact.asset, artifact.source);
      report.published = { sha256: published.sha256, size: published.size, url: published.url };
    } catch (err) {
      findings.push(findingForDownloadError(err, `published asset ${artifact.asset}`, ctx));
    }

    // 2. Its signature — checked even when the build failed: a bad signature is news on its own.
    // Digests the scheme computes from the published file (Authenticode's) go to the comparison,
    // so that the release is read once after its download (issue 14).
    let signatureOk = false;
    const publishedDigests: ComputedDigest[] = [];
    if (published) {
      const sig = await this.checkSignature(artifact, published, findings, (d) => publishedDigests.push(d));
      report.signature = sig.report;
      signatureOk = sig.ok;
    }

    // 3. The rebuilt artifact and the comparison.
    let comparisonOk = false;
    if (compareRebuild) {
      const rebuilt = await this.fetchRebuilt(artifact, build, report, findings);
      if (published && rebuilt) comparisonOk = await this.compareWithRebuild(artifact, published, rebuilt, publishedDigests, report, findings);
    } else {
      findings.push(finding('NOT_CHECKED', `${artifact.asset} was not compared with a rebuild: the build did not succeed`, ctx));
    }

    report.verdict = verdictOf(findings, comparisonOk && signatureOk);
    return report;
  }

  /** What the build itself says, before any artifact: failed, wrong commit, overridden recipe, image not pinned or not enforced. */
  private buildFindings(build: BuildResult, built: boolean, wrongCommit: boolean): Finding[] {
    const ctx = { target: this.target };
    const findings: Finding[] = [];
    if (!built) {
      const evidence = { buildId: build.buildId, status: build.status, log: build.logLink, logTail: build.logTail, message: build.message };
      if (build.status === 'TIMED_OUT') findings.push(finding('BUILD_TIMED_OUT', `build of ${this.target} timed out`, { ...ctx, evidence }));
      else if (build.status === 'NOT_STARTED')
        findings.push(finding('BUILD_NOT_STARTED', `build of ${this.target} could not start: ${build.message ?? 'unknown reason'}`, { ...ctx, evidence }));
      else
        findings.push(
          finding('BUILD_FAILED', `build of ${this.target} ended ${build.status}${build.message ? `: ${build.message}` : ''}`, { ...ctx, evidence }),
        );
    }
    const expectedSha = this.plan.release.tagCommitSha;
    if (wrongCommit) {
      findings.push(
        finding('BUILD_WRONG_COMMIT', `build of ${this.target} checked out ${build.checkedOutSha}, not the tagged commit ${expectedSha}`, {
          ...ctx,
          evidence: { expected: expectedSha, got: build.checkedOutSha, buildId: build.buildId },
        }),
      );
    }
    if (build.overrides?.length) {
      findings.push(
        finding('BUILD_OVERRIDDEN', `build of ${this.target} did not run the planned recipe: ${build.overrides.join('; ')}`, {
          ...ctx,
          evidence: { buildId: build.buildId, overrides: build.overrides },
        }),
      );
    }
    if (CURATED_MACOS_IMAGE.test(build.image.ref)) {
      findings.push(
        finding(
          'IMAGE_NOT_DIGEST_PINNED',
          `image not pinned by digest: fleet-provided (${build.image.ref}, updated by CodeBuild in place); the build's OS and toolchain can change between runs`,
          {
            ...ctx,
            evidence: { image: build.image.ref },
          },
        ),
      );
    }
    if (!build.image.enforced) {
      findings.push(
        finding('IMAGE_NOT_ENFORCED', `build image pinning not enforced: ${build.image.note ?? `the build did not run in ${build.image.ref}`}`, {
          ...ctx,
          evidence: { image: build.image.ref },
        }),
      );
    }
    return findings;
  }

  /** The rebuilt artifact from the build's outputs, or null (ARTIFACT_MISSING / ARTIFACT_REFUSED). */
  private async fetchRebuilt(artifact: PlannedArtifact, build: BuildResult, report: ArtifactReport, findings: Finding[]): Promise<RebuiltFile | null> {
    const ctx = { target: this.target, artifact: artifact.asset };
    let rebuilt: RebuiltFile | null = null;
    try {
      rebuilt = await build.artifacts.fetch(artifact.path, this.scratch(`rebuilt-${basename(artifact.path)}`), this.deps.limits);
      if (!rebuilt)
        findings.push(
          finding('ARTIFACT_MISSING', `the build did not produce ${artifact.path}`, {
            ...ctx,
            evidence: { path: artifact.path, buildId: build.buildId, log: build.logLink },
          }),
        );
      else report.rebuilt = { sha256: rebuilt.sha256, size: rebuilt.size };
    } catch (err) {
      findings.push(
        finding('ARTIFACT_REFUSED', `rebuilt artifact ${artifact.path} could not be read: ${errorMessage(err)}`, {
          ...ctx,
          evidence: { path: artifact.path, error: errorMessage(err) },
        }),
      );
    }
    return rebuilt;
  }

  /** Published against rebuilt by the artifact's compare method; true only on a match. A mismatch is explained when it can be. */
  private async compareWithRebuild(
    artifact: PlannedArtifact,
    published: DownloadedFile,
    rebuilt: RebuiltFile,
    publishedDigests: ComputedDigest[],
    report: ArtifactReport,
    findings: Finding[],
  ): Promise<boolean> {
    const ctx = { target: this.target, artifact: artifact.asset };
    let match = false;
    try {
      const scratchDir = this.scratch('compare');
      await mkdir(scratchDir, { recursive: true });
      const comparison = await this.deps.formats.compareArtifacts(published.path, rebuilt.path, {
        method: artifact.compare,
        publishedSha256: published.sha256,
        rebuiltSha256: rebuilt.sha256,
        publishedDigests,
        scratchDir,
        maxBytes: this.deps.limits.maxBytes,
      });
      report.comparison = comparison;
      match = comparison.match;
      if (!comparison.match) {
        findings.push(mismatchFinding(artifact, comparison, published.sha256, rebuilt.sha256, ctx));
        await this.explain(published.path, rebuilt.path, findings, ctx);
      } else {
        const metadata = comparison.details?.metadataDifferences;
        if (Array.isArray(metadata) && metadata.length > 0)
          findings.push(
            finding('ARCHIVE_METADATA_DIFFERS', `${artifact.asset}: same content, ${metadata.length} metadata difference(s) (times, modes, owners or order)`, {
              ...ctx,
              evidence: { examples: metadata.slice(0, 5) },
            }),
          );
      }
    } catch (err) {
      findings.push(
        finding('COMPARE_FAILED', `could not compare ${artifact.asset} with the rebuild: ${errorMessage(err)}`, {
          ...ctx,
          evidence: { error: errorMessage(err) },
        }),
      );
    }
    return match;
  }

  private async explain(publishedPath: string, rebuiltPath: string, findings: Finding[], ctx: { target: string; artifact: string }): Promise<void> {
    if (!this.deps.explainMismatch) return;
    try {
      const where = await this.deps.explainMismatch(publishedPath, rebuiltPath, { target: this.target, asset: ctx.artifact });
      if (where) findings.push(finding('DIFFOSCOPE_REPORT', `diff report for ${ctx.artifact}: ${where}`, { ...ctx, evidence: { report: where } }));
    } catch (err) {
      findings.push(finding('DIFFOSCOPE_REPORT', `no diff report for ${ctx.artifact}: ${errorMessage(err)}`, ctx));
    }
  }

  private async checkSignature(
    artifact: PlannedArtifact,
    published: DownloadedFile,
    findings: Finding[],
    onDigest?: SignatureInput['onDigest'],
  ): Promise<{ ok: boolean; report?: SignatureReport }> {
    const ctx = { target: this.target, artifact: artifact.asset };
    const policy = artifact.signature;
    if (policy.scheme === 'none') {
      findings.push(finding('SIGNATURE_NOT_REQUIRED', `${artifact.asset} is not signature-checked: ${policy.reason}`, ctx));
      return { ok: true };
    }
    if (policy.scheme === 'sha256sums') {
      // The manifest's own signature first, then this asset's line in it.
      const manifestName = policy.manifestAsset;
      let manifest: DownloadedFile;
      try {
        manifest = await this.download(manifestName, companionSource(artifact.source, manifestName), MANIFEST_DOWNLOAD_LIMIT);
      } catch (err) {
        const f = findingForDownloadError(err, `checksum manifest ${manifestName}`, ctx);
        findings.push(f.code === 'ASSET_MISSING' ? finding('SIGNATURE_MISSING', f.message, { ...ctx, evidence: f.evidence }) : f);
        return { ok: false, report: { scheme: 'sha256sums', valid: false, reason: f.message, signatureAsset: manifestName } };
      }
      const inner = await this.checkDirect(policy.manifestSignature, manifestName, manifest, artifact.source, findings, ctx);
      if (!inner.ok) return { ok: false, report: { ...inner.report!, scheme: `sha256sums+${inner.report?.scheme ?? policy.manifestSignature.scheme}` } };
      const entry = await this.deps.formats.checkManifestEntry(manifest.path, artifact.asset, published.sha256);
      const evidence = { manifest: manifestName, published: published.sha256, listed: entry.expected };
      switch (entry.status) {
        case 'ok':
          return {
            ok: true,
            report: { scheme: `sha256sums+${policy.manifestSignature.scheme}`, valid: true, signer: inner.report?.signer, signatureAsset: manifestName },
          };
        case 'missing':
          findings.push(finding('MANIFEST_ENTRY_MISSING', `${artifact.asset} is not listed in the signed ${manifestName}`, { ...ctx, evidence }));
          break;
        case 'duplicate':
          findings.push(finding('MANIFEST_ENTRY_DUPLICATE', `${artifact.asset} is listed more than once in ${manifestName}`, { ...ctx, evidence }));
          break;
        case 'mismatch':
          findings.push(finding('MANIFEST_DIGEST_MISMATCH', `${artifact.asset} does not match its line in the signed ${manifestName}`, { ...ctx, evidence }));
          break;
        case 'malformed':
          findings.push(finding('SIGNATURE_INVALID', `signed ${manifestName} is malformed: ${entry.reason ?? 'unreadable'}`, { ...ctx, evidence }));
          break;
      }
      return {
        ok: false,
        report: {
          scheme: `sha256sums+${policy.manifestSignature.scheme}`,
          valid: false,
          signer: inner.report?.signer,
          reason: findings.at(-1)?.message,
          signatureAsset: manifestName,
        },
      };
    }
    return this.checkDirect(policy, artifact.asset, published, artifact.source, findings, ctx, onDigest);
  }

  /** One direct signature scheme over one downloaded file. */
  private async checkDirect(
    policy: DirectSignaturePolicy,
    fileName: string,
    file: DownloadedFile,
    source: AssetSource,
    findings: Finding[],
    ctx: { target: string; artifact: string },
    /** only for the published asset itself (a manifest's signature digests another file) */
    onDigest?: SignatureInput['onDigest'],
  ): Promise<{ ok: boolean; report?: SignatureReport }> {
    let signaturePath: string | undefined;
    let signatureAsset: string | undefined;
    // The scheme says whether it reads a detached file, named by which field, within what bound
    // (formats/schemes/); embedded signatures (Authenticode, Apple, a cleartext-signed OpenPGP manifest) have none.
    const companion = companionOf(policy);
    if (companion) {
      signatureAsset = companion.name;
      try {
        signaturePath = (await this.download(signatureAsset, companionSource(source, signatureAsset), companion.maxBytes)).path;
      } catch (err) {
        const f = findingForDownloadError(err, `signature ${signatureAsset} of ${fileName}`, ctx);
        findings.push(f.code === 'ASSET_MISSING' ? finding('SIGNATURE_MISSING', f.message, { ...ctx, evidence: f.evidence }) : f);
        return { ok: false, report: { scheme: policy.scheme, valid: false, reason: f.message, signatureAsset } };
      }
    }
    try {
      const result = await this.deps.formats.verifySignature({ assetPath: file.path, signaturePath, policy, now: this.deps.now, onDigest });
      const report: SignatureReport = { scheme: policy.scheme, valid: result.valid, signer: result.signer, reason: result.reason, signatureAsset };
      if (!result.valid) {
        const evidence = { scheme: policy.scheme, signer: result.signer, reason: result.reason, signatureAsset, sha256: file.sha256 };
        if (result.unsigned) findings.push(finding('UNSIGNED', `${fileName} is not signed (${policy.scheme} required)`, { ...ctx, evidence }));
        else if (result.unpinnedSigner)
          findings.push(
            finding('SIGNER_NOT_PINNED', `${fileName} is signed by ${result.signer ?? 'an unknown signer'}, not by the pinned ${policy.scheme} signer`, {
              ...ctx,
              evidence,
            }),
          );
        else
          findings.push(
            finding('SIGNATURE_INVALID', `${policy.scheme} signature of ${fileName} is invalid: ${result.reason ?? 'verification failed'}`, {
              ...ctx,
              evidence,
            }),
          );
      }
      return { ok: result.valid, report };
    } catch (err) {
      const message = err instanceof VerifierError ? err.userMessage : errorMessage(err);
      findings.push(
        finding('SIGNATURE_UNCHECKED', `${policy.scheme} signature of ${fileName} could not be checked: ${message}`, { ...ctx, evidence: { error: message } }),
      );
      return { ok: false, report: { scheme: policy.scheme, valid: false, reason: message, signatureAsset } };
    }
  }
}

function mismatchFinding(
  artifact: PlannedArtifact,
  comparison: ComparisonReport,
  publishedSha: string,
  rebuiltSha: string,
  ctx: { target: string; artifact: string },
): Finding {
  const first = comparison.differences[0];
  const where = first ? ` — first difference: ${first.where}${first.detail ? ` (${first.detail})` : ''}` : '';
  return finding('ARTIFACT_MISMATCH', `${artifact.asset} differs from the rebuild of ${artifact.path} (${comparison.method})${where}`, {
    ...ctx,
    evidence: { method: comparison.method, published: publishedSha, rebuilt: rebuiltSha, differences: comparison.differences.slice(0, 10) },
  });
}

/** Checks one target's build against the plan. Never throws for anything the forge or the build did. */
export async function checkTarget(plan: RunPlan, targetName: string, build: BuildResult, deps: CheckDeps): Promise<TargetReport> {
  try {
    return await new TargetChecker(plan, targetName, deps).run(build);
  } catch (err) {
    const f = finding('CHECK_FAILED', `checking ${targetName} failed: ${errorMessage(err)}`, { target: targetName, evidence: { error: errorMessage(err) } });
    return { name: targetName, verdict: 'INCOMPLETE', artifacts: [], findings: [f] };
  }
}
