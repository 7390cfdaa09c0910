/**
 * A GitLab REST API stand-in on loopback, for the offline demo and the forge tests. It answers the
 * endpoints the verifier reads with GitLab's response shapes — built from the reference responses
 * in demo/gitlab-api-templates/ (cloned, then ids/names/SHAs/dates/URLs filled in) — and GitLab's
 * pagination headers. Everything lives in memory; assets are small.
 *
 * ## API
 *
 * ```ts
 * const gl = await startGitLabStandIn({ token: 'glpat-demo' });   // 127.0.0.1, ephemeral port
 * gl.url                      // "http://127.0.0.1:PORT" — the GitLab URL (API under /api/v4)
 * const p = gl.model.addProject({ path: 'demo/app', id: 4242 });
 * gl.model.publishRelease(p, {                                     // tag created if missing
 *   tag: 'v1.0.0', commitSha,                                       // annotated tag by default
 *   assets: [{ name: 'app-linux', bytes }],                         // → generic package file + release link
 * });
 * gl.model.replaceAsset(p, { packageName: 'app', version: '1.0.0', fileName: 'app-linux', bytes: other });
 * gl.faults.inject(/\/releases$/, [{ status: 429, headers: { 'retry-after': '1' } }, 'pass']);
 * gl.requests                 // every request: method, url, headers (to assert on tokens)
 * await gl.close();
 *
 * const cdn = await startAssetHost();                                // a second origin (foreign host)
 * cdn.put('/x.bin', bytes); cdn.url + '/x.bin'; cdn.requests; await cdn.close();
 * ```
 *
 * Model (`gl.model`): `addProject`, `addTag` (annotated: `target` = tag object SHA, `commit.id` =
 * the commit; lightweight: both the commit), `moveTag`, `publishRelease`, `addLink`,
 * `uploadPackageFile` (a re-upload adds a record, as GitLab does), `replaceAsset` (`recordedSha256:
 * 'update'` = re-upload; `'keep'` = bytes swapped behind GitLab's recorded digest), `setJobArtifact`,
 * `putRawFile` (served at `/files/<path>`), `project(ref)`.
 *
 * Endpoints (all GET, under /api/v4): projects/:id (id or URL-encoded path); releases (order_by
 * released_at|created_at, sort, offset or keyset pagination); releases/permalink/latest[/*] (302 to
 * the release, upcoming releases excluded); releases/:tag; releases/:tag/assets/links[/:id];
 * releases/:tag/downloads/* (302 to the link URL); repository/tags[/:tag]; packages (package_type,
 * package_name — substring match as GitLab —, package_version); packages/:id;
 * packages/:id/package_files; packages/generic/:name/:version/:file;
 * jobs/artifacts/:ref/raw/*?job=; protected_tags; protected_branches (set `project.protectedTags` /
 * `protectedBranches`, e.g. from `PROTECTIONS.insecure`). Web: /<project>/-/releases/:tag/downloads/* (302 to the link URL);
 * /files/* (raw bytes).
 *
 * Auth: `PRIVATE-TOKEN` or `Authorization: Bearer` must equal `token` when given; a wrong token is
 * 401, a missing one 404 "Project Not Found" when `requireToken` (default: true when `token` is set).
 *
 * Faults (`gl.faults.inject(match, steps, { repeatLast })`): `match` is an exact pathname (string),
 * a RegExp tested on pathname+search, or a predicate. Each matching request consumes one step:
 * `'pass'` (answer normally), `{ status, headers?, body? }`, `{ redirect: url, status? }`,
 * `{ truncate: n }` (real answer, full Content-Length, only n bytes, then the socket is destroyed),
 * `{ reset: true }`, `{ hang: true }`, `{ stream: n, contentLength?: boolean | number }` (n zero
 * bytes, optionally announcing a length), `{ trickle: true, intervalMs? }` (one byte a second, never
 * ending), `{ cut: true, contentLength, send, chunkSize? }` (announces `contentLength`, sends `send`
 * bytes, destroys the socket at once: 0 = before the first byte). After the last step, requests
 * pass — or keep getting the last step with `repeatLast` (e.g. 5xx forever).
 *
 * Hostile behaviour (`gl.hostile`, settable at any time): `ignoreSort` lists releases in publication
 * order whatever `order_by`/`sort` say (a forge that must not choose which release is "latest").
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// ───────────────────────────── templates ─────────────────────────────

function template<T = Record<string, any>>(file: string): T {
  return JSON.parse(readFileSync(new URL(`./gitlab-api-templates/${file}`, import.meta.url), 'utf8')) as T;
}
const RELEASE_TEMPLATE = template('GET_projects_4242_releases_v0.4.0.json');
const TAG_TEMPLATE = template('GET_projects_4242_repository_tags_v0.4.0.json');
const PACKAGE_TEMPLATE = template<Record<string, any>[]>('GET_projects_4242_packages.json')[0]!;
const PACKAGE_FILE_TEMPLATE = template<Record<string, any>[]>('GET_projects_4242_packages_43519807_package_files.json')[0]!;
/** Protected tags/branches as GitLab answers them: `secure` (Premium shape) and `insecure` (Free shape). */
export const PROTECTIONS = {
  secure: {
    tags: template<Record<string, any>[]>('GET_projects_4242_protected_tags.secure.json'),
    branches: template<Record<string, any>[]>('GET_projects_4242_protected_branches.secure.json'),
  },
  insecure: {
    tags: template<Record<string, any>[]>('GET_projects_4242_protected_tags.insecure.json'),
    branches: template<Record<string, any>[]>('GET_projects_4242_protected_branches.insecure.json'),
  },
} as const;

const clone = <T>(v: T): T => structuredClone(v);

/** A deterministic 40-hex "SHA" for a seed (fake commits, tag objects). */
export function fakeSha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}
const digest = (alg: string, bytes: Uint8Array) => createHash(alg).update(bytes).digest('hex');

