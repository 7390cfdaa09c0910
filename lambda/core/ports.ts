/**
 * The ports the core talks to (DESIGN.md, docs/architecture.md): Forge, Builder (a build run to
 * completion, locally), Store and Notifier here; the remote builder (start now, resolve the "build
 * ended" event later) in core/run/remote-builder.ts; the attestation signer in core/attestation.ts.
 * The core knows nothing of AWS or GitLab: adapters under lambda/adapters/ implement these for the
 * cloud (CodeBuild, S3, SNS, KMS) and for a laptop (local process, directory, console). GitLab is
 * the first forge (the report names it forge-neutrally: report.ts `ForgeRef`).
 */
import type { AssetSource } from './config/schema';
import type { Alert } from './alert-message';

// ───────────────────────────── Forge ─────────────────────────────

export interface ReleaseLink {
  id: number;
  name: string;
  /** the link's target URL as stored in GitLab */
  url: string;
  /** GitLab's permanent download URL for the link (`…/-/releases/<tag>/downloads/<path>`) */
  directAssetUrl?: string;
  linkType?: string;
}

export interface Release {
  tag: string;
  name: string;
  /** commit of the release, as GitLab reports it in `commit.id` of the release */
  commitSha: string;
  /** the tag's peeled commit (`commit.id` of the tag — never `target`, which is the tag object for annotated tags) */
  tagCommitSha: string;
  releasedAt?: string;
  webUrl?: string;
  links: ReleaseLink[];
}

/** Which published copy of an asset to fetch. */
export type AssetRequest = {
  /** the expanded asset name */
  name: string;
  /** the expanded source from the configuration */
  source: AssetSource;
  release: Release;
};

export interface DownloadedFile {
  /** local path of the downloaded bytes */
  path: string;
  sha256: string;
  size: number;
  /** the URL the bytes finally came from (after redirects) */
  url: string;
  /** digests the forge itself records for the file (generic packages), already cross-checked */
  forgeSha256?: string;
}

export interface DownloadLimits {
  maxBytes: number;
  timeoutMs: number;
}

/** What the forge says about past releases and tags, for the ledger. */
export interface ReleaseHistory {
  releases: { tag: string; commitSha: string; links: { name: string; url: string }[] }[];
  /** tag name → peeled commit SHA */
  tags: Record<string, string>;
  /** false when the forge had more than the bounded listing returned (older entries then count as unknown, not removed) */
  complete: boolean;
}

/** One access level entry of a GitLab protection (0 no one, 30 Developers + Maintainers, 40 Maintainers, 60 Admins). */
export interface AccessLevel {
  accessLevel: number;
  description?: string;
  /** set when the entry grants one user or group (GitLab Premium) rather than a role */
  userId?: number | null;
  groupId?: number | null;
}

/** How the forge protects tags and branches, for the audit (advisory). */
export interface ForgeProtections {
  defaultBranch?: string;
  protectedTags: { name: string; createAccessLevels: AccessLevel[] }[];
  protectedBranches: { name: string; pushAccessLevels: AccessLevel[]; mergeAccessLevels: AccessLevel[]; allowForcePush: boolean }[];
}

/** Bounds for reading the repository at a commit (untrusted: a release commit may hold anything). */
export interface TreeLimits {
  /** tree entries listed (files and folders) */
  maxEntries: number;
  /** files read */
  maxFiles: number;
  /** one file */
  maxFileBytes: number;
  /** all files read together */
  maxTotalBytes: number;
}

export interface TreeEntry {
  path: string;
  type: 'blob' | 'tree' | 'commit';
  mode?: string;
}

/** The file listing of a commit; `complete` is false when the listing hit `maxEntries`. */
export interface RepositoryTree {
  commitSha: string;
  entries: TreeEntry[];
  complete: boolean;
}

/** One way to change what users download, as far as the token can see it (null: not visible). */
export interface ForgeWritePaths {
  /** deploy keys of the project; null when the token may not list them */
  deployKeys: { id: number; title: string; canPush: boolean }[] | null;
  deployTokens: { id: number; name: string; scopes: string[]; active: boolean }[] | null;
  /** the job-token inbound allow-list switch ("Limit access to this project"); null when unseen */
  jobTokenInboundLimited: boolean | null;
  /** push rules: `absent` where the tier has none, null when unseen */
  pushRules: { denyDeleteTag: boolean } | 'absent' | null;
  /** project settings for releases and the package registry; null fields were not in the answer */
  settings: { releasesAccessLevel?: string; packagesEnabled?: boolean; packageRegistryAccessLevel?: string } | null;
  /** what could not be read and the permission it needs, e.g. "deploy keys: Maintainer role (HTTP 403)" */
  unavailable: { what: string; permission: string; reason: string }[];
}

