/**
 * The HTTP layer under gitbeaker (its documented `requesterFn` extension point), replacing
 * @gitbeaker/rest's default handler. What the default does in 43.8, and why that is not enough:
 *
 * | default (rest/dist/index.mjs)                          | here                                        |
 * |--------------------------------------------------------|---------------------------------------------|
 * | retries 429 and 502 only, 10×, waits 2^i·0.25 **ms**   | 429 + 5xx, retry.ts policy, real backoff    |
 * | ignores Retry-After                                    | honoured (seconds or HTTP date), capped     |
 * | other 5xx / 4xx → GitbeakerRequestError (untyped)      | ForgeError with kind and status             |
 * | fetch follows redirects, PRIVATE-TOKEN goes along      | same-origin redirects only, by hand         |
 * | absolute endpoints go wherever they point              | refused unless on the GitLab origin         |
 * | body read without a size bound                         | bounded (`maxResponseBytes`)                |
 * | no per-request timeout unless queryTimeout             | per-attempt timeout                          |
 *
 * Query-string building, header assembly and auth headers stay gitbeaker's (createRequesterFn).
 * This layer is for API calls (JSON). Asset bytes go through safe-download.ts.
 */
import {
  createRequesterFn,
  type FormattedResponse,
  type RequestOptions,
  type RequesterType,
  type ResourceOptions,
  type ResponseBodyTypes,
} from '@gitbeaker/requester-utils';
import { ForgeError } from '../../core/errors';
import { withDeadline } from './deadline';
import { isRetryableStatus, parseRetryAfter, RetryableStatusError, withRetries, type RetryPolicy } from './retry';

export interface BoundedRequesterOptions {
  /** origin of the GitLab instance; every request (and redirect) must stay on it */
  origin: string;
  retry: RetryPolicy;
  /** one attempt (connect + headers + body) */
  requestTimeoutMs: number;
  /** API answers larger than this are refused (they are JSON lists of a few hundred entries) */
  maxResponseBytes: number;
  /** same-origin redirects followed per attempt */
  maxRedirects?: number;
  /**
   * Requests (pages) one gitbeaker call may make. gitbeaker follows `link: rel="next"` while
   * `items / perPage < maxPages` — a server sending short or empty pages with a `next` link would
   * keep it going forever. gitbeaker hands every page of one call the same AbortSignal (created from
   * `queryTimeout`), so pages are counted per signal.
   */
  maxRequestsPerCall?: number;
}

type RequesterFn = (serviceOptions: ResourceOptions) => RequesterType;

export function boundedRequesterFn(options: BoundedRequesterOptions): RequesterFn {
  const requestsPerCall = new WeakMap<AbortSignal, number>();
  const maxRequests = options.maxRequestsPerCall ?? 64;
  const handler = async (endpoint: string, raw?: Record<string, unknown>): Promise<FormattedResponse> => {
    const opts = (raw ?? {}) as RequestOptions;
    if (opts.signal) {
      const n = (requestsPerCall.get(opts.signal) ?? 0) + 1;
      requestsPerCall.set(opts.signal, n);
      if (n > maxRequests) {
        throw new ForgeError('bad-response', `GitLab kept paginating ${endpoint} past ${maxRequests} pages; refusing to follow`);
      }
    }
    // JSON values are what gitbeaker's own handler returns too; its type is narrower than JSON
    return (await request(endpoint, opts, options)) as FormattedResponse<ResponseBodyTypes>;
  };
  // the options handler is the identity, as in @gitbeaker/rest
  return createRequesterFn((_service, requestOptions) => Promise.resolve(requestOptions), handler);
}

async function request(endpoint: string, opts: RequestOptions, cfg: BoundedRequesterOptions) {
  const method = (opts.method ?? 'GET').toUpperCase();
  if (method !== 'GET') throw new ForgeError('bad-response', `refusing ${method} ${endpoint}: the verifier only reads from GitLab`);
  if (opts.asStream) throw new ForgeError('bad-response', `streamed API responses are not supported here (${endpoint}); use safe-download`);

  const base = opts.prefixUrl ? (opts.prefixUrl.endsWith('/') ? opts.prefixUrl : `${opts.prefixUrl}/`) : undefined;
  const first = new URL(endpoint, base);
  first.search = opts.searchParams ?? '';
  if (first.origin !== cfg.origin) {
    throw new ForgeError('refused-host', `refusing an API request to ${first.origin}: not the configured GitLab (${cfg.origin})`, { url: first.href });
  }
  const callerSignal = opts.signal;
  const maxRedirects = cfg.maxRedirects ?? 5;

  return withRetries(
    cfg.retry,
    () =>
      // one explicit timer per attempt, cleared when it settles (see deadline.ts: an
      // AbortSignal.timeout inside AbortSignal.any can be collected on Node 20 and never fire)
      withDeadline(
        cfg.requestTimeoutMs,
        () => new ForgeError('timeout', `GitLab did not answer ${first.pathname} within ${cfg.requestTimeoutMs} ms`, { url: first.href }),
        (attemptSignal) => attempt(first, method, opts, attemptSignal, cfg, maxRedirects),
        callerSignal,
      ),
    { signal: callerSignal },
  ).catch((err: unknown) => {
    if (err instanceof ForgeError) throw err;
    // a wait between attempts was cut by gitbeaker's queryTimeout signal
    throw new ForgeError('timeout', `GitLab request ${first.pathname} did not complete in time`, { url: first.href, cause: err });
  });
}