// ───────────────────────────── model ─────────────────────────────

export interface StandInTag {
  name: string;
  commitSha: string;
  annotated: boolean;
  /** the tag object's SHA (annotated) — what GitLab reports as `target` */
  tagObjectSha?: string;
  message: string;
  createdAt: string;
  protected: boolean;
}
export interface StandInLink {
  id: number;
  name: string;
  url: string;
  /** `/path` under the release's permanent downloads URL; absent → direct_asset_url = url */
  directAssetPath?: string;
  linkType: string;
}
export interface StandInRelease {
  tag: string;
  name: string;
  description: string;
  /** commit the release reports (`commit.id`); by default the tag's commit at publication */
  commitSha: string;
  createdAt: string;
  releasedAt: string;
  links: StandInLink[];
}
export interface StandInPackageFile {
  id: number;
  fileName: string;
  bytes: Buffer;
  /** what GitLab reports as file_sha256 (normally the bytes' digest) */
  recordedSha256: string;
  createdAt: string;
}
export interface StandInPackage {
  id: number;
  name: string;
  version: string;
  createdAt: string;
  pipelineSha: string;
  ref: string;
  files: StandInPackageFile[];
}
export interface StandInProject {
  id: number;
  path: string;
  tags: Map<string, StandInTag>;
  releases: Map<string, StandInRelease>;
  packages: StandInPackage[];
  /** key: `${ref}\0${job}\0${path}` */
  jobArtifacts: Map<string, Buffer>;
  /** raw JSON answered by protected_tags / protected_branches (default: the secure reference) */
  protectedTags: Record<string, any>[];
  protectedBranches: Record<string, any>[];
  /** files of the repository at each commit, for repository/tree and repository/files/:path/raw (audit) */
  repository: Map<string, Record<string, string>>;
  /** the forge's write paths as GitLab answers them (audit; defaults: the templates) */
  writePaths: StandInWritePaths;
}
/** Raw JSON the audit endpoints answer; `forbidden` names endpoints that answer 403 (a token below Maintainer). */
export interface StandInWritePaths {
  deployKeys: Record<string, any>[];
  deployTokens: Record<string, any>[];
  jobTokenScope: Record<string, any>;
  jobTokenAllowlist: Record<string, any>[];
  /** 'absent': the tier has no push rules (404); null: Premium without a rule */
  pushRule: Record<string, any> | null | 'absent';
  settings: { packages_enabled: boolean; package_registry_access_level: string; releases_access_level: string };
  forbidden: Set<'deploy_keys' | 'deploy_tokens' | 'job_token_scope' | 'push_rule' | 'repository'>;
}
/** The write paths of a well-kept project (read-only keys and tokens, inbound allow-list on, tags undeletable). */
export function secureWritePaths(): StandInWritePaths {
  return {
    deployKeys: clone(template<Record<string, any>[]>('GET_projects_4242_deploy_keys.json')).map((k) => ({ ...k, can_push: false })),
    deployTokens: clone(template<Record<string, any>[]>('GET_projects_4242_deploy_tokens.json')).map((t) => ({
      ...t,
      scopes: t.scopes.filter((x: string) => x.startsWith('read_')),
    })),
    jobTokenScope: { ...template('GET_projects_4242_job_token_scope.json'), inbound_enabled: true },
    jobTokenAllowlist: clone(template<Record<string, any>[]>('GET_projects_4242_job_token_scope_allowlist.json')),
    pushRule: { ...template<Record<string, any>>('GET_projects_4242_push_rule.json'), deny_delete_tag: true },
    settings: { packages_enabled: true, package_registry_access_level: 'enabled', releases_access_level: 'enabled' },
    forbidden: new Set(),
  };
}
/** The write paths exactly as the templates are: a pushing deploy key, a writing deploy token, an open job token scope, deletable tags. */
export function insecureWritePaths(): StandInWritePaths {
  const t = template<Record<string, any>>('GET_projects_4242.settings.json');
  return {
    deployKeys: clone(template<Record<string, any>[]>('GET_projects_4242_deploy_keys.json')),
    deployTokens: clone(template<Record<string, any>[]>('GET_projects_4242_deploy_tokens.json')),
    jobTokenScope: template('GET_projects_4242_job_token_scope.json'),
    jobTokenAllowlist: clone(template<Record<string, any>[]>('GET_projects_4242_job_token_scope_allowlist.json')),
    pushRule: template('GET_projects_4242_push_rule.json'),
    settings: {
      packages_enabled: t.packages_enabled,
      package_registry_access_level: t.package_registry_access_level,
      releases_access_level: t.releases_access_level,
    },
    forbidden: new Set(),
  };
}
export type ProjectRef = StandInProject | number | string;

export interface PublishAsset {
  name: string;
  bytes: Uint8Array;
  linkType?: 'other' | 'runbook' | 'image' | 'package';
}
export interface PublishReleaseInput {
  tag: string;
  /** commit of the tag (created if missing); defaults to a fake SHA from the tag name */
  commitSha?: string;
  /** what the release reports as its commit, if it should differ from the tag's */
  releaseCommitSha?: string;
  name?: string;
  description?: string;
  releasedAt?: string;
  /** released_at a month ahead */
  upcoming?: boolean;
  annotated?: boolean;
  /** uploaded as generic package files of `packageName`/`version` and linked like GitLab CI does */
  assets?: PublishAsset[];
  /** default: the project's last path segment */
  packageName?: string;
  /** default: the tag without a leading "v" */
  version?: string;
}

export class StandInModel {
  readonly projects: StandInProject[] = [];
  private nextId = 1_000;
  private clock = Date.parse('2025-01-01T00:00:00.000Z');

  constructor(private readonly base: () => string) {}

  /** monotonically increasing timestamps (so release order is deterministic) */
  now(): string {
    this.clock += 60_000;
    return new Date(this.clock).toISOString();
  }
  newId(): number {
    return (this.nextId += 1);
  }

