import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../lambda/core/errors';
import { checkManifestEntry, checkManifestFile, MAX_MANIFEST_BYTES, parseSha256Sums } from '../../lambda/formats/sha256sums';
import { run, status, toolsAvailable } from '../support/tools';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('SHA256SUMS manifests', () => {
  it('parses text-mode and binary-mode lines, lower-casing digests', () => {
    const a = sha('a');
    const m = parseSha256Sums(`${a}  app.tar.gz\n${a.toUpperCase()} *app.exe\n`);
    expect(m.entries).toEqual([
      { sha256: a, name: 'app.tar.gz', binary: false, line: 1 },
      { sha256: a, name: 'app.exe', binary: true, line: 2 },
    ]);
  });

  it('accepts CRLF line endings, blank lines and names with inner spaces', () => {
    const a = sha('a');
    const m = parseSha256Sums(`${a}  My App 1.0.dmg\r\n\r\n${a}  b\r\n`);
    expect(m.entries.map((e) => e.name)).toEqual(['My App 1.0.dmg', 'b']);
  });

  it.each([
    ['short digest', `${'a'.repeat(63)}  x\n`],
    ['one space', `${'a'.repeat(64)} x\n`],
    ['tab separator', `${'a'.repeat(64)}\tx\n`],
    ['non-hex digit', `${'g'.repeat(64)}  x\n`],
    ['path with a slash', `${'a'.repeat(64)}  dir/x\n`],
    ['parent directory', `${'a'.repeat(64)}  ..\n`],
    ['backslash-escaped name', `\\${'a'.repeat(64)}  a\\nb\n`],
    ['BSD tag format', `SHA256 (x) = ${'a'.repeat(64)}\n`],
    ['trailing space in name', `${'a'.repeat(64)}  x \n`],
    ['empty manifest', ''],
    ['comment line', `# checksums\n${'a'.repeat(64)}  x\n`],
  ])('rejects a malformed manifest: %s', (_what, text) => {
    expect(() => parseSha256Sums(text)).toThrow(FormatError);
  });

  it('rejects a manifest above the size bound', () => {
    const line = `${'a'.repeat(64)}  f\n`;
    expect(() => parseSha256Sums(line.repeat(Math.ceil((MAX_MANIFEST_BYTES + 1) / line.length)))).toThrow(/larger than/);
  });

  it('reports ok, missing, duplicate and mismatch', () => {
    const a = sha('a');
    const b = sha('b');
    const m = parseSha256Sums(`${a}  one\n${b}  two\n${b}  two\n`);
    expect(checkManifestEntry(m, 'one', a)).toEqual({ status: 'ok', expected: a });
    expect(checkManifestEntry(m, 'one', a.toUpperCase())).toEqual({ status: 'ok', expected: a });
    expect(checkManifestEntry(m, 'one', b)).toEqual({ status: 'mismatch', expected: a });
    expect(checkManifestEntry(m, 'three', a)).toEqual({ status: 'missing' });
    expect(checkManifestEntry(m, 'two', b)).toEqual({ status: 'duplicate' });
    expect(checkManifestEntry(m, 'ONE', a)).toEqual({ status: 'missing' }); // names are case-sensitive
  });
});

describe.skipIf(!toolsAvailable('sha256sum'))('SHA256SUMS written by sha256sum', () => {
  let dir: string;
  const files: Record<string, Buffer> = {};
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-sums-'));
    for (const name of ['app-1.0.tar.gz', 'app 1.0 setup.exe', 'notes.txt']) {
      files[name] = randomBytes(1000);
      writeFileSync(join(dir, name), files[name]!);
    }
    writeFileSync(join(dir, 'SHA256SUMS'), run('sha256sum', Object.keys(files), { cwd: dir }));
    writeFileSync(join(dir, 'SHA256SUMS.bin'), run('sha256sum', ['-b', ...Object.keys(files)], { cwd: dir }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees with sha256sum -c on genuine and tampered files', async () => {
    for (const manifest of ['SHA256SUMS', 'SHA256SUMS.bin']) {
      const path = join(dir, manifest);
      expect(status('sha256sum', ['-c', '--quiet', manifest], { cwd: dir })).toBe(0);
      for (const [name, bytes] of Object.entries(files)) {
        expect(await checkManifestFile(path, name, sha(bytes))).toMatchObject({ status: 'ok' });
      }
    }
    const tampered = Buffer.from(files['notes.txt']!);
    tampered[0]! ^= 1;
    writeFileSync(join(dir, 'notes.txt'), tampered);
    expect(status('sha256sum', ['-c', '--quiet', 'SHA256SUMS'], { cwd: dir })).not.toBe(0);
    const r = await checkManifestFile(join(dir, 'SHA256SUMS'), 'notes.txt', sha(tampered));
    expect(r).toMatchObject({ status: 'mismatch', expected: sha(files['notes.txt']!) });
    expect(r.reason).toMatch(/manifest lists/);
  });

  it('reports an unlisted asset as missing, and a malformed manifest file as malformed', async () => {
    expect(await checkManifestFile(join(dir, 'SHA256SUMS'), 'other.zip', sha('x'))).toMatchObject({ status: 'missing' });
    writeFileSync(join(dir, 'BAD'), 'not a manifest\n');
    expect(await checkManifestFile(join(dir, 'BAD'), 'notes.txt', sha('x'))).toMatchObject({ status: 'malformed' });
  });
});
