/**
 * Bounded comparer fuzz (the `npm run fuzz` comparer targets, a few hundred mutations each, time-
 * bounded): the published file mutated, compared with the genuine rebuild — never a crash or hang,
 * and a match only when the mutation lies inside the comparer's documented signature-transparent
 * parts (test/fuzz/compare-support.ts, the targets' oracles). Then the fuzz's findings, each pinned
 * by the input that found it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import type { FuzzCase, FuzzTarget } from '../../fuzz/fuzz-target';
import { emptyTally, FAILING, mutationAt, runMutation } from '../../fuzz/mutation-loop';
import comparePe from '../../fuzz/targets/compare-pe';
import compareMacho from '../../fuzz/targets/compare-macho';
import compareMsi from '../../fuzz/targets/compare-msi';
import compareZip from '../../fuzz/targets/compare-zip';
import compareTar from '../../fuzz/targets/compare-tar';
import compareGzip from '../../fuzz/targets/compare-gzip';
import compareElf from '../../fuzz/targets/compare-elf';
import { msiContent, zipContent } from '../../fuzz/content-oracles';
import { toolsAvailable } from '../../support/tools';
import { REQUIRED_TOOLS as PE_TOOLS } from '../support/authenticode-fixtures';

/** mutations per format, and a time budget per format: whichever ends first (at least MIN) */
const COUNT = Number(process.env.COMPARE_FUZZ_COUNT ?? 200);
const MIN = 50;
const BUDGET_MS = 25_000;
const SEED = process.env.COMPARE_FUZZ_SEED !== undefined ? Number(process.env.COMPARE_FUZZ_SEED) >>> 0 : 20251201;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
async function setUp(target: FuzzTarget): Promise<{ dir: string; cases: FuzzCase[] }> {
  const dir = mkdtempSync(join(tmpdir(), `rv-${target.name}-`));
  dirs.push(dir);
  return { dir, cases: await target.setup(dir) };
}

const MACHO_TOOLS = ['clang', 'ld64.lld-14', 'llvm-lipo-14'];
const targets: Array<[FuzzTarget, readonly string[]]> = [
  [comparePe, PE_TOOLS],
  [compareMacho, MACHO_TOOLS],
  [compareMsi, [...PE_TOOLS, 'wixl']],
  [compareZip, ['zip']],
  [compareTar, ['tar']],
  [compareGzip, ['tar', 'gzip']],
  [compareElf, ['gcc']],
];

describe.each(targets.map(([target, tools]) => ({ name: target.name, target, tools })))('$name: mutated release vs genuine rebuild', ({ target, tools }) => {
  it.skipIf(!toolsAvailable(...tools))(
    `up to ${COUNT} mutations (seed ${SEED}): never a crash or hang, a match only inside the transparent ranges`,
    async () => {
      const { cases } = await setUp(target);
      // the genuine release must match its rebuild, or the mutations prove nothing
      for (const c of cases) {
        expect(await c.check(c.bytes)).toBe('valid');
        expect(c.isEquivalent!(c.bytes)).toBe(true);
      }
      const tally = emptyTally();
      const failures: string[] = [];
      const began = Date.now();
      let i = 0;
      for (; i < COUNT && (i < MIN || Date.now() - began < BUDGET_MS); i++) {
        const { fuzzCase, caseIndex, mutated } = mutationAt(cases, target.name, SEED, i);
        const { result, detail } = await runMutation(fuzzCase, mutated, 10_000);
        tally[result]++;
        if (FAILING.has(result))
          failures.push(`#${i} (case ${caseIndex}) ${result === 'valid' ? 'match outside the transparent ranges' : result}${detail ? `: ${detail}` : ''}`);
      }
      expect(failures, `replay: npm run fuzz -- --format ${target.name} --seed ${SEED} --count ${i}`).toEqual([]);
      expect(tally.invalid + tally.error).toBeGreaterThan(i / 2);
    },
    90_000,
  );
});

