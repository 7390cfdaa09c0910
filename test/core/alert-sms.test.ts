/**
 * SMS text: the GSM-7 encoder against the GSM 03.38 table as Perl's Encode::GSM0338 (a core Perl
 * module, the reference here) has it, segment counting, and the alert's SMS form.
 */
import { describe, expect, it } from 'vitest';
import { alertFor } from '../../lambda/core/alert';
import { finding } from '../../lambda/core/findings';
import type { RunReport } from '../../lambda/core/report';
import { gsm7Encode, gsm7Length, gsm7Segments, gsm7Septets, isGsm7, smsText, toGsm7 } from '../../lambda/core/sms-text';
import { run, toolsAvailable } from '../support/tools';

/** Every BMP code point but surrogates (and a few astral ones) that Perl's gsm0338 encoding can encode, with its septets. */
let cached: Map<number, string> | undefined;
function perlGsmTable(): Map<number, string> {
  if (cached) return cached;
  const script = `
use Encode qw(encode);
for my $cp ((0 .. 0xD7FF), (0xE000 .. 0xFFFF), 0x1F600, 0x1F680, 0x10348) {
  my $c = chr($cp);
  # without a check argument Encode substitutes "?" for a character it cannot encode
  my $b = encode('gsm0338', $c);
  next if $b eq '?' && $c ne '?';
  printf("%x %s\\n", $cp, unpack('H*', $b));
}`;
  const out = run('perl', ['-e', script]);
  const table = new Map<number, string>();
  for (const line of out.trim().split('\n')) {
    const [cp, hex] = line.split(' ');
    table.set(parseInt(cp!, 16), hex!);
  }
  cached = table;
  return table;
}

const hex = (septets: number[]) => septets.map((s) => s.toString(16).padStart(2, '0')).join('');

describe.skipIf(!toolsAvailable('perl'))('GSM-7 encoder against Encode::GSM0338', () => {
  it('encodes exactly the characters of the GSM 03.38 table, to the same septets', () => {
    const reference = perlGsmTable();
    // 127 characters of the default alphabet (0x1B is the escape) + 10 of the extension table
    expect(reference.size).toBe(137);
    const ours = new Map<number, string>();
    const points = [
      ...Array.from({ length: 0xd800 }, (_, i) => i),
      ...Array.from({ length: 0x10000 - 0xe000 }, (_, i) => 0xe000 + i),
      0x1f600,
      0x1f680,
      0x10348,
    ];
    for (const cp of points) {
      const ch = String.fromCodePoint(cp);
      if (isGsm7(ch)) ours.set(cp, hex(gsm7Encode(ch)));
    }
    expect(ours).toEqual(reference);
    for (const [cp, septets] of reference) expect(gsm7Septets(String.fromCodePoint(cp))).toBe(septets.length / 2);
  });

  it('maps any text to characters Perl encodes without substitution', () => {
    const reference = perlGsmTable();
    const hostile = 'Release “v2.0” — naïve café… ½ 🚀 ç Ångström ĳ \u202e\u0007\t\u00a0 Ωmega ſ 中文 ‹x›';
    const mapped = toGsm7(hostile);
    for (const ch of mapped) expect(reference.has(ch.codePointAt(0)!), `U+${ch.codePointAt(0)!.toString(16)} (${ch})`).toBe(true);
    expect(mapped).toContain('"v2.0" - naive café...');
    expect(mapped).toContain(' ij ?    Ωmega s ');
    expect(mapped).toContain('Ç');
    expect(mapped).toContain('Ångström');
    expect(mapped).toContain('Ωmega');
    expect(mapped).not.toMatch(/[…—“”🚀]/u);
    // nothing dropped silently: unknown characters become "?"
    expect(mapped).toContain('??');
  });
});

describe('GSM-7 segments', () => {
  it('counts 160 septets in one message, 153 per segment when concatenated, extension characters as 2', () => {
    expect(gsm7Segments('a'.repeat(160))).toBe(1);
    expect(gsm7Segments('a'.repeat(161))).toBe(2);
    expect(gsm7Segments('a'.repeat(306))).toBe(2);
    expect(gsm7Segments('a'.repeat(307))).toBe(3);
    expect(gsm7Length('€'.repeat(80))).toBe(160);
    expect(gsm7Segments('€'.repeat(80))).toBe(1);
    expect(gsm7Segments('€'.repeat(81))).toBe(2);
    // an escape pair never straddles a segment: 152 + the pair would be 154 in segment 1
    expect(gsm7Segments('a'.repeat(152) + '€' + 'a'.repeat(152))).toBe(3);
    expect(gsm7Segments('a'.repeat(151) + '€' + 'a'.repeat(153))).toBe(2);
    expect(() => gsm7Length('…')).toThrow(/U\+2026/);
  });

  it('smsText: GSM-7, one line, at most 2 segments, cut with "..." (never "…")', () => {
    const long = smsText(`release-verifier MISMATCH ${'grüße-€-'.repeat(80)} “tag” — end`);
    expect(isGsm7(long)).toBe(true);
    expect(gsm7Segments(long)).toBeLessThanOrEqual(2);
    expect(long.endsWith('...')).toBe(true);
    expect(long).not.toContain('…');
    expect(gsm7Length(long)).toBeGreaterThan(290);
    expect(smsText('a\nb\r\nc')).toBe('a b c');
    expect(smsText('short one')).toBe('short one');
    expect(gsm7Segments(smsText('x'.repeat(2000), 1))).toBe(1);
  });
});

describe('alert SMS form', () => {
  const report = (tag: string, project: string): RunReport => ({
    schemaVersion: 1,
    runId: '20260101T000000Z-abcdef',
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:30:00Z',
    verdict: 'TAMPERED',
    project: { gitlabUrl: 'https://gitlab.example', project },
    release: { tag, commitSha: 'a'.repeat(40) },
    mode: 'aws',
    findings: Array.from({ length: 40 }, (_, i) => finding('SIGNATURE_INVALID', `bad ${i}`, { artifact: `app-${i}…` })),
    targets: [],
  });

  it('stays GSM-7 and within 2 segments whatever the forge names the release', () => {
    const a = alertFor(report('v1.0 “🚀 launch” — final…'.repeat(20), 'grüppe/äpp'), { reportLocation: 's3://b/runs/x/summary.json' });
    expect(isGsm7(a.short)).toBe(true);
    expect(gsm7Segments(a.short)).toBeLessThanOrEqual(2);
    expect(a.short).toMatch(/^release-verifier TAMPERED grüppe\/äpp v1\.0 "\? launch" - final\.\.\./);
    const plain = alertFor(report('v1.2.0', 'g/app'));
    expect(plain.short).toBe('release-verifier TAMPERED g/app v1.2.0: SIGNATURE_INVALID app-0... (+39 more) run 20260101T000000Z-abcdef');
    expect(gsm7Segments(plain.short)).toBe(1);
  });

  it('control and bidi characters from the forge are shown visibly, still in GSM-7', () => {
    const a = alertFor(report('v1\u202e\u001b[2J', 'g/app'));
    expect(isGsm7(a.short)).toBe(true);
    expect(a.short).toContain('v1\\u{202e}\\u{1b}[2J');
  });
});
