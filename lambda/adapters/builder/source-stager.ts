/**
 * Source staging for private projects (`aws.stageSource`): the launcher — trusted, it holds the
 * GitLab token — fetches the release tag at depth 1 over git smart-HTTP with isomorphic-git (Lambda
 * has no git binary), checks that the tag peels to exactly the planned commit, and uploads the
 * repository's *git directory* (objects, shallow list, HEAD detached at the commit, the release
 * tag) as one tar to the artifacts bucket. The build downloads it with its own role, lets real git
 * verify every object (`git fsck --full`: object ids are recomputed from content), checks the
 * commit out itself and applies the same HEAD check as a clone. The token never reaches a build.
 *
 * Decisions:
 * - **git objects, not GitLab's archive API**: an archive is a tree without history; nothing in
 *   it ties the files to the commit id. With the objects, git's own hashing makes `rev-parse HEAD`
 *   = planned SHA mean "these files are that commit's tree".
 * - **Only the git directory, no working tree**: the build's checkout is produced by real git from
 *   hash-verified objects, never by trusting extracted files.
 * - **An allowlist of files is staged** (objects, `shallow`, a written `HEAD`, `config` and one tag
 *   ref) — never isomorphic-git's config or FETCH_HEAD: no remote URL, no credential, no hook can
 *   ride along. The token is only ever an HTTP header, so it is on no disk either.
 * - **Plain tar, not tar.gz**: pack data is already zlib-deflated; gzip would save next to nothing
 *   and require gzip in the build image besides tar.
 * - **The token goes only to the GitLab origin** (scheme + host + port of `gitlab.url`), as HTTP
 *   Basic with the token as password (GitLab's git-over-HTTP; it needs the `read_repository`
 *   scope). A clone URL on another origin is fetched without it. Redirects are never followed:
 *   a redirect could carry the request (and isomorphic-git would re-send headers) elsewhere.
 * - **Bounded**: response bytes (isomorphic-git holds the fetched pack in memory, so the bound is
 *   also the memory bound), wall-clock time, the tar's size, tag-peeling depth.
 * - **Where**: `sources/<runId>/source.tar` in the artifacts bucket — short-lived (expires with the
 *   artifacts), encrypted with the key builds already use, never the Object-Locked results bucket
 *   (build roles must not read that). Build roles may read `sources/*`: the key is only known at
 *   run time, and the source is not secret to builds, which receive it anyway.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as git from 'isomorphic-git';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { pack as tarPack } from 'tar-stream';
import { BuildError, ForgeError } from '../../core/errors';
import type { RunPlan } from '../../core/run/plan';
import { runKeys } from '../../core/run/store-layout';
import { sourceKeyFor } from './codebuild-env';

/** The launcher's record of what it staged (results bucket, next to the plan). */
export const sourceRecordKey = runKeys.source;

/** isomorphic-git keeps the fetched pack in memory: this bounds the fetch (and the Lambda's memory use). */
export const DEFAULT_MAX_FETCH_BYTES = 512 * 1024 * 1024;
export const DEFAULT_FETCH_TIMEOUT_MS = 10 * 60_000;
const MAX_PEEL = 8;
const SHA1 = /^[0-9a-f]{40}$/;

export interface StagedSource {
  bucket: string;
  key: string;
  /** `s3://bucket/key`, given to the build as RELVERIFY_SOURCE_S3 (not secret) */
  uri: string;
  commit: string;
  tag: string;
  /** the tag ref's object id as fetched (a tag object for an annotated tag) */
  tagObject: string;
  sha256: string;
  size: number;
  stagedAt: string;
}

// ───────────────────────── HTTP for isomorphic-git ─────────────────────────

export interface GitHttpOptions {
  /** origin of `gitlab.url`: the only origin the token is sent to */
  gitlabOrigin: string;
  /** undefined: anonymous */
  token?: string;
  /** bound on all response bodies together */
  maxBytes: number;
  /** absolute time (ms since epoch) after which requests are aborted */
  deadline: number;
  fetchImpl?: typeof fetch;
}