export interface Forge {
  /** The latest release when `tag` is undefined. Throws ForgeError('not-found') when there is none. */
  getRelease(tag?: string): Promise<Release>;
  /**
   * Downloads one published asset to `destPath`, hashing while streaming. Throws ForgeError when the
   * asset is missing, refused (foreign host, bad scheme), too large, too slow or truncated, and
   * when the forge's own recorded digest disagrees with the bytes (kind 'bad-response', code
   * FORGE_DIGEST_MISMATCH in details).
   */
  downloadAsset(request: AssetRequest, destPath: string, limits: DownloadLimits): Promise<DownloadedFile>;
  /** Clone URL for builders (no credentials in it). */
  cloneUrl(): string;
  /** Recent releases (with their links) and tags, bounded. */
  getHistory(): Promise<ReleaseHistory>;
  /** Protected tags and branches (may need a Maintainer token; failures make the audit unavailable, nothing more). */
  getProtections(): Promise<ForgeProtections>;
  /** The file listing at `commitSha`, bounded by `limits.maxEntries` (optional: a forge without it makes the hygiene audit unavailable). */
  readTree?(commitSha: string, limits: TreeLimits): Promise<RepositoryTree>;
  /** One file at `commitSha` as UTF-8 text; ForgeError 'bad-response' when over `limits.maxFileBytes`. */
  readFile?(commitSha: string, path: string, limits: Pick<TreeLimits, 'maxFileBytes'>): Promise<string>;
  /** Deploy keys and tokens, job-token scope, push rules, release/package settings — what the token may see. */
  getWritePaths?(): Promise<ForgeWritePaths>;
}

// ───────────────────────────── Builder ─────────────────────────────

export type BuildStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'STOPPED' | 'FAULT' | 'NOT_STARTED';

export interface BuildImageInfo {
  /** the digest-pinned image reference from the config */
  ref: string;
  /** true when the build provably ran in that image (CodeBuild, docker); false on a bare local process */
  enforced: boolean;
  note?: string;
}

export interface FetchedArtifact {
  path: string;
  sha256: string;
  size: number;
}

/** Read access to what a build produced. Paths are relative to the build output root; anything
 * resolving outside it (`..`, absolute, symlinks out) is refused. */
export interface ArtifactSource {
  /** Copies one artifact to `destPath`, hashing while streaming; `null` when it does not exist. */
  fetch(relPath: string, destPath: string, limits: DownloadLimits): Promise<FetchedArtifact | null>;
}

export interface BuildResult {
  target: string;
  buildId: string;
  status: BuildStatus;
  startedAt?: string;
  durationMs?: number;
  /** human-usable pointer to the log: a file path locally, a console deep link in AWS */
  logLink?: string;
  /** last lines of the log, for the report when the build failed */
  logTail?: string;
  message?: string;
  image: BuildImageInfo;
  /** the commit the build actually checked out, as the build reported it */
  checkedOutSha?: string;
  /** what the build's own record shows differs from the plan (image, command, variables,
   * privileged mode): the build did not run the planned recipe. Empty or absent: none seen. */
  overrides?: string[];
  /**
   * How the builder isolated the build from the verifier's host: inside the pinned image (`docker`),
   * in the bubblewrap sandbox (`bwrap`), in CodeBuild's own container (`codebuild`), or not at all
   * (`none`: a bare host process, `--unsafe-host-build`). The builder sets it, so whoever runs the
   * check sees it: `none` makes the target BUILD_NOT_SANDBOXED (such a build could have altered the
   * verifier's own files), never VERIFIED. Absent: a builder that does not say (none of ours).
   */
  sandbox: BuildSandbox;
  artifacts: ArtifactSource;
}

/** `not-run`: no build ran (it could not start), so nothing needed isolating. */
export type BuildSandbox = 'docker' | 'bwrap' | 'codebuild' | 'none' | 'not-run';

export interface BuildRequest {
  runId: string;
  target: import('./config/schema').TargetConfig;
  cloneUrl: string;
  commitSha: string;
  tag: string;
  version: string;
}

export interface Builder {
  /** Runs one build to completion (locally) and reports how it ended; never throws for a failed build. */
  run(request: BuildRequest, signal?: AbortSignal): Promise<BuildResult>;
}

// ───────────────────────────── Store ─────────────────────────────

export interface Store {
  /** Writes an object. With `ifNoneMatch`, returns false (and writes nothing) when it already exists. */
  put(key: string, body: string | Uint8Array, options?: { ifNoneMatch?: boolean; contentType?: string }): Promise<boolean>;
  get(key: string): Promise<string | null>;
  list(prefix: string): Promise<string[]>;
  /** where a key can be found by a human (file path or s3:// URL) */
  locate(key: string): string;
}

// ───────────────────────────── Notifier ─────────────────────────────

export interface Notifier {
  notify(alert: Alert): Promise<void>;
}
