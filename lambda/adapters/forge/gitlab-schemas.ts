/**
 * zod schemas for the parts of GitLab's REST answers the forge adapter relies on. GitLab is a
 * remote party: its JSON is parsed, never trusted — a wrong shape becomes ForgeError 'bad-response'
 * naming the field, not an `undefined` that drifts into a verdict. Field names as GitLab sends them
 * (snake_case; see ../shared/reference/gitlab-api/). Unknown fields are dropped.
 */
import { z } from 'zod';
import { ForgeError } from '../../core/errors';

export const COMMIT_SHA = /^[0-9a-f]{40}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** git check-ref-format, for one tag name (GitLab enforces it; we re-check what we will use). */
export function isSaneTagName(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= 255 &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: git refuses control characters in ref names, so the check must match them
    !/[\x00-\x20\x7f~^:?*[\\]/.test(name) &&
    !name.includes('..') &&
    !name.includes('@{') &&
    !name.includes('//') &&
    name !== '@' &&
    !/^[-/.]/.test(name) &&
    !/(?:[/.]|\.lock)$/.test(name) &&
    !/\/\./.test(name)
  );
}

const sha = z.string().regex(COMMIT_SHA, 'must be a 40-hex commit SHA');
const tagName = z.string().refine(isSaneTagName, 'must be a valid git tag name');
const httpUrl = z.string().refine((u) => {
  try {
    const p = new URL(u);
    return p.protocol === 'http:' || p.protocol === 'https:' || p.protocol === 'ftp:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s)/ftp URL');
const assetName = z.string().min(1).max(255);

export const ReleaseLinkJson = z.object({
  id: z.number().int().positive(),
  name: assetName,
  url: httpUrl,
  direct_asset_url: httpUrl.nullish(),
  link_type: z.string().nullish(),
});
export type ReleaseLinkJson = z.infer<typeof ReleaseLinkJson>;

export const ReleaseJson = z.object({
  tag_name: tagName,
  name: z.string().nullish(),
  created_at: z.string().nullish(),
  released_at: z.string().nullish(),
  upcoming_release: z.boolean().nullish(),
  commit: z.object({ id: sha }),
  assets: z.object({
    count: z.number().int().nonnegative(),
    sources: z.array(z.object({ format: z.string(), url: httpUrl })).default([]),
    links: z.array(ReleaseLinkJson).default([]),
  }),
  _links: z.object({ self: httpUrl.nullish() }).partial().nullish(),
});
export type ReleaseJson = z.infer<typeof ReleaseJson>;

export const TagJson = z.object({
  name: tagName,
  /** the tag object for annotated tags, the commit for lightweight ones — never used as the commit */
  target: sha,
  commit: z.object({ id: sha }),
  message: z.string().nullish(),
});
export type TagJson = z.infer<typeof TagJson>;

export const PackageJson = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  version: z.string().nullish(),
  package_type: z.string(),
  status: z.string().nullish(),
});
export type PackageJson = z.infer<typeof PackageJson>;

export const PackageFileJson = z.object({
  id: z.number().int().positive(),
  package_id: z.number().int().positive(),
  file_name: z.string().min(1),
  size: z.number().int().nonnegative(),
  file_sha256: z.string().regex(SHA256_HEX, 'must be 64 lower-case hex digits'),
});
export type PackageFileJson = z.infer<typeof PackageFileJson>;

export const ProjectJson = z.object({
  id: z.number().int().positive(),
  path_with_namespace: z.string().min(1),
  http_url_to_repo: httpUrl,
  default_branch: z.string().nullish(),
});
export type ProjectJson = z.infer<typeof ProjectJson>;

const AccessLevelJson = z.object({
  access_level: z.number().int().min(0).max(100),
  access_level_description: z.string().nullish(),
  user_id: z.number().int().nullish(),
  group_id: z.number().int().nullish(),
});
export const ProtectedTagJson = z.object({ name: z.string().min(1), create_access_levels: z.array(AccessLevelJson) });
export const ProtectedBranchJson = z.object({
  name: z.string().min(1),
  push_access_levels: z.array(AccessLevelJson),
  merge_access_levels: z.array(AccessLevelJson),
  allow_force_push: z.boolean().nullish(),
});

/** Parses GitLab's answer for `what`, or throws ForgeError 'bad-response' naming the bad fields. */
export function parseGitlab<S extends z.ZodType>(schema: S, value: unknown, what: string, url?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
  throw new ForgeError('bad-response', `GitLab answered ${what} with an unexpected shape (${issues})`, { url, cause: result.error });
}

// ───────── repository and write paths, for the audit (issue 11) ─────────

/** `GET /projects/:id/repository/tree` entries */
export const TreeEntryJson = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['blob', 'tree', 'commit']),
  path: z.string().min(1).max(4096),
  mode: z.string().nullish(),
});

/** `GET /projects/:id/deploy_keys` */
export const DeployKeyJson = z.object({
  id: z.number().int(),
  title: z.string(),
  can_push: z.boolean(),
  created_at: z.string().nullish(),
  expires_at: z.string().nullish(),
  fingerprint: z.string().nullish(),
});

/** `GET /projects/:id/deploy_tokens` */
export const DeployTokenJson = z.object({
  id: z.number().int(),
  name: z.string(),
  username: z.string().nullish(),
  expires_at: z.string().nullish(),
  revoked: z.boolean().nullish(),
  expired: z.boolean().nullish(),
  scopes: z.array(z.string()).default([]),
});

/** `GET /projects/:id/job_token_scope` */
export const JobTokenScopeJson = z.object({ inbound_enabled: z.boolean(), outbound_enabled: z.boolean().nullish() });

/** `GET /projects/:id/push_rule` (Premium and Ultimate; `null` when the project has none) */
export const PushRuleJson = z.object({ id: z.number().int(), project_id: z.number().int().nullish(), deny_delete_tag: z.boolean().nullish() }).nullable();

/** the release and package settings of `GET /projects/:id` */
export const ProjectSettingsJson = z.object({
  id: z.number().int().positive(),
  releases_access_level: z.string().nullish(),
  packages_enabled: z.boolean().nullish(),
  package_registry_access_level: z.string().nullish(),
});
