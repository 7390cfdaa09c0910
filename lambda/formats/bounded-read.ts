/**
 * Small, bounded reads for signature files, keys and bundles (untrusted, tiny by nature) and a
 * streaming digest for artifact-sized files (constant memory).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** Reads a whole small file, refusing more than `max` bytes. Throws only for I/O errors. */
export async function readBoundedFile(path: string, max: number): Promise<{ bytes: Buffer } | { tooLarge: true; size: number }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > max) return { tooLarge: true, size };
    const buf = Buffer.alloc(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(buf, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled !== size) throw new Error(`${path} shrank while reading`);
    // One more byte means the file grew after stat: refuse rather than read an unbounded tail.
    const { bytesRead: extra } = await handle.read(Buffer.alloc(1), 0, 1, size);
    if (extra !== 0) return { tooLarge: true, size: size + extra };
    return { bytes: buf };
  } finally {
    await handle.close();
  }
}

/** Streams a file through the given hashes (one pass, 1 MiB chunks). Returns digests and size. */
export async function digestFile(
  path: string,
  algorithms: string[],
  onChunk?: (chunk: Buffer) => void,
): Promise<{ digests: Record<string, Buffer>; size: number }> {
  const hashes = algorithms.map((a) => createHash(a));
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const buf = chunk as Buffer;
    size += buf.length;
    for (const h of hashes) h.update(buf);
    onChunk?.(buf);
  }
  return { digests: Object.fromEntries(algorithms.map((a, i) => [a, hashes[i]!.digest()])), size };
}
