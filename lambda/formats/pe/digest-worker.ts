/**
 * One file's digest over some byte ranges in a worker thread (issue 14): the Authenticode check
 * starts hashing a large PE here while its main thread loads and runs pkijs (parsing the signature,
 * checking the chain), so the two overlap on two cores. The worker reads the file itself.
 *
 * Never fails loudly: any error (or a cancel) resolves to undefined, and the caller computes the
 * digest itself — the early digest saves time, it never decides anything on its own.
 */
import { Worker } from 'node:worker_threads';
import type { AuthenticodeHash } from './authenticode-digest';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { path, ranges, zeroPad, algorithm } = workerData;
try {
  const hash = createHash(algorithm);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (const [start, end] of ranges) {
      let at = start;
      while (at < end) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, end - at), at);
        if (n === 0) throw new Error('file ended at ' + at);
        hash.update(buf.subarray(0, n));
        at += n;
      }
    }
  } finally {
    closeSync(fd);
  }
  if (zeroPad) hash.update(Buffer.alloc(zeroPad));
  parentPort.postMessage({ digest: hash.digest() });
} catch (err) {
  parentPort.postMessage({ error: String((err && err.message) || err) });
}
`;

export interface RangeDigestJob {
  digest: Promise<Buffer | undefined>;
  /** stops the worker (when the digest is no longer wanted) */
  cancel(): void;
}

export function digestRangesInWorker(path: string, ranges: Array<[number, number]>, zeroPad: number, algorithm: AuthenticodeHash): RangeDigestJob {
  let worker: Worker | undefined;
  const digest = new Promise<Buffer | undefined>((resolve) => {
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, ranges, zeroPad, algorithm } });
    } catch {
      resolve(undefined);
      return;
    }
    worker.once('message', (m: { digest?: Uint8Array }) => resolve(m.digest ? Buffer.from(m.digest) : undefined));
    worker.once('error', () => resolve(undefined));
    worker.once('exit', () => resolve(undefined));
  });
  return {
    digest,
    cancel: () => {
      void worker?.terminate();
    },
  };
}
