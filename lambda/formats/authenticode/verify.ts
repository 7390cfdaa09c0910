/**
 * Authenticode verification (issue 4): the entry point. The rules are in judge.ts; this module is
 * light on purpose (issue 14): for a large signed PE it starts the file's SHA-256 Authenticode
 * digest in a worker thread first (pe/digest-worker.ts), then loads judge.ts with pkijs and the
 * certificate code, so that hashing and loading/parsing overlap on two cores. The judge uses the
 * early digest only when it covered exactly the ranges the judge's own parse of the file digests,
 * and computes every digest itself otherwise (an MSI, another algorithm, an error in the worker).
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { SignatureInput, SignatureResult } from '../types';
import { digestedRanges, isSigned } from '../pe/authenticode-digest';
import { parsePe } from '../pe/parse';
import { digestRangesInWorker } from '../pe/digest-worker';
import type { EarlyDigest, VerifyAuthenticodeOptions } from './judge';

export type { VerifyAuthenticodeOptions };

/** Files at least this big get the early digest in a worker (below, starting a worker costs more). Tests change it. */
export const earlyDigestPolicy = { minBytes: 16 * 1024 * 1024 };

export async function verifyAuthenticode(input: SignatureInput, options: VerifyAuthenticodeOptions = {}): Promise<SignatureResult> {
  const early = input.policy.scheme === 'authenticode' ? await startEarlyDigest(input.assetPath) : undefined;
  try {
    const judge = await import('./judge');
    return await judge.verifyAuthenticode(input, options, early);
  } finally {
    early?.cancel();
  }
}

async function startEarlyDigest(path: string): Promise<(EarlyDigest & { cancel(): void }) | undefined> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    if (size < earlyDigestPolicy.minBytes) return undefined;
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
