/**
 * Constant-memory reading of a file range in large chunks. Two buffers alternate so that the next
 * read (libuv thread pool) overlaps with the synchronous work (hashing, comparing) on the current one.
 */
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../base/errors';

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
