/**
 * Test-side Mach-O tools, written independently of lambda/formats/macho (they must not share code
 * with what they test):
 *  - `postLinkSign` emulates what a post-link signer does (signatures.md §3.3, rcodesign's
 *    create_macho_with_signature): add LC_CODE_SIGNATURE in the header padding when absent (or reuse
 *    it), dataoff = code end rounded up to 16, an ad-hoc SuperBlob with a SHA-256 CodeDirectory
 *    over [0, dataoff), __LINKEDIT filesize grown and vmsize rounded up to 16 KiB.
 *  - `stripSignature` undoes a signature: the inverse edits (drop the command, restore
 *    ncmds/sizeofcmds, truncate at dataoff, shrink __LINKEDIT).
 *  - `buildMachO` compiles and links with clang + ld64.lld (the reference tools).
 * Only 64-bit little-endian thin files (what clang/lld make for arm64 and x86_64).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../support/tools';

const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;

interface Layout {
  ncmds: number;
  sizeofcmds: number;
  cs?: { off: number; dataoff: number; datasize: number };
  linkedit?: { off: number; fileoff: number };
}

function layout(b: Buffer): Layout {
  if (b.readUInt32LE(0) !== 0xfeedfacf) throw new Error('fixture: not a 64-bit little-endian Mach-O');
  const l: Layout = { ncmds: b.readUInt32LE(16), sizeofcmds: b.readUInt32LE(20) };
  let off = 32;
  for (let i = 0; i < l.ncmds; i++) {
    const cmd = b.readUInt32LE(off);
    const size = b.readUInt32LE(off + 4);
    if (cmd === LC_CODE_SIGNATURE) l.cs = { off, dataoff: b.readUInt32LE(off + 8), datasize: b.readUInt32LE(off + 12) };
    if (cmd === LC_SEGMENT_64 && b.toString('latin1', off + 8, off + 24).replace(/\0+$/, '') === '__LINKEDIT') {
      l.linkedit = { off, fileoff: Number(b.readBigUInt64LE(off + 40)) };
    }
    off += size;
  }
  return l;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** An ad-hoc signature added after linking, as §3.3 describes. Replaces an existing signature. */
export function postLinkSign(input: Buffer, identifier: string, options: { pageSizeLog2?: number; padTo16?: boolean } = {}): Buffer {
  const l = layout(input);
  if (!l.linkedit) throw new Error('fixture: no __LINKEDIT');
  const pageSize = 2 ** (options.pageSizeLog2 ?? 12);
  const codeEnd = l.cs ? l.cs.dataoff : input.length;
  const dataoff = align(codeEnd, 16);
  const out = Buffer.alloc(dataoff);
  input.copy(out, 0, 0, codeEnd);
  let csOff = l.cs?.off;
  if (csOff === undefined) {
    csOff = 32 + l.sizeofcmds;
    if (!out.subarray(csOff, csOff + 16).equals(Buffer.alloc(16))) throw new Error('fixture: no room for LC_CODE_SIGNATURE in the header padding');
    out.writeUInt32LE(l.ncmds + 1, 16);
    out.writeUInt32LE(l.sizeofcmds + 16, 20);
  }

  // CodeDirectory v0x20400: 88-byte header, identifier, then code slots (no special slots)
  const nCodeSlots = Math.ceil(dataoff / pageSize);
  const ident = Buffer.from(identifier + '\0', 'utf8');
  const identOffset = 88;
  const hashOffset = identOffset + ident.length;
  const cdLength = hashOffset + nCodeSlots * 32;
  const cms = Buffer.alloc(8);
  cms.writeUInt32BE(0xfade0b01, 0);
  cms.writeUInt32BE(8, 4);
  const superLength = 12 + 2 * 8 + cdLength + cms.length;
  const datasize = options.padTo16 === false ? superLength : align(superLength, 16);

  out.writeUInt32LE(LC_CODE_SIGNATURE, csOff);
  out.writeUInt32LE(16, csOff + 4);
  out.writeUInt32LE(dataoff, csOff + 8);
  out.writeUInt32LE(datasize, csOff + 12);
  const filesize = dataoff + datasize - l.linkedit.fileoff;
  out.writeBigUInt64LE(BigInt(align(filesize, 16384)), l.linkedit.off + 32); // vmsize
  out.writeBigUInt64LE(BigInt(filesize), l.linkedit.off + 48); // filesize

  const cd = Buffer.alloc(cdLength);
  cd.writeUInt32BE(0xfade0c02, 0);
  cd.writeUInt32BE(cdLength, 4);
  cd.writeUInt32BE(0x20400, 8);
  cd.writeUInt32BE(0x2, 12); // adhoc
  cd.writeUInt32BE(hashOffset, 16);
  cd.writeUInt32BE(identOffset, 20);
  cd.writeUInt32BE(0, 24); // nSpecialSlots
  cd.writeUInt32BE(nCodeSlots, 28);
  cd.writeUInt32BE(dataoff, 32); // codeLimit
  cd.writeUInt8(32, 36);
  cd.writeUInt8(2, 37); // SHA-256
  cd.writeUInt8(Math.log2(pageSize), 39);
  ident.copy(cd, identOffset);
  for (let j = 0; j < nCodeSlots; j++) {
    const page = out.subarray(j * pageSize, Math.min((j + 1) * pageSize, dataoff));
    createHash('sha256')
      .update(page)
      .digest()
      .copy(cd, hashOffset + j * 32);
  }
  const sb = Buffer.alloc(datasize);
  sb.writeUInt32BE(0xfade0cc0, 0);
  sb.writeUInt32BE(superLength, 4);
  sb.writeUInt32BE(2, 8);
  sb.writeUInt32BE(0, 12);
  sb.writeUInt32BE(28, 16);
  sb.writeUInt32BE(0x10000, 20);
  sb.writeUInt32BE(28 + cdLength, 24);
  cd.copy(sb, 28);
  cms.copy(sb, 28 + cdLength);
  return Buffer.concat([out, sb]);
}

