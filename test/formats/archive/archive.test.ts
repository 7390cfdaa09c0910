/**
 * Archive comparison: zip (yazl), tar / tar.gz (GNU tar, the reference tool), entry by entry.
 * Content decides `match`; order and metadata are reported separately; nested archives, Mach-O (a
 * Tauri-style .app.tar.gz) and PE members are compared with their own comparers.
 */
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { deflateRawSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import { archiveComparer } from '../../../lambda/formats/archive/compare';
import { archiveKind } from '../../../lambda/formats/archive/detect';
import { LimitError } from '../../../lambda/formats/digest';
import { run, status, toolsAvailable } from '../../support/tools';
import { buildMachO, postLinkSign, read } from '../support/macho-fixtures';
import { mutate, prng } from '../../fuzz/fuzz-target';

let dir: string;
const p = (...parts: string[]) => join(dir, ...parts);

interface ZipItem {
  name: string;
  data?: Buffer | string;
  mtime?: Date;
  mode?: number;
  dir?: boolean;
  compress?: boolean;
}

async function makeZip(path: string, items: ZipItem[]): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const it of items) {
    const options = { mtime: it.mtime ?? new Date('2024-01-01T00:00:00Z'), mode: it.mode, compress: it.compress ?? true };
    if (it.dir) zip.addEmptyDirectory(it.name, { mtime: options.mtime });
    else zip.addBuffer(Buffer.from(it.data ?? ''), it.name, options);
  }
  zip.end();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  await once(out, 'finish');
  return path;
}

/** GNU tar of a directory tree, deterministic order, at a fixed mtime */
function makeTar(path: string, root: string, options: { mtime: string; gzip?: boolean; owner?: number }): string {
  const args = [
    '--sort=name',
    `--mtime=${options.mtime}`,
    `--owner=${options.owner ?? 0}`,
    '--group=0',
    '--numeric-owner',
    '--format=gnu',
    options.gzip ? '-czf' : '-cf',
    path,
    '-C',
    root,
    '.',
  ];
  run('tar', args, { env: { ...process.env, GZIP: '-n' } });
  return path;
}

function tree(root: string, files: Record<string, string | Buffer>): string {
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), data);
  }
  return root;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-archive-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('detection', () => {
  it('recognises zip, tar and tar.gz by content, not plain gzip', () => {
    const root = tree(p('det'), { 'a.txt': 'hello' });
    makeTar(p('det.tar'), root, { mtime: '@0' });
    makeTar(p('det.tar.gz'), root, { mtime: '@0', gzip: true });
    writeFileSync(p('plain.txt'), 'not a tar');
    run('gzip', ['-k', '-n', p('plain.txt')]);
    expect(archiveKind(readFileSync(p('det.tar')))).toBe('tar');
    expect(archiveKind(readFileSync(p('det.tar.gz')))).toBe('tar.gz');
    expect(archiveKind(readFileSync(p('plain.txt.gz')))).toBeNull();
    expect(archiveComparer.detect(Buffer.from('PK\x03\x04', 'latin1'))).toBe(true);
  });
});

