/**
 * Terminal escapes from the forge (issue 9 item 5): control, bidi and invisible format characters
 * in release names, tags, URLs, asset names and messages reach no output raw — not the alert's
 * subject, body or SMS text, not the HTML report, not the console notifier. Asserted on the bytes.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleNotifier } from '../../../lambda/adapters/notifier/console-notifier';
import { alertFor } from '../../../lambda/core/alert';
import { finding } from '../../../lambda/core/findings';
import { renderHtml } from '../../../lambda/core/render-html';
import type { RunReport } from '../../../lambda/core/report';
import { hasUnsafeCharacters, neutralise, neutraliseLines, safeJson } from '../../../lambda/core/text/neutralise';

/** Every character the issue names, and the other invisible ones. */
const HOSTILE = {
  ESC_CLEAR: '\x1b[2J\x1b[H',
  OSC_TITLE: '\x1b]0;pwned\x07',
  CR: '\r',
  BEL: '\x07',
  NUL: '\0',
  DEL: '\x7f',
  CSI_C1: '\u009b2J',
  RLO: '\u202e',
  LRE: '\u202a',
  PDF: '\u202c',
  LRI: '\u2066',
  PDI: '\u2069',
  LRM: '\u200e',
  RLM: '\u200f',
  ALM: '\u061c',
  ZWSP: '\u200b',
  ZWJ: '\u200d',
  BOM: '\ufeff',
  LINE_SEP: '\u2028',
  TAG_A: '\u{e0061}',
};
const ALL = Object.values(HOSTILE).join('');

/** UTF-8 byte sequences that must never appear in an output. */
function rawHits(bytes: Buffer, allowNewlines: boolean): string[] {
  const hits: string[] = [];
  for (const b of bytes) {
    if ((b < 0x20 && !(allowNewlines && (b === 0x0a || b === 0x09))) || b === 0x7f) hits.push(`0x${b.toString(16)}`);
  }
  const text = bytes.toString('utf8');
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0x80 && cp <= 0x9f) || hasUnsafeCharacters(ch.replace(/[\n\t]/g, allowNewlines ? '' : ch))) hits.push(`U+${cp.toString(16)}`);
  }
  return hits;
}

describe('neutralise', () => {
  it('renders each control, bidi and format character visibly as \\u{…}, never dropping it', () => {
    expect(neutralise('a\x1b[2Jb')).toBe('a\\u{1b}[2Jb');
    expect(neutralise('x\ry\n')).toBe('x\\u{d}y\\u{a}');
    expect(neutralise('invoice\u202etxt.exe')).toBe('invoice\\u{202e}txt.exe');
    expect(neutralise('\u009b')).toBe('\\u{9b}');
    expect(neutralise('\u{e0061}')).toBe('\\u{e0061}');
    expect(neutralise('\ud800x')).toBe('\\u{d800}x'); // a lone surrogate
    for (const [name, s] of Object.entries(HOSTILE)) {
      const out = neutralise(`<${s}>`);
      expect(rawHits(Buffer.from(out), false), name).toEqual([]);
      expect(out, name).not.toBe('<>'); // visible, not silently dropped
    }
  });

  it('keeps ordinary text, non-ASCII letters and emoji; neutralising twice is the same as once', () => {
    const plain = 'Mealplanner 1.0 — café 日本語 🎉 "quotes" <tags> & tabs';
    expect(neutralise(plain)).toBe(plain);
    const once = neutralise(ALL);
    expect(neutralise(once)).toBe(once);
    expect(neutraliseLines('a\nb\tc\rd')).toBe('a\nb\tc\\u{d}d');
  });

  it('safeJson is the same data as JSON.stringify, with no unsafe character raw in the text', () => {
    const value = { name: `release ${ALL}`, list: [HOSTILE.RLO, HOSTILE.CSI_C1], n: 1, nested: { line: 'a\u2028b' } };
    const json = safeJson(value, 2);
    expect(JSON.parse(json)).toEqual(value);
    expect(rawHits(Buffer.from(json), true)).toEqual([]);
    expect(JSON.stringify(value)).toContain('\u202e'); // what JSON.stringify alone would have let through
  });
});

