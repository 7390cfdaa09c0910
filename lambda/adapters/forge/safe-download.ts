/**
 * The untrusted downloader for release assets. Not gitbeaker: gitbeaker 43.8 lets fetch follow
 * redirects, and fetch only strips `Authorization` on a cross-origin redirect — a `PRIVATE-TOKEN`
 * header travels on to whatever host a release link (or its redirect) names. So here:
 *
 * - only http: and https:, and never a redirect from https down to http;
 * - redirects resolved by hand (`redirect: 'manual'`), at most `maxRedirects` hops;
 * - the token is sent only to the configured GitLab origin (scheme + host + port, exactly), and only
 *   while the chain has not left it: once a hop went elsewhere, a redirect back to GitLab is followed
 *   anonymously (a foreign host must not choose what we fetch with the user's credentials);
 * - any other host must be listed in `allowedAssetHosts` (then fetched without the token), else
 *   ForgeError 'refused-host';
 * - a size cap (Content-Length up front, and counted while streaming), one deadline for the whole
 *   download (redirects, retries and body), and a body shorter than announced or cut by a reset is
 *   ForgeError 'truncated';
 * - 429/5xx are retried by the shared policy (retry.ts), restarting from the first URL (signed
 *   object-storage redirects may have expired);
 * - bytes are hashed while written (formats/digest.ts `copyAndHash`, constant memory); a partial file
 *   never survives a failure.
 */
import { unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ForgeError } from '../../core/errors';
import type { DownloadLimits } from '../../core/ports';
import { copyAndHash, type Digest, LimitError } from '../../formats/digest';
import { withDeadline } from './deadline';
import { isRetryableStatus, parseRetryAfter, RetryableStatusError, resolveRetryPolicy, withRetries, type RetryPolicy } from './retry';

export const DEFAULT_MAX_REDIRECTS = 5;

export interface SafeDownloadOptions {
  /** origin of the configured GitLab, e.g. `https://gitlab.example.com` (any path is ignored) */
  gitlabUrl: string;
  /** sent as `PRIVATE-TOKEN`, only to the GitLab origin */
  token?: string;
  /** other hosts assets may come from, as `host` (default port of the scheme) or `host:port` */
  allowedAssetHosts?: readonly string[];
  retry?: Partial<RetryPolicy>;
  maxRedirects?: number;
  /** extra request headers (never credentials: they would follow the redirects) */
  headers?: Record<string, string>;
}

export interface SafeDownloadResult {
  path: string;
  sha256: string;
  size: number;
  /** the URL the bytes finally came from */
  url: string;
  /** the URLs visited, first to last */
  hops: string[];
}

/** Downloads `url` to `destPath` under `limits`. Throws ForgeError only. */
export async function safeDownload(url: string, destPath: string, limits: DownloadLimits, options: SafeDownloadOptions): Promise<SafeDownloadResult> {
  const gitlabOrigin = parseHttpUrl(options.gitlabUrl, 'the configured GitLab URL').origin;
  const allowed = normaliseAllowedHosts(options.allowedAssetHosts ?? []);
  const policy = resolveRetryPolicy(options.retry);
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const startedAt = Date.now();
  let deadlineSignal: AbortSignal | undefined;

  try {
    // one explicit timer for the whole download (deadline.ts: never AbortSignal.timeout), and a race
    // against it, so that a server that stops answering mid-body cannot hold us past the limit
    return await withDeadline(
      limits.timeoutMs,
      () => timeoutError(url, limits, undefined),
      (deadline) => {
        deadlineSignal = deadline;
        return withRetries(
          policy,
          async () => {
            const { response, finalUrl, hops } = await resolveRedirects(url, {
              gitlabOrigin,
              allowed,
              token: options.token,
              maxRedirects,
              deadline,
              headers: options.headers,
            });
            return await receiveBody(response, finalUrl, hops, destPath, limits, deadline, startedAt);
          },
          { signal: deadline },
        );
      },
    );
  } catch (err) {
    await unlink(destPath).catch(() => undefined);
    if (err instanceof ForgeError) throw err;
    if (deadlineSignal?.aborted) throw timeoutError(url, limits, err);
    throw new ForgeError('unreachable', `download of ${url} failed: ${describe(err)}`, { url, cause: err });
  }
}