/**
 * isomorphic-git's HttpClient on Node's fetch: no redirects followed, the token (HTTP Basic, any
 * user name, the token as password — GitLab's git-over-HTTP) only toward the GitLab origin,
 * response bytes and time bounded.
 */
export function gitHttpClient(options: GitHttpOptions): HttpClient {
  const doFetch = options.fetchImpl ?? fetch;
  let received = 0;
  return {
    async request(req: GitHttpRequest): Promise<GitHttpResponse> {
      const url = new URL(req.url);
      if (url.protocol !== 'https:' && url.protocol !== 'http:')
        throw new ForgeError('refused-host', `git fetch: unsupported URL scheme ${url.protocol}`, { url: req.url });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers ?? {})) {
        // the caller never sets credentials; only this function decides where they go
        if (k.toLowerCase() !== 'authorization' && k.toLowerCase() !== 'private-token') headers[k] = v;
      }
      if (options.token && url.origin === options.gitlabOrigin) {
        headers.Authorization = `Basic ${Buffer.from(`oauth2:${options.token}`).toString('base64')}`;
      }
      let body: Buffer | undefined;
      if (req.body) {
        const chunks: Uint8Array[] = [];
        for await (const c of req.body) chunks.push(c);
        body = Buffer.concat(chunks);
      }
      const remaining = options.deadline - Date.now();
      if (remaining <= 0) throw new ForgeError('timeout', 'git fetch: time limit reached', { url: req.url });
      let res: Response;
      try {
        res = await doFetch(url, { method: req.method ?? 'GET', headers, body, redirect: 'manual', signal: AbortSignal.timeout(remaining) });
      } catch (err) {
        throw new ForgeError(
          (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'unreachable',
          `git fetch: ${url.origin} could not be reached: ${(err as Error)?.message ?? err}`,
          { url: req.url, cause: err },
        );
      }
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        throw new ForgeError(
          'refused-host',
          `git fetch: ${url.origin}${url.pathname} answered with a redirect (HTTP ${res.status}); redirects are not followed — set gitlab.cloneUrl to the final URL`,
          { url: req.url, status: res.status },
        );
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        throw new ForgeError(
          'unauthorized',
          `git fetch: HTTP ${res.status} from ${url.origin}: the token is missing, expired or lacks the read_repository scope${options.token && url.origin !== options.gitlabOrigin ? ' (the clone URL is not on the GitLab origin, so no token was sent)' : ''}`,
          { url: req.url, status: res.status },
        );
      }
      const resHeaders: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        resHeaders[k] = v;
      });
      const stream = res.body;
      const limited = async function* (): AsyncGenerator<Uint8Array> {
        if (!stream) return;
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
          received += chunk.byteLength;
          if (received > options.maxBytes)
            throw new ForgeError('too-large', `git fetch: more than ${options.maxBytes} bytes; the repository at depth 1 is too large to stage`, {
              url: req.url,
            });
          yield chunk;
        }
      };
      return { url: req.url, method: req.method, statusCode: res.status, statusMessage: res.statusText, headers: resHeaders, body: limited() };
    },
  };
}

// ───────────────────────── fetch and verify ─────────────────────────

export interface FetchedSource {
  gitdir: string;
  commit: string;
  tagObject: string;
}

/**
 * Fetches `refs/tags/<tag>` at depth 1 into a new repository at `dir` and checks that it peels to
 * `commit`. Any disagreement is an error: nothing is staged for a commit the launcher did not plan.
 */
