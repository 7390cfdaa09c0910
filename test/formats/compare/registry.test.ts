/**
 * The comparer registry (issue 10 item 2): compare/index derives detection and naming from
 * compare/registry's one list; the archive comparer compares its members through
 * CompareContext.compareMember (it does not import the dispatcher) and, without one, still reports
 * differing members as a mismatch (digests only), never a match.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPARERS } from '../../../lambda/formats/compare/registry';
import { compareArtifacts, comparerFor } from '../../../lambda/formats/compare/index';
import { archiveComparer } from '../../../lambda/formats/archive/compare';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-registry-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function zipOf(name: string, members: Record<string, string>): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const [m, data] of Object.entries(members)) zip.addBuffer(Buffer.from(data), m, { mtime: new Date('2024-01-01T00:00:00Z') });
  zip.end();
  const path = join(dir, name);
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await once(out, 'finish');
  return path;
}

describe('comparer registry', () => {
  it('one list, each entry with its own method and format name; detection by content picks from it', () => {
    expect(COMPARERS.map((c) => c.method)).toEqual(['authenticode', 'macho', 'msi', 'archive']);
    expect(new Set(COMPARERS.map((c) => c.formatName)).size).toBe(COMPARERS.length);
    expect(comparerFor(Buffer.from('PK\x03\x04', 'latin1'))).toBe(archiveComparer);
    expect(comparerFor(Buffer.from('plain text')).method).toBe('bytes');
  });

  it('a rebuilt file of another kind is named by the registry entry', async () => {
    const zip = await zipOf('a.zip', { 'x.txt': 'x' });
    const report = await compareArtifacts(zip, join(__dirname, 'registry.test.ts'));
    expect(report.match).toBe(false);
    expect(report.differences[0]!.detail).toBe('the published file is an archive (zip, tar, tar.gz), the rebuilt one is not');
  });

  it('archive members are compared through the dispatcher given in the context; without it, a digest-only mismatch', async () => {
    const a = await zipOf('m1.zip', { 'inner.txt': 'one\n', 'same.txt': 'same' });
    const b = await zipOf('m2.zip', { 'inner.txt': 'two\n', 'same.txt': 'same' });
    const through = await compareArtifacts(a, b);
    expect(through.match).toBe(false);
    expect((through.details as { members?: unknown[] }).members).toEqual([{ entry: 'inner.txt', method: 'bytes', match: false }]);
    const alone = await archiveComparer.compare(a, b, {});
    expect(alone.match).toBe(false);
    expect(alone.differences.map((d) => d.where)).toEqual(['entry inner.txt']);
    expect(alone.differences[0]!.detail).toContain('no member comparer was given');
  });
});
