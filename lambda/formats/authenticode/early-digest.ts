/**
 * The early Authenticode digest (issue 14): for a large signed PE, the file's SHA-256 Authenticode
 * digest is hashed in a worker thread (pe/digest-worker.ts) while the main thread loads and runs
 * pkijs, so that hashing and loading overlap on two cores. The judge uses it only when it covered
 * exactly the ranges the judge's own parse of the file digests, and computes every digest itself
 * otherwise (an MSI, another algorithm, an error in the worker): it saves time, it decides nothing.
 *
 * `prefetchEarlyDigest` starts it before the verifier is even loaded (check-signature calls it on
 * its raw arguments, before the scheme registry and its schemas load); `earlyDigestFor` then hands
 * that job to the verification of the same path, or starts one.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { digestedRanges, isSigned } from '../pe/authenticode-digest';
import { digestRangesInWorker } from '../pe/digest-worker';
import { parsePe } from '../pe/parse';
import type { EarlyDigest } from './judge';

/** Files at least this big get the early digest in a worker (below, starting a worker costs more). Tests change it. */
export const earlyDigestPolicy = { minBytes: 16 * 1024 * 1024 };

export type EarlyDigestJob = EarlyDigest & { cancel(): void };

let prefetched: { path: string; job: Promise<EarlyDigestJob | undefined> } | undefined;

/** Starts the early digest of `path` now, for a verification of that path later in this process. */
export function prefetchEarlyDigest(path: string): void {
  cancelPrefetched();
  prefetched = { path, job: startEarlyDigest(path) };
}

/** Stops a prefetched digest nobody took (the command ended before verifying: a usage error). */
export function cancelPrefetched(): void {
  const p = prefetched;
  prefetched = undefined;
  void p?.job.then((j) => j?.cancel());
}

/** The path a prefetched digest waits for, if any (what a command left behind; tests ask). */
export function pendingPrefetch(): string | undefined {
  return prefetched?.path;
}

/** The prefetched job when it is for this path, else a new one (undefined: no early digest for this file). */
export async function earlyDigestFor(path: string): Promise<EarlyDigestJob | undefined> {
  if (prefetched?.path === path) {
    const { job } = prefetched;
    prefetched = undefined;
    return job;
  }
  return startEarlyDigest(path);
}

async function startEarlyDigest(path: string): Promise<EarlyDigestJob | undefined> {
  let fh: FileHandle | undefined;
  try {
    // stat first: a FIFO or a device named on the command line is never opened speculatively
    const st = await stat(path);
    if (!st.isFile() || st.size < earlyDigestPolicy.minBytes) return undefined;
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const layout = await parsePe(fh, size);
    if (!isSigned(layout)) return undefined;
    const { ranges, zeroPad } = digestedRanges(layout);
    return { algorithm: 'sha256', ranges, zeroPad, ...digestRangesInWorker(path, ranges, zeroPad, 'sha256') };
  } catch {
    // not a PE, unreadable, refused layout: the judge finds out and says so
    return undefined;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