describe('zip', () => {
  const base: ZipItem[] = [
    { name: 'bin/', dir: true },
    { name: 'bin/app', data: 'binary v1 '.repeat(100), mode: 0o100755 },
    { name: 'README.md', data: '# readme\n' },
    { name: 'share/data.json', data: '{"a":1}' },
  ];

  it('same content, other mtimes, modes and order: a match, with metadata and order reported', async () => {
    await makeZip(p('z-release.zip'), base);
    const later = new Date('2025-06-01T12:00:00Z');
    await makeZip(
      p('z-rebuild.zip'),
      [base[0]!, base[3]!, base[1]!, base[2]!].map((it) => ({ ...it, mtime: later, mode: it.mode ? 0o100700 : it.mode })),
    );
    expect(status('cmp', ['-s', p('z-release.zip'), p('z-rebuild.zip')])).toBe(1);
    const r = await compareArtifacts(p('z-release.zip'), p('z-rebuild.zip'));
    expect(r.method).toBe('archive');
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
    const meta = r.details!.metadataDifferences as { entry: string; field: string }[];
    expect(meta.some((m) => m.entry === 'bin/app' && m.field === 'mtime')).toBe(true);
    expect(meta.some((m) => m.entry === 'bin/app' && m.field === 'mode')).toBe(true);
    expect(r.details!.entryOrder).toMatchObject({ differs: true });
  });

  it('one changed member is named, and only that member', async () => {
    await makeZip(
      p('z-changed.zip'),
      base.map((it) => (it.name === 'share/data.json' ? { ...it, data: '{"a":2}' } : it)),
    );
    const r = await compareArtifacts(p('z-release.zip'), p('z-changed.zip'));
    expect(r.match).toBe(false);
    expect(new Set(r.differences.map((d) => d.where.split(':')[0]))).toEqual(new Set(['entry share/data.json']));
    // the nested byte comparison says where inside the member
    expect(r.differences.some((d) => d.where === 'entry share/data.json: bytes' && /0x5/.test(d.detail ?? ''))).toBe(true);
  });

  it('missing and extra entries are mismatches naming them', async () => {
    await makeZip(p('z-missing.zip'), [...base.filter((it) => it.name !== 'README.md'), { name: 'EXTRA', data: 'x' }]);
    const r = await compareArtifacts(p('z-release.zip'), p('z-missing.zip'));
    expect(r.match).toBe(false);
    expect(r.differences.find((d) => d.where === 'entry README.md')?.detail).toMatch(/missing from the rebuilt archive/);
    expect(r.differences.find((d) => d.where === 'entry EXTRA')?.detail).toMatch(/only in the rebuilt archive/);
  });

  it('a stored vs deflated member with equal content is metadata only', async () => {
    await makeZip(
      p('z-stored.zip'),
      base.map((it) => ({ ...it, compress: false })),
    );
    const r = await compareArtifacts(p('z-release.zip'), p('z-stored.zip'));
    expect(r.match).toBe(true);
    expect((r.details!.metadataDifferences as { field: string }[]).some((m) => m.field === 'compression')).toBe(true);
  });

  it('a nested zip differing only in mtimes matches; with a changed member, the inner member is named', async () => {
    const inner1 = readFileSync(await makeZip(p('inner1.zip'), base));
    const inner2 = readFileSync(
      await makeZip(
        p('inner2.zip'),
        base.map((it) => ({ ...it, mtime: new Date('2030-01-01T00:00:00Z') })),
      ),
    );
    const inner3 = readFileSync(
      await makeZip(
        p('inner3.zip'),
        base.map((it) => (it.name === 'README.md' ? { ...it, data: '# changed\n' } : it)),
      ),
    );
    await makeZip(p('outer1.zip'), [{ name: 'pkg/inner.zip', data: inner1 }]);
    await makeZip(p('outer2.zip'), [{ name: 'pkg/inner.zip', data: inner2 }]);
    await makeZip(p('outer3.zip'), [{ name: 'pkg/inner.zip', data: inner3 }]);
    const same = await compareArtifacts(p('outer1.zip'), p('outer2.zip'), { scratchDir: p() });
    expect(same.match).toBe(true);
    expect(same.details!.signatureTransparentMembers).toEqual([{ entry: 'pkg/inner.zip', method: 'archive' }]);
    const changed = await compareArtifacts(p('outer1.zip'), p('outer3.zip'), { scratchDir: p() });
    expect(changed.match).toBe(false);
    expect(changed.differences.map((d) => d.where)).toContain('entry pkg/inner.zip: entry README.md');
    // scratch space is cleaned up
    expect(readdirSync(p()).filter((n) => n.startsWith('archive-'))).toEqual([]);
  });

  it('an entry named with ".." is refused as unsafe: a mismatch with the reason', async () => {
    const good = await makeZip(p('z-dots-src.zip'), [{ name: 'aa/evil', data: 'x' }]);
    const bytes = readFileSync(good);
    const patched = Buffer.from(bytes.toString('latin1').split('aa/evil').join('../evil'), 'latin1');
    writeFileSync(p('z-dots.zip'), patched);
    const r = await compareArtifacts(p('z-dots.zip'), p('z-release.zip'));
    expect(r.match).toBe(false);
    expect(r.differences[0]!.detail).toMatch(/\.\.|relative path/);
  });

  it('a zip bomb (an entry claiming a 1000×+ expansion) is refused, not compared', async () => {
    await makeZip(p('bomb-src.zip'), [{ name: 'zeros', data: Buffer.alloc(4 * 1024 * 1024) }]);
    const bytes = Buffer.from(readFileSync(p('bomb-src.zip')));
    const cd = bytes.lastIndexOf(Buffer.from('PK\x01\x02', 'latin1'));
    bytes.writeUInt32LE(0xfffffff0, cd + 24); // central directory: uncompressed size ≈ 4 GiB
    writeFileSync(p('bomb.zip'), bytes);
    await expect(compareArtifacts(p('bomb.zip'), p('z-release.zip'))).rejects.toBeInstanceOf(LimitError);
  });

  it('the total uncompressed size is bounded by maxBytes', async () => {
    await expect(compareArtifacts(p('bomb-src.zip'), p('z-release.zip'), { maxBytes: 1024 * 1024 })).rejects.toBeInstanceOf(LimitError);
  });

  it('a zip compared with a tar.gz is a format mismatch', async () => {
    const root = tree(p('fmt'), { 'a.txt': 'a' });
    makeTar(p('fmt.tar.gz'), root, { mtime: '@0', gzip: true });
    const r = await compareArtifacts(p('z-release.zip'), p('fmt.tar.gz'));
    expect(r.match).toBe(false);
    expect(r.differences[0]!.where).toBe('format');
  });

  it('sanity: deflate cannot reach the refusal ratio honestly', () => {
    const z = deflateRawSync(Buffer.alloc(8 * 1024 * 1024));
    expect((8 * 1024 * 1024) / z.length).toBeLessThan(1100);
  });
});