export async function fetchTagAtCommit(args: { dir: string; url: string; tag: string; commit: string; http: HttpClient }): Promise<FetchedSource> {
  const { dir, tag, commit } = args;
  if (!SHA1.test(commit)) throw new BuildError(`source staging supports SHA-1 repositories only; commit "${commit}" is not a 40-digit SHA-1`);
  await git.init({ fs, dir, defaultBranch: 'main' });
  // isomorphic-git needs a remote with a refspec; this config stays in the Lambda's /tmp (the
  // staged config is written fresh, see writeSourceTar)
  await git.setConfig({ fs, dir, path: 'remote.origin.url', value: args.url });
  await git.setConfig({ fs, dir, path: 'remote.origin.fetch', value: `+refs/tags/${tag}:refs/tags/${tag}` });
  let fetched: string | null | undefined;
  try {
    const r = await git.fetch({
      fs,
      http: args.http,
      dir,
      remote: 'origin',
      ref: `refs/tags/${tag}`,
      remoteRef: `refs/tags/${tag}`,
      singleBranch: true,
      depth: 1,
      tags: false,
    });
    fetched = r.fetchHead;
  } catch (err) {
    if (err instanceof ForgeError) throw err;
    throw new ForgeError('bad-response', `git fetch of tag ${tag} from ${args.url} failed: ${(err as Error)?.message ?? err}`, { url: args.url, cause: err });
  }
  if (!fetched || !SHA1.test(fetched)) throw new ForgeError('not-found', `git fetch: tag ${tag} was not found at ${args.url}`, { url: args.url });

  // Peel the tag to its commit (isomorphic-git computed every object id from content when it indexed the pack).
  let oid = fetched;
  for (let i = 0; ; i++) {
    if (i >= MAX_PEEL) throw new ForgeError('bad-response', `tag ${tag}: more than ${MAX_PEEL} nested tag objects`);
    const obj = await git.readObject({ fs, dir, oid, format: 'parsed' });
    if (obj.type === 'commit') break;
    if (obj.type !== 'tag') throw new ForgeError('bad-response', `tag ${tag} points to a ${obj.type}, not a commit`);
    oid = (obj.object as { object: string }).object;
  }
  if (oid !== commit) {
    throw new ForgeError(
      'bad-response',
      `tag ${tag} fetched over git peels to ${oid}, but the run plan names ${commit} (the tag moved, or the forge answered inconsistently); nothing staged`,
    );
  }
  return { gitdir: join(dir, '.git'), commit, tagObject: fetched };
}

// ───────────────────────── pack ─────────────────────────

const STAGED_CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = false\n';

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, p)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/**
 * Writes the staged git directory as a tar at `tarPath`: the allowlist only (see the header).
 * Returns its SHA-256 and size; refuses to grow past `maxBytes`.
 */
