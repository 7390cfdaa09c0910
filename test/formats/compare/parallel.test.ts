/**
 * Parallel hashing (issue 14): the bytes comparison with its SHA-256s computed in worker threads
 * gives the same digests as sha256sum and the same report (differences, ranges, counts) as the
 * single-thread path, across chunk boundaries, size differences, empty files and a file that is
 * a prefix of the other; a missing file is an error, never a match.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareBytes } from '../../../lambda/formats/compare/bytes';
import { pairPass } from '../../../lambda/formats/compare/pair-pass';
import { run, toolsAvailable } from '../../support/tools';

let dir: string;
const p = (name: string) => join(dir, name);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-parallel-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sha256sum(path: string): string {
  return run('sha256sum', [path]).split(' ')[0]!;
}

const CHUNK = 64 * 1024; // small chunks: many ring turns, many boundaries

describe.skipIf(!toolsAvailable('sha256sum'))('parallel bytes comparison', () => {
  const base = randomBytes(CHUNK * 9 + 1234);
  const cases: Array<[string, (b: Buffer) => Buffer]> = [
    ['identical', (b) => Buffer.from(b)],
    ['one byte flipped mid-chunk', (b) => flip(b, [CHUNK * 3 + 17])],
    ['one byte flipped in the last chunk (late divergence)', (b) => flip(b, [CHUNK * 9 + 5])],
    ['first byte flipped (divergence at 0)', (b) => flip(b, [0])],
    ['flips on both sides of a chunk boundary', (b) => flip(b, [CHUNK * 2 - 1, CHUNK * 2, CHUNK * 7 + 5])],
    [
      'many scattered flips (ranges capped)',
      (b) =>
        flip(
          b,
          Array.from({ length: 40 }, (_, i) => i * 9001 + 3),
        ),
    ],
    ['rebuilt is a prefix (shorter by 3 chunks)', (b) => Buffer.from(b.subarray(0, CHUNK * 6))],
    ['rebuilt is longer (extra tail)', (b) => Buffer.concat([b, randomBytes(CHUNK + 7)])],
    ['empty rebuilt', () => Buffer.alloc(0)],
  ];
  for (const [name, mutate] of cases) {
    it(`${name}: same digests and report in workers as in one thread`, async () => {
      writeFileSync(p('a'), base);
      writeFileSync(p('b'), mutate(base));
      const inWorkers = await compareBytes(p('a'), p('b'), { parallel: true, chunkSize: CHUNK });
      const inline = await compareBytes(p('a'), p('b'), { parallel: false, chunkSize: CHUNK });
      const defaultChunks = await compareBytes(p('a'), p('b'), { parallel: true });
      // twins off: both files hashed in full from the start (the reference for the shared hash)
      const separate = await compareBytes(p('a'), p('b'), { parallel: true, twins: false, chunkSize: CHUNK });
      const separateInline = await compareBytes(p('a'), p('b'), { parallel: false, twins: false, chunkSize: CHUNK });
      expect(inWorkers).toEqual(inline);
      expect(defaultChunks).toEqual(inline);
      expect(separate).toEqual(inline);
      expect(separateInline).toEqual(inline);
      expect(inWorkers.details.published.sha256).toBe(sha256sum(p('a')));
      expect(inWorkers.details.rebuilt.sha256).toBe(sha256sum(p('b')));
      expect(inWorkers.match).toBe(name === 'identical');
      if (name !== 'identical') expect(inWorkers.differences.length).toBeGreaterThan(0);
    });
  }

  it('twins: one hash while equal; the second catches up from its own file at the first unequal chunk', async () => {
    const data = randomBytes(CHUNK * 5 + 7);
    writeFileSync(p('t1'), data);
    writeFileSync(p('t2'), data);
    writeFileSync(p('t3'), flip(data, [CHUNK * 4 + 1]));
    const jobs = [
      { side: 0 as const, algorithm: 'sha256' as const },
      { side: 1 as const, algorithm: 'sha256' as const },
    ];
    for (const parallel of [true, false]) {
      const equal = await pairPass([p('t1'), p('t2')], jobs, () => undefined, { chunkSize: CHUNK, parallel });
      expect(equal.divergedAt).toBeNull();
      expect(equal.digests.map((d) => d.toString('hex'))).toEqual([sha256sum(p('t1')), sha256sum(p('t2'))]);
      const late = await pairPass([p('t1'), p('t3')], jobs, () => undefined, { chunkSize: CHUNK, parallel });
      expect(late.divergedAt).toBe(CHUNK * 4);
      expect(late.digests.map((d) => d.toString('hex'))).toEqual([sha256sum(p('t1')), sha256sum(p('t3'))]);
    }
  });

  it('SHA-256s known from the download: equal ones decide without a read; unequal ones still get the byte ranges', async () => {
    const data = randomBytes(CHUNK * 2 + 3);
    writeFileSync(p('k1'), data);
    writeFileSync(p('k2'), data);
    writeFileSync(p('k3'), flip(data, [CHUNK + 1]));
    const [d1, d3] = [sha256sum(p('k1')), sha256sum(p('k3'))];
    const known = await compareBytes(p('k1'), p('k2'), { knownSha256: [d1, d1] });
    expect(known).toEqual(await compareBytes(p('k1'), p('k2')));
    const differs = await compareBytes(p('k1'), p('k3'), { knownSha256: [d1, d3], chunkSize: CHUNK });
    expect(differs).toEqual(await compareBytes(p('k1'), p('k3'), { chunkSize: CHUNK }));
    expect(differs.match).toBe(false);
    expect(differs.differences[0]!.publishedRange).toEqual([CHUNK + 1, CHUNK + 2]);
  });

  it('two empty files match, with the empty digest', async () => {
    writeFileSync(p('e1'), '');
    writeFileSync(p('e2'), '');
    const r = await compareBytes(p('e1'), p('e2'), { parallel: true });
    expect(r.match).toBe(true);
    expect(r.details.published.sha256).toBe(sha256sum(p('e1')));
  });

  it('range-restricted jobs hash exactly their ranges (plus zero padding), in workers and inline', async () => {
    const data = randomBytes(CHUNK * 3 + 99);
    writeFileSync(p('r'), data);
    writeFileSync(p('s'), data.subarray(0, 10));
    const ranges: Array<[number, number]> = [
      [0, 100],
      [104, CHUNK + 5],
      [CHUNK + 13, data.length],
    ];
    const zeroPad = 5;
    const expected = run('sh', [
      '-c',
      `{ head -c 100 "$1"; tail -c +105 "$1" | head -c ${CHUNK + 5 - 104}; tail -c +${CHUNK + 14} "$1"; head -c ${zeroPad} /dev/zero; } | sha256sum`,
      'sh',
      p('r'),
    ]).split(' ')[0];
    for (const parallel of [true, false]) {
      const r = await pairPass(
        [p('r'), p('s')],
        [
          { side: 0, algorithm: 'sha256', ranges, zeroPad },
          { side: 1, algorithm: 'sha1' },
        ],
        () => undefined,
        { parallel, chunkSize: CHUNK },
      );
      expect(r.digests[0]!.toString('hex')).toBe(expected);
      expect(r.digests[1]!.toString('hex')).toBe(run('sha1sum', [p('s')]).split(' ')[0]);
      expect(r.sizes).toEqual([data.length, 10]);
      expect(r.parallel).toBe(parallel);
    }
  });

  it('a missing file is an error, not a match', async () => {
    writeFileSync(p('x'), 'x');
    await expect(compareBytes(p('x'), p('does-not-exist'), { parallel: true })).rejects.toThrow();
  });
});

function flip(b: Buffer, at: number[]): Buffer {
  const c = Buffer.from(b);
  for (const i of at) c[i] = c[i]! ^ 0xff;
  return c;
}
