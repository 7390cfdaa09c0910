/**
 * Read access to a local build's output. Build outputs are untrusted: a path must stay inside the
 * output root after resolving symlinks, must be a regular file, and is copied with a size bound.
 * The file is opened without following a symlink and without blocking (a FIFO would otherwise hang
 * the open), and checked again on the open descriptor, so it cannot be swapped between check and read.
 */
import { constants, type ReadStream } from 'node:fs';
import { lstat, open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { VerifierError } from '../../core/errors';
import type { ArtifactSource, DownloadLimits, FetchedArtifact } from '../../core/ports';
import { copyAndHash } from '../../formats/digest';

export class ArtifactPathError extends VerifierError {
  constructor(message: string) {
    super('ARTIFACT_PATH_REFUSED', message);
  }
}

/** Resolves `relPath` under `root`, refusing anything that escapes it. Null when it does not exist. */
export async function resolveInside(root: string, relPath: string): Promise<string | null> {
  if (isAbsolute(relPath) || relPath.split(/[\\/]/).includes('..') || relPath.includes('\0'))
    throw new ArtifactPathError(`artifact path "${relPath}" must be relative and stay inside the build output`);
  const realRoot = await realpath(root);
  const candidate = resolve(realRoot, relPath);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const rel = relative(realRoot, real);
  if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel))
    throw new ArtifactPathError(`artifact "${relPath}" resolves outside the build output (${real})`);
  const st = await lstat(real);
  if (!st.isFile()) throw new ArtifactPathError(`artifact "${relPath}" is not a regular file`);
  return real;
}

export class LocalArtifactSource implements ArtifactSource {
  constructor(private readonly root: string) {}

  async fetch(relPath: string, destPath: string, limits: DownloadLimits): Promise<FetchedArtifact | null> {
    const real = await resolveInside(this.root, relPath);
    if (real === null) return null;
    const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    let stream: ReadStream;
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new ArtifactPathError(`artifact "${relPath}" is not a regular file`);
      if (st.size > limits.maxBytes) throw new ArtifactPathError(`artifact "${relPath}" is ${st.size} bytes, over the ${limits.maxBytes}-byte limit`);
      stream = fh.createReadStream({ highWaterMark: 1 << 20 }); // closes fh when done
    } catch (err) {
      await fh.close();
      throw err;
    }
    const { sha256, size } = await copyAndHash(stream, destPath, { maxBytes: limits.maxBytes, timeoutMs: limits.timeoutMs });
    return { path: destPath, sha256, size };
  }
}