describe('tar and tar.gz (GNU tar)', () => {
  beforeAll(() => {
    tree(p('t1'), { 'app/bin/tool': 'tool v1\n', 'app/lib/lib.so': Buffer.alloc(3000, 1), 'app/README': 'readme\n' });
    tree(p('t2'), { 'app/bin/tool': 'tool v2\n', 'app/lib/lib.so': Buffer.alloc(3000, 1), 'app/README': 'readme\n' });
  });

  it('the same tree packed at another time (mtimes, owner, gzip header) matches, metadata reported', async () => {
    makeTar(p('t-release.tar.gz'), p('t1'), { mtime: '2024-01-01 00:00:00Z', gzip: true });
    makeTar(p('t-rebuild.tar.gz'), p('t1'), { mtime: '2025-02-03 04:05:06Z', gzip: true, owner: 1000 });
    const r = await compareArtifacts(p('t-release.tar.gz'), p('t-rebuild.tar.gz'));
    expect(r.method).toBe('archive');
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
    const meta = r.details!.metadataDifferences as { entry: string; field: string }[];
    expect(meta.some((m) => m.entry === './app/bin/tool' && m.field === 'mtime')).toBe(true);
    expect(meta.some((m) => m.entry === './app/bin/tool' && m.field === 'uid')).toBe(true);
  });

  it('one changed member in a tar.gz is named', async () => {
    makeTar(p('t-changed.tar.gz'), p('t2'), { mtime: '2024-01-01 00:00:00Z', gzip: true });
    const r = await compareArtifacts(p('t-release.tar.gz'), p('t-changed.tar.gz'));
    expect(r.match).toBe(false);
    expect(new Set(r.differences.map((d) => d.where.split(':')[0]))).toEqual(new Set(['entry ./app/bin/tool']));
  });

  it('plain tar works the same way', async () => {
    makeTar(p('t-release.tar'), p('t1'), { mtime: '@0' });
    makeTar(p('t-changed.tar'), p('t2'), { mtime: '@0' });
    const r = await compareArtifacts(p('t-release.tar'), p('t-changed.tar'));
    expect(r.match).toBe(false);
    expect(r.differences[0]!.where).toBe('entry ./app/bin/tool');
  });

  it('a symlink retargeted is a content difference', async () => {
    const mk = async (path: string, target: string) => {
      const pack = tarStream.pack();
      pack.entry({ name: 'link', type: 'symlink', linkname: target });
      pack.entry({ name: 'f', size: 1 }, 'x');
      pack.finalize();
      const out = createWriteStream(path);
      pack.pipe(out);
      await once(out, 'finish');
    };
    await mk(p('l1.tar'), 'f');
    await mk(p('l2.tar'), '/etc/passwd');
    const r = await compareArtifacts(p('l1.tar'), p('l2.tar'));
    expect(r.match).toBe(false);
    expect(r.differences[0]).toMatchObject({ where: 'entry link' });
    expect(r.differences[0]!.detail).toMatch(/link target differs/);
  });

  it('a tar entry named ../x is refused as unsafe', async () => {
    const pack = tarStream.pack();
    pack.entry({ name: '../x', size: 1 }, 'x');
    pack.finalize();
    const out = createWriteStream(p('dots.tar'));
    pack.pipe(out);
    await once(out, 'finish');
    const r = await compareArtifacts(p('dots.tar'), p('t-release.tar'));
    expect(r.match).toBe(false);
    expect(r.differences[0]!.detail).toMatch(/unsafe archive entry name/);
  });

  it('a truncated tar.gz is a mismatch with a reason, never a match', async () => {
    const full = readFileSync(p('t-release.tar.gz'));
    writeFileSync(p('t-trunc.tar.gz'), full.subarray(0, full.length - 30));
    const r = await compareArtifacts(p('t-trunc.tar.gz'), p('t-release.tar.gz'));
    expect(r.match).toBe(false);
  });
});

