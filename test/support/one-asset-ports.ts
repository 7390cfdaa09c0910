/**
 * In-memory forge and builder for run-level tests: one release whose every asset is `published`,
 * and builds that succeed at `commit` and rebuild every artifact as `rebuilt`. Used where a test is
 * about what a run writes (attestations, VSA, history), not about the forge or the build.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Builder, BuildResult, Forge, Release } from '../../lambda/core/ports';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export function oneReleaseOf(commit: string, tag = 'v1.0.0'): Release {
  return { tag, name: tag, commitSha: commit, tagCommitSha: commit, links: [] };
}

/** `getRelease` may be replaced (e.g. to make the forge unreachable). */
export function oneAssetForge(release: Release, published: string, overrides: Partial<Forge> = {}): Forge {
  return {
    getRelease: async () => release,
    cloneUrl: () => 'file:///nowhere',
    getHistory: async () => ({
      releases: [{ tag: release.tag, commitSha: release.commitSha, links: [] }],
      tags: { [release.tag]: release.tagCommitSha },
      complete: true,
    }),
    getProtections: async () => ({ protectedTags: [], protectedBranches: [] }),
    async downloadAsset(req, dest) {
      writeFileSync(dest, published);
      return { path: dest, sha256: sha(published), size: published.length, url: `https://gitlab.example/${req.name}` };
    },
    ...overrides,
  };
}

export function oneAssetBuilder(commit: string, rebuilt: string): Builder {
  return {
    async run(req): Promise<BuildResult> {
      return {
        target: req.target.name,
        buildId: 'b1',
        sandbox: 'docker' as const,
        status: 'SUCCEEDED',
        image: { ref: req.target.image, enforced: true },
        checkedOutSha: commit,
        artifacts: {
          async fetch(_rel, dest) {
            writeFileSync(dest, rebuilt);
            return { path: dest, sha256: sha(rebuilt), size: rebuilt.length };
          },
        },
      };
    },
  };
}
