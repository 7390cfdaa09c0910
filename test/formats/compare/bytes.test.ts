/**
 * Byte comparison: digests agree with sha256sum, differing ranges agree with cmp(1), ranges are
 * merged, capped and named by ELF section (objects and executables built with cc at test time).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareBytes } from '../../../lambda/formats/compare/bytes';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import { RangeCollector, collectDifferences, regionNames } from '../../../lambda/formats/compare/regions';
import { readElfLayout } from '../../../lambda/formats/elf';
import { open } from 'node:fs/promises';
import { run, status, toolsAvailable } from '../../support/tools';

let dir: string;
const p = (name: string) => join(dir, name);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-bytes-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** cmp(1)'s first differing offset (0-based; for a prefix, the shorter file's length), or null when equal */
function cmpFirstDifference(a: string, b: string): number | null {
  if (status('cmp', ['-s', a, b]) === 0) return null;
  const out = (() => {
    try {
      return run('cmp', [a, b]);
    } catch (err) {
      return (err as Error).message;
    }
  })();
  const eof = /EOF on .* after byte (\d+)/.exec(out);
  if (eof) return Number(eof[1]);
  const m = /byte (\d+)/.exec(out);
  return m ? Number(m[1]) - 1 : -1;
}

describe('compareBytes', () => {
  it('identical files match, and both SHA-256s agree with sha256sum', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 123);
    writeFileSync(p('a'), data);
    writeFileSync(p('b'), data);
    const r = await compareBytes(p('a'), p('b'));
    expect(r.match).toBe(true);
    expect(r.differences).toEqual([]);
    const ref = run('sha256sum', [p('a')]).split(' ')[0];
    expect(r.details.published.sha256).toBe(ref);
    expect(r.details.rebuilt.sha256).toBe(ref);
    expect(r.details.published.size).toBe(data.length);
  });

  it('empty files match', async () => {
    writeFileSync(p('e1'), '');
    writeFileSync(p('e2'), '');
    const r = await compareBytes(p('e1'), p('e2'));
    expect(r.match).toBe(true);
    expect(r.details.published.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('one changed byte is one range at the offset cmp reports', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const other = Buffer.from(data);
    const at = 1_234_567;
    other[at] = other[at]! ^ 0x55;
    writeFileSync(p('c1'), data);
    writeFileSync(p('c2'), other);
    const r = await compareBytes(p('c1'), p('c2'));
    expect(r.match).toBe(false);
    expect(cmpFirstDifference(p('c1'), p('c2'))).toBe(at);
    expect(r.differences).toHaveLength(1);
    expect(r.differences[0]).toMatchObject({ where: 'bytes', publishedRange: [at, at + 1], rebuiltRange: [at, at + 1] });
    expect(r.details.published.sha256).not.toBe(r.details.rebuilt.sha256);
  });

  it('a difference straddling a chunk boundary is one merged range', async () => {
    const chunk = 1024 * 1024;
    const data = randomBytes(3 * chunk);
    const other = Buffer.from(data);
    for (let i = chunk - 3; i < chunk + 3; i++) other[i] = other[i]! ^ 0xff;
    writeFileSync(p('s1'), data);
    writeFileSync(p('s2'), other);
    const r = await compareBytes(p('s1'), p('s2'), { chunkSize: chunk });
    expect(r.differences.map((d) => d.publishedRange)).toEqual([[chunk - 3, chunk + 3]]);
  });

  it('nearby differences merge; ranges are capped with a note', async () => {
    const data = Buffer.alloc(200_000, 7);
    const other = Buffer.from(data);
    other[100] = 0;
    other[130] = 0; // within the default merge gap (64 bytes)
    for (let k = 0; k < 40; k++) other[10_000 + k * 1000] = 0; // 40 far-apart differences
    writeFileSync(p('m1'), data);
    writeFileSync(p('m2'), other);
    const r = await compareBytes(p('m1'), p('m2'), { maxRanges: 20 });
    expect(r.differences[0]!.publishedRange).toEqual([100, 131]);
    const ranged = r.differences.filter((d) => d.publishedRange);
    expect(ranged).toHaveLength(20);
    expect(r.details.rangesTruncated).toBe(true);
    expect(r.differences.some((d) => /further differences/.test(d.detail ?? ''))).toBe(true);
  });

  it('a size difference (appended bytes) is reported with the extra range', async () => {
    const data = randomBytes(10_000);
    writeFileSync(p('z1'), data);
    writeFileSync(p('z2'), Buffer.concat([data, Buffer.from('appended')]));
    expect(cmpFirstDifference(p('z1'), p('z2'))).toBe(10_000); // cmp: EOF on z1 after byte 10000
    const r = await compareBytes(p('z1'), p('z2'));
    expect(r.match).toBe(false);
    expect(r.differences).toEqual([
      { where: 'size', rebuiltRange: [10_000, 10_008], detail: expect.stringMatching(/8 extra byte\(s\) at the end of the rebuilt file/) },
    ]);
  });

  it('compareArtifacts --method bytes and auto on plain data both use bytes and carry both digests', async () => {
    const r1 = await compareArtifacts(p('c1'), p('c2'), { method: 'bytes' });
    const r2 = await compareArtifacts(p('c1'), p('c2'));
    for (const r of [r1, r2]) {
      expect(r.method).toBe('bytes');
      expect(r.match).toBe(false);
      expect((r.details!.published as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
      expect((r.details!.rebuilt as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe('RangeCollector / regionNames', () => {
  it('collectDifferences finds every differing run in a buffer', () => {
    const a = Buffer.alloc(1000);
    const b = Buffer.alloc(1000);
    b[5] = 1;
    b[500] = 1;
    b[501] = 1;
    const c = new RangeCollector(20, 0);
    collectDifferences(a, b, 1000, c);
    expect(c.ranges).toEqual([
      [1005, 1006],
      [1500, 1502],
    ]);
  });

  it('names the most specific regions in file order', () => {
    const regions = [
      { name: 'segment __TEXT', start: 0, end: 100 },
      { name: 'section __text', start: 10, end: 20 },
      { name: 'section __const', start: 20, end: 30 },
    ];
    expect(regionNames(regions, [15, 25])).toEqual(['section __text', 'section __const']);
    expect(regionNames(regions, [50, 60])).toEqual(['segment __TEXT']);
    expect(regionNames(regions, [200, 210])).toEqual([]);
  });
});

describe.skipIf(!toolsAvailable('cc', 'readelf', 'cmp'))('ELF section naming (cc)', () => {
  const src = (k: number) =>
    `int helper(int x) { return x * ${k} + 12345; }\nint other(int y) { return y - 7; }\nint main(void) { return helper(4) + other(2); }\n`;
  const build = (name: string, k: number, args: string[]) => {
    const d = p(`elf-${name}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'x.c'), src(k));
    run('cc', ['-O1', '-fno-asynchronous-unwind-tables', ...args, join(d, 'x.c'), '-o', p(name)]);
    return p(name);
  };

  it('reads the section table like readelf', async () => {
    build('obj-a', 3, ['-c']);
    const fh = await open(p('obj-a'), 'r');
    const layout = await readElfLayout(fh, readFileSync(p('obj-a')).length);
    await fh.close();
    const text = layout!.sections.find((s) => s.name === '.text')!;
    // readelf -S -W: "[ n] .text PROGBITS addr off size …"
    const line = run('readelf', ['-S', '-W', p('obj-a')])
      .split('\n')
      .find((l) => /\s\.text\s/.test(l))!;
    const cols = line
      .replace(/^.*\]\s*/, '')
      .trim()
      .split(/\s+/);
    expect(text.offset).toBe(parseInt(cols[3]!, 16));
    expect(text.size).toBe(parseInt(cols[4]!, 16));
  });

  it('objects differing in one function: the difference is named section .text', async () => {
    build('obj-b', 3, ['-c']);
    build('obj-c', 5, ['-c']);
    const same = await compareArtifacts(p('obj-a'), p('obj-b'));
    expect(same.match).toBe(true);
    const r = await compareArtifacts(p('obj-a'), p('obj-c'));
    expect(r.method).toBe('bytes');
    expect(r.match).toBe(false);
    expect(r.details!.layout).toBe('ELF');
    expect(r.differences.some((d) => d.where === 'section .text')).toBe(true);
    const first = cmpFirstDifference(p('obj-a'), p('obj-c'))!;
    expect(r.differences[0]!.publishedRange![0]).toBe(first);
  });

  it('executables differing in one function: .text is named', async () => {
    build('exe-a', 3, ['-Wl,--build-id=none']);
    build('exe-c', 5, ['-Wl,--build-id=none']);
    const r = await compareArtifacts(p('exe-a'), p('exe-c'));
    expect(r.match).toBe(false);
    expect(r.differences.map((d) => d.where)).toContain('section .text');
  });

  it('a file that merely starts like ELF gets no names and still compares', async () => {
    const junk = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(100, 0xff)]);
    writeFileSync(p('junk1'), junk);
    const other = Buffer.from(junk);
    other[90] = 0;
    writeFileSync(p('junk2'), other);
    const r = await compareArtifacts(p('junk1'), p('junk2'));
    expect(r.match).toBe(false);
    expect(r.differences[0]!.publishedRange).toEqual([90, 91]);
  });
});