interface RedirectContext {
  gitlabOrigin: string;
  allowed: AllowedHosts;
  token?: string;
  maxRedirects: number;
  deadline: AbortSignal;
  headers?: Record<string, string>;
}

async function resolveRedirects(startUrl: string, ctx: RedirectContext): Promise<{ response: Response; finalUrl: string; hops: string[] }> {
  let current = parseHttpUrl(startUrl, 'asset URL');
  const hops: string[] = [];
  // the token rides only while every hop so far stayed on the GitLab origin
  let stillOnGitlab = true;
  for (let hop = 0; ; hop += 1) {
    const onGitlab = current.origin === ctx.gitlabOrigin;
    if (!onGitlab && !isAllowedHost(current, ctx.allowed)) {
      throw new ForgeError(
        'refused-host',
        `refusing to download from ${current.host}: it is neither the GitLab host nor in gitlab.allowedAssetHosts` +
          (hops.length ? ` (redirected from ${hops[hops.length - 1]})` : ''),
        { url: current.href },
      );
    }
    stillOnGitlab &&= onGitlab;
    hops.push(current.href);

    const headers: Record<string, string> = {
      'user-agent': 'release-verifier',
      // byte-exact: no transparent decompression, and Content-Length then counts what we hash
      'accept-encoding': 'identity',
      ...ctx.headers,
    };
    if (stillOnGitlab && ctx.token) headers['PRIVATE-TOKEN'] = ctx.token;

    let response: Response;
    try {
      response = await fetch(current, { redirect: 'manual', headers, signal: ctx.deadline });
    } catch (err) {
      if (ctx.deadline.aborted) throw err; // mapped to 'timeout' by the caller
      throw new ForgeError('unreachable', `cannot reach ${current.origin}: ${describe(err)}`, { url: current.href, cause: err });
    }

    if (response.status >= 300 && response.status < 400 && response.status !== 304) {
      await discard(response);
      const location = response.headers.get('location');
      if (!location)
        throw new ForgeError('bad-response', `HTTP ${response.status} without a Location header from ${current.href}`, {
          url: current.href,
          status: response.status,
        });
      if (hop + 1 > ctx.maxRedirects) {
        throw new ForgeError('refused-host', `more than ${ctx.maxRedirects} redirects starting at ${startUrl}`, { url: current.href, status: response.status });
      }
      let next: URL;
      try {
        next = new URL(location, current);
      } catch (err) {
        throw new ForgeError('bad-response', `unparseable redirect target from ${current.href}`, { url: current.href, status: response.status, cause: err });
      }
      checkScheme(next);
      // a GitLab web route that does not take the token sends us to the login form; its HTML must
      // never be hashed as the asset
      if (onGitlab && next.origin === ctx.gitlabOrigin && /\/users\/sign_in\/?$/.test(next.pathname)) {
        throw new ForgeError('unauthorized', `GitLab redirected ${current.href} to its sign-in page: the URL does not accept the token`, {
          url: current.href,
          status: response.status,
        });
      }
      if (current.protocol === 'https:' && next.protocol === 'http:') {
        throw new ForgeError('refused-host', `refusing a redirect from https to plain http (${next.href})`, { url: next.href });
      }
      current = next;
      continue;
    }

    if (response.ok) return { response, finalUrl: current.href, hops };

    await discard(response);
    if (isRetryableStatus(response.status)) {
      throw new RetryableStatusError(response.status, current.href, parseRetryAfter(response.headers.get('retry-after')));
    }
    throw statusError(response.status, current.href);
  }
}

