/**
 * Streaming digests: hashFile agrees with sha256sum; copyAndHash copies and digests Node and web
 * streams in one pass, and on over-size, time-out, abort or source error throws a typed error and
 * leaves no partial file behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyAndHash, hashFile, LimitError } from '../../lambda/formats/digest';
import { run } from '../support/tools';

let dir: string;
const p = (n: string) => join(dir, n);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-digest-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('hashFile', () => {
  it('matches sha256sum across chunk boundaries', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 7);
    writeFileSync(p('f'), data);
    const d = await hashFile(p('f'), { chunkSize: 1024 * 1024 });
    expect(d).toEqual({ sha256: run('sha256sum', [p('f')]).split(' ')[0], size: data.length });
    expect((await hashFile(p('f'))).sha256).toBe(d.sha256);
  });

  it('refuses a file over maxBytes', async () => {
    await expect(hashFile(p('f'), { maxBytes: 1000 })).rejects.toMatchObject({ code: 'LIMIT_TOO_LARGE' });
  });

  it('throws the I/O error for a missing file', async () => {
    await expect(hashFile(p('missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('copyAndHash', () => {
  const data = randomBytes(3 * 1024 * 1024 + 11);
  const chunks = (b: Buffer, size = 64 * 1024) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));

  it('copies a Node Readable and digests it in one pass', async () => {
    const d = await copyAndHash(Readable.from(chunks(data)), p('c1'), { maxBytes: 10 * 1024 * 1024, timeoutMs: 10_000 });
    expect(d).toEqual({ sha256: sha(data), size: data.length });
    expect(readFileSync(p('c1')).equals(data)).toBe(true);
    expect(statSync(p('c1')).mode & 0o777).toBe(0o600);
  });

  it('copies a web ReadableStream (fetch body) and an async iterable', async () => {
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks(data)) controller.enqueue(new Uint8Array(c));
        controller.close();
      },
    });
    expect(await copyAndHash(web, p('c2'), { maxBytes: 1e9, timeoutMs: 10_000 })).toEqual({ sha256: sha(data), size: data.length });
    async function* gen() {
      yield* chunks(data);
    }
    expect(await copyAndHash(gen(), p('c3'), { maxBytes: 1e9, timeoutMs: 10_000 })).toEqual({ sha256: sha(data), size: data.length });
  });

  it('refuses more than maxBytes and removes the partial file', async () => {
    const err = await copyAndHash(Readable.from(chunks(data)), p('big'), { maxBytes: 1024 * 1024, timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).kind).toBe('too-large');
    expect(existsSync(p('big'))).toBe(false);
  });

  it('a stalled stream times out, and the partial file is removed', async () => {
    const stalled = new Readable({ read() {} });
    stalled.push(Buffer.from('some bytes'));
    const err = await copyAndHash(stalled, p('slow'), { maxBytes: 1e9, timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitError);
    expect((err as LimitError).kind).toBe('timeout');
    expect(stalled.destroyed).toBe(true);
    expect(existsSync(p('slow'))).toBe(false);
  });

  it('an abort signal stops the copy', async () => {
    const stalled = new Readable({ read() {} });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutdown')), 50);
    const err = await copyAndHash(stalled, p('aborted'), { maxBytes: 1e9, timeoutMs: 10_000, signal: ac.signal }).catch((e: unknown) => e);
    expect((err as LimitError).kind).toBe('aborted');
    expect(existsSync(p('aborted'))).toBe(false);
  });

  it('a failing source propagates its error and removes the partial file', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(copyAndHash(failing, p('reset'), { maxBytes: 1e9, timeoutMs: 10_000 })).rejects.toThrow('connection reset');
    expect(existsSync(p('reset'))).toBe(false);
  });
});
