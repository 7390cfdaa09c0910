/**
 * The GitLab stand-in must answer with GitLab's shapes: same field names and nesting as the
 * reference responses (demo/gitlab-api-templates/, copied from ../shared/reference/gitlab-api/),
 * GitLab's pagination headers, and the 302 of releases/permalink/latest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeSha, startGitLabStandIn, type GitLabStandIn } from '../../../demo/gitlab-standin';

const TEMPLATES = new URL('../../../demo/gitlab-api-templates/', import.meta.url);
// ../shared beside the repository (the workplace and CI lay it there); under CI its absence fails
const REFERENCE = fileURLToPath(new URL('../../../../shared/reference/gitlab-api/', import.meta.url));
const haveReference = existsSync(REFERENCE);
if (!haveReference && process.env.CI) throw new Error(`../shared/reference/gitlab-api is missing beside the repository (${REFERENCE}): CI lays shared/ there`);
if (!haveReference) console.warn(`[skip] ${REFERENCE} not found: the reference-shape comparison is skipped`);
const ref = (file: string) => JSON.parse(readFileSync(new URL(file, TEMPLATES), 'utf8'));

/** Differences in keys and value kinds; null on either side matches any scalar (nullable fields). */
function shapeDiff(actual: unknown, expected: unknown, path = '$'): string[] {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  const [ka, ke] = [kind(actual), kind(expected)];
  if (ka === 'null' || ke === 'null')
    return ka === ke || (ka !== 'object' && ka !== 'array' && ke !== 'object' && ke !== 'array') ? [] : [`${path}: ${ka} vs ${ke}`];
  if (ka !== ke) return [`${path}: ${ka} vs ${ke}`];
  if (ka === 'array') {
    const [a, e] = [actual as unknown[], expected as unknown[]];
    return a.length && e.length ? shapeDiff(a[0], e[0], `${path}[0]`) : [];
  }
  if (ka === 'object') {
    const [a, e] = [actual as Record<string, unknown>, expected as Record<string, unknown>];
    const out: string[] = [];
    for (const k of Object.keys(e)) if (!(k in a)) out.push(`${path}.${k}: missing`);
    for (const k of Object.keys(a)) if (!(k in e)) out.push(`${path}.${k}: not in GitLab's answer`);
    for (const k of Object.keys(e)) if (k in a) out.push(...shapeDiff(a[k], e[k], `${path}.${k}`));
    return out;
  }
  return [];
}

let gl: GitLabStandIn;
const get = (path: string, init: RequestInit = {}) => fetch(`${gl.url}/api/v4${path}`, { headers: { 'private-token': 't' }, ...init });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const body = async (res: Response | Promise<Response>): Promise<any> => (await res).json();

beforeAll(async () => {
  gl = await startGitLabStandIn({ token: 't' });
  const p = gl.model.addProject({ path: 'mealplanner/mealplanner', id: 4242 });
  gl.model.publishRelease(p, { tag: 'v0.3.0', commitSha: fakeSha('a'), assets: [{ name: 'x.AppImage', bytes: Buffer.from('x') }] });
  gl.model.publishRelease(p, {
    tag: 'v0.4.0',
    commitSha: fakeSha('b'),
    assets: [
      { name: 'mealplanner_0.4.0_amd64.AppImage', bytes: Buffer.from('appimage') },
      { name: 'SHA256SUMS', bytes: Buffer.from('sums'), linkType: 'other' },
    ],
  });
});
afterAll(() => gl.close());

