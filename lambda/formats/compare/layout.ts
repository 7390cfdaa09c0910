/**
 * The named regions of a binary (ELF, Mach-O, PE), used to say *where* a byte comparison differs.
 * Best effort by design: a file that does not parse simply gets no names (the ranges are still
 * reported), so explanations never turn a comparison into an error.
 */
import type { FileHandle } from 'node:fs/promises';
import { elfRegions, isElf, readElfLayout } from '../elf';
import { machoKind, machoRegions, parseFatHeader, readThinHeader, MAX_FAT_ARCHS } from '../macho/parse';
import { readAt } from './read-at';
import { looksLikePe, parsePe, peRegions } from '../pe/parse';
import type { Region } from './regions';

export interface Layout {
  format: 'ELF' | 'Mach-O' | 'PE';
  regions: Region[];
}

export async function describeLayout(handle: FileHandle, fileSize: number): Promise<Layout | null> {
  const head = await readAt(handle, 0, Math.min(fileSize, 4096));
  if (isElf(head)) {
    const layout = await readElfLayout(handle, fileSize);
    return layout ? { format: 'ELF', regions: elfRegions(layout) } : null;
  }
  const kind = machoKind(head);
  if (kind === 'thin') {
    const header = await readThinHeader(handle, { index: 0, cputype: 0, cpusubtype: 0, arch: '', offset: 0, size: fileSize });
    return { format: 'Mach-O', regions: machoRegions(header) };
  }
  if (kind === 'fat') {
    const slices = parseFatHeader(await readAt(handle, 0, Math.min(fileSize, 8 + MAX_FAT_ARCHS * 32)), fileSize);
    const regions: Region[] = [{ name: 'universal header', start: 0, end: 8 + slices.length * 20 }];
    for (const s of slices) {
      regions.push({ name: `slice ${s.arch}`, start: s.offset, end: s.offset + s.size });
      const header = await readThinHeader(handle, s);
      for (const r of machoRegions(header)) regions.push({ name: `slice ${s.arch}: ${r.name}`, start: s.offset + r.start, end: s.offset + r.end });
    }
    return { format: 'Mach-O', regions };
  }
  if (looksLikePe(head)) return { format: 'PE', regions: peRegions(await parsePe(handle, fileSize)) };
  return null;
}
