/**
 * SHA-256 of artifact-sized data (GBs) in constant memory.
 *
 * - `hashFile` reads a file with large reused buffers (read-ahead of one chunk, so the disk and the
 *   hash overlap) — this is what the comparers and the benchmark use.
 * - `copyAndHash` copies an untrusted stream (a download, a build artifact) to a file and digests it
 *   in the same pass, with a size cap, a time limit and an abort signal. A partial file is removed
 *   on any failure, so nobody can mistake it for the artifact.
 */
import { createHash } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { VerifierError } from '../base/errors';

/** 4 MiB: large enough that syscalls and JS overhead vanish next to SHA-256 itself. */
export const CHUNK_SIZE = 4 * 1024 * 1024;

export type LimitKind = 'too-large' | 'timeout' | 'aborted';

/** A bound on untrusted input was hit (size, time) or the caller aborted. Never a verdict by itself:
 * callers turn it into an INCOMPLETE finding (e.g. DOWNLOAD_TOO_LARGE) or a refusal. */
export class LimitError extends VerifierError {
  readonly kind: LimitKind;
  constructor(kind: LimitKind, userMessage: string, details?: Record<string, unknown>) {
    super(`LIMIT_${kind.toUpperCase().replace(/-/g, '_')}`, userMessage, { details });
    this.kind = kind;
  }
}

export interface Digest {
  sha256: string;
  size: number;
}

/**
 * A digest of a file that this process computed over the file's bytes on this machine, handed from
 * one step to the next so that a file is read once (issue 14): the signature check's Authenticode
 * digest of a published PE, given to the comparison. Never a digest claimed by the file or a server.
 */
export interface ComputedDigest {
  /** what was digested: the Authenticode ranges of a PE (the certificate table and its pointers excluded) */
  kind: 'authenticode-pe';
  algorithm: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  digest: Buffer;
}

/**
 * Reads `[start, end)` of an open file in chunks of `chunkSize`, with one read always in flight
 * ahead of the consumer. Each yielded buffer is only valid until the next iteration (two buffers
 * are reused), so consumers must hash/compare it before asking for the next one. Every chunk but
 * the last is exactly `chunkSize` long, so two readers over equal ranges stay aligned.
 */
export async function* readChunks(handle: FileHandle, options: { start?: number; end?: number; chunkSize?: number } = {}): AsyncGenerator<Buffer, void, void> {
  const chunkSize = options.chunkSize ?? CHUNK_SIZE;
  let position = options.start ?? 0;
  const end = options.end ?? Number.POSITIVE_INFINITY;
  const buffers = [Buffer.allocUnsafe(chunkSize), Buffer.allocUnsafe(chunkSize)];
  let which = 0;

  const fill = async (buf: Buffer, at: number): Promise<number> => {
    const want = Math.min(chunkSize, end - at);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await handle.read(buf, got, want - got, at + got);
      if (bytesRead === 0) break; // EOF
      got += bytesRead;
    }
    return got;
  };

  if (position >= end) return;
  let pending = fill(buffers[which]!, position);
  for (;;) {
    const n = await pending;
    const current = buffers[which]!;
    position += n;
    const done = n < chunkSize || position >= end;
    which ^= 1;
    if (!done) pending = fill(buffers[which]!, position);
    if (n > 0) yield current.subarray(0, n);
    if (done) return;
  }
}

/** SHA-256 and size of a file, streaming. Throws LimitError when the file is larger than maxBytes. */
export async function hashFile(path: string, options: { maxBytes?: number; chunkSize?: number } = {}): Promise<Digest> {
  const handle = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of readChunks(handle, { chunkSize: options.chunkSize })) {
      size += chunk.length;
      if (options.maxBytes !== undefined && size > options.maxBytes) {
        throw new LimitError('too-large', `${path} is larger than the limit of ${options.maxBytes} bytes`, { path, maxBytes: options.maxBytes });
      }
      hash.update(chunk);
    }
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

export type ByteSource = Readable | WebReadableStream<Uint8Array> | globalThis.ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface CopyOptions {
  /** refuse (LimitError 'too-large') as soon as more than this many bytes arrived */
  maxBytes: number;
  /** refuse (LimitError 'timeout') when the whole copy takes longer than this */
  timeoutMs: number;
  signal?: AbortSignal;
  /** file mode of the created file (default 0o600: artifacts are not for other users) */
  mode?: number;
}

function toReadable(source: ByteSource): Readable {
  if (source instanceof Readable) return source;
  if (typeof (source as { getReader?: unknown }).getReader === 'function') {
    return Readable.fromWeb(source as WebReadableStream<Uint8Array>);
  }
  return Readable.from(source as AsyncIterable<Uint8Array>, { objectMode: false });
}

/**
 * Copies `source` to `destPath` (created or truncated) while computing its SHA-256, in one pass and
 * constant memory (back-pressure: the next chunk is only read after the previous one is written).
 * On any failure — over size, over time, aborted, source error, write error — the source is
 * destroyed, the partial file is deleted and the error is thrown (LimitError for bounds).
 */
export async function copyAndHash(source: ByteSource, destPath: string, options: CopyOptions): Promise<Digest> {
  const readable = toReadable(source);
  const hash = createHash('sha256');
  let size = 0;
  let limitError: LimitError | undefined;

  const stop = (err: LimitError): void => {
    if (limitError) return;
    limitError = err;
    readable.destroy(err);
  };
  const timer = setTimeout(
    () => stop(new LimitError('timeout', `transfer did not finish within ${options.timeoutMs} ms`, { timeoutMs: options.timeoutMs })),
    options.timeoutMs,
  );
  const onAbort = (): void => stop(new LimitError('aborted', 'transfer aborted', { reason: String(options.signal?.reason ?? '') }));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let handle: FileHandle | undefined;
  try {
    handle = await open(destPath, 'w', options.mode ?? 0o600);
    for await (const chunk of readable) {
      if (limitError) throw limitError;
      const bytes: Uint8Array = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      size += bytes.length;
      if (size > options.maxBytes) {
        stop(new LimitError('too-large', `transfer exceeds the limit of ${options.maxBytes} bytes`, { maxBytes: options.maxBytes }));
        throw limitError;
      }
      hash.update(bytes);
      let written = 0;
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        written += bytesWritten;
      }
    }
    if (limitError) throw limitError;
    await handle.close();
    handle = undefined;
    return { sha256: hash.digest('hex'), size };
  } catch (err) {
    readable.destroy();
    await handle?.close().catch(() => undefined);
    handle = undefined;
    await unlink(destPath).catch(() => undefined);
    // a destroyed stream may surface a generic "premature close"; report the bound that was hit
    throw limitError ?? err;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}