describe('comparer fuzz findings, pinned', () => {
  it.skipIf(!toolsAvailable(...MACHO_TOOLS))('Mach-O universal: a non-zero byte between the slices (no slice covers it) is a mismatch', async () => {
    const { dir, cases } = await setUp(compareMacho);
    const fat = Buffer.from(cases[1]!.bytes);
    const firstSlice = fat.readUInt32BE(8 + 8);
    const headerEnd = 8 + fat.readUInt32BE(4) * 20;
    expect(firstSlice - headerEnd).toBeGreaterThan(0);
    const rebuilt = join(dir, 'fat-rebuild');
    for (const at of [headerEnd + 100, firstSlice - 1]) {
      const m = Buffer.from(fat);
      m[at] = 0x5a;
      const p = join(dir, 'gap.bin');
      writeFileSync(p, m);
      const r = await compareArtifacts(p, rebuilt);
      expect(r.match).toBe(false);
      expect(r.differences.map((d) => d.where)).toContain('universal file, outside the slices');
    }
    // bytes appended after the last slice, too
    const p = join(dir, 'appended.bin');
    writeFileSync(p, Buffer.concat([fat, Buffer.from('appended')]));
    expect((await compareArtifacts(p, rebuilt)).match).toBe(false);
  });

  it.skipIf(!toolsAvailable('zip'))(
    'zip: local headers disagreeing with the central directory, wrong CRC-32s, inexact directory bounds and overlapping entries are mismatches',
    async () => {
      const { dir, cases } = await setUp(compareZip);
      const zip = Buffer.from(cases[0]!.bytes);
      const rebuilt = join(dir, 'rebuild.zip');
      const check = async (name: string, edit: (b: Buffer) => void) => {
        const m = Buffer.from(zip);
        edit(m);
        expect(zipContent(m), name).toBeUndefined(); // the independent reader refuses it too
        const p = join(dir, `${name}.zip`);
        writeFileSync(p, m);
        const r = await compareArtifacts(p, rebuilt);
        expect(r.match, name).toBe(false);
        return r;
      };
      // the first local header's name: README.txt → README.t\x19t (a streaming unzipper sees that name)
      expect(zip.toString('latin1', 30, 40)).toBe('README.txt');
      const renamed = await check('local-name', (b) => void (b[38] = 0x19));
      expect(JSON.stringify(renamed.differences)).toMatch(/local header/);
      // a directory entry's local header signature (no data is read for a directory)
      const binLocal = zip.indexOf(Buffer.from('bin/', 'latin1')) - 30;
      expect(zip.readUInt32LE(binLocal)).toBe(0x04034b50);
      await check('dir-local-signature', (b) => void (b[binLocal + 2] = 0x51));
      // the central CRC-32 of README.txt
      const central = zip.indexOf(Buffer.from('PK\u0001\u0002', 'latin1'));
      await check('crc', (b) => void (b[central + 16]! ^= 0x01));
      // the end record's central-directory size (yauzl reads by entry count; Python's zipfile by size)
      const eocd = zip.length - 22;
      expect(zip.readUInt32LE(eocd)).toBe(0x06054b50);
      const cdSize = await check('cd-size', (b) => void b.writeUInt32LE(b.readUInt32LE(eocd + 12) + 0x100, eocd + 12));
      expect(JSON.stringify(cdSize.differences)).toMatch(/central directory/);
      // found at 10,000 mutations (seed 7): a directory entry's CRC; the per-disk entry count; a local
      // header's compressed size (a streaming reader uses it); a central size running into the directory
      const centralOf = (name: string) => zip.indexOf(Buffer.concat([Buffer.from(name, 'latin1')]), central) - 46;
      const binCentral = centralOf('bin/');
      expect(zip.readUInt32LE(binCentral)).toBe(0x02014b50);
      await check('dir-crc', (b) => void (b[binCentral + 16] = 0xa6));
      await check('disk-count', (b) => void (b[eocd + 9] = 0x51));
      await check('local-csize', (b) => void (b[19] = 0xe2));
      const last = centralOf('bin/app-link');
      expect(zip.readUInt32LE(last)).toBe(0x02014b50);
      await check('csize-overlap', (b) => void b.writeUInt32LE(b.readUInt32LE(last + 20) + 0x54, last + 20));
    },
  );

  it.skipIf(!toolsAvailable('tar', 'gzip'))(
    'tar: a checksum field without its terminator, or data in or after the end-of-archive block, is a mismatch (GNU tar refuses them)',
    async () => {
      const { dir, cases } = await setUp(compareTar);
      const tarBytes = Buffer.from(cases[0]!.bytes);
      const rebuilt = join(dir, 'rebuild.tar');
      // the end-of-archive block: after the last entry's header and data
      let at = 0;
      while (!tarBytes.subarray(at, at + 512).every((x) => x === 0))
        at += 512 + Math.ceil(parseInt(tarBytes.toString('latin1', at + 124, at + 136).replace(/[\0 ]+$/, ''), 8) / 512) * 512;
      const variants: Array<[string, (b: Buffer) => void]> = [
        ['checksum-nul', (b) => void (b[154] = 0x83)], // "006072\0 " → "006072\x83 "
        ['end-block', (b) => void (b[at + 153] = 0x0e)],
      ];
      for (const [name, edit] of variants) {
        const m = Buffer.from(tarBytes);
        edit(m);
        const p = join(dir, `${name}.tar`);
        writeFileSync(p, m);
        expect(spawnSync('tar', ['-tf', p], { stdio: 'ignore' }).status, `GNU tar on ${name}`).not.toBe(0);
        const r = await compareArtifacts(p, rebuilt);
        expect(r.match, name).toBe(false);
      }
      // data after the end-of-archive block: GNU tar stops reading there and accepts; we refuse it —
      // deliberately: bytes in a published file that no reader looks at are bytes nobody verified
      const after = Buffer.from(tarBytes);
      after[after.length - 1] = 0x01;
      const pa = join(dir, 'after-end.tar');
      writeFileSync(pa, after);
      expect(spawnSync('tar', ['-tf', pa], { stdio: 'ignore' }).status).toBe(0);
      expect((await compareArtifacts(pa, rebuilt)).match).toBe(false);
      // what follows the checksum's NUL terminator GNU tar ignores, and so do we (and the oracle)
      const m = Buffer.from(tarBytes);
      m[155] = 0xc2;
      const p = join(dir, 'after-terminator.tar');
      writeFileSync(p, m);
      expect(spawnSync('tar', ['-tf', p], { stdio: 'ignore' }).status).toBe(0);
      expect(cases[0]!.isEquivalent!(m)).toBe(true);
      expect((await compareArtifacts(p, rebuilt)).match).toBe(true);
    },
  );

  it.skipIf(!toolsAvailable(...PE_TOOLS, 'wixl'))(
    'MSI: layouts the specification forbids (names not NUL-terminated, reserved bytes, root siblings, FAT marks, sizes) are mismatches',
    async () => {
      const { dir, cases } = await setUp(compareMsi);
      const msi = Buffer.from(cases[0]!.bytes);
      // find a stream's directory entry through the independent reader's view: its UTF-16 name
      const name = Buffer.from('\u0005SummaryInformation', 'utf16le');
      const at = msi.indexOf(name);
      expect(at).toBeGreaterThan(0);
      const nameLen = msi.readUInt16LE(at + 0x40);
      expect(nameLen).toBe(name.length + 2);
      const m = Buffer.from(msi);
      m[at + nameLen - 1] = 0xa0; // the terminator's high byte: the cfb package then reads one more character
      expect(msiContent(m)?.model.has(`Root Entry/\u0005SummaryInformation`)).toBe(false);
      const p = join(dir, 'name.msi');
      writeFileSync(p, m);
      const r = await compareArtifacts(p, join(dir, 'app.msi'));
      expect(r.match).toBe(false);
      expect(JSON.stringify(r.differences)).toMatch(/NUL-terminated/);

      // the header's reserved bytes, and the root entry's name: the cfb package refuses / renames
      // the last element: whether the cfb package refuses (or misreads) the variant too
      const variants: Array<[string, (b: Buffer) => void, RegExp, boolean?]> = [
        ['reserved', (b) => void (b[0x25] = 0x74), /reserved header bytes/],
        [
          'root-name',
          (b) => {
            const root = b.indexOf(Buffer.from('Root Entry', 'utf16le'));
            b[root] = 0x96;
          },
          /Root Entry/,
        ],
        // found at 10,000 mutations (seed 7)
        ['dir-sector-count', (b) => void (b[0x29] = 0x08), /directory sector count/],
        ['difat-count', (b) => void (b[0x48] = 0x35), /DIFAT sectors/],
        [
          'root-sibling',
          (b) => {
            const root = b.indexOf(Buffer.from('Root Entry', 'utf16le'));
            b[root + 0x47] = 0x5b;
          },
          /root directory entry has siblings/,
        ],
        [
          'fat-sector-mark',
          (b) => {
            const fatSector = b.readUInt32LE(0x4c);
            b[(fatSector + 1) * 512 + fatSector * 4] = 0x00;
          },
          /not marked as one/,
          false,
        ], // the spec's MUST; the cfb package reads on
      ];
      for (const [name, edit, why, otherReaderRefuses = true] of variants) {
        const v = Buffer.from(msi);
        edit(v);
        const c = msiContent(v);
        if (otherReaderRefuses) expect(c === undefined || !c.model.has('Root Entry/\u0005SummaryInformation'), name).toBe(true);
        const q = join(dir, `${name}.msi`);
        writeFileSync(q, v);
        const rv = await compareArtifacts(q, join(dir, 'app.msi'));
        expect(rv.match, name).toBe(false);
        expect(JSON.stringify(rv.differences), name).toMatch(why);
      }
      // three bytes inserted into the last (FAT) sector: a size that is no multiple of the sector
      const grown = Buffer.concat([msi.subarray(0, msi.length - 429), Buffer.from([1, 2, 3]), msi.subarray(msi.length - 429)]);
      const g = join(dir, 'grown.msi');
      writeFileSync(g, grown);
      const rg = await compareArtifacts(g, join(dir, 'app.msi'));
      expect(rg.match).toBe(false);
      expect(JSON.stringify(rg.differences)).toMatch(/multiple of the 512-byte sector size/);
    },
  );
});
