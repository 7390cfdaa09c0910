/**
 * One read of each of two files that feeds every consumer at once (issue 14): the files are read
 * once, in lock-step chunks, into a bounded ring of shared-memory slots; hash jobs (SHA-256 of a
 * whole file, an Authenticode digest over some ranges) run in worker threads — one per job, so the
 * two files' hashes use both cores — while this thread compares the two chunks at the same offset.
 *
 * Twins: the whole-file digests of both files with the same algorithm (both SHA-256s) are one hash
 * while the two files are equal: as long as each chunk pair is equal, only the first file's job is
 * fed, and the second's digest is the first's at the end. At the first unequal chunk the second job
 * catches up — it reads and hashes the second file's bytes before that chunk itself (equal to the
 * first file's, already released from the ring), then takes the chunks from the ring. So identical
 * files cost one SHA-256 (one core) while the other core reads and compares; files that differ
 * early (signatures, timestamps in headers) cost two in parallel as before; files that differ late
 * re-read the second file's equal prefix once (never a match, so never a shortcut to one).
 *
 * Memory is bounded by the ring (SLOTS × chunk size per file), whatever the file size. A slot is
 * reused only after every job hashed it and the pair callback saw it. Small inputs (below
 * `parallelPolicy.minBytes`) are hashed in this thread instead: starting workers costs more than it
 * saves there; the code path is otherwise the same (tests force both ways).
 *
 * Fail closed: a worker error, a read error or a file shorter than it was rejects the whole pass and
 * terminates every worker; nothing partial is returned.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

export const PASS_CHUNK = 4 * 1024 * 1024;
/** chunks in flight per file: enough for the reads, the hashes and the comparison to overlap */
const SLOTS = 4;

/** Inputs at least this big (the larger of the two) are hashed in worker threads. Tests change it. */
export const parallelPolicy = { minBytes: 16 * 1024 * 1024 };

export type PassAlgorithm = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export interface HashJob {
  /** which file: 0 (first / published) or 1 (second / rebuilt) */
  side: 0 | 1;
  algorithm: PassAlgorithm;
  /** [start, end) ranges to hash, in order; undefined = the whole file */
  ranges?: Array<[number, number]>;
  /** zero bytes appended after the ranges (Authenticode's virtual padding) */
  zeroPad?: number;
}

export interface PassResult {
  /** bytes read from each file (its size, read to EOF) */
  sizes: [number, number];
  /** one digest per job, in the order given */
  digests: Buffer[];
  /** true when the jobs ran in worker threads */
  parallel: boolean;
  /** for twin jobs (see above): the offset of the first unequal chunk, or null when the files were equal throughout */
  divergedAt?: number | null;
}

/** The two whole-file jobs that are one hash while the files are equal: [first file's index, second's], or undefined. */
export function twinJobs(jobs: readonly HashJob[]): [number, number] | undefined {
  const whole = (j: HashJob) => !j.ranges && !j.zeroPad;
  const a = jobs.findIndex((j) => j.side === 0 && whole(j));
  if (a < 0) return undefined;
  const b = jobs.findIndex((j) => j.side === 1 && whole(j) && j.algorithm === jobs[a]!.algorithm);
  return b < 0 ? undefined : [a, b];
}

/**
 * `onPair(a, b, offset, same)` gets the chunks of both files at `offset` (a chunk is undefined once
 * its file ended; both are full-size until the shorter file's last chunk); `same` is whether they
 * are equal when the pass had to find out (twin jobs, before the files diverged), else undefined.
 * The buffers are only valid during the call and must not be modified: the hash jobs may still be
 * reading them.
 */
export async function pairPass(
  paths: [string, string],
  jobs: readonly HashJob[],
  onPair: (a: Buffer | undefined, b: Buffer | undefined, offset: number, same: boolean | undefined) => void,
  options: { chunkSize?: number; parallel?: boolean; twins?: boolean } = {},
): Promise<PassResult> {
  const chunkSize = options.chunkSize ?? PASS_CHUNK;
  const handles = await openBoth(paths);
  const runners: JobRunner[] = [];
  try {
    const sizes = await Promise.all(handles.map(async (h) => (await h.stat()).size));
    const parallel = options.parallel ?? Math.max(...sizes) >= parallelPolicy.minBytes;
    const rings = [0, 1].map(() => (parallel ? new SharedArrayBuffer(SLOTS * chunkSize) : new ArrayBuffer(SLOTS * chunkSize)));
    for (const job of jobs) runners.push(parallel ? new WorkerJob(job, rings[job.side]!, chunkSize) : new InlineJob(job, rings[job.side]!, chunkSize));
    const twins = options.twins === false ? undefined : twinJobs(jobs);
    const reader = chunkReader(handles, rings, chunkSize);
    const divergedAt = await feedChunks(paths, reader, runners, twins, onPair);
    const digests = await Promise.all(runners.map((r, k) => (twins && k === twins[1] && divergedAt === null ? undefined : r.finish())));
    const read = reader.read;
    if (read[0]! < sizes[0]! || read[1]! < sizes[1]!) throw new Error('a file became shorter while it was read');
    // equal chunk for chunk, to the end of both: the second file's digest is the first's
    if (twins && divergedAt === null) digests[twins[1]] = digests[twins[0]];
    return {
      sizes: [read[0]!, read[1]!],
      digests: digests.map((d) => {
        if (!d) throw new Error('a hash job gave no digest');
        return d;
      }),
      parallel,
      ...(twins ? { divergedAt } : {}),
    };
  } finally {
    for (const r of runners) r.close();
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  }
}