describe('GitLab stand-in shapes', () => {
  it.skipIf(!haveReference)('its templates are the reference responses, unchanged (needs ../shared/reference)', () => {
    for (const f of [
      'GET_projects_4242_releases_v0.4.0.json',
      'GET_projects_4242_repository_tags_v0.4.0.json',
      'GET_projects_4242_packages.json',
      'GET_projects_4242_packages_43519807_package_files.json',
      'GET_projects_4242_releases_v0.4.0_assets_links.json',
    ]) {
      expect(readFileSync(new URL(f, TEMPLATES), 'utf8'), f).toBe(readFileSync(REFERENCE + f, 'utf8'));
    }
  });

  it("release, release list, links, tag, packages and package files have GitLab's fields", async () => {
    const release = await body(get('/projects/4242/releases/v0.4.0'));
    expect(shapeDiff(release, ref('GET_projects_4242_releases_v0.4.0.json'))).toEqual([]);
    const list = await body(get('/projects/mealplanner%2Fmealplanner/releases'));
    expect(list.map((r: { tag_name: string }) => r.tag_name)).toEqual(['v0.4.0', 'v0.3.0']); // released_at desc
    expect(shapeDiff(list[0], ref('GET_projects_4242_releases_v0.4.0.json'))).toEqual([]);
    const links = await body(get('/projects/4242/releases/v0.4.0/assets/links'));
    expect(shapeDiff(links, ref('GET_projects_4242_releases_v0.4.0_assets_links.json'))).toEqual([]);
    expect(links).toEqual(release.assets.links);
    expect(release.assets.count).toBe(release.assets.sources.length + links.length);
    const tag = await body(get('/projects/4242/repository/tags/v0.4.0'));
    expect(shapeDiff(tag, ref('GET_projects_4242_repository_tags_v0.4.0.json'))).toEqual([]);
    expect(tag.target).not.toBe(tag.commit.id); // annotated
    const packages = await body(get('/projects/4242/packages?package_type=generic&package_name=mealplanner'));
    expect(shapeDiff(packages, ref('GET_projects_4242_packages.json'))).toEqual([]);
    const files = await body(get(`/projects/4242/packages/${packages[0].id}/package_files`));
    expect(shapeDiff(files, ref('GET_projects_4242_packages_43519807_package_files.json'))).toEqual([]);
    // as in the reference: every link name is a package file, and file_sha256 is the bytes' digest
    const v04 = packages.find((p: { version: string }) => p.version === '0.4.0');
    const v04files = await body(get(`/projects/4242/packages/${v04.id}/package_files`));
    expect(v04files.map((f: { file_name: string }) => f.file_name).sort()).toEqual(links.map((l: { name: string }) => l.name).sort());
    const sums = await (await get('/projects/4242/packages/generic/mealplanner/0.4.0/SHA256SUMS')).arrayBuffer();
    const { createHash } = await import('node:crypto');
    expect(v04files.find((f: { file_name: string }) => f.file_name === 'SHA256SUMS').file_sha256).toBe(
      createHash('sha256').update(Buffer.from(sums)).digest('hex'),
    );
  });

  it('permalink/latest answers 302 to the latest release', async () => {
    const res = await get('/projects/4242/releases/permalink/latest', { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${gl.url}/api/v4/projects/4242/releases/v0.4.0`);
    const followed = await body(get('/projects/4242/releases/permalink/latest'));
    expect(followed).toEqual(await body(get('/projects/4242/releases/v0.4.0')));
  });

  it("paginates with GitLab's headers (offset) and link-only keyset", async () => {
    const res = await get('/projects/4242/releases?per_page=1&page=1');
    expect(Object.fromEntries(['x-page', 'x-per-page', 'x-next-page', 'x-prev-page', 'x-total', 'x-total-pages'].map((h) => [h, res.headers.get(h)]))).toEqual({
      'x-page': '1',
      'x-per-page': '1',
      'x-next-page': '2',
      'x-prev-page': '',
      'x-total': '2',
      'x-total-pages': '2',
    });
    expect(res.headers.get('link')).toMatch(/<[^>]+page=2[^>]*>; rel="next"/);
    expect(res.headers.get('link')).toMatch(/rel="first".*rel="last"/);
    const keyset = await get('/projects/4242/releases?per_page=1&pagination=keyset');
    expect(keyset.headers.get('x-total')).toBeNull();
    const next = /<([^>]+)>; rel="next"/.exec(keyset.headers.get('link') ?? '')?.[1];
    expect(next).toBeDefined();
    const page2 = await body(fetch(next!, { headers: { 'private-token': 't' } }));
    expect(page2.map((r: { tag_name: string }) => r.tag_name)).toEqual(['v0.3.0']);
  });

  it('checks the token', async () => {
    expect((await get('/projects/4242', { headers: { 'private-token': 'wrong' } })).status).toBe(401);
    expect((await get('/projects/4242', { headers: {} })).status).toBe(404);
    expect((await get('/projects/mealplanner%2Fmealplanner')).status).toBe(200);
    const open = await startGitLabStandIn(); // no token configured: anonymous reads work (demo)
    try {
      open.model.addProject({ path: 'a/b', id: 7 });
      expect((await fetch(`${open.url}/api/v4/projects/a%2Fb`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