export async function writeSourceTar(source: FetchedSource, tag: string, tarPath: string, maxBytes: number): Promise<{ sha256: string; size: number }> {
  const objects = (await listFiles(join(source.gitdir, 'objects'))).filter(
    (p) => /^pack\/pack-[0-9a-f]{40}\.(pack|idx)$/.test(p) || /^[0-9a-f]{2}\/[0-9a-f]{38}$/.test(p),
  );
  if (!objects.some((p) => p.endsWith('.pack')) && !objects.some((p) => /^[0-9a-f]{2}\//.test(p)))
    throw new BuildError('git fetch produced no objects to stage');
  const shallow = await readFile(join(source.gitdir, 'shallow'), 'utf8').catch(() => '');
  if (shallow && !/^([0-9a-f]{40}\n)+$/.test(shallow)) throw new BuildError('unexpected shallow file from the fetch');

  const tar = tarPack();
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > maxBytes) return cb(new BuildError(`the staged source exceeds ${maxBytes} bytes`));
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const written = pipeline(tar, counter, createWriteStream(tarPath));
  const mtime = new Date(0);
  const dir = (name: string) => new Promise<void>((res, rej) => tar.entry({ name, type: 'directory', mode: 0o755, mtime }, (e) => (e ? rej(e) : res())));
  const text = (name: string, content: string) =>
    new Promise<void>((res, rej) => tar.entry({ name, mode: 0o644, mtime }, content, (e) => (e ? rej(e) : res())));
  try {
    await dir('objects/');
    await dir('objects/pack/');
    await dir('objects/info/');
    await dir('refs/');
    await dir('refs/heads/');
    await dir('refs/tags/');
    await text('HEAD', `${source.commit}\n`);
    await text('config', STAGED_CONFIG);
    if (shallow) await text('shallow', shallow);
    // the release tag, for builds that run `git describe`
    const tagParts = tag.split('/');
    for (let i = 1; i < tagParts.length; i++) await dir(`refs/tags/${tagParts.slice(0, i).join('/')}/`);
    await text(`refs/tags/${tag}`, `${source.tagObject}\n`);
    for (const p of objects) {
      const file = join(source.gitdir, 'objects', p);
      const { size: fileSize } = await stat(file);
      if (/^[0-9a-f]{2}\//.test(p)) await dir(`objects/${p.slice(0, 2)}/`);
      const entry = tar.entry({ name: `objects/${p}`, size: fileSize, mode: 0o444, mtime });
      await pipeline(createReadStream(file), entry);
    }
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    await written.catch(() => undefined);
    throw err;
  }
  await written;
  return { sha256: hash.digest('hex'), size };
}

// ───────────────────────── the stager ─────────────────────────

export interface SourceStagerOptions {
  /** the artifacts bucket */
  bucket: string;
  /** `gitlab.url`: its origin is the only one the token is sent to */
  gitlabUrl: string;
  /** read lazily (Secrets Manager); undefined = anonymous */
  token: () => Promise<string | undefined>;
  /** bound on the staged tar (config limits.maxAssetBytes) */
  maxBytes: number;
  /** bound on the fetch (in-memory pack) @default min(maxBytes, 512 MiB) */
  maxFetchBytes?: number;
  /** @default 10 minutes */
  timeoutMs?: number;
  /** @default a new S3Client for the Lambda's region */
  client?: S3Client;
  workRoot?: string;
  fetchImpl?: typeof fetch;
}

export class SourceStager {
  private readonly client: S3Client;
  constructor(private readonly options: SourceStagerOptions) {
    this.client = options.client ?? new S3Client({});
  }

  /** Fetches, verifies and uploads the source of `plan` (its tag at its tag commit). */
  async stage(plan: RunPlan, cloneUrl: string): Promise<StagedSource> {
    const o = this.options;
    const work = await mkdtemp(join(o.workRoot ?? tmpdir(), 'relverify-source-'));
    try {
      const http = gitHttpClient({
        gitlabOrigin: new URL(o.gitlabUrl).origin,
        token: await o.token(),
        maxBytes: o.maxFetchBytes ?? Math.min(o.maxBytes, DEFAULT_MAX_FETCH_BYTES),
        deadline: Date.now() + (o.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS),
        fetchImpl: o.fetchImpl,
      });
      const { tag, tagCommitSha } = plan.release;
      const fetched = await fetchTagAtCommit({ dir: join(work, 'repo'), url: cloneUrl, tag, commit: tagCommitSha, http });
      const tarPath = join(work, 'source.tar');
      const { sha256, size } = await writeSourceTar(fetched, tag, tarPath, o.maxBytes);
      const key = sourceKeyFor(plan.runId);
      await this.client.send(
        new PutObjectCommand({
          Bucket: o.bucket,
          Key: key,
          Body: createReadStream(tarPath),
          ContentLength: size,
          ContentType: 'application/x-tar',
          Metadata: { commit: tagCommitSha, sha256 },
        }),
      );
      return {
        bucket: o.bucket,
        key,
        uri: `s3://${o.bucket}/${key}`,
        commit: tagCommitSha,
        tag,
        tagObject: fetched.tagObject,
        sha256,
        size,
        stagedAt: new Date().toISOString(),
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}
