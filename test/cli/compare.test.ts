/**
 * `release-verifier compare` end to end (the real bin through tsx): exit codes 0/1/2, the exact JSON
 * shape, --method bytes, --diffoscope (installed or not), human output naming where files differ.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCompareArgs } from '../../lambda/cli/compare';
import { run as runTool, toolsAvailable } from '../support/tools';
import { UsageError } from '../../lambda/core/errors';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');
let dir: string;
const p = (n: string) => join(dir, n);

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [BIN, 'compare', ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function zip(path: string, mtime: Date, readme: string) {
  const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from(readme), 'README', { mtime });
  z.addBuffer(Buffer.from('payload'.repeat(50)), 'bin/tool', { mtime });
  z.end();
  const out = createWriteStream(path);
  z.outputStream.pipe(out);
  await once(out, 'finish');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rv-cli-compare-'));
  const data = Buffer.alloc(10_000, 3);
  writeFileSync(p('a.bin'), data);
  writeFileSync(p('b.bin'), data);
  const other = Buffer.from(data);
  other[4242] = 9;
  writeFileSync(p('c.bin'), other);
  await zip(p('r1.zip'), new Date('2024-01-01T00:00:00Z'), 'hello');
  await zip(p('r2.zip'), new Date('2025-01-01T00:00:00Z'), 'hello');
  await zip(p('r3.zip'), new Date('2024-01-01T00:00:00Z'), 'HELLO');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('release-verifier compare', () => {
  it('identical files: exit 0 and exactly the contract JSON', () => {
    const r = cli([p('a.bin'), p('b.bin'), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['differences', 'match', 'method', 'published', 'rebuilt']);
    const sha = runTool('sha256sum', [p('a.bin')]).split(' ')[0];
    expect(out).toEqual({ match: true, method: 'bytes', published: { sha256: sha }, rebuilt: { sha256: sha }, differences: [] });
  });

  it('different files: exit 1, differences say where', () => {
    const r = cli([p('a.bin'), p('c.bin'), '--json']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.match).toBe(false);
    expect(out.differences).toEqual([{ where: 'bytes', publishedRange: [4242, 4243], rebuiltRange: [4242, 4243], detail: expect.stringContaining('0x1092') }]);
    const human = cli([p('a.bin'), p('c.bin')]);
    expect(human.code).toBe(1);
    expect(human.stdout.split('\n')[0]).toMatch(/^MISMATCH \(bytes\)/);
    expect(human.stdout).toMatch(/bytes: bytes 0x1092–0x1092 \(1 byte\) differ/);
  });

  it('archives: auto compares content (match despite mtimes), --method bytes does not', () => {
    const auto = cli([p('r1.zip'), p('r2.zip'), '--json']);
    expect(auto.code).toBe(0);
    expect(JSON.parse(auto.stdout)).toMatchObject({ match: true, method: 'archive' });
    const human = cli([p('r1.zip'), p('r2.zip')]);
    expect(human.stdout).toMatch(/^MATCH \(archive\)/);
    expect(human.stdout).toMatch(/metadata difference/);
    const bytes = cli([p('r1.zip'), p('r2.zip'), '--method', 'bytes', '--json']);
    expect(bytes.code).toBe(1);
    expect(JSON.parse(bytes.stdout).method).toBe('bytes');
    const changed = cli([p('r1.zip'), p('r3.zip')]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/entry README/);
  });

  it('--details adds the comparer details', () => {
    const r = cli([p('r1.zip'), p('r2.zip'), '--json', '--details']);
    expect(JSON.parse(r.stdout).details.metadataDifferences.length).toBeGreaterThan(0);
  });

  it('could not compare: exit 2 (missing file); usage errors: exit 3', () => {
    const missing = cli([p('a.bin'), p('nope.bin'), '--json']);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ match: false, error: { code: 'ENOENT' } });
    const usage = cli([p('a.bin')]);
    expect(usage.code).toBe(3);
    expect(usage.stderr).toMatch(/expected PUBLISHED and REBUILT/);
    // the other usage errors are the same path: parseCompareArgs throws a UsageError
    expect(() => parseCompareArgs(['a', 'b', '--method', 'fuzzy'])).toThrow(UsageError);
    expect(() => parseCompareArgs(['a', 'b', '--bogus'])).toThrow(UsageError);
    expect(parseCompareArgs(['--help'])).toBe('help');
  });

  it('--diffoscope without diffoscope on PATH says so clearly and keeps the verdict', () => {
    const r = cli([p('a.bin'), p('c.bin'), '--json', '--diffoscope'], { ...process.env, PATH: dir });
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out.diffoscope).toMatchObject({ status: 'not-installed' });
    expect(out.diffoscope.message).toMatch(/not installed/);
    const human = cli([p('a.bin'), p('c.bin'), '--diffoscope'], { ...process.env, PATH: dir });
    expect(human.stdout).toMatch(/diffoscope: diffoscope is not installed/);
  });

  it('argument parsing: --diffoscope DIR after the files, --diffoscope=DIR anywhere', () => {
    expect(parseCompareArgs(['a', 'b', '--diffoscope', 'out'])).toMatchObject({ published: 'a', rebuilt: 'b', diffoscope: { dir: 'out' } });
    expect(parseCompareArgs(['--diffoscope', 'a', 'b'])).toMatchObject({ published: 'a', rebuilt: 'b', diffoscope: {} });
    expect(parseCompareArgs(['--diffoscope=out', 'a', 'b', '--json'])).toMatchObject({ diffoscope: { dir: 'out' }, json: true });
    expect(parseCompareArgs(['--', '-a', 'b'])).toMatchObject({ published: '-a', rebuilt: 'b' });
  });
});

describe.skipIf(!toolsAvailable('diffoscope'))('release-verifier compare --diffoscope (installed)', () => {
  it('attaches the diffoscope HTML report of a mismatch', () => {
    const out = p('diffo');
    const r = cli([p('a.bin'), p('c.bin'), '--json', '--diffoscope', out]);
    expect(r.code).toBe(1);
    const res = JSON.parse(r.stdout).diffoscope;
    expect(res.status).toBe('differences');
    expect(res.htmlReport).toBe(join(out, 'diffoscope.html'));
    expect(existsSync(res.htmlReport)).toBe(true);
    expect(readFileSync(res.htmlReport, 'utf8')).toMatch(/diffoscope/i);
  });
});