async function receiveBody(
  response: Response,
  finalUrl: string,
  hops: string[],
  destPath: string,
  limits: DownloadLimits,
  deadline: AbortSignal,
  startedAt: number,
): Promise<SafeDownloadResult> {
  const declared = parseContentLength(response.headers.get('content-length'));
  const encoded = (response.headers.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
  if (declared !== undefined && declared > limits.maxBytes) {
    await discard(response);
    throw new ForgeError('too-large', `${finalUrl} is ${declared} bytes, over the limit of ${limits.maxBytes}`, { url: finalUrl, status: response.status });
  }
  if (!response.body) {
    if (declared) throw new ForgeError('truncated', `${finalUrl} announced ${declared} bytes but sent no body`, { url: finalUrl });
  }
  const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  // Consumed as a Node stream with a listener for its whole life: undici can error the body (a socket
  // closed before Content-Length, `TypeError: terminated`) after the copy already stopped reading,
  // and an 'error' with no listener is an uncaught exception that kills the run (issue 15). The copy
  // sees the first error through its iterator; later ones land here and are only kept as the reason.
  const readable = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  let streamError: unknown;
  readable.on('error', (err) => {
    streamError ??= err;
  });
  let digest: Digest;
  try {
    digest = await copyAndHash(readable, destPath, {
      maxBytes: limits.maxBytes,
      timeoutMs: Math.max(1, limits.timeoutMs - (Date.now() - startedAt)),
      signal: deadline,
    });
  } catch (err) {
    if (err instanceof LimitError) {
      if (err.kind === 'too-large') {
        throw new ForgeError('too-large', `${finalUrl} sent more than the limit of ${limits.maxBytes} bytes`, { url: finalUrl, cause: err });
      }
      throw timeoutError(finalUrl, limits, err);
    }
    if (deadline.aborted) throw timeoutError(finalUrl, limits, err);
    // the connection ended before the body did (reset, or undici noticed a short Content-Length)
    throw new ForgeError('truncated', `download of ${finalUrl} was cut off: ${describe(streamError ?? err)}`, { url: finalUrl, cause: err });
  }
  if (declared !== undefined && !encoded && digest.size !== declared) {
    throw new ForgeError('truncated', `${finalUrl} announced ${declared} bytes but sent ${digest.size}`, { url: finalUrl });
  }
  return { path: destPath, sha256: digest.sha256, size: digest.size, url: finalUrl, hops };
}

// ───────────────────────────── helpers ─────────────────────────────

function statusError(status: number, url: string): ForgeError {
  if (status === 404 || status === 410) return new ForgeError('not-found', `asset not found at ${url} (HTTP ${status})`, { url, status });
  if (status === 401 || status === 403) {
    return new ForgeError('unauthorized', `HTTP ${status} for ${url}: the token is missing, expired or lacks read access`, { url, status });
  }
  return new ForgeError('bad-response', `unexpected HTTP ${status} for ${url}`, { url, status });
}

function timeoutError(url: string, limits: DownloadLimits, cause: unknown): ForgeError {
  return new ForgeError('timeout', `download of ${url} did not finish within ${Math.round(limits.timeoutMs / 1000)} s`, { url, cause });
}

function parseContentLength(value: string | null): number | undefined {
  if (value == null || !/^\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const inner = cause instanceof Error ? ` (${(cause as { code?: string }).code ?? cause.message})` : '';
    return `${err.message}${inner}`;
  }
  return String(err);
}

function checkScheme(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ForgeError('refused-host', `refusing ${url.protocol} URL ${url.href}: only http(s) downloads are allowed`, { url: url.href });
  }
}

/** Parses an absolute http(s) URL; anything else is refused. */
export function parseHttpUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw new ForgeError('bad-response', `${what} is not a valid URL: ${JSON.stringify(value.slice(0, 200))}`, { cause: err });
  }
  checkScheme(url);
  if (url.username || url.password) {
    throw new ForgeError('refused-host', `refusing ${what} with credentials in it (${url.host})`, { url: `${url.protocol}//${url.host}${url.pathname}` });
  }
  return url;
}

type AllowedHosts = ReadonlyArray<{ hostname: string; port?: string }>;

function normaliseAllowedHosts(hosts: readonly string[]): AllowedHosts {
  return hosts.map((h) => {
    // URL does the IDNA/lower-casing/IPv6 work; the scheme is irrelevant here
    const u = new URL(`http://${h.trim()}`);
    const explicitPort = /:\d+$/.test(h.trim());
    return { hostname: u.hostname, port: explicitPort ? u.port || '80' : undefined };
  });
}

/** `host` entries allow the scheme's default port only; `host:port` exactly that port. */
function isAllowedHost(url: URL, allowed: AllowedHosts): boolean {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return allowed.some((a) => a.hostname === url.hostname && (a.port === undefined ? url.port === '' : a.port === port));
}
