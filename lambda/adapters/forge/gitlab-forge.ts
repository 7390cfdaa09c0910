/**
 * Forge port for GitLab: API reads through @gitbeaker/rest (on our bounded requester, see
 * gitlab-requester.ts), asset bytes through safe-download.ts.
 *
 * Decisions:
 * - **Latest release** = what `GET /projects/:id/releases/permalink/latest` names (the URL users are
 *   given for "the latest download"; GitLab answers with a same-origin 302 to the release, which the
 *   requester follows), cross-checked against the release listing sorted by `released_at` **by us**
 *   (a forge that ignores `sort` must not choose which release we verify). When the two disagree we
 *   cannot tell which release users get: LatestReleaseDisagreesError (INCOMPLETE
 *   LATEST_RELEASE_DISAGREES). Not TAMPERED: GitLab's own permalink ordering changed between versions
 *   (created_at when introduced, released_at later), so a backdated `released_at` disagrees honestly.
 * - **Deadlines**: every API request attempt has its own timer (requestTimeoutMs, deadline.ts), and
 *   every port method (getRelease, getHistory, getProtections, downloadAsset) a hard deadline
 *   (callTimeoutMs; downloads: plus their own limit) — a forge that accepts and never answers, or
 *   trickles, ends the call with ForgeError 'timeout', never a hang.
 * - **Tag → commit** via the tag's `commit.id` (the peeled commit), never `target` (the tag object
 *   of an annotated tag). The release's own `commit.id` is returned as well; when they disagree the
 *   core flags it (both are in `Release`).
 * - **Links** from the paginated links endpoint (all pages, bounded), not the list embedded in the
 *   release: the endpoint is the listing API; the embedded list is presentation. The two are tied
 *   together by `assets.count` (= links + sources): a disagreement is 'bad-response' (GitLab
 *   contradicting itself, or a link added mid-run — either way nothing to verify against).
 * - **Pagination** is always bounded (gitbeaker follows `link: rel="next"` forever unless given
 *   `maxPages` and `perPage`); hitting the bound with pages left is 'bad-response', never a silently
 *   shortened list.
 * - **generic-package**: the package is looked up by exact name and version (GitLab's filter is a
 *   fuzzy match), its files listed (paginated), the file downloaded from the generic packages API,
 *   and GitLab's recorded `file_sha256` checked against the bytes. When GitLab holds several files
 *   of that name (re-uploads), it serves the newest; bytes matching an older record only are
 *   reported as ambiguous ('bad-response'), bytes matching none as ForgeDigestMismatchError.
 */
import { unlink } from 'node:fs/promises';
import { Gitlab } from '@gitbeaker/rest';
import { ForgeError } from '../../core/errors';
import type {
  AccessLevel,
  AssetRequest,
  DownloadedFile,
  DownloadLimits,
  Forge,
  ForgeProtections,
  ForgeWritePaths,
  Release,
  ReleaseHistory,
  ReleaseLink,
  RepositoryTree,
  TreeLimits,
} from '../../core/ports';
import { withDeadline } from './deadline';
import { boundedRequesterFn } from './gitlab-requester';
import {
  DeployKeyJson,
  DeployTokenJson,
  JobTokenScopeJson,
  ProjectSettingsJson,
  PushRuleJson,
  TreeEntryJson,
  PackageFileJson,
  PackageJson,
  parseGitlab,
  ProjectJson,
  ProtectedBranchJson,
  ProtectedTagJson,
  ReleaseJson,
  ReleaseLinkJson,
  TagJson,
  isSaneTagName,
  COMMIT_SHA,
} from './gitlab-schemas';
import { resolveRetryPolicy, type RetryPolicy } from './retry';
import { parseHttpUrl, safeDownload } from './safe-download';
import { z } from 'zod';

