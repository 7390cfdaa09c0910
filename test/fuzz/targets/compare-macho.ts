/**
 * Mach-O comparer, thin and universal: post-link signed releases (clang + ld64.lld-14, signed as a
 * post-link signer does — test/formats/macho-fixtures.ts) against their unsigned rebuilds, and a
 * universal release (llvm-lipo-14) of two signed slices against the universal of the unsigned ones.
 * Signature-transparent, as macho/compare.ts documents: per slice, the signer's header edits
 * (LC_CODE_SIGNATURE, ncmds/sizeofcmds, __LINKEDIT vmsize/filesize) and the signature after
 * dataoff — except the CodeDirectory's code page hashes, which must match the code; in a universal
 * file also the fat header (not compared, signatures.md §9.12). Alignment padding must stay zero;
 * the bytes between slices are not part of any slice, so they must stay as lipo wrote them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildMachO, postLinkSign, signerEditableBytes } from '../../formats/support/macho-fixtures';
import { run } from '../../support/tools';
import { compareCase, insideRanges, subtract, type Range } from '../compare-support';
import type { FuzzCase, FuzzTarget } from '../fuzz-target';
import { mkdirSync } from 'node:fs';

const SOURCE = `
int helper(int x) { return x * 7 + 1; }
int main(void) { return helper(4); }
`;

/** Transparent ranges of one signed thin Mach-O (offsets within it). */
function sliceRanges(signed: Buffer): Range[] {
  const { dataoff, editable } = signerEditableBytes(signed);
  const ranges: Range[] = [...editable].map((i): Range => [i, i + 1]);
  // the SuperBlob's CodeDirectory: its code slots are not transparent
  const sb = dataoff;
  if (signed.readUInt32BE(sb) !== 0xfade0cc0) throw new Error('fixture: no SuperBlob at dataoff');
  const holes: Range[] = [];
  const count = signed.readUInt32BE(sb + 8);
  for (let i = 0; i < count; i++) {
    const at = sb + signed.readUInt32BE(sb + 12 + i * 8 + 4);
    if (signed.readUInt32BE(at) !== 0xfade0c02) continue;
    const hashOffset = signed.readUInt32BE(at + 16);
    const nCodeSlots = signed.readUInt32BE(at + 28);
    const hashSize = signed[at + 36]!;
    holes.push([at + hashOffset, at + hashOffset + nCodeSlots * hashSize]);
  }
  if (holes.length === 0) throw new Error('fixture: no CodeDirectory');
  ranges.push(...subtract([[dataoff, signed.length]], holes));
  return ranges;
}

const target: FuzzTarget = {
  name: 'compare-macho',
  async setup(dir) {
    const build = (arch: 'arm64' | 'x86_64') => {
      const d = join(dir, `build-${arch}`);
      mkdirSync(d);
      const unsigned = join(dir, `${arch}-unsigned`);
      writeFileSync(unsigned, readFileSync(buildMachO(d, SOURCE, { arch, linkerSign: false })));
      const signed = postLinkSign(readFileSync(unsigned), 'app');
      const signedPath = join(dir, `${arch}-signed`);
      writeFileSync(signedPath, signed);
      return { unsigned, signed, signedPath };
    };
    const arm = build('arm64');
    const x86 = build('x86_64');
    const fatRelease = join(dir, 'fat-release');
    const fatRebuild = join(dir, 'fat-rebuild');
    run('llvm-lipo-14', ['-create', arm.signedPath, x86.signedPath, '-output', fatRelease]);
    run('llvm-lipo-14', ['-create', arm.unsigned, x86.unsigned, '-output', fatRebuild]);
    const fat = readFileSync(fatRelease);
    if (fat.readUInt32BE(0) !== 0xcafebabe) throw new Error('fixture: lipo did not write a 32-bit fat header');
    const n = fat.readUInt32BE(4);
    const fatRanges: Range[] = [[0, 8 + n * 20]];
    for (let i = 0; i < n; i++) {
      const offset = fat.readUInt32BE(8 + i * 20 + 8);
      const size = fat.readUInt32BE(8 + i * 20 + 12);
      const slice = fat.subarray(offset, offset + size);
      for (const [s, e] of sliceRanges(Buffer.from(slice))) fatRanges.push([offset + s, offset + e]);
    }
    const thinRanges = sliceRanges(arm.signed);
    const cases: FuzzCase[] = [
      compareCase({ published: arm.signed, rebuiltPath: arm.unsigned, dir, name: 'thin', transparent: (m) => insideRanges(arm.signed, m, thinRanges) }),
      compareCase({ published: fat, rebuiltPath: fatRebuild, dir, name: 'fat', transparent: (m) => insideRanges(fat, m, fatRanges) }),
    ];
    return cases;
  },
};
export default target;
