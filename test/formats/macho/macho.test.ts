/**
 * Mach-O comparison with real files from clang + ld64.lld (signatures.md §3, §8):
 *  - lld's own ad-hoc linker signature parses, and its page hashes are reproduced (the reference
 *    linker's verdict on its own output);
 *  - identical linker-signed builds match; a release that is the rebuild plus a post-link signature
 *    (§3.3, emulated independently in macho-fixtures.ts) matches; a re-signed linker-signed build
 *    matches; changed source is a mismatch naming the section and the CodeDirectory pages;
 *  - §3.5: a -no_adhoc_codesign rebuild of a linker-signed release is a mismatch (layout differs);
 *  - tampering after signing (bytes appended after the SuperBlob, a patched instruction) is a mismatch;
 *  - universal binaries (llvm-lipo) compare per slice; the fat header is not compared.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import { compareMachO, machoComparer } from '../../../lambda/formats/macho/compare';
import { parseEmbeddedSignature, primaryCodeDirectory, PageHasher } from '../../../lambda/formats/macho/codesign';
import { readSlices, readThinHeader } from '../../../lambda/formats/macho/parse';
import { readAt } from '../../../lambda/formats/compare/read-at';
import { run, toolsAvailable } from '../../support/tools';
import { buildMachO, postLinkSign, read, signerEditableBytes, stripSignature } from '../support/macho-fixtures';
import { mutate, prng } from '../../fuzz/fuzz-target';

const SOURCE = (k: number) => `
int helper(int x) { return x * ${k} + 1; }
int main(void) { return helper(4); }
`;

const enabled = toolsAvailable('clang', 'ld64.lld-14', 'llvm-lipo-14', 'llvm-otool-14');

describe.skipIf(!enabled)('Mach-O comparer (clang + ld64.lld)', () => {
  let dir: string;
  const p = (name: string) => join(dir, name);
  /** builds in its own directory with output name "app", returns the path copied to `name` */
  const build = (name: string, k: number, options: Parameters<typeof buildMachO>[2] = {}) => {
    const d = p(`build-${name}`);
    mkdirSync(d);
    const out = buildMachO(d, SOURCE(k), options);
    writeFileSync(p(name), read(out));
    return p(name);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-macho-'));
    build('signed-a', 3); // lld default for arm64: linker-signed
    build('signed-b', 3);
    build('signed-changed', 5);
    build('unsigned', 3, { linkerSign: false });
    build('unsigned-changed', 5, { linkerSign: false });
    build('x86-unsigned', 3, { arch: 'x86_64', linkerSign: false });
    build('x86-signed', 3, { arch: 'x86_64', linkerSign: true });
    writeFileSync(p('postsigned'), postLinkSign(read(p('unsigned')), 'app'));
    writeFileSync(p('resigned'), postLinkSign(read(p('signed-a')), 'com.example.app'));
    writeFileSync(p('stripped'), stripSignature(read(p('signed-a'))));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("parses lld's linker signature and reproduces its page hashes", async () => {
    const fh = await open(p('signed-a'), 'r');
    try {
      const { slices } = await readSlices(fh, (await fh.stat()).size);
      const h = await readThinHeader(fh, slices[0]!);
      expect(h.codeSignature).toBeDefined();
      const cs = h.codeSignature!;
      const cd = primaryCodeDirectory(parseEmbeddedSignature(await readAt(fh, cs.dataoff, cs.datasize)));
      expect(cd.flags & 0x20002).toBe(0x20002); // adhoc, linker-signed (§3.5)
      expect(cd.hashName).toBe('SHA-256');
      expect(cd.pageSize).toBe(4096);
      expect(cd.identifier).toBe('app');
      const hasher = new PageHasher('sha256', 32, cd.pageSize, cd.codeLimit);
      hasher.update(await readAt(fh, 0, cd.codeLimit));
      const pages = hasher.finish();
      expect(pages.length).toBe(cd.nCodeSlots);
      pages.forEach((h32, j) => {
        expect(h32.equals(cd.codeHashes.subarray(j * 32, j * 32 + 32))).toBe(true);
      });
    } finally {
      await fh.close();
    }
  });

  it('the fixture signer writes files llvm-otool reads, with the command §3.3 describes', () => {
    const out = run('llvm-otool-14', ['-l', p('postsigned')]);
    expect(out).toMatch(/cmd LC_CODE_SIGNATURE/);
    const unsigned = read(p('unsigned'));
    const signed = read(p('postsigned'));
    expect(signed.readUInt32LE(16)).toBe(unsigned.readUInt32LE(16) + 1);
    expect(signed.readUInt32LE(20)).toBe(unsigned.readUInt32LE(20) + 16);
  });

  it('detects thin and universal Mach-O by content', () => {
    expect(machoComparer.detect(read(p('signed-a')).subarray(0, 4096))).toBe(true);
    expect(machoComparer.detect(Buffer.from('\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0', 'latin1'))).toBe(false);
    // a Java class file shares 0xCAFEBABE but its "count" (major version 52) is no slice count
    expect(machoComparer.detect(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]))).toBe(false);
  });

  it('identical linker-signed builds match', async () => {
    expect(read(p('signed-a')).equals(read(p('signed-b')))).toBe(true); // lld is deterministic
    const r = await compareMachO(p('signed-a'), p('signed-b'));
    expect(r).toMatchObject({ method: 'macho', match: true, differences: [] });
    const auto = await compareArtifacts(p('signed-a'), p('signed-b'));
    expect(auto).toMatchObject({ method: 'macho', match: true });
  });

  it('a release = rebuild + post-link signature matches, and reports the added load command', async () => {
    expect(read(p('postsigned')).equals(read(p('unsigned')))).toBe(false);
    const r = await compareArtifacts(p('postsigned'), p('unsigned'));
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
    expect(r.method).toBe('macho');
    const slice = (r.details!.slices as Record<string, unknown>[])[0]!;
    expect(slice.addedLoadCommand).toBe('published');
    expect(slice.differingPages).toEqual([]);
    expect((r.details!.published as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a release whose linker signature was replaced by another signer matches the linker-signed rebuild', async () => {
    const r = await compareArtifacts(p('resigned'), p('signed-b'));
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
  });

  it('a linker-signed release matches its rebuild with the signature stripped', async () => {
    const r = await compareArtifacts(p('signed-a'), p('stripped'));
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
  });

  it('changed source is a mismatch naming the section and the differing CodeDirectory pages', async () => {
    const r = await compareArtifacts(p('signed-a'), p('signed-changed'));
    expect(r.match).toBe(false);
    const wheres = r.differences.map((d) => d.where);
    expect(wheres.some((w) => w.includes('section __TEXT,__text'))).toBe(true);
    expect(wheres.some((w) => /^CodeDirectory page/.test(w))).toBe(true);
    const slice = (r.details!.slices as Record<string, unknown>[])[0]!;
    expect(slice.differingPages).toContain(0);
    // post-link signed release vs a rebuild from changed source: same verdict
    const r2 = await compareArtifacts(p('postsigned'), p('unsigned-changed'));
    expect(r2.match).toBe(false);
    expect(r2.differences.some((d) => d.where.includes('section __TEXT,__text'))).toBe(true);
  });

  it('§3.5: a -no_adhoc_codesign rebuild of a linker-signed release is a mismatch (the layout differs)', async () => {
    const r = await compareArtifacts(p('signed-a'), p('unsigned'));
    expect(r.match).toBe(false);
    expect(r.differences.some((d) => d.where.includes('LC_UUID'))).toBe(true);
  });

  it('data appended after the SuperBlob is a mismatch', async () => {
    writeFileSync(p('appended'), Buffer.concat([read(p('postsigned')), Buffer.from('extra payload')]));
    const r = await compareArtifacts(p('appended'), p('unsigned'));
    expect(r.match).toBe(false);
    expect(r.differences.map((d) => d.where)).toContain('after the code signature');
    // zero padding after the SuperBlob is what signers write: still a match
    writeFileSync(p('zeropadded'), Buffer.concat([read(p('postsigned')), Buffer.alloc(32)]));
    expect((await compareArtifacts(p('zeropadded'), p('unsigned'))).match).toBe(true);
  });

  it("a byte patched after signing is a mismatch, with the release's own page hash flagged", async () => {
    const signed = Buffer.from(read(p('postsigned')));
    const fh = await open(p('postsigned'), 'r');
    const h = await readThinHeader(fh, { index: 0, cputype: 0, cpusubtype: 0, arch: '', offset: 0, size: signed.length });
    await fh.close();
    const text = h.segments.flatMap((s) => s.sections).find((s) => s.name === '__TEXT,__text')!;
    signed[text.offset] = signed[text.offset]! ^ 0xff;
    writeFileSync(p('patched'), signed);
    const r = await compareArtifacts(p('patched'), p('unsigned'));
    expect(r.match).toBe(false);
    expect(r.differences.some((d) => d.where === 'code signature' && /does not match the published file itself/.test(d.detail ?? ''))).toBe(true);
    expect(r.differences.some((d) => d.where.includes('section __TEXT,__text'))).toBe(true);
  });

  it('a truncated signature is a mismatch with a reason, never a match', async () => {
    const signed = read(p('postsigned'));
    writeFileSync(p('truncated'), signed.subarray(0, signed.length - 40));
    const r = await compareArtifacts(p('truncated'), p('unsigned'));
    expect(r.match).toBe(false);
    expect(r.differences.length).toBeGreaterThan(0);
  });

  it('bounded mutations of a signed release never crash and never match unless only signer-editable bytes changed', async () => {
    const original = read(p('postsigned'));
    const { dataoff, editable } = signerEditableBytes(original);
    const rand = prng(0x5eed);
    let matches = 0;
    for (let i = 0; i < 300; i++) {
      const mutated = Buffer.from(mutate(original, rand));
      writeFileSync(p('mutant'), mutated);
      const r = await compareArtifacts(p('mutant'), p('unsigned'));
      if (!r.match) continue;
      matches++;
      // a match is only allowed when the code before the signature is intact outside the signer's fields
      expect(mutated.length).toBeGreaterThanOrEqual(dataoff);
      for (let k = 0; k < dataoff; k++) if (!editable.has(k) && mutated[k] !== original[k]) expect.fail(`mutation ${i} changed byte ${k} and still matched`);
    }
    expect(matches).toBeLessThan(300);
  });

  describe('universal binaries', () => {
    beforeAll(() => {
      writeFileSync(p('arm64-postsigned'), postLinkSign(read(p('unsigned')), 'app'));
      writeFileSync(p('x86-postsigned'), postLinkSign(read(p('x86-unsigned')), 'app'));
      run('llvm-lipo-14', ['-create', p('arm64-postsigned'), p('x86-postsigned'), '-output', p('fat-release')]);
      run('llvm-lipo-14', ['-create', p('unsigned'), p('x86-unsigned'), '-output', p('fat-rebuild')]);
      run('llvm-lipo-14', ['-create', p('unsigned-changed'), p('x86-unsigned'), '-output', p('fat-rebuild-changed')]);
      run('llvm-lipo-14', ['-create', p('signed-a'), p('x86-signed'), '-output', p('fat-linker-signed')]);
    });

    it('a universal release of post-link signed slices matches the unsigned universal rebuild, per slice', async () => {
      const r = await compareArtifacts(p('fat-release'), p('fat-rebuild'));
      expect(r.differences).toEqual([]);
      expect(r.match).toBe(true);
      const slices = r.details!.slices as { arch: string; match: boolean }[];
      expect(slices.map((s) => s.arch).sort()).toEqual(['arm64', 'x86_64']);
      expect(slices.every((s) => s.match)).toBe(true);
    });

    it('a changed arm64 slice is named; the identical x86_64 slice matches', async () => {
      const r = await compareArtifacts(p('fat-release'), p('fat-rebuild-changed'));
      expect(r.match).toBe(false);
      expect(r.differences.length).toBeGreaterThan(0);
      expect(r.differences.every((d) => d.where.startsWith('slice arm64: '))).toBe(true);
      const slices = r.details!.slices as { arch: string; match: boolean }[];
      expect(slices.find((s) => s.arch === 'x86_64')!.match).toBe(true);
      expect(slices.find((s) => s.arch === 'arm64')!.match).toBe(false);
    });

    it('a missing slice and a thin-vs-universal pair are mismatches', async () => {
      const thinVsFat = await compareArtifacts(p('fat-release'), p('unsigned'));
      expect(thinVsFat.match).toBe(false);
      run('llvm-lipo-14', ['-create', p('unsigned'), '-output', p('fat-arm64-only')]);
      const r = await compareArtifacts(p('fat-release'), p('fat-arm64-only'));
      expect(r.match).toBe(false);
      expect(r.differences.some((d) => d.where === 'slice x86_64' && /no x86_64 slice/.test(d.detail ?? ''))).toBe(true);
    });

    it('linker-signed universal builds (both slices) match themselves after re-signing one slice', async () => {
      writeFileSync(p('x86-resigned'), postLinkSign(read(p('x86-signed')), 'com.example.app'));
      run('llvm-lipo-14', ['-create', p('signed-a'), p('x86-resigned'), '-output', p('fat-resigned')]);
      const r = await compareArtifacts(p('fat-resigned'), p('fat-linker-signed'));
      expect(r.differences).toEqual([]);
      expect(r.match).toBe(true);
    });
  });
});