export interface GitLabForgeOptions {
  /** GitLab base URL, e.g. `https://gitlab.com` (a sub-path install like `https://host/gitlab` works) */
  url: string;
  /** `group/project` path or numeric id */
  project: string | number;
  /** personal/project access token (read_api); sent only to the GitLab origin */
  token?: string;
  /** other hosts release assets may be fetched from (object storage, CDN), never with the token */
  allowedAssetHosts?: string[];
  /** default `<url>/<project>.git`; for a numeric project id, GitLab's `http_url_to_repo` */
  cloneUrl?: string;
  /** defaults: 4 attempts, 1 s base, 60 s cap (DEFAULT_RETRY_POLICY) */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** one API request attempt; default 30 s */
  requestTimeoutMs?: number;
  /** one port method (all its requests, pages and retries); default 15 min */
  callTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** one port method (getRelease…), all its requests, pages and retries included */
export const DEFAULT_CALL_TIMEOUT_MS = 15 * 60_000;
/** API answers are JSON lists of ≤ 100 entries; 16 MiB is generous and still bounded */
const MAX_API_RESPONSE_BYTES = 16 * 1024 * 1024;
const PER_PAGE = 100;
const MAX_LINK_PAGES = 20; // 2000 links
const MAX_PACKAGE_PAGES = 10;
/** ledger listings: 500 releases, 2000 tags */
const HISTORY_RELEASE_PAGES = 5;
const HISTORY_TAG_PAGES = 20;
const PROTECTION_PAGES = 5;
const MAX_PACKAGE_FILE_PAGES = 20;
/** tree listing: 50 pages of 100 (the requester follows at most 64 pages per call) */
const TREE_MAX_PAGES = 50;
const WRITE_PATH_PAGES = 5;
/** releases scanned (one request) for the newest one that is not upcoming */
const LATEST_SCAN_PER_PAGE = 50;
const LATEST_SCAN_PAGES = 1;

/** GitLab's recorded digest of a generic-package file disagrees with the bytes it served. The core
 * maps this to TAMPERED. Kind 'bad-response', `details.code` FORGE_DIGEST_MISMATCH. */
export class ForgeDigestMismatchError extends ForgeError {
  readonly expectedSha256: string;
  readonly actualSha256: string;
  constructor(message: string, info: { url: string; expectedSha256: string; actualSha256: string; packageFileId: number; fileName: string }) {
    super('bad-response', message, { url: info.url });
    this.expectedSha256 = info.expectedSha256;
    this.actualSha256 = info.actualSha256;
    // ForgeError fixes details to {url, status}; this case needs the digests for the finding
    (this as { details?: Record<string, unknown> }).details = {
      code: 'FORGE_DIGEST_MISMATCH',
      url: info.url,
      expectedSha256: info.expectedSha256,
      actualSha256: info.actualSha256,
      packageFileId: info.packageFileId,
      fileName: info.fileName,
    };
  }
}

/** The latest-release permalink and the release listing (sorted by us) name different releases.
 * Kind 'bad-response', `details.code` LATEST_RELEASE_DISAGREES (an INCOMPLETE finding). */
export class LatestReleaseDisagreesError extends ForgeError {
  constructor(message: string, info: { permalinkTag?: string; listingTag?: string; url?: string }) {
    super('bad-response', message, { url: info.url });
    (this as { details?: Record<string, unknown> }).details = {
      code: 'LATEST_RELEASE_DISAGREES',
      url: info.url,
      permalinkTag: info.permalinkTag,
      listingTag: info.listingTag,
    };
  }
}

type ApiClient = InstanceType<typeof Gitlab<false>>;
type Expanded = { data: unknown; paginationInfo?: { next?: number | null } };

export class GitLabForge implements Forge {
  private readonly api: ApiClient;
  private readonly baseUrl: string;
  private readonly origin: string;
  private readonly project: string | number;
  private readonly token?: string;
  private readonly allowedAssetHosts: string[];
  private readonly retry: RetryPolicy;
  private readonly callTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private resolvedCloneUrl?: string;

  constructor(options: GitLabForgeOptions) {
    const parsed = parseHttpUrl(options.url, 'gitlab.url');
    this.baseUrl = parsed.href.replace(/\/+$/, '');
    this.origin = parsed.origin;
    this.project = options.project;
    this.token = options.token;
    this.allowedAssetHosts = options.allowedAssetHosts ?? [];
    this.retry = resolveRetryPolicy(options.retry);
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const requesterFn = boundedRequesterFn({
      origin: this.origin,
      retry: this.retry,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxResponseBytes: MAX_API_RESPONSE_BYTES,
    });
    // queryTimeout: a wall-clock bound for one call including all its pages and retries; gitbeaker
    // shares its signal across the pages of a call, which is what the requester counts pages by
    const common = { host: this.baseUrl, requesterFn, queryTimeout: this.callTimeoutMs } as const;
    this.api = (options.token ? new Gitlab({ ...common, token: options.token }) : new Gitlab(common)) as ApiClient;
    if (options.cloneUrl) {
      if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(options.cloneUrl)) {
        throw new ForgeError('refused-host', 'gitlab.cloneUrl must not contain credentials (builders get no token)');
      }
      this.resolvedCloneUrl = options.cloneUrl;
    } else if (typeof options.project === 'string') this.resolvedCloneUrl = `${this.baseUrl}/${options.project}.git`;
  }

