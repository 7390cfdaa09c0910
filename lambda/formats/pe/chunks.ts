/**
 * Constant-memory reading of a file range in large chunks. Two buffers alternate so that the next
 * read (libuv thread pool) overlaps with the synchronous work (hashing, comparing) on the current one.
 */
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../core/errors';

export const CHUNK_SIZE = 4 * 1024 * 1024;

/**
 * Calls `onChunk(bytes, position)` for consecutive chunks of [start, end). The buffer passed is only
 * valid during the call. Throws a FormatError if the file ends before `end`.
 */
export async function forEachChunk(
  fh: FileHandle,
  start: number,
  end: number,
  onChunk: (bytes: Buffer, position: number) => void,
  chunkSize = CHUNK_SIZE,
): Promise<void> {
  if (end <= start) return;
  const size = Math.min(chunkSize, end - start);
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  const readChunk = async (buf: Buffer, position: number): Promise<Buffer> => {
    const want = Math.min(buf.length, end - position);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, position + got);
      if (bytesRead === 0) throw new FormatError('file', `file ended at ${position + got}, expected data up to ${end}`);
      got += bytesRead;
    }
    return buf.subarray(0, want);
  };
  let position = start;
  let which = 0;
  let pending = readChunk(buffers[which], position);
  while (position < end) {
    const current = await pending;
    const next = position + current.length;
    which ^= 1;
    if (next < end) pending = readChunk(buffers[which], next);
    onChunk(current, position);
    position = next;
  }
}

/**
 * Reads two files' ranges in lock-step (equal-length chunks), for streaming comparison.
 * `onChunk(a, b, offsetA, offsetB)` gets equally long buffers; both ranges must be `length` long.
 */
export async function forEachChunkPair(
  fa: FileHandle,
  startA: number,
  fb: FileHandle,
  startB: number,
  length: number,
  onChunk: (a: Buffer, b: Buffer, offsetA: number, offsetB: number) => boolean | void,
  chunkSize = CHUNK_SIZE,
): Promise<void> {
  const size = Math.max(1, Math.min(chunkSize, length));
  const bufA = Buffer.allocUnsafe(size);
  const bufB = Buffer.allocUnsafe(size);
  for (let done = 0; done < length; ) {
    const n = Math.min(size, length - done);
    await Promise.all([fill(fa, bufA, n, startA + done), fill(fb, bufB, n, startB + done)]);
    if (onChunk(bufA.subarray(0, n), bufB.subarray(0, n), startA + done, startB + done) === false) return;
    done += n;
  }
}

async function fill(fh: FileHandle, buf: Buffer, n: number, position: number): Promise<void> {
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, position + got);
    if (bytesRead === 0) throw new FormatError('file', `file ended at ${position + got}`);
    got += bytesRead;
  }
}