describe.skipIf(!toolsAvailable('clang', 'ld64.lld-14', 'tar'))('Tauri-style .app.tar.gz with a signed Mach-O', () => {
  it('release (post-link signed binary, other mtimes) matches the unsigned rebuild; a changed binary is named', async () => {
    const src = (k: number) => `int f(int x){return x*${k};}\nint main(void){return f(2);}\n`;
    for (const [name, k] of [
      ['b1', 3],
      ['b2', 3],
      ['b3', 4],
    ] as const) {
      mkdirSync(p(name));
      buildMachO(p(name), src(k), { linkerSign: false });
    }
    tree(p('rel'), { 'Demo.app/Contents/MacOS/demo': postLinkSign(read(p('b1', 'app')), 'demo'), 'Demo.app/Contents/Info.plist': '<plist/>' });
    tree(p('reb'), { 'Demo.app/Contents/MacOS/demo': read(p('b2', 'app')), 'Demo.app/Contents/Info.plist': '<plist/>' });
    tree(p('bad'), { 'Demo.app/Contents/MacOS/demo': read(p('b3', 'app')), 'Demo.app/Contents/Info.plist': '<plist/>' });
    makeTar(p('Demo.app.tar.gz'), p('rel'), { mtime: '2024-01-01 00:00:00Z', gzip: true });
    makeTar(p('Demo-rebuild.app.tar.gz'), p('reb'), { mtime: '2025-01-01 00:00:00Z', gzip: true });
    makeTar(p('Demo-bad.app.tar.gz'), p('bad'), { mtime: '2024-01-01 00:00:00Z', gzip: true });

    const r = await compareArtifacts(p('Demo.app.tar.gz'), p('Demo-rebuild.app.tar.gz'), { scratchDir: p() });
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
    expect(r.details!.signatureTransparentMembers).toEqual([{ entry: './Demo.app/Contents/MacOS/demo', method: 'macho' }]);

    const bad = await compareArtifacts(p('Demo.app.tar.gz'), p('Demo-bad.app.tar.gz'), { scratchDir: p() });
    expect(bad.match).toBe(false);
    expect(bad.differences.some((d) => d.where.startsWith('entry ./Demo.app/Contents/MacOS/demo: ') && d.where.includes('__text'))).toBe(true);
  });
});

describe.skipIf(!toolsAvailable('x86_64-w64-mingw32-gcc', 'osslsigncode', 'openssl'))('zip with a signed PE member', () => {
  it('a zip of the signed exe matches the zip of the unsigned rebuild (authenticode member)', async () => {
    const d = p('pe');
    mkdirSync(d);
    writeFileSync(join(d, 'hello.c'), 'int main(void){return 42;}\n');
    const build = (out: string) => run('x86_64-w64-mingw32-gcc', ['-O2', '-Wl,--no-insert-timestamp', '-o', join(d, out), join(d, 'hello.c')]);
    build('a.exe');
    build('b.exe');
    run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(d, 'k.pem'),
      '-out',
      join(d, 'c.pem'),
      '-days',
      '30',
      '-subj',
      '/CN=Test Signer',
      '-addext',
      'extendedKeyUsage=codeSigning',
    ]);
    run('osslsigncode', [
      'sign',
      '-certs',
      join(d, 'c.pem'),
      '-key',
      join(d, 'k.pem'),
      '-h',
      'sha256',
      '-in',
      join(d, 'a.exe'),
      '-out',
      join(d, 'a-signed.exe'),
    ]);
    expect(existsSync(join(d, 'a-signed.exe'))).toBe(true);
    await makeZip(p('pe-release.zip'), [{ name: 'hello.exe', data: readFileSync(join(d, 'a-signed.exe')) }]);
    await makeZip(p('pe-rebuild.zip'), [{ name: 'hello.exe', data: readFileSync(join(d, 'b.exe')) }]);
    const r = await compareArtifacts(p('pe-release.zip'), p('pe-rebuild.zip'), { scratchDir: p() });
    expect(r.differences).toEqual([]);
    expect(r.match).toBe(true);
    expect(r.details!.signatureTransparentMembers).toEqual([{ entry: 'hello.exe', method: 'authenticode' }]);
  });
});

describe('bounded mutations', () => {
  it('mutated zip and tar.gz releases never crash or hang: a verdict, or a refusal (LimitError)', async () => {
    const rand = prng(0xa7c);
    for (const [release, rebuild] of [
      ['z-release.zip', 'z-rebuild.zip'],
      ['t-release.tar.gz', 't-rebuild.tar.gz'],
    ] as const) {
      const original = readFileSync(p(release));
      let mismatches = 0;
      for (let i = 0; i < 120; i++) {
        writeFileSync(p('mutant'), mutate(original, rand));
        try {
          const r = await compareArtifacts(p('mutant'), p(rebuild), { scratchDir: p() });
          if (!r.match) mismatches++;
        } catch (err) {
          expect(err).toBeInstanceOf(LimitError);
        }
      }
      expect(mismatches).toBeGreaterThan(0);
    }
  });
});
