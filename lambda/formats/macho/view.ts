/**
 * A patched, length-adjusted view of one Mach-O slice: the slice's bytes with a few small overlays
 * (zeroed or transplanted header fields) and a virtual length (truncated at the signature, or
 * zero-extended by alignment padding). Normalisation (§3.4) and the signature transplant are both
 * expressed as views, so the comparison streams the file and never copies or buffers it.
 */
import type { FileHandle } from 'node:fs/promises';

export interface Patch {
  /** offset inside the slice */
  offset: number;
  bytes: Buffer;
}

export const VIEW_CHUNK = 1024 * 1024;

export class SliceView {
  private readonly patches: Patch[] = [];

  /**
   * @param base      file offset of the slice
   * @param dataLength how many real bytes of the slice the view shows; beyond it, up to `length`, zeros
   * @param length    the view's length
   */
  constructor(
    readonly handle: FileHandle,
    readonly base: number,
    readonly dataLength: number,
    readonly length: number,
  ) {}

  patch(offset: number, bytes: Buffer): this {
    this.patches.push({ offset, bytes });
    return this;
  }

  zero(offset: number, length: number): this {
    return this.patch(offset, Buffer.alloc(length));
  }

  /** Fills `buf` with the view's bytes [offset, offset + n) and returns n (≤ buf.length, 0 at the end). */
  async read(buf: Buffer, offset: number): Promise<number> {
    const n = Math.max(0, Math.min(buf.length, this.length - offset));
    const real = Math.max(0, Math.min(n, this.dataLength - offset));
    let got = 0;
    while (got < real) {
      const { bytesRead } = await this.handle.read(buf, got, real - got, this.base + offset + got);
      if (bytesRead === 0) throw new Error(`file shorter than expected at 0x${(this.base + offset + got).toString(16)}`);
      got += bytesRead;
    }
    if (real < n) buf.fill(0, real, n);
    for (const p of this.patches) {
      const s = Math.max(offset, p.offset);
      const e = Math.min(offset + n, p.offset + p.bytes.length);
      if (s < e) p.bytes.copy(buf, s - offset, s - p.offset, e - p.offset);
    }
    return n;
  }

  /** Streams [start, end) in chunks; each yielded buffer is reused on the next iteration. */
  async *chunks(start = 0, end = this.length, chunkSize = VIEW_CHUNK): AsyncGenerator<{ offset: number; bytes: Buffer }> {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (let offset = start; offset < end; ) {
      const n = await this.read(buf.subarray(0, Math.min(chunkSize, end - offset)), offset);
      if (n === 0) return;
      yield { offset, bytes: buf.subarray(0, n) };
      offset += n;
    }
  }
}