async function attempt(first: URL, method: string, opts: RequestOptions, attemptSignal: AbortSignal, cfg: BoundedRequesterOptions, maxRedirects: number) {
  let url = first;
  for (let hop = 0; ; hop += 1) {
    let response: Response;
    try {
      response = await fetch(url, { method, headers: opts.headers, redirect: 'manual', signal: attemptSignal });
    } catch (err) {
      throw networkError(err, url, attemptSignal, cfg);
    }
    if (response.status >= 300 && response.status < 400 && response.status !== 304) {
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('location');
      let next: URL | undefined;
      try {
        next = location ? new URL(location, url) : undefined;
      } catch {
        next = undefined;
      }
      if (!next)
        throw new ForgeError('bad-response', `HTTP ${response.status} without a usable Location from ${url.href}`, { url: url.href, status: response.status });
      // the request carries the token: it may only ever go to the GitLab origin
      if (next.origin !== cfg.origin) {
        throw new ForgeError('refused-host', `GitLab API redirected to another origin (${next.origin}); not following with credentials`, {
          url: next.href,
          status: response.status,
        });
      }
      if (hop + 1 > maxRedirects) throw new ForgeError('bad-response', `too many redirects from ${first.href}`, { url: url.href });
      url = next;
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      if (isRetryableStatus(response.status)) {
        throw new RetryableStatusError(response.status, url.href, parseRetryAfter(response.headers.get('retry-after')));
      }
      throw statusError(response.status, url.href);
    }
    const body = await readBody(response, url, attemptSignal, cfg);
    return { body, headers: Object.fromEntries(response.headers.entries()), status: response.status };
  }
}

async function readBody(response: Response, url: URL, signal: AbortSignal, cfg: BoundedRequesterOptions) {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > cfg.maxResponseBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new ForgeError('bad-response', `GitLab answer from ${url.pathname} is ${declared} bytes, over ${cfg.maxResponseBytes}`, {
      url: url.href,
      status: response.status,
    });
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > cfg.maxResponseBytes) {
          await response.body.cancel().catch(() => undefined);
          throw new ForgeError('bad-response', `GitLab answer from ${url.pathname} exceeds ${cfg.maxResponseBytes} bytes`, {
            url: url.href,
            status: response.status,
          });
        }
        chunks.push(chunk);
      }
    }
  } catch (err) {
    if (err instanceof ForgeError) throw err;
    if (signal.aborted) throw networkError(err, url, signal, cfg);
    throw new ForgeError('truncated', `GitLab answer from ${url.pathname} was cut off`, { url: url.href, status: response.status, cause: err });
  }
  if (response.status === 204) return null;
  const text = Buffer.concat(chunks, size).toString('utf8');
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType === 'application/json' || contentType.endsWith('+json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ForgeError('bad-response', `GitLab answered ${url.pathname} with malformed JSON`, { url: url.href, status: response.status, cause: err });
    }
  }
  // gitbeaker's default would hand over text or a Blob; our callers only expect JSON and the
  // schemas reject a string, so return it as-is for a precise error there.
  return text;
}

function networkError(err: unknown, url: URL, signal: AbortSignal, cfg: BoundedRequesterOptions): ForgeError {
  if (signal.aborted) {
    return new ForgeError('timeout', `GitLab did not answer ${url.pathname} within ${cfg.requestTimeoutMs} ms`, { url: url.href, cause: err });
  }
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
  return new ForgeError('unreachable', `cannot reach GitLab at ${url.origin} (${detail})`, { url: url.href, cause: err });
}

export function statusError(status: number, url: string): ForgeError {
  if (status === 404) return new ForgeError('not-found', `GitLab: not found (HTTP 404) at ${new URL(url).pathname}`, { url, status });
  if (status === 401 || status === 403) {
    return new ForgeError('unauthorized', `GitLab refused access (HTTP ${status}): check the token and its read_api scope`, { url, status });
  }
  return new ForgeError('bad-response', `GitLab answered HTTP ${status} for ${new URL(url).pathname}`, { url, status });
}