  addProject(input: { path: string; id?: number }): StandInProject {
    if (!/^[\w.-]+(\/[\w.-]+)+$/.test(input.path)) throw new Error(`bad project path ${input.path}`);
    const p: StandInProject = {
      id: input.id ?? this.newId(),
      path: input.path,
      tags: new Map(),
      releases: new Map(),
      packages: [],
      jobArtifacts: new Map(),
      protectedTags: clone(PROTECTIONS.secure.tags),
      protectedBranches: clone(PROTECTIONS.secure.branches),
      repository: new Map(),
      writePaths: secureWritePaths(),
    };
    this.projects.push(p);
    return p;
  }

  project(ref: ProjectRef): StandInProject {
    if (typeof ref === 'object') return ref;
    const found = this.projects.find((p) => p.id === ref || p.path === ref || String(p.id) === ref);
    if (!found) throw new Error(`no project ${ref}`);
    return found;
  }

  addTag(
    ref: ProjectRef,
    input: { name: string; commitSha: string; annotated?: boolean; message?: string; tagObjectSha?: string; protected?: boolean },
  ): StandInTag {
    const p = this.project(ref);
    const annotated = input.annotated ?? true;
    const tag: StandInTag = {
      name: input.name,
      commitSha: input.commitSha,
      annotated,
      tagObjectSha: annotated ? (input.tagObjectSha ?? fakeSha(`tag-object:${p.path}:${input.name}:${input.commitSha}`)) : undefined,
      message: annotated ? (input.message ?? `${p.path.split('/').pop()} ${input.name}`) : '',
      createdAt: this.now(),
      protected: input.protected ?? true,
    };
    p.tags.set(input.name, tag);
    return tag;
  }

  /** Force-moves a tag to another commit (a new tag object for annotated tags). */
  moveTag(ref: ProjectRef, name: string, commitSha: string): StandInTag {
    const old = this.project(ref).tags.get(name);
    if (!old) throw new Error(`no tag ${name}`);
    return this.addTag(ref, { name, commitSha, annotated: old.annotated, message: old.message, protected: old.protected });
  }

  publishRelease(ref: ProjectRef, input: PublishReleaseInput): StandInRelease {
    const p = this.project(ref);
    let tag = p.tags.get(input.tag);
    if (!tag) tag = this.addTag(p, { name: input.tag, commitSha: input.commitSha ?? fakeSha(`commit:${p.path}:${input.tag}`), annotated: input.annotated });
    const createdAt = this.now();
    const releasedAt = input.releasedAt ?? (input.upcoming ? new Date(Date.now() + 30 * 86_400_000).toISOString() : createdAt);
    const release: StandInRelease = {
      tag: input.tag,
      name: input.name ?? `${p.path.split('/').pop()} ${input.tag.replace(/^v/, '')}`,
      description: input.description ?? `Release ${input.tag}`,
      commitSha: input.releaseCommitSha ?? tag.commitSha,
      createdAt,
      releasedAt,
      links: [],
    };
    p.releases.set(input.tag, release);
    const packageName = input.packageName ?? p.path.split('/').pop()!;
    const version = input.version ?? input.tag.replace(/^v/, '');
    for (const asset of input.assets ?? []) {
      this.uploadPackageFile(p, { packageName, version, fileName: asset.name, bytes: asset.bytes, ref: input.tag });
      this.addLink(p, input.tag, {
        name: asset.name,
        url: `${this.base()}/api/v4/projects/${p.id}/packages/generic/${encodeURIComponent(packageName)}/${encodeURIComponent(version)}/${encodeURIComponent(asset.name)}`,
        directAssetPath: `/${asset.name}`,
        linkType: asset.linkType ?? 'package',
      });
    }
    return release;
  }

  addLink(ref: ProjectRef, tag: string, input: { name: string; url: string; directAssetPath?: string; linkType?: string }): StandInLink {
    const release = this.project(ref).releases.get(tag);
    if (!release) throw new Error(`no release ${tag}`);
    if (release.links.some((l) => l.name === input.name)) throw new Error(`link ${input.name} exists`);
    const link: StandInLink = {
      id: this.newId(),
      name: input.name,
      url: input.url,
      directAssetPath: input.directAssetPath,
      linkType: input.linkType ?? 'other',
    };
    release.links.push(link);
    return link;
  }

  uploadPackageFile(
    ref: ProjectRef,
    input: { packageName: string; version: string; fileName: string; bytes: Uint8Array; recordedSha256?: string; ref?: string },
  ): StandInPackageFile {
    const p = this.project(ref);
    let pkg = p.packages.find((x) => x.name === input.packageName && x.version === input.version);
    if (!pkg) {
      const tagRef = input.ref ?? `v${input.version}`;
      pkg = {
        id: this.newId(),
        name: input.packageName,
        version: input.version,
        createdAt: this.now(),
        pipelineSha: p.tags.get(tagRef)?.commitSha ?? fakeSha(`pipeline:${p.path}:${tagRef}`),
        ref: tagRef,
        files: [],
      };
      p.packages.push(pkg);
    }
    const bytes = Buffer.from(input.bytes);
    const file: StandInPackageFile = {
      id: this.newId(),
      fileName: input.fileName,
      bytes,
      recordedSha256: input.recordedSha256 ?? digest('sha256', bytes),
      createdAt: this.now(),
    };
    pkg.files.push(file);
    return file;
  }

