/**
 * Recognises the archive formats the archive comparer handles, from the first bytes of a file:
 * zip (local file header or empty-archive end record), POSIX/GNU tar (ustar magic, or a v7 header
 * with a valid checksum) and gzip-compressed tar (the head is inflated just far enough to see the
 * tar header). Plain gzip of anything else is not an archive.
 */
import { gunzipSync, constants as zlibConstants } from 'node:zlib';

export type ArchiveKind = 'zip' | 'tar' | 'tar.gz';

/** true when `block` (≥ 512 bytes) is a tar header: ustar magic, or a v7 header whose checksum is right */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  const b = Buffer.from(block.buffer, block.byteOffset, 512);
  if (b.toString('latin1', 257, 262) === 'ustar') return true;
  // v7: checksum field (octal, 148..156) = sum of header bytes with the field taken as spaces
  const field = b
    .toString('latin1', 148, 156)
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (!/^[0-7]{1,7}$/.test(field) || b[0] === 0) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum === parseInt(field, 8);
}

export function isGzip(head: Uint8Array): boolean {
  return head.length >= 10 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8;
}

/** Inflates what it can of a gzip head (a truncated stream is fine); empty on garbage. Deflate
 * expands at most ~1032×, so a 4 KiB head stays under the 8 MiB output bound. */
export function gunzipHead(head: Uint8Array, max = 4096): Buffer {
  try {
    const out = gunzipSync(head.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 8 * 1024 * 1024 });
    return out.subarray(0, max);
  } catch {
    return Buffer.alloc(0);
  }
}

export function archiveKind(head: Uint8Array): ArchiveKind | null {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) return 'zip';
  if (isTarHeader(head)) return 'tar';
  if (isGzip(head) && isTarHeader(gunzipHead(head, 512))) return 'tar.gz';
  return null;
}