  cloneUrl(): string {
    if (!this.resolvedCloneUrl) {
      throw new ForgeError('bad-response', 'clone URL unknown: set gitlab.cloneUrl, use a project path, or call getRelease() first');
    }
    return this.resolvedCloneUrl;
  }

  getRelease(tag?: string): Promise<Release> {
    return this.bounded(`finding release ${tag ?? '(latest)'}`, this.callTimeoutMs, () => this.findRelease(tag));
  }

  downloadAsset(request: AssetRequest, destPath: string, limits: DownloadLimits): Promise<DownloadedFile> {
    // the download bounds itself (limits.timeoutMs); generic packages add API lookups before it
    return this.bounded(`downloading ${request.name}`, this.callTimeoutMs + limits.timeoutMs, () => this.fetchAsset(request, destPath, limits)).catch(
      async (err: unknown) => {
        await unlink(destPath).catch(() => undefined); // a late writer may have left a partial file
        throw err;
      },
    );
  }

  getProtections(): Promise<ForgeProtections> {
    return this.bounded('reading the protections', this.callTimeoutMs, () => this.readProtections());
  }

  readTree(commitSha: string, limits: TreeLimits): Promise<RepositoryTree> {
    return this.bounded(`listing the tree at ${commitSha}`, this.callTimeoutMs, () => this.listTree(commitSha, limits));
  }

  readFile(commitSha: string, path: string, limits: Pick<TreeLimits, 'maxFileBytes'>): Promise<string> {
    return this.bounded(`reading ${path} at ${commitSha}`, this.callTimeoutMs, () => this.rawFile(commitSha, path, limits.maxFileBytes));
  }

  getWritePaths(): Promise<ForgeWritePaths> {
    return this.bounded('reading the write paths', this.callTimeoutMs, () => this.readWritePaths());
  }

  getHistory(): Promise<ReleaseHistory> {
    return this.bounded('reading the release history', this.callTimeoutMs, () => this.readHistory());
  }

  /** A hard deadline around one port method: it ends with its result, its error or a timeout. */
  private bounded<T>(what: string, ms: number, fn: () => Promise<T>): Promise<T> {
    return withDeadline(ms, () => new ForgeError('timeout', `GitLab: ${what} did not complete within ${Math.round(ms / 1000)} s`, { url: this.baseUrl }), fn);
  }

  private async findRelease(tag?: string): Promise<Release> {
    if (tag !== undefined && !isSaneTagName(tag)) throw new ForgeError('not-found', `"${tag}" is not a valid tag name`);
    const releaseJson = tag === undefined ? await this.latestRelease() : await this.releaseByTag(tag);
    const tagJson = await this.call(`tag ${releaseJson.tag_name}`, () => this.api.Tags.show(this.project, releaseJson.tag_name), TagJson, {
      notFound: `release ${releaseJson.tag_name} exists but its tag does not (deleted?)`,
    });
    if (tagJson.name !== releaseJson.tag_name) {
      throw new ForgeError('bad-response', `asked for tag ${releaseJson.tag_name}, GitLab answered tag ${tagJson.name}`);
    }
    const links = await this.releaseLinks(releaseJson);
    await this.resolveCloneUrl();
    return {
      tag: releaseJson.tag_name,
      name: releaseJson.name ?? releaseJson.tag_name,
      commitSha: releaseJson.commit.id,
      tagCommitSha: tagJson.commit.id,
      releasedAt: releaseJson.released_at ?? undefined,
      webUrl: releaseJson._links?.self ?? undefined,
      links,
    };
  }

  private async fetchAsset(request: AssetRequest, destPath: string, limits: DownloadLimits): Promise<DownloadedFile> {
    const source = request.source;
    switch (source.type) {
      case 'release-link':
        return this.downloadReleaseLink(request, destPath, limits);
      case 'generic-package':
        return this.downloadGenericPackageFile(source.packageName, source.packageVersion, source.fileName ?? request.name, destPath, limits);
      case 'job-artifact': {
        const path = source.path.split('/').map(encodeURIComponent).join('/');
        const url = `${this.projectApiUrl()}/jobs/artifacts/${encodeURIComponent(source.ref)}/raw/${path}?job=${encodeURIComponent(source.job)}`;
        return this.fetchTo(url, destPath, limits, `job artifact ${source.path} of job "${source.job}" on ${source.ref}`);
      }
      default: {
        const never: never = source;
        throw new ForgeError('bad-response', `unknown asset source ${JSON.stringify(never)}`);
      }
    }
  }

