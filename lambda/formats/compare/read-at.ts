/**
 * Positional reads for the format parsers: a few bytes at an offset (headers, tables), and the head
 * of a file (content detection). Short reads at EOF return fewer bytes; callers check lengths.
 */
import { open, type FileHandle } from 'node:fs/promises';

/** Reads `length` bytes at `offset` (fewer at EOF). */
export async function readAt(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** The first `length` bytes of a file (fewer when it is shorter). */
export async function readHead(path: string, length = 4096): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    return await readAt(handle, 0, length);
  } finally {
    await handle.close();
  }
}