/** Opens both files, or neither: when one fails the other is closed and the first failure is thrown. */
async function openBoth(paths: [string, string]): Promise<FileHandle[]> {
  const opened = await Promise.allSettled(paths.map((p) => open(p, 'r')));
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    for (const o of opened) if (o.status === 'fulfilled') await o.value.close().catch(() => undefined);
    throw failed.reason;
  }
  return opened.map((o) => (o as PromiseFulfilledResult<FileHandle>).value);
}

interface ChunkReader {
  chunkSize: number;
  /** bytes read so far from each file */
  read: number[];
  /** whether each file reached its end (a short read) */
  ended: boolean[];
  /** reads both files' chunks at `offset` into `slot` of their rings; resolves to the bytes read from each */
  readPair(slot: number, offset: number): Promise<number[]>;
  /** the `n` bytes of `side`'s chunk in `slot`, or undefined when none were read */
  chunk(side: 0 | 1, slot: number, n: number): Buffer | undefined;
}

/** Reads both files in lock-step chunks into their rings, filling each chunk unless the file ends. */
function chunkReader(handles: FileHandle[], rings: Array<ArrayBuffer | SharedArrayBuffer>, chunkSize: number): ChunkReader {
  const read = [0, 0];
  const ended = [false, false];
  const readSide = async (side: 0 | 1, slot: number, offset: number): Promise<number> => {
    if (ended[side]) return 0;
    const view = new Uint8Array(rings[side]!, slot * chunkSize, chunkSize);
    let got = 0;
    while (got < chunkSize) {
      const { bytesRead } = await handles[side]!.read(view, got, chunkSize - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < chunkSize) ended[side] = true;
    read[side] += got;
    return got;
  };
  return {
    chunkSize,
    read,
    ended,
    readPair: (slot, offset) => Promise.all([readSide(0, slot, offset), readSide(1, slot, offset)]),
    chunk: (side, slot, n) => (n > 0 ? Buffer.from(rings[side]!, slot * chunkSize, n) : undefined),
  };
}

/**
 * The pass itself: reads chunk pairs ahead into free ring slots, feeds each job its side's chunk
 * (not the second twin while the files are equal), hands the pair to `onPair`, and waits until every
 * slot is released. Returns where the twins diverged (null: equal throughout, or no twins).
 */
async function feedChunks(
  paths: [string, string],
  reader: ChunkReader,
  runners: JobRunner[],
  twins: [number, number] | undefined,
  onPair: (a: Buffer | undefined, b: Buffer | undefined, offset: number, same: boolean | undefined) => void,
): Promise<number | null> {
  const { chunkSize, ended, readPair } = reader;
  /** null while the files are equal so far (the second twin is not fed) */
  let divergedAt: number | null = null;
  const free: Array<Promise<unknown>> = new Array(SLOTS).fill(Promise.resolve());
  let next: Promise<number[]> = Promise.resolve([0, 0]);
  try {
    let index = 0;
    next = readPair(0, 0);
    for (;;) {
      const slot = index % SLOTS;
      const offset = index * chunkSize;
      const [na, nb] = await next;
      if (na === 0 && nb === 0) break;
      const a = reader.chunk(0, slot, na!);
      const b = reader.chunk(1, slot, nb!);
      let same: boolean | undefined;
      if (twins && divergedAt === null) {
        same = !!a && !!b && a.equals(b);
        if (!same) {
          divergedAt = offset;
          // the second twin hashes the equal prefix it skipped, from its own file, before this chunk
          if (offset > 0) runners[twins[1]]!.catchUp(paths[1], offset);
        }
      }
      const acks = runners.map((r, k) => {
        if (twins && k === twins[1] && divergedAt === null) return undefined;
        const n = r.job.side === 0 ? na! : nb!;
        return n > 0 ? r.feed(slot, offset, n) : undefined;
      });
      const more = !ended[0] || !ended[1];
      if (more) {
        const nextSlot = (index + 1) % SLOTS;
        await free[nextSlot];
        next = readPair(nextSlot, offset + chunkSize);
      } else next = Promise.resolve([0, 0]);
      onPair(a, b, offset, same);
      free[slot] = Promise.all(acks);
      // surface a failed job now rather than at the end
      free[slot].catch(() => undefined);
      index++;
      if (!more) break;
    }
    await Promise.all(free);
    return divergedAt;
  } finally {
    // a read still in flight when the pass failed is not waited for, and its error is not news
    next.catch(() => undefined);
  }
}

interface JobRunner {
  readonly job: HashJob;
  /** hash bytes [offset, offset + n) held in `slot`; resolves when the slot may be reused */
  feed(slot: number, offset: number, n: number): Promise<void>;
  /** before the next feed: hash bytes [0, length) of the file at `path`, read by the job itself (a twin that diverged) */
  catchUp(path: string, length: number): void;
  finish(): Promise<Buffer>;
  close(): void;
}

/** The part of [offset, offset + n) inside the job's ranges, as [from, to) within the chunk. */
function rangePieces(ranges: Array<[number, number]> | undefined, offset: number, n: number): Array<[number, number]> {
  if (!ranges) return [[0, n]];
  const out: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const from = Math.max(s, offset);
    const to = Math.min(e, offset + n);
    if (to > from) out.push([from - offset, to - offset]);
  }
  return out;
}