  /** Protected tags and branches and the default branch, for the audit. */
  private async readProtections(): Promise<ForgeProtections> {
    const project = await this.call(`project ${this.project}`, () => this.api.Projects.show(this.project), ProjectJson, {
      notFound: `project ${this.project} not found (or the token cannot see it)`,
    });
    const tags = await this.callExpanded(
      'the protected tags',
      () => this.api.ProtectedTags.all(this.project, { perPage: PER_PAGE, maxPages: PROTECTION_PAGES, showExpanded: true } as { showExpanded: true }),
      z.array(ProtectedTagJson),
    );
    const branches = await this.callExpanded(
      'the protected branches',
      () => this.api.ProtectedBranches.all(this.project, { perPage: PER_PAGE, maxPages: PROTECTION_PAGES, showExpanded: true } as { showExpanded: true }),
      z.array(ProtectedBranchJson),
    );
    // a partial list could hide the rule that matters: refuse it
    if (tags.more || branches.more) throw new ForgeError('bad-response', `more than ${PER_PAGE * PROTECTION_PAGES} protection rules; refusing a partial list`);
    const level = (l: z.output<typeof ProtectedTagJson>['create_access_levels'][number]): AccessLevel => ({
      accessLevel: l.access_level,
      description: l.access_level_description ?? undefined,
      userId: l.user_id,
      groupId: l.group_id,
    });
    return {
      defaultBranch: project.default_branch ?? undefined,
      protectedTags: tags.items.map((t) => ({ name: t.name, createAccessLevels: t.create_access_levels.map(level) })),
      protectedBranches: branches.items.map((b) => ({
        name: b.name,
        pushAccessLevels: b.push_access_levels.map(level),
        mergeAccessLevels: b.merge_access_levels.map(level),
        allowForcePush: b.allow_force_push === true,
      })),
    };
  }

  // ───────────────────────────── audit (issue 11) ─────────────────────────────

  /** The recursive tree at a commit, at most `maxEntries` entries (`complete` false past that). */
  private async listTree(commitSha: string, limits: TreeLimits): Promise<RepositoryTree> {
    if (!COMMIT_SHA.test(commitSha)) throw new ForgeError('bad-response', `not a commit SHA: ${commitSha}`);
    const pages = Math.max(1, Math.min(TREE_MAX_PAGES, Math.ceil(limits.maxEntries / PER_PAGE)));
    const page = await this.callExpanded(
      `the tree at ${commitSha}`,
      () => this.api.Repositories.allRepositoryTrees(this.project, { ref: commitSha, recursive: true, perPage: PER_PAGE, maxPages: pages, showExpanded: true }),
      z.array(TreeEntryJson),
    );
    const entries = page.items.slice(0, limits.maxEntries).map((e) => ({ path: e.path, type: e.type, mode: e.mode ?? undefined }));
    return { commitSha, entries, complete: !page.more && page.items.length <= limits.maxEntries };
  }

  /** One file's bytes at a commit through a requester bounded to `maxFileBytes`. */
  private async rawFile(commitSha: string, path: string, maxFileBytes: number): Promise<string> {
    if (!COMMIT_SHA.test(commitSha)) throw new ForgeError('bad-response', `not a commit SHA: ${commitSha}`);
    const api = this.rawClient(maxFileBytes);
    let body: unknown;
    try {
      body = await api.RepositoryFiles.showRaw(this.project, path, commitSha);
    } catch (err) {
      throw this.explain(err, `${path} not found at ${commitSha}`);
    }
    // the requester returns text for non-JSON answers; a JSON content type is parsed, give it back as text
    if (typeof body === 'string') return body;
    if (body === null || body === undefined) return '';
    return JSON.stringify(body, null, 2);
  }

  private readonly rawClients = new Map<number, ApiClient>();
  private rawClient(maxBytes: number): ApiClient {
    let c = this.rawClients.get(maxBytes);
    if (!c) {
      const requesterFn = boundedRequesterFn({ origin: this.origin, retry: this.retry, requestTimeoutMs: this.requestTimeoutMs, maxResponseBytes: maxBytes });
      const common = { host: this.baseUrl, requesterFn, queryTimeout: this.callTimeoutMs } as const;
      c = (this.token ? new Gitlab({ ...common, token: this.token }) : new Gitlab(common)) as ApiClient;
      this.rawClients.set(maxBytes, c);
    }
    return c;
  }