/** Removes a signature: the exact inverse of a post-link signer that added its load command last. */
export function stripSignature(input: Buffer): Buffer {
  const l = layout(input);
  if (!l.cs || !l.linkedit) throw new Error('fixture: not signed');
  if (l.cs.off !== 32 + l.sizeofcmds - 16) throw new Error('fixture: LC_CODE_SIGNATURE is not the last load command');
  const out = Buffer.from(input.subarray(0, l.cs.dataoff));
  out.fill(0, l.cs.off, l.cs.off + 16);
  out.writeUInt32LE(l.ncmds - 1, 16);
  out.writeUInt32LE(l.sizeofcmds - 16, 20);
  const filesize = l.cs.dataoff - l.linkedit.fileoff;
  out.writeBigUInt64LE(BigInt(filesize), l.linkedit.off + 32);
  out.writeBigUInt64LE(BigInt(filesize), l.linkedit.off + 48);
  return out;
}

export interface BuildOptions {
  arch?: 'arm64' | 'x86_64';
  /** true: -adhoc_codesign, false: -no_adhoc_codesign, absent: lld's default (signs arm64 only) */
  linkerSign?: boolean;
  output?: string;
}

/** Compiles `source` and links an executable with ld64.lld (no SDK: -e _main, no libSystem). */
export function buildMachO(dir: string, source: string, options: BuildOptions = {}): string {
  const arch = options.arch ?? 'arm64';
  const c = join(dir, 'main.c');
  const o = join(dir, 'main.o');
  const out = join(dir, options.output ?? 'app');
  writeFileSync(c, source);
  run('clang', ['-target', `${arch}-apple-macos11`, '-O1', '-c', c, '-o', o]);
  const args = ['-arch', arch, '-platform_version', 'macos', '11.0', '11.0', '-e', '_main', '-o', out, o];
  if (options.linkerSign === false) args.push('-no_adhoc_codesign');
  if (options.linkerSign === true) args.push('-adhoc_codesign');
  run('ld64.lld-14', args);
  return out;
}

export const read = (p: string) => readFileSync(p);

/** For mutation tests: where the signature starts, and the header bytes a signer may change (§3.4). */
export function signerEditableBytes(signed: Buffer): { dataoff: number; editable: Set<number> } {
  const l = layout(signed);
  if (!l.cs || !l.linkedit) throw new Error('fixture: not signed');
  const editable = new Set<number>();
  for (let i = 0; i < 16; i++) editable.add(l.cs.off + i);
  for (let i = 0; i < 8; i++) {
    editable.add(16 + i); // ncmds, sizeofcmds
    editable.add(l.linkedit.off + 32 + i); // vmsize
    editable.add(l.linkedit.off + 48 + i); // filesize
  }
  return { dataoff: l.cs.dataoff, editable };
}
