/**
 * `compare` prints names that come from the files (archive entry names): neutralised like every
 * other output (issue 9 item 5). Two zips whose differing entry is named with an ESC sequence and a
 * bidi override; the human and the --json output carry neither raw.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import yazl from 'yazl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(__dirname, '../../bin/release-verifier.mjs');
const ENTRY = 'docs/\x1b[2J\x1b[Hread\u202eme.txt';
let dir: string;

async function zip(path: string, content: string) {
  const z = new yazl.ZipFile();
  z.addBuffer(Buffer.from(content), ENTRY, { mtime: new Date('2024-01-01T00:00:00Z') });
  z.end();
  const out = createWriteStream(path);
  z.outputStream.pipe(out);
  await once(out, 'finish');
}

/** C0 except \n and \t, DEL, C1, format and separator characters. */
function rawHits(text: string): string[] {
  return [...text].filter((ch) => ch !== '\n' && ch !== '\t' && /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(ch)).map((ch) => `U+${ch.codePointAt(0)!.toString(16)}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rv-cli-hostile-'));
  await zip(join(dir, 'published.zip'), 'genuine');
  await zip(join(dir, 'rebuilt.zip'), 'changed');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compare with hostile archive entry names', () => {
  it('names the differing entry visibly, never raw, in the human output and in --json', () => {
    const human = spawnSync(process.execPath, [BIN, 'compare', join(dir, 'published.zip'), join(dir, 'rebuilt.zip')], { encoding: 'utf8', timeout: 120_000 });
    expect(human.status, human.stderr).toBe(1);
    expect(rawHits(human.stdout + human.stderr)).toEqual([]);
    expect(human.stdout).toContain('\\u{1b}[2J\\u{1b}[Hread\\u{202e}me.txt');

    const json = spawnSync(process.execPath, [BIN, 'compare', join(dir, 'published.zip'), join(dir, 'rebuilt.zip'), '--json'], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(json.status).toBe(1);
    expect(rawHits(json.stdout)).toEqual([]);
    const differences = JSON.parse(json.stdout).differences as { where: string }[];
    expect(differences.some((d) => d.where.includes(ENTRY))).toBe(true); // the data intact once parsed
  }, 120_000);
});