function hostileReport(): RunReport {
  const tag = `v1.0.0${HOSTILE.ESC_CLEAR}`;
  return {
    schemaVersion: 1,
    runId: 'r1',
    startedAt: '2026-12-01T00:00:00Z',
    finishedAt: '2026-12-01T00:05:00Z',
    verdict: 'INCOMPLETE',
    project: { gitlabUrl: 'https://gitlab.example.com', project: `g/app${HOSTILE.OSC_TITLE}` },
    release: { tag, commitSha: 'c'.repeat(40), webUrl: `https://gitlab.example.com/g/app/-/releases/${HOSTILE.RLO}evil${HOSTILE.CR}` } as RunReport['release'],
    mode: 'local',
    findings: [
      finding('UNVERIFIED_ASSET', `release ${tag} links "setup${HOSTILE.RLO}gpj.exe", which nobody verified`, {
        artifact: `setup${HOSTILE.RLO}gpj.exe`,
        evidence: { link: `setup${HOSTILE.RLO}gpj.exe`, url: `https://x.example/${HOSTILE.BEL}${HOSTILE.CSI_C1}` },
      }),
      finding('IMAGE_NOT_ENFORCED', `note ${ALL}`),
    ],
    targets: [
      {
        name: 'linux',
        verdict: 'INCOMPLETE',
        findings: [
          finding('BUILD_FAILED', `build failed: ${HOSTILE.ESC_CLEAR}${HOSTILE.LRI}done${HOSTILE.PDI}`, {
            target: 'linux',
            evidence: { logTail: `line1\n${HOSTILE.ESC_CLEAR}line2${HOSTILE.CR}` },
          }),
        ],
        artifacts: [
          {
            path: 'out/app',
            asset: `app${HOSTILE.ZWSP}${HOSTILE.ALM}.tar.gz`,
            verdict: 'INCOMPLETE',
            published: { sha256: 'a'.repeat(64), size: 1 },
            findings: [finding('NOT_CHECKED', `not compared ${HOSTILE.LINE_SEP}${HOSTILE.BOM}`, { target: 'linux', artifact: `app${HOSTILE.ZWSP}` })],
          },
        ],
      },
    ],
  };
}

describe('outputs carry no raw control or bidi character', () => {
  it('alert subject, body and SMS text', () => {
    const a = alertFor(hostileReport(), { reportLocation: 'file:///tmp/r1' });
    expect(rawHits(Buffer.from(a.subject), false)).toEqual([]);
    expect(rawHits(Buffer.from(a.short), false)).toEqual([]);
    expect(rawHits(Buffer.from(a.body), true)).toEqual([]);
    // …and the characters are shown, not lost
    expect(a.subject).toContain('v1.0.0\\u{1b}[2J');
    expect(a.body).toContain('setup\\u{202e}gpj.exe');
    expect(a.body).toContain('\\u{d}');
    expect(a.short.length).toBeLessThanOrEqual(160);
  });

  it('the HTML report (escaped and neutralised)', () => {
    const html = renderHtml(hostileReport());
    expect(rawHits(Buffer.from(html), true)).toEqual([]);
    expect(html).toContain('setup\\u{202e}gpj.exe');
    expect(html).toContain('v1.0.0\\u{1b}[2J');
  });

  it('the console notifier, whatever alert it is handed', async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    const raw = { ...alertFor(hostileReport()), subject: `raw ${ALL}`, body: `raw body ${ALL}\nsecond line` };
    await new ConsoleNotifier({ stream }).notify(raw);
    const out = Buffer.concat(chunks);
    expect(rawHits(out, true)).toEqual([]);
    expect(out.toString()).toContain('second line');
  });
});
