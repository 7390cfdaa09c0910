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
const { open } = require('node:fs/promises');
const { path, ranges, zeroPad, algorithm } = workerData;
const CHUNK = 4 * 1024 * 1024;
(async () => {
  const hash = createHash(algorithm);
  const fh = await open(path, 'r');
  try {
    const pieces = [];
    for (const [start, end] of ranges) for (let at = start; at < end; at += CHUNK) pieces.push([at, Math.min(CHUNK, end - at)]);
    // two buffers: the next piece is read (thread pool) while this one is hashed
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    const readPiece = async (i) => {
      const [at, length] = pieces[i];
      const buf = buffers[i % 2];
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, at + got);
        if (bytesRead === 0) throw new Error('file ended at ' + (at + got));
        got += bytesRead;
      }
      return buf.subarray(0, length);
    };
    let pending = pieces.length > 0 ? readPiece(0) : undefined;
    for (let i = 0; i < pieces.length; i++) {
      const current = await pending;
      pending = i + 1 < pieces.length ? readPiece(i + 1) : undefined;
      hash.update(current);
    }
  } finally {
    await fh.close();
  }
  if (zeroPad) hash.update(Buffer.alloc(zeroPad));
  return hash.digest();
})().then(
  (digest) => parentPort.postMessage({ digest }),
  (err) => parentPort.postMessage({ error: String((err && err.message) || err) }),
);
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