  /**
   * Swaps the published bytes of a generic package file. `recordedSha256: 'update'` (default) is a
   * re-upload as GitLab records it (new file record, new digest); `'keep'` changes the stored bytes
   * behind GitLab's recorded digest (storage tampering).
   */
  replaceAsset(
    ref: ProjectRef,
    input: { packageName: string; version: string; fileName: string; bytes: Uint8Array; recordedSha256?: 'update' | 'keep' },
  ): StandInPackageFile {
    const p = this.project(ref);
    const pkg = p.packages.find((x) => x.name === input.packageName && x.version === input.version);
    const current = pkg?.files.filter((f) => f.fileName === input.fileName).at(-1);
    if (!pkg || !current) throw new Error(`no package file ${input.packageName}/${input.version}/${input.fileName}`);
    if (input.recordedSha256 === 'keep') {
      current.bytes = Buffer.from(input.bytes);
      return current;
    }
    return this.uploadPackageFile(p, { packageName: input.packageName, version: input.version, fileName: input.fileName, bytes: input.bytes });
  }

  setJobArtifact(ref: ProjectRef, input: { ref: string; job: string; path: string; bytes: Uint8Array }): void {
    this.project(ref).jobArtifacts.set(`${input.ref}\0${input.job}\0${input.path}`, Buffer.from(input.bytes));
  }

  readonly rawFiles = new Map<string, Buffer>();
  /** Serves `bytes` at `<url>/files/<path>`; returns that URL. */
  putRawFile(path: string, bytes: Uint8Array): string {
    const clean = path.replace(/^\/+/, '');
    this.rawFiles.set(clean, Buffer.from(bytes));
    return `${this.base()}/files/${clean.split('/').map(encodeURIComponent).join('/')}`;
  }
}

// ───────────────────────────── JSON shapes ─────────────────────────────

interface Urls {
  base: string;
  api: string;
  web(p: StandInProject): string;
}

function commitJson(u: Urls, p: StandInProject, sha: string, title: string, date: string): Record<string, any> {
  const c = clone(RELEASE_TEMPLATE.commit);
  c.id = sha;
  c.short_id = sha.slice(0, 8);
  c.parent_ids = [fakeSha(`parent:${sha}`)];
  c.title = title;
  c.message = `${title}\n`;
  c.created_at = c.authored_date = c.committed_date = date.replace('Z', '+00:00');
  c.web_url = `${u.web(p)}/-/commit/${sha}`;
  return c;
}

function linkJson(u: Urls, p: StandInProject, r: StandInRelease, l: StandInLink): Record<string, any> {
  return {
    id: l.id,
    name: l.name,
    url: l.url,
    direct_asset_url: l.directAssetPath ? `${u.web(p)}/-/releases/${encodeURIComponent(r.tag)}/downloads${l.directAssetPath}` : l.url,
    link_type: l.linkType,
  };
}

function releaseJson(u: Urls, p: StandInProject, r: StandInRelease): Record<string, any> {
  const j = clone(RELEASE_TEMPLATE);
  const web = u.web(p);
  const tagEnc = encodeURIComponent(r.tag);
  const repoName = p.path.split('/').pop()!;
  j.name = r.name;
  j.tag_name = r.tag;
  j.description = r.description;
  j.created_at = r.createdAt;
  j.released_at = r.releasedAt;
  j.upcoming_release = Date.parse(r.releasedAt) > Date.now();
  j.author.web_url = `${u.base}/${j.author.username}`;
  j.author.avatar_url = `${u.base}/uploads/-/system/user/avatar/${j.author.id}/avatar.png`;
  j.commit = commitJson(u, p, r.commitSha, `chore(release): ${r.tag.replace(/^v/, '')}`, r.createdAt);
  j.commit_path = `/${p.path}/-/commit/${r.commitSha}`;
  j.tag_path = `/${p.path}/-/tags/${tagEnc}`;
  j.assets.sources = j.assets.sources.map((s: { format: string }) => ({
    format: s.format,
    url: `${web}/-/archive/${tagEnc}/${repoName}-${tagEnc}.${s.format}`,
  }));
  j.assets.links = [...r.links].reverse().map((l) => linkJson(u, p, r, l)); // GitLab: newest first
  j.assets.count = j.assets.sources.length + j.assets.links.length;
  j.evidences = [
    { sha: digest('sha256', Buffer.from(`${p.path}@${r.tag}`)), filepath: `${web}/-/releases/${tagEnc}/evidences/${p.id}.json`, collected_at: r.createdAt },
  ];
  for (const key of Object.keys(j._links)) {
    j._links[key] =
      key === 'self'
        ? `${web}/-/releases/${tagEnc}`
        : String(j._links[key]).replace('https://gitlab.com/mealplanner/mealplanner', web).replace('v0.4.0', tagEnc);
  }
  return j;
}

function tagJson(u: Urls, p: StandInProject, t: StandInTag): Record<string, any> {
  const j = clone(TAG_TEMPLATE);
  const release = p.releases.get(t.name);
  j.name = t.name;
  j.message = t.message;
  j.target = t.annotated ? t.tagObjectSha : t.commitSha;
  j.commit = commitJson(u, p, t.commitSha, `commit ${t.commitSha.slice(0, 8)}`, t.createdAt);
  j.release = release ? { tag_name: release.tag, description: release.description } : null;
  j.protected = t.protected;
  j.created_at = t.annotated ? t.createdAt.replace('Z', '+00:00') : null;
  return j;
}

function pipelineJson(u: Urls, p: StandInProject, pkg: StandInPackage): Record<string, any> {
  const j = clone(PACKAGE_TEMPLATE.pipeline);
  j.id = pkg.id + 7;
  j.iid = (pkg.id % 997) + 1;
  j.project_id = p.id;
  j.sha = pkg.pipelineSha;
  j.ref = pkg.ref;
  j.created_at = j.updated_at = pkg.createdAt;
  j.web_url = `${u.web(p)}/-/pipelines/${j.id}`;
  j.user.avatar_url = `${u.base}/uploads/-/system/user/avatar/1/avatar.png`;
  return j;
}