/** Hashes the first `length` bytes of the file at `path` (synchronous reads: the inline path is for small files). */
function hashPrefix(hash: Hash, path: string, length: number, chunkSize: number): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(chunkSize, length));
    let at = 0;
    while (at < length) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - at), at);
      if (n === 0) throw new Error('a file became shorter while it was read');
      hash.update(buf.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

class InlineJob implements JobRunner {
  private readonly hash: Hash;
  constructor(
    readonly job: HashJob,
    private readonly ring: ArrayBufferLike,
    private readonly chunkSize: number,
  ) {
    this.hash = createHash(job.algorithm);
  }
  feed(slot: number, offset: number, n: number): Promise<void> {
    const view = Buffer.from(this.ring, slot * this.chunkSize, n);
    for (const [from, to] of rangePieces(this.job.ranges, offset, n)) this.hash.update(view.subarray(from, to));
    return Promise.resolve();
  }
  catchUp(path: string, length: number): void {
    hashPrefix(this.hash, path, length, this.chunkSize);
  }
  finish(): Promise<Buffer> {
    if (this.job.zeroPad) this.hash.update(Buffer.alloc(this.job.zeroPad));
    return Promise.resolve(this.hash.digest());
  }
  close(): void {}
}

/**
 * The worker's whole program, plain JavaScript evaluated as a script: no file to locate, the same
 * under tsx, under vitest and in the bundled CLI (dist/). It hashes the pieces it is told to and
 * answers each message, in order, with an acknowledgement.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, closeSync } = require('node:fs');
const { ring, chunkSize, algorithm, zeroPad } = workerData;
const hash = createHash(algorithm);
parentPort.on('message', (m) => {
  try {
    if (m.catchUp) {
      const fd = openSync(m.catchUp.path, 'r');
      try {
        const buf = Buffer.allocUnsafe(Math.min(chunkSize, m.catchUp.length));
        let at = 0;
        while (at < m.catchUp.length) {
          const n = readSync(fd, buf, 0, Math.min(buf.length, m.catchUp.length - at), at);
          if (n === 0) throw new Error('a file became shorter while it was read');
          hash.update(buf.subarray(0, n));
          at += n;
        }
      } finally {
        closeSync(fd);
      }
      parentPort.postMessage({ ack: true });
      return;
    }
    if (m.finish) {
      if (zeroPad) hash.update(Buffer.alloc(zeroPad));
      parentPort.postMessage({ digest: hash.digest() });
      return;
    }
    const view = Buffer.from(ring, m.slot * chunkSize, m.n);
    for (const [from, to] of m.pieces) hash.update(view.subarray(from, to));
    parentPort.postMessage({ ack: true });
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
});
`;

class WorkerJob implements JobRunner {
  private readonly worker: Worker;
  private readonly waiting: Array<{ resolve: (v: Buffer | undefined) => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;
  constructor(
    readonly job: HashJob,
    ring: SharedArrayBuffer | ArrayBuffer,
    chunkSize: number,
  ) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring, chunkSize, algorithm: job.algorithm, zeroPad: job.zeroPad ?? 0 } });
    this.worker.on('message', (m: { ack?: true; digest?: Uint8Array; error?: string }) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (m.error !== undefined) this.fail(new Error(`hash worker: ${m.error}`), w);
      else w.resolve(m.digest ? Buffer.from(m.digest) : undefined);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`hash worker exited (${code})`)));
  }
  private fail(err: Error, first?: { reject: (e: Error) => void }): void {
    this.failure ??= err;
    first?.reject(this.failure);
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
  }
  private send(message: unknown): Promise<Buffer | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(message);
    });
  }
  async feed(slot: number, offset: number, n: number): Promise<void> {
    const pieces = rangePieces(this.job.ranges, offset, n);
    if (pieces.length === 0) return;
    await this.send({ slot, n, pieces });
  }
  catchUp(path: string, length: number): void {
    // answered in order like a feed; a failure fails the pass through the next feed or finish
    this.send({ catchUp: { path, length } }).catch(() => undefined);
  }
  async finish(): Promise<Buffer> {
    const digest = await this.send({ finish: true });
    if (!digest) throw new Error('hash worker gave no digest');
    return digest;
  }
  close(): void {
    this.worker.removeAllListeners('exit');
    this.worker.on('exit', () => undefined);
    void this.worker.terminate();
  }
}