  /**
   * Deploy keys, deploy tokens, job token scope, push rules and the release/package settings. Each
   * part is read on its own: a 401/403 (the token lacks the role) makes that part unavailable with
   * the permission it needs; a 404 on push rules means the tier has none.
   */
  private async readWritePaths(): Promise<ForgeWritePaths> {
    const unavailable: ForgeWritePaths['unavailable'] = [];
    const part = async <T>(what: string, permission: string, fn: () => Promise<T>, onNotFound?: () => T): Promise<T | null> => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof ForgeError && err.kind === 'not-found' && onNotFound) return onNotFound();
        if (err instanceof ForgeError && (err.kind === 'unauthorized' || err.kind === 'not-found')) {
          unavailable.push({ what, permission, reason: err.userMessage });
          return null;
        }
        throw err;
      }
    };
    const MAINTAINER = 'a token of a Maintainer (read_api)';
    const deployKeys = await part('deploy keys', MAINTAINER, async () => {
      const page = await this.callExpanded(
        'the deploy keys',
        () => this.api.DeployKeys.all({ projectId: this.project, perPage: PER_PAGE, maxPages: WRITE_PATH_PAGES, showExpanded: true }),
        z.array(DeployKeyJson),
      );
      if (page.more) throw new ForgeError('bad-response', `more than ${PER_PAGE * WRITE_PATH_PAGES} deploy keys; refusing a partial list`);
      return page.items.map((k) => ({ id: k.id, title: k.title, canPush: k.can_push }));
    });
    const deployTokens = await part('deploy tokens', MAINTAINER, async () => {
      const page = await this.callExpanded(
        'the deploy tokens',
        () => this.api.DeployTokens.all({ projectId: this.project, perPage: PER_PAGE, maxPages: WRITE_PATH_PAGES, showExpanded: true }),
        z.array(DeployTokenJson),
      );
      if (page.more) throw new ForgeError('bad-response', `more than ${PER_PAGE * WRITE_PATH_PAGES} deploy tokens; refusing a partial list`);
      return page.items.map((t) => ({ id: t.id, name: t.name, scopes: t.scopes, active: t.revoked !== true && t.expired !== true }));
    });
    const jobTokenInboundLimited = await part('job token scope', MAINTAINER, async () => {
      const scope = await this.call('the job token scope', () => this.api.ProjectJobTokenScopes.show(this.project), JobTokenScopeJson, {
        notFound: 'job token scope not found',
      });
      return scope.inbound_enabled;
    });
    const pushRules = await part(
      'push rules',
      MAINTAINER,
      async (): Promise<ForgeWritePaths['pushRules']> => {
        const rule = await this.call('the push rules', () => this.api.ProjectPushRules.show(this.project), PushRuleJson, { notFound: 'push rules not found' });
        // Premium with no push rule configured: tags may be deleted
        return { denyDeleteTag: rule?.deny_delete_tag === true };
      },
      (): ForgeWritePaths['pushRules'] => 'absent',
    );
    const settings = await part('release and package settings', 'read_api', async () => {
      const p = await this.call(`project ${this.project}`, () => this.api.Projects.show(this.project), ProjectSettingsJson, {
        notFound: `project ${this.project} not found`,
      });
      return {
        releasesAccessLevel: p.releases_access_level ?? undefined,
        packagesEnabled: p.packages_enabled ?? undefined,
        packageRegistryAccessLevel: p.package_registry_access_level ?? undefined,
      };
    });
    return { deployKeys, deployTokens, jobTokenInboundLimited, pushRules, settings, unavailable };
  }

  /**
   * Recent releases (newest first, with their embedded links) and tags, for the ledger. Bounded:
   * `complete` is false when more were left, so the ledger treats older entries as unknown.
   */
  private async readHistory(): Promise<ReleaseHistory> {
    const releases = await this.callExpanded(
      'the release history',
      () =>
        this.api.ProjectReleases.all(this.project, {
          orderBy: 'released_at',
          sort: 'desc',
          perPage: PER_PAGE,
          maxPages: HISTORY_RELEASE_PAGES,
          showExpanded: true,
        }),
      z.array(ReleaseJson),
    );
    const tags = await this.callExpanded(
      'the tag list',
      () => this.api.Tags.all(this.project, { perPage: PER_PAGE, maxPages: HISTORY_TAG_PAGES, showExpanded: true } as { showExpanded: true }),
      z.array(TagJson),
    );
    const tagMap: Record<string, string> = {};
    for (const t of tags.items) {
      if (Object.hasOwn(tagMap, t.name)) throw new ForgeError('bad-response', `the tag list names ${t.name} twice (pagination shifted?)`);
      tagMap[t.name] = t.commit.id;
    }
    return {
      releases: releases.items.map((r) => ({ tag: r.tag_name, commitSha: r.commit.id, links: r.assets.links.map((l) => ({ name: l.name, url: l.url })) })),
      tags: tagMap,
      complete: !releases.more && !tags.more,
    };
  }

  // ───────────────────────────── releases ─────────────────────────────

  private async latestRelease(): Promise<ReleaseJson> {
    const permalinkUrl = `${this.projectApiUrl()}/releases/permalink/latest`;
    // 404 means "no (non-upcoming) release"; whether that is true is checked against the listing
    const permalink = await this.call('the latest-release permalink', () => this.api.ProjectReleases.showLatest(this.project), ReleaseJson, {
      notFound: 'no latest release',
    }).catch((err: unknown) => {
      if (err instanceof ForgeError && err.kind === 'not-found') return undefined;
      throw err;
    });
    const page = await this.callExpanded(
      'the release list',
      () =>
        this.api.ProjectReleases.all(this.project, {
          orderBy: 'released_at',
          sort: 'desc',
          perPage: LATEST_SCAN_PER_PAGE,
          maxPages: LATEST_SCAN_PAGES,
          showExpanded: true,
        }),
      z.array(ReleaseJson),
    );
    const now = Date.now();
    const dated = page.items.map((r) => ({ r, at: releasedAtMs(r) }));
    // our own order, newest first; upcoming releases are not "latest" (GitLab's permalink skips them too)
    const released = dated.filter((d) => d.r.upcoming_release !== true && d.at <= now).sort((a, b) => b.at - a.at);
    const newest = released[0];
    // equal timestamps: either of the tied releases is a fair "latest"
    const tiedNewest = released.filter((d) => d.at === newest?.at).map((d) => d.r.tag_name);

    if (!permalink) {
      if (!newest) {
        if (page.more) throw new ForgeError('bad-response', `the newest ${page.items.length} releases are all upcoming; cannot tell which one is latest`);
        throw new ForgeError('not-found', `project ${this.project} has no releases${page.items.length ? ' (only upcoming ones)' : ''}`);
      }
      throw new LatestReleaseDisagreesError(
        `GitLab's latest-release permalink names no release, but the release list has ${newest.r.tag_name} (released ${newest.r.released_at}); cannot tell which release users get`,
        { listingTag: newest.r.tag_name, url: permalinkUrl },
      );
    }
    const permalinkAt = releasedAtMs(permalink);
    if (permalink.upcoming_release === true || permalinkAt > now) {
      throw new LatestReleaseDisagreesError(
        `GitLab's latest-release permalink names ${permalink.tag_name}, an upcoming release (released_at ${permalink.released_at})`,
        {
          permalinkTag: permalink.tag_name,
          listingTag: newest?.r.tag_name,
          url: permalinkUrl,
        },
      );
    }
    if (!newest || !tiedNewest.includes(permalink.tag_name)) {
      const listed = dated.find((d) => d.r.tag_name === permalink.tag_name);
      throw new LatestReleaseDisagreesError(
        `GitLab's latest-release permalink names ${permalink.tag_name} (released ${permalink.released_at}), but sorted by released_at the release list's newest is ` +
          `${newest ? `${newest.r.tag_name} (released ${newest.r.released_at})` : 'none'}${listed ? '' : `, and ${permalink.tag_name} is not among the ${page.items.length} listed`}; ` +
          'cannot tell which release users get (verify each with --release)',
        { permalinkTag: permalink.tag_name, listingTag: newest?.r.tag_name, url: permalinkUrl },
      );
    }
    const listed = newest.r.tag_name === permalink.tag_name ? newest.r : released.find((d) => d.r.tag_name === permalink.tag_name)!.r;
    if (listed.commit.id !== permalink.commit.id) {
      throw new ForgeError(
        'bad-response',
        `GitLab contradicts itself about release ${permalink.tag_name}: the list says commit ${listed.commit.id}, the permalink ${permalink.commit.id}`,
        {
          url: permalinkUrl,
        },
      );
    }
    return permalink;
  }

  private releaseByTag(tag: string): Promise<ReleaseJson> {
    return this.call(`release ${tag}`, () => this.api.ProjectReleases.show(this.project, tag), ReleaseJson, {
      notFound: `no release for tag ${tag} in project ${this.project}`,
    });
  }

  private async releaseLinks(release: ReleaseJson): Promise<ReleaseLink[]> {
    const tag = release.tag_name;
    const page = await this.callExpanded(
      `the asset links of ${tag}`,
      () => this.api.ReleaseLinks.all(this.project, tag, { perPage: PER_PAGE, maxPages: MAX_LINK_PAGES, showExpanded: true }),
      z.array(ReleaseLinkJson),
    );
    if (page.more) throw new ForgeError('bad-response', `release ${tag} has more than ${PER_PAGE * MAX_LINK_PAGES} asset links; refusing a partial list`);
    const expected = release.assets.count - release.assets.sources.length;
    if (page.items.length !== expected) {
      throw new ForgeError(
        'bad-response',
        `GitLab contradicts itself about release ${tag}: assets.count says ${expected} link(s), the links endpoint lists ${page.items.length}`,
      );
    }
    const seen = new Set<number>();
    for (const l of page.items) {
      if (seen.has(l.id)) throw new ForgeError('bad-response', `release ${tag} lists link id ${l.id} twice (pagination shifted?)`);
      seen.add(l.id);
    }
    return page.items.map((l) => ({
      id: l.id,
      name: l.name,
      url: l.url,
      directAssetUrl: l.direct_asset_url ?? undefined,
      linkType: l.link_type ?? undefined,
    }));
  }

  private async resolveCloneUrl(): Promise<void> {
    if (this.resolvedCloneUrl) return;
    const project = await this.call(`project ${this.project}`, () => this.api.Projects.show(this.project), ProjectJson, {
      notFound: `project ${this.project} not found (or the token cannot see it)`,
    });
    const url = parseHttpUrl(project.http_url_to_repo, 'http_url_to_repo');
    if (url.origin !== this.origin) {
      throw new ForgeError('bad-response', `GitLab's clone URL ${url.origin} is not on ${this.origin}; set gitlab.cloneUrl explicitly`);
    }
    this.resolvedCloneUrl = url.href;
  }

  // ───────────────────────────── downloads ─────────────────────────────

  private async downloadReleaseLink(request: AssetRequest, destPath: string, limits: DownloadLimits): Promise<DownloadedFile> {
    const matches = request.release.links.filter((l) => l.name === request.name);
    if (matches.length === 0) {
      throw new ForgeError('not-found', `release ${request.release.tag} has no asset link named "${request.name}"`);
    }
    if (matches.length > 1) throw new ForgeError('bad-response', `release ${request.release.tag} has ${matches.length} links named "${request.name}"`);
    const link = matches[0]!;
    const what = `asset "${request.name}" of ${request.release.tag}`;
    // GitLab's permanent URL redirects to the link target; preferring it follows what users click
    const first = link.directAssetUrl ?? link.url;
    try {
      return await this.fetchTo(first, destPath, limits, what);
    } catch (err) {
      // the permanent URL is a web route; where it wants a browser session instead of the token,
      // the link target itself (usually the packages API) still takes the token
      if (err instanceof ForgeError && err.kind === 'unauthorized' && /sign-in page/.test(err.userMessage) && link.url !== first) {
        return this.fetchTo(link.url, destPath, limits, what);
      }
      throw err;
    }
  }

  private async downloadGenericPackageFile(
    packageName: string,
    packageVersion: string,
    fileName: string,
    destPath: string,
    limits: DownloadLimits,
  ): Promise<DownloadedFile> {
    const what = `generic package ${packageName}@${packageVersion}`;
    const packages = await this.callExpanded(
      `the ${what} lookup`,
      () =>
        this.api.Packages.all({
          projectId: this.project,
          // `generic` and `package_version` are valid API filters gitbeaker's types do not list
          ...({ packageType: 'generic', packageVersion } as object),
          packageName,
          perPage: PER_PAGE,
          maxPages: MAX_PACKAGE_PAGES,
          showExpanded: true,
        }),
      z.array(PackageJson),
    );
    if (packages.more) throw new ForgeError('bad-response', `too many packages match ${what}; refusing a partial list`);
    const exact = packages.items.filter((p) => p.package_type === 'generic' && p.name === packageName && p.version === packageVersion);
    if (exact.length === 0) throw new ForgeError('not-found', `${what} not found in project ${this.project}`);

    const records: PackageFileJson[] = [];
    for (const pkg of exact) {
      const files = await this.callExpanded(
        `the files of ${what}`,
        () =>
          this.api.Packages.allFiles(this.project, pkg.id, { perPage: PER_PAGE, maxPages: MAX_PACKAGE_FILE_PAGES, showExpanded: true } as {
            showExpanded: true;
          }),
        z.array(PackageFileJson),
      );
      if (files.more) throw new ForgeError('bad-response', `${what} has too many files; refusing a partial list`);
      records.push(...files.items.filter((f) => f.file_name === fileName && f.package_id === pkg.id));
    }
    if (records.length === 0) throw new ForgeError('not-found', `${what} has no file named "${fileName}"`);
    // GitLab serves the most recent upload of a name
    const newest = records.reduce((a, b) => (b.id > a.id ? b : a));

    const url = `${this.projectApiUrl()}/packages/generic/${encodeURIComponent(packageName)}/${encodeURIComponent(packageVersion)}/${encodeURIComponent(fileName)}`;
    const file = await this.fetchTo(url, destPath, limits, `${what} file "${fileName}"`);
    if (file.sha256 !== newest.file_sha256) {
      // no file unless it is the published one: the digests in the error are the evidence
      await unlink(file.path).catch(() => undefined);
      if (records.some((r) => r.file_sha256 === file.sha256)) {
        throw new ForgeError('bad-response', `${what} holds several "${fileName}" uploads and served an older one; cannot tell which is published`, {
          url: file.url,
        });
      }
      throw new ForgeDigestMismatchError(
        `GitLab records SHA-256 ${newest.file_sha256} for ${what} file "${fileName}" but served bytes with SHA-256 ${file.sha256}`,
        { url: file.url, expectedSha256: newest.file_sha256, actualSha256: file.sha256, packageFileId: newest.id, fileName },
      );
    }
    return { ...file, forgeSha256: newest.file_sha256 };
  }

  private async fetchTo(url: string, destPath: string, limits: DownloadLimits, what: string): Promise<DownloadedFile> {
    try {
      const r = await safeDownload(url, destPath, limits, {
        gitlabUrl: this.origin,
        token: this.token,
        allowedAssetHosts: this.allowedAssetHosts,
        retry: this.retry,
      });
      return { path: r.path, sha256: r.sha256, size: r.size, url: r.url };
    } catch (err) {
      if (err instanceof ForgeError && err.kind === 'not-found') {
        throw new ForgeError('not-found', `${what} not found (${err.userMessage})`, { url: err.url, status: err.status, cause: err });
      }
      throw err;
    }
  }

  private projectApiUrl(): string {
    return `${this.baseUrl}/api/v4/projects/${encodeURIComponent(String(this.project))}`;
  }

  // ───────────────────────────── API plumbing ─────────────────────────────

  /** One API call whose answer must match `schema`; 404 gets a message that says what is missing. */
  private async call<S extends z.ZodType>(what: string, fn: () => Promise<unknown>, schema: S, messages: { notFound: string }): Promise<z.output<S>> {
    let body: unknown;
    try {
      body = await fn();
    } catch (err) {
      throw this.explain(err, messages.notFound);
    }
    return parseGitlab(schema, body, what);
  }

  /** A paginated call (showExpanded): the items, and whether pages were left when the bound hit. */
  private async callExpanded<S extends z.ZodType>(what: string, fn: () => Promise<unknown>, schema: S): Promise<{ items: z.output<S>; more: boolean }> {
    let body: unknown;
    try {
      body = await fn();
    } catch (err) {
      throw this.explain(err, `${what}: not found in project ${this.project}`);
    }
    const expanded = body as Expanded;
    if (!expanded || typeof expanded !== 'object' || !('data' in expanded)) {
      throw new ForgeError('bad-response', `GitLab answered ${what} with an unexpected shape (not a list)`);
    }
    const items = parseGitlab(schema, expanded.data, what);
    return { items, more: (expanded.paginationInfo?.next ?? null) !== null && !Number.isNaN(expanded.paginationInfo?.next) };
  }

  private explain(err: unknown, notFound: string): ForgeError {
    if (err instanceof ForgeError) {
      if (err.kind === 'not-found') return new ForgeError('not-found', notFound, { url: err.url, status: err.status, cause: err });
      return err;
    }
    // anything else from gitbeaker itself (it should not happen with our requester)
    return new ForgeError('bad-response', `GitLab client error: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** `released_at` (GitLab always sets it; `created_at` as a fallback) in ms; unparseable is refused. */
function releasedAtMs(r: ReleaseJson): number {
  const value = r.released_at ?? r.created_at;
  const ms = value ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) throw new ForgeError('bad-response', `release ${r.tag_name} has no usable released_at (${JSON.stringify(value ?? null)})`);
  return ms;
}