function packageJson(u: Urls, p: StandInProject, pkg: StandInPackage): Record<string, any> {
  const j = clone(PACKAGE_TEMPLATE);
  j.id = pkg.id;
  j.name = pkg.name;
  j.version = pkg.version;
  j.package_type = 'generic';
  j.status = 'default';
  j._links = { web_path: `/${p.path}/-/packages/${pkg.id}` };
  j.created_at = pkg.createdAt;
  j.last_downloaded_at = null;
  j.tags = [];
  j.pipeline = pipelineJson(u, p, pkg);
  j.pipelines = [pipelineJson(u, p, pkg)];
  return j;
}

function packageFileJson(u: Urls, p: StandInProject, pkg: StandInPackage, f: StandInPackageFile): Record<string, any> {
  const j = clone(PACKAGE_FILE_TEMPLATE);
  j.id = f.id;
  j.package_id = pkg.id;
  j.created_at = f.createdAt;
  j.file_name = f.fileName;
  j.size = f.bytes.length;
  j.file_md5 = digest('md5', f.bytes);
  j.file_sha1 = digest('sha1', f.bytes);
  j.file_sha256 = f.recordedSha256;
  j.pipelines = [pipelineJson(u, p, pkg)];
  return j;
}

function projectJson(u: Urls, p: StandInProject): Record<string, any> {
  const name = p.path.split('/').pop()!;
  const namespace = p.path.split('/').slice(0, -1).join('/');
  return {
    id: p.id,
    description: null,
    name,
    name_with_namespace: p.path.replace(/\//g, ' / '),
    path: name,
    path_with_namespace: p.path,
    created_at: '2024-06-01T09:00:00.000Z',
    default_branch: 'main',
    tag_list: [],
    topics: [],
    ssh_url_to_repo: `git@${new URL(u.base).host}:${p.path}.git`,
    http_url_to_repo: `${u.web(p)}.git`,
    web_url: u.web(p),
    readme_url: `${u.web(p)}/-/blob/main/README.md`,
    forks_count: 0,
    avatar_url: null,
    star_count: 0,
    last_activity_at: '2025-03-14T10:22:41.512Z',
    namespace: {
      id: 1,
      name: namespace,
      path: namespace,
      kind: 'group',
      full_path: namespace,
      parent_id: null,
      avatar_url: null,
      web_url: `${u.base}/groups/${namespace}`,
    },
    visibility: 'private',
  };
}

// ───────────────────────────── faults ─────────────────────────────

export type FaultStep =
  | 'pass'
  | { status: number; headers?: Record<string, string>; body?: string | object }
  | { redirect: string; status?: number }
  | { truncate: number }
  | { reset: true }
  | { hang: true }
  | { stream: number; contentLength?: boolean | number }
  /** headers (200, no Content-Length), then one byte every `intervalMs` (default 1000) until the client leaves */
  | { trickle: true; intervalMs?: number }
  /** headers announcing `contentLength`, `send` bytes written in `chunkSize` writes (default 16 KiB), then the socket destroyed */
  | { cut: true; contentLength: number; send: number; chunkSize?: number };
export type RequestMatcher = string | RegExp | ((req: { method: string; pathname: string; search: string }) => boolean);

interface FaultRule {
  match: RequestMatcher;
  steps: FaultStep[];
  next: number;
  repeatLast: boolean;
  hits: number;
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  /** Each request matching `match` consumes the next step; see the file header. */
  inject(match: RequestMatcher, steps: FaultStep[], options: { repeatLast?: boolean } = {}): { readonly hits: number } {
    const rule: FaultRule = { match, steps, next: 0, repeatLast: options.repeatLast ?? false, hits: 0 };
    this.rules.push(rule);
    return {
      get hits() {
        return rule.hits;
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** the step for this request, or 'pass' */
  take(method: string, pathname: string, search: string): FaultStep {
    for (const rule of this.rules) {
      const m = rule.match;
      const hit = typeof m === 'string' ? pathname === m : m instanceof RegExp ? m.test(pathname + search) : m({ method, pathname, search });
      if (!hit) continue;
      if (rule.next >= rule.steps.length) {
        if (!rule.repeatLast || rule.steps.length === 0) continue;
        rule.hits += 1;
        return rule.steps[rule.steps.length - 1]!;
      }
      rule.hits += 1;
      return rule.steps[rule.next++]!;
    }
    return 'pass';
  }
}

// ───────────────────────────── server ─────────────────────────────

export interface RecordedRequest {
  method: string;
  /** path + query as received */
  url: string;
  headers: IncomingHttpHeaders;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: Buffer.from(JSON.stringify(value)),
});
const notFound = (what = '') => json(404, { message: `404 ${what ? `${what} ` : ''}Not Found` });
const redirect = (location: string, status = 302): Reply => ({
  status,
  headers: { location, 'content-type': 'text/html; charset=utf-8' },
  body: Buffer.from(`<html><body>You are being <a href="${location}">redirected</a>.</body></html>`),
});
const bytesReply = (bytes: Buffer, fileName: string): Reply => ({
  status: 200,
  headers: { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename="${fileName.replace(/"/g, '')}"` },
  body: bytes,
});

/** What the API routes need from one running stand-in. */
interface ApiContext {
  readonly urls: Urls;
  readonly hostile: StandInHostility;
  paginate(url: URL, items: unknown[]): Reply;
}

/** GitLab offset pagination (default) or keyset (`pagination=keyset`, opaque `cursor`). */
function paginateItems(url: URL, items: unknown[], baseUrl: string, defaultPerPage: number): Reply {
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page')) || defaultPerPage));
  const pageUrl = (mutate: (s: URLSearchParams) => void) => {
    const u = new URL(url.pathname + url.search, baseUrl);
    mutate(u.searchParams);
    return u.href;
  };
  if (url.searchParams.get('pagination') === 'keyset') {
    const cursor = url.searchParams.get('cursor');
    const start = cursor ? Number(JSON.parse(Buffer.from(cursor, 'base64url').toString()).offset) : 0;
    const slice = items.slice(start, start + perPage);
    const headers: Record<string, string> = { 'x-per-page': String(perPage) };
    if (start + perPage < items.length) {
      const next = Buffer.from(JSON.stringify({ offset: start + perPage })).toString('base64url');
      headers.link = `<${pageUrl((s) => s.set('cursor', next))}>; rel="next"`;
    }
    return json(200, slice, headers);
  }
  const total = items.length;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const page = Math.max(1, Number(url.searchParams.get('page')) || 1);
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const at = (n: number) => pageUrl((s) => s.set('page', String(n)));
  const links: string[] = [];
  if (page > 1) links.push(`<${at(page - 1)}>; rel="prev"`);
  if (page < totalPages) links.push(`<${at(page + 1)}>; rel="next"`);
  links.push(`<${at(1)}>; rel="first"`, `<${at(totalPages)}>; rel="last"`);
  return json(200, slice, {
    'x-page': String(page),
    'x-per-page': String(perPage),
    'x-next-page': page < totalPages ? String(page + 1) : '',
    'x-prev-page': page > 1 ? String(page - 1) : '',
    'x-total': String(total),
    'x-total-pages': String(totalPages),
    link: links.join(', '),
  });
}

/** `projects/:id/releases…`; `projectRef` is the project as the request named it (id or path). */
function releasesRoute(ctx: ApiContext, p: StandInProject, projectRef: string, rest: string[], url: URL): Reply {
  const q = url.searchParams;
  if (rest.length === 1) {
    const orderBy = q.get('order_by') === 'created_at' ? 'createdAt' : 'releasedAt';
    const dir = q.get('sort') === 'asc' ? 1 : -1;
    const all = [...p.releases.values()]; // Map order: publication order
    const list = ctx.hostile.ignoreSort ? all : all.sort((a, b) => dir * (Date.parse(a[orderBy]) - Date.parse(b[orderBy])));
    return ctx.paginate(
      url,
      list.map((r) => releaseJson(ctx.urls, p, r)),
    );
  }
  if (rest[1] === 'permalink' && rest[2] === 'latest') {
    const latest = [...p.releases.values()]
      .filter((r) => Date.parse(r.releasedAt) <= Date.now())
      .sort((a, b) => Date.parse(b.releasedAt) - Date.parse(a.releasedAt))[0];
    if (!latest) return notFound();
    const suffix = rest.slice(3).map(encodeURIComponent).join('/');
    return redirect(
      `${ctx.urls.api}/projects/${encodeURIComponent(projectRef)}/releases/${encodeURIComponent(latest.tag)}${suffix ? `/${suffix}` : ''}${url.search}`,
    );
  }
  const r = p.releases.get(rest[1]!);
  if (!r) return notFound();
  if (rest.length === 2) return json(200, releaseJson(ctx.urls, p, r));
  if (rest[2] === 'assets' && rest[3] === 'links') {
    const links = [...r.links].reverse().map((l) => linkJson(ctx.urls, p, r, l));
    if (rest.length === 4) return ctx.paginate(url, links);
    const one = links.find((l) => String(l.id) === rest[4]);
    return one ? json(200, one) : notFound();
  }
  if (rest[2] === 'downloads' && rest.length > 3) {
    const link = r.links.find((l) => l.directAssetPath === `/${rest.slice(3).join('/')}`);
    return link ? redirect(link.url) : notFound();
  }
  return notFound();
}

/** The repository tree at one commit: its folders, then its files, as GitLab lists them. */
function treeListing(files: Record<string, string>): Record<string, any>[] {
  const base = clone(template<Record<string, any>[]>('GET_projects_4242_repository_tree.json'));
  const dirs = new Set<string>();
  for (const f of Object.keys(files))
    f.split('/')
      .slice(0, -1)
      .forEach((_, i, parts) => {
        dirs.add(parts.slice(0, i + 1).join('/'));
      });
  const entry = (path: string, type: 'tree' | 'blob') => ({
    ...(type === 'tree' ? base[0] : base[1]),
    id: fakeSha(`${type}:${path}:${type === 'blob' ? files[path] : ''}`),
    name: path.split('/').pop()!,
    type,
    path,
    mode: type === 'tree' ? '040000' : '100644',
  });
  const list = [
    ...[...dirs].sort().map((d) => entry(d, 'tree')),
    ...Object.keys(files)
      .sort()
      .map((f) => entry(f, 'blob')),
  ];
  return list;
}

/** Audit endpoints (issue 11); undefined when the path is none of them. */
function auditRoute(ctx: ApiContext, p: StandInProject, rest: string[], url: URL): Reply | undefined {
  const q = url.searchParams;
  // the repository at a commit and the write paths
  const forbidden = (what: Parameters<StandInWritePaths['forbidden']['has']>[0]) => p.writePaths.forbidden.has(what);
  if (rest[0] === 'repository' && (rest[1] === 'tree' || rest[1] === 'files')) {
    if (forbidden('repository')) return json(403, { message: '403 Forbidden' });
    const files = p.repository.get(q.get('ref') ?? '');
    if (!files) return notFound('Tree');
    if (rest[1] === 'tree' && rest.length === 2) return ctx.paginate(url, treeListing(files));
    if (rest[1] === 'files' && rest.length === 4 && rest[3] === 'raw') {
      const text = files[rest[2]!];
      return text === undefined ? notFound('File') : { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(text) };
    }
    return notFound();
  }
  if (rest[0] === 'deploy_keys' && rest.length === 1)
    return forbidden('deploy_keys') ? json(403, { message: '403 Forbidden' }) : ctx.paginate(url, p.writePaths.deployKeys);
  if (rest[0] === 'deploy_tokens' && rest.length === 1)
    return forbidden('deploy_tokens') ? json(403, { message: '403 Forbidden' }) : ctx.paginate(url, p.writePaths.deployTokens);
  if (rest[0] === 'job_token_scope') {
    if (forbidden('job_token_scope')) return json(403, { message: '403 Forbidden' });
    if (rest.length === 1) return json(200, p.writePaths.jobTokenScope);
    if (rest[1] === 'allowlist' && rest.length === 2) return ctx.paginate(url, p.writePaths.jobTokenAllowlist);
    return notFound();
  }
  if (rest[0] === 'push_rule' && rest.length === 1) {
    if (forbidden('push_rule')) return json(403, { message: '403 Forbidden' });
    return p.writePaths.pushRule === 'absent' ? notFound() : json(200, p.writePaths.pushRule);
  }

  return undefined;
}

/** `projects/:id/repository/tags…` */
function tagsRoute(ctx: ApiContext, p: StandInProject, rest: string[], url: URL): Reply {
  if (rest.length === 2) {
    const list = [...p.tags.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    return ctx.paginate(
      url,
      list.map((t) => tagJson(ctx.urls, p, t)),
    );
  }
  const t = p.tags.get(rest[2]!);
  return t && rest.length === 3 ? json(200, tagJson(ctx.urls, p, t)) : notFound('Tag');
}

/** `projects/:id/packages…`: the package list, generic package downloads, package files */
function packagesRoute(ctx: ApiContext, p: StandInProject, rest: string[], url: URL): Reply {
  const q = url.searchParams;
  if (rest.length === 1) {
    const type = q.get('package_type');
    const name = q.get('package_name');
    const version = q.get('package_version');
    const list = p.packages.filter((pkg) => (!type || type === 'generic') && (!name || pkg.name.includes(name)) && (!version || pkg.version === version));
    return ctx.paginate(
      url,
      list.map((pkg) => packageJson(ctx.urls, p, pkg)),
    );
  }
  if (rest[1] === 'generic' && rest.length === 5) {
    const pkg = p.packages.find((x) => x.name === rest[2] && x.version === rest[3]);
    const file = pkg?.files.filter((f) => f.fileName === rest[4]).at(-1);
    return file ? bytesReply(file.bytes, file.fileName) : notFound();
  }
  const pkg = p.packages.find((x) => String(x.id) === rest[1]);
  if (!pkg) return notFound();
  if (rest.length === 2) return json(200, packageJson(ctx.urls, p, pkg));
  if (rest[2] === 'package_files' && rest.length === 3)
    return ctx.paginate(
      url,
      pkg.files.map((f) => packageFileJson(ctx.urls, p, pkg, f)),
    );
  return notFound();
}

export interface StandInOptions {
  /** the token GitLab accepts; any other is 401 */
  token?: string;
  /** refuse anonymous requests (404, as GitLab does for private projects); default: `token !== undefined` */
  requireToken?: boolean;
  /** default per_page (GitLab: 20; max 100) */
  defaultPerPage?: number;
}

/** Ways the stand-in misbehaves on purpose (see the file header). */
export interface StandInHostility {
  /** list releases in publication order, ignoring `order_by` and `sort` */
  ignoreSort: boolean;
}

export interface GitLabStandIn {
  /** e.g. http://127.0.0.1:41234 — the GitLab URL to configure */
  readonly url: string;
  readonly model: StandInModel;
  readonly faults: FaultInjector;
  readonly hostile: StandInHostility;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startGitLabStandIn(options: StandInOptions = {}): Promise<GitLabStandIn> {
  let baseUrl = '';
  const model = new StandInModel(() => baseUrl);
  const faults = new FaultInjector();
  const hostile: StandInHostility = { ignoreSort: false };
  const requests: RecordedRequest[] = [];
  const requireToken = options.requireToken ?? options.token !== undefined;
  const defaultPerPage = options.defaultPerPage ?? 20;
  const urls: Urls = {
    get base() {
      return baseUrl;
    },
    get api() {
      return `${baseUrl}/api/v4`;
    },
    web: (p) => `${baseUrl}/${p.path}`,
  };

  const route = (req: IncomingMessage, url: URL): Reply => {
    const token = req.headers['private-token'] ?? /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token !== undefined && options.token !== undefined && token !== options.token) return json(401, { message: '401 Unauthorized' });
    const anonymous = token === undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { message: '405 Method Not Allowed' });

    if (url.pathname.startsWith('/files/')) {
      const f = model.rawFiles.get(decodeURIComponent(url.pathname.slice('/files/'.length)));
      return f ? bytesReply(f, url.pathname.split('/').pop()!) : notFound('File');
    }
    if (url.pathname.startsWith('/api/v4/')) {
      if (anonymous && requireToken) return notFound('Project');
      return api(url.pathname.slice('/api/v4/'.length).split('/').map(decodeURIComponent), url);
    }
    // web route: /<project path>/-/releases/<tag>/downloads/<path>
    const web = /^\/(.+?)\/-\/releases\/([^/]+)\/downloads(\/.+)$/.exec(url.pathname);
    if (web) return anonymous && requireToken ? notFound() : webDownload(model, web);
    return notFound();
  };

  const paginate = (url: URL, items: unknown[]): Reply => paginateItems(url, items, baseUrl, defaultPerPage);
  const ctx: ApiContext = { urls, hostile, paginate };

  const api = (seg: string[], url: URL): Reply => {
    if (seg[0] !== 'projects' || seg.length < 2) return notFound();
    const p = model.projects.find((x) => String(x.id) === seg[1] || x.path === seg[1]);
    if (!p) return notFound('Project');
    const rest = seg.slice(2);
    if (rest.length === 0) return json(200, { ...projectJson(urls, p), ...p.writePaths.settings });
    if (rest[0] === 'releases') return releasesRoute(ctx, p, seg[1]!, rest, url);
    const audit = auditRoute(ctx, p, rest, url);
    if (audit) return audit;
    if (rest[0] === 'protected_tags' && rest.length === 1) return paginate(url, p.protectedTags);
    if (rest[0] === 'protected_branches' && rest.length === 1) return paginate(url, p.protectedBranches);
    if (rest[0] === 'repository' && rest[1] === 'tags') return tagsRoute(ctx, p, rest, url);
    if (rest[0] === 'packages') return packagesRoute(ctx, p, rest, url);
    const q = url.searchParams;
    if (rest[0] === 'jobs' && rest[1] === 'artifacts' && rest[3] === 'raw' && rest.length > 4) {
      const job = q.get('job');
      const bytes = job ? p.jobArtifacts.get(`${rest[2]}\0${job}\0${rest.slice(4).join('/')}`) : undefined;
      return bytes ? bytesReply(bytes, rest.at(-1)!) : notFound();
    }
    return notFound();
  };

  const listening = await listenOnLoopback((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } });
    const step = faults.take(req.method ?? 'GET', url.pathname, url.search);
    serve(req, res, step, () => route(req, url));
  });
  baseUrl = listening.url;

  return {
    url: baseUrl,
    model,
    faults,
    hostile,
    requests,
    close: listening.close,
  };
}

/** The web route's match `[, project path, tag, asset path]`: a redirect to the release link with that direct asset path. */
function webDownload(model: StandInModel, web: RegExpExecArray): Reply {
  const p = model.projects.find((x) => x.path === decodeURIComponent(web[1]!));
  const r = p?.releases.get(decodeURIComponent(web[2]!));
  const link = r?.links.find((l) => l.directAssetPath === decodeURIComponent(web[3]!));
  return link ? redirect(link.url) : notFound();
}

/** Serves on an ephemeral loopback port; keeps the open sockets so that close can end them. */
async function listenOnLoopback(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => closeServer(server, sockets) };
}

function send(res: ServerResponse, reply: Reply, head: boolean): void {
  res.writeHead(reply.status, { 'content-length': String(reply.body.length), ...reply.headers });
  res.end(head ? undefined : reply.body);
}

/** Applies a fault step (or the real answer) to one request. */
function serve(req: IncomingMessage, res: ServerResponse, step: FaultStep, real: () => Reply): void {
  const head = req.method === 'HEAD';
  if (step === 'pass') {
    send(res, real(), head);
    return;
  }
  if ('reset' in step) {
    req.socket.destroy();
    return;
  }
  if ('hang' in step) return; // answered never; close() destroys the socket
  if ('redirect' in step) {
    send(res, redirect(step.redirect, step.status), head);
    return;
  }
  if ('truncate' in step) {
    const reply = real();
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(reply.body.length) });
    res.write(reply.body.subarray(0, Math.min(step.truncate, reply.body.length)), () => {
      setTimeout(() => req.socket.destroy(), 20);
    });
    return;
  }
  if ('trickle' in step) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const timer = setInterval(() => {
      if (res.destroyed) clearInterval(timer);
      else res.write('\0');
    }, step.intervalMs ?? 1000);
    res.on('close', () => clearInterval(timer));
    return;
  }
  if ('cut' in step) {
    // written straight to the socket, so the cut lands exactly after `send` bytes of body
    const socket = req.socket;
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${step.contentLength}\r\n\r\n`);
    const chunkSize = step.chunkSize ?? 16 * 1024;
    for (let sent = 0; sent < step.send; sent += chunkSize) socket.write(Buffer.alloc(Math.min(chunkSize, step.send - sent), 0x61));
    socket.write(Buffer.alloc(0), () => socket.destroy());
    return;
  }
  if ('stream' in step) {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (step.contentLength === true) headers['content-length'] = String(step.stream);
    else if (typeof step.contentLength === 'number') headers['content-length'] = String(step.contentLength);
    res.writeHead(200, headers);
    streamZeros(res, step.stream);
    return;
  }
  const body = step.body === undefined ? Buffer.alloc(0) : typeof step.body === 'string' ? Buffer.from(step.body) : Buffer.from(JSON.stringify(step.body));
  const contentType = typeof step.body === 'object' ? 'application/json' : 'text/plain; charset=utf-8';
  send(res, { status: step.status, headers: { 'content-type': contentType, ...step.headers }, body }, head);
}

/** n zero bytes in 64 KiB chunks, honouring back-pressure; stops when the client goes away. */
function streamZeros(res: ServerResponse, n: number): void {
  const chunk = Buffer.alloc(64 * 1024);
  let left = n;
  const pump = (): void => {
    while (left > 0) {
      if (res.destroyed) return;
      const size = Math.min(chunk.length, left);
      left -= size;
      if (!res.write(chunk.subarray(0, size))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  pump();
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

// ───────────────────────────── a second origin ─────────────────────────────

export interface AssetHost {
  /** e.g. http://127.0.0.1:41235 — a different origin from the stand-in */
  readonly url: string;
  /** host:port, for `allowedAssetHosts` */
  readonly host: string;
  readonly requests: RecordedRequest[];
  readonly faults: FaultInjector;
  /** serves `bytes` at `path`; returns the absolute URL */
  put(path: string, bytes: Uint8Array): string;
  close(): Promise<void>;
}

/** A plain file server on another loopback port: an object store, a CDN, or a foreign host that
 * records every header it receives (to prove no token reached it). */
export async function startAssetHost(): Promise<AssetHost> {
  const files = new Map<string, Buffer>();
  const requests: RecordedRequest[] = [];
  const faults = new FaultInjector();
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://asset-host');
    requests.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } });
    const step = faults.take(req.method ?? 'GET', url.pathname, url.search);
    serve(req, res, step, () => {
      const f = files.get(url.pathname);
      return f ? bytesReply(f, url.pathname.split('/').pop()!) : { status: 404, headers: { 'content-type': 'text/plain' }, body: Buffer.from('not found') };
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `http://${host}`;
  return {
    url,
    host,
    requests,
    faults,
    put(path, bytes) {
      const p = path.startsWith('/') ? path : `/${path}`;
      files.set(p, Buffer.from(bytes));
      return url + p;
    },
    close: () => closeServer(server, sockets),
  };
}
