/**
 * The HTML report (render-html.ts + report-html/): plain-language verdict, an explanation for every
 * finding code, rows that agree with the page, manifest problems not shown as invalid signatures,
 * digests with their differing part marked, byte ranges and text diffs from real comparisons,
 * links, escaping and the CSP. The browser test (test/browser/) checks what a reader sees.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertFor } from '../../../lambda/core/alert';
import { FINDING_CODES, finding } from '../../../lambda/core/findings';
import { MAX_FINDING_CARDS, renderHtml } from '../../../lambda/core/render-html';
import { EXPLANATIONS, explain } from '../../../lambda/core/report-html/explanations';
import { CSP, CSS } from '../../../lambda/core/report-html/layout';
import { digestBlock } from '../../../lambda/core/report-html/digests';
import { safeHref } from '../../../lambda/core/report-html/escape';
import type { RunReport } from '../../../lambda/core/report';
import { failedRunReport } from '../../../lambda/core/run/summary';
import { ForgeError } from '../../../lambda/core/errors';
import { toolsAvailable } from '../../support/tools';
import { incompleteReport, mismatchReport, RUN_IDS, tamperedReport, verifiedReport } from './fixtures';

/** The page's visible text, roughly: tags dropped, entities decoded. */
function text(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** The HTML of the card of one asset (from its heading to the next card). */
function card(html: string, asset: string): string {
  const start = html.indexOf(`<code>${asset}</code></h4>`);
  expect(start).toBeGreaterThan(0);
  const head = html.lastIndexOf('<div class="finding', start);
  const end = html.indexOf('<div class="finding', start);
  return html.slice(head, end < 0 ? undefined : end);
}

describe('explanations', () => {
  it('every finding code has what it means and what to do next', () => {
    const missing = Object.keys(FINDING_CODES).filter(
      (c) => !EXPLANATIONS[c as keyof typeof EXPLANATIONS]?.meaning || !EXPLANATIONS[c as keyof typeof EXPLANATIONS]?.next,
    );
    expect(missing).toEqual([]);
    // and nothing explained that is not a code (a renamed code would leave a stale entry)
    expect(Object.keys(EXPLANATIONS).filter((c) => !(c in FINDING_CODES))).toEqual([]);
  });

  it('an unknown code (a newer record) gets a neutral explanation, not a crash or a prototype property', () => {
    expect(explain('constructor').meaning).toMatch(/does not describe/);
    expect(explain('SOMETHING_NEW').next).toMatch(/evidence/);
  });

  it('each finding of a report is explained on the page', () => {
    const html = renderHtml(incompleteReport());
    expect(text(html)).toContain(EXPLANATIONS.BUILD_FAILED.meaning);
    expect(text(html)).toContain(EXPLANATIONS.BUILD_FAILED.next);
    expect(text(html)).toContain(EXPLANATIONS.TARGET_NOT_REPORTED.meaning);
  });
});

describe('verdict in plain language', () => {
  it('VERIFIED says so, with counts and nothing to do', () => {
    const r = verifiedReport();
    expect(r.verdict).toBe('VERIFIED');
    const t = text(renderHtml(r));
    expect(t).toContain('Verified: every file rebuilt identically');
    expect(t).toContain('3 files in 2 targets: 3 verified. 0 problems found.');
    expect(t).toContain('What to do now: Nothing to do.');
  });

  it('INCOMPLETE says it is not a pass, and names why', () => {
    const r = incompleteReport();
    expect(r.verdict).toBe('INCOMPLETE');
    const t = text(renderHtml(r));
    expect(t).toContain('the release could NOT be verified');
    expect(t).toMatch(/Why: BUILD_FAILED — The rebuild of this target failed/);
  });
});

describe('bounds', () => {
  it(`shows at most ${MAX_FINDING_CARDS} finding cards per section and says how many more the JSON has`, () => {
    const r = verifiedReport();
    for (let i = 0; i < MAX_FINDING_CARDS + 25; i++) r.findings.push(finding('UNVERIFIED_ASSET', `link extra-${i} is not covered`));
    const html = renderHtml(r);
    expect((html.match(/<div class="finding finding-INCOMPLETE" id="f/g) ?? []).length).toBe(MAX_FINDING_CARDS);
    expect(html).toContain('25 more not shown here: they are in summary.json.');
  });
});

describe('a run that could not be planned', () => {
  it('renders without a release or targets: INCOMPLETE, the reason explained, no GitLab links', () => {
    const r = failedRunReport(
      { gitlab: { url: 'https://gitlab.example.com', project: 'acme/app' } } as never,
      RUN_IDS.incomplete,
      { mode: 'aws', startedAt: '2026-12-01T09:00:00Z' },
      new ForgeError('unreachable', 'connect ECONNREFUSED'),
    );
    const html = renderHtml(r);
    const t = text(html);
    expect(r.verdict).toBe('INCOMPLETE');
    expect(t).toContain('No target was checked; 1 problem found.');
    expect(t).toContain(EXPLANATIONS.FORGE_UNREACHABLE.next);
    expect(html).not.toContain('/-/tags/');
    expect(html).toContain('href="attestation.dsse.json"');
  });
});

describe('history changes and manifest lines', () => {
  const r = tamperedReport();
  const html = renderHtml(r);

  it('the report is TAMPERED by the ledger, not by the artifact check', () => {
    expect(r.verdict).toBe('TAMPERED');
    const app = r.targets[0]!.artifacts.find((a) => a.asset === 'app-linux-x86_64.tar.gz')!;
    expect(app.verdict).toBe('VERIFIED'); // its own check passed: the new bytes verify
    expect(r.findings.map((f) => f.code)).toContain('PAST_ASSET_CHANGED');
  });

  it('the row of the changed asset says TAMPERED (never VERIFIED or MISMATCH under a TAMPERED page), and why', () => {
    const c = card(html, 'app-linux-x86_64.tar.gz');
    expect(c).toContain('<span class="v v-TAMPERED">TAMPERED</span> <code>app-linux-x86_64.tar.gz</code>');
    expect(c).not.toMatch(/v-VERIFIED|v-MISMATCH/);
    expect(text(c)).toContain("because of PAST_ASSET_CHANGED (the file's own check: VERIFIED)");
    // the target heading too
    expect(html).toContain('<span class="v v-TAMPERED">TAMPERED</span> target linux');
  });

  it('links the earlier run the history finding cites, and the release timeline in the history', () => {
    expect(html).toContain(`href="../${RUN_IDS.first}/report.html"`);
    expect(html).toContain(`href="../${RUN_IDS.first}/summary.json"`);
    const card = html.slice(html.indexOf('PAST_ASSET_CHANGED</code></b>'));
    expect(card.slice(0, card.indexOf('</ul>'))).toMatch(/href="\.\.\/index\.html#release-v1\.2\.0-[0-9a-f]+">history of v1\.2\.0</);
    // a moved tag of another release links that release's timeline
    const r = tamperedReport();
    r.findings.push(finding('TAG_MOVED', 'tag v1.1.0 moved', { evidence: { tag: 'v1.1.0', was: 'a'.repeat(40), now: 'b'.repeat(40) } }));
    expect(renderHtml(r)).toMatch(/href="\.\.\/index\.html#release-v1\.1\.0-[0-9a-f]+">history of v1\.1\.0</);
  });

  it('a manifest line that does not match reads as that, not as an invalid signature', () => {
    const c = card(html, 'cli-linux');
    expect(c).not.toContain('INVALID');
    expect(text(c)).toMatch(/signature of SHA256SUMS valid — signed by RWQf6LRCGA9i53ml ?; but this file's SHA-256 is not the one listed in SHA256SUMS/);
    expect(text(html)).toContain(EXPLANATIONS.MANIFEST_DIGEST_MISMATCH.meaning);
  });

  it('the email says the same: the changed asset TAMPERED, the manifest line not an invalid signature', () => {
    const body = alertFor(r).body;
    expect(body).toContain('  linux: TAMPERED');
    expect(body).toContain('    app-linux-x86_64.tar.gz: TAMPERED, bytes match, signature minisign valid');
    expect(body).toContain('    cli-linux: TAMPERED, bytes match, signature sha256sums+minisign of the manifest valid, but MANIFEST_DIGEST_MISMATCH');
    expect(body).not.toContain('INVALID');
  });

  it('shows the listed and published digests with the differing characters marked', () => {
    const f = html.slice(html.indexOf('MANIFEST_DIGEST_MISMATCH</code></b>'));
    expect(f).toContain('<div class="label">published</div>');
    expect(f).toContain('<div class="label">listed</div>');
    expect(f).toContain('the digests differ (first at character');
    expect(f.slice(0, f.indexOf('</div></div>', f.indexOf('class="digests"')) + 200)).toContain('<mark>');
  });
});

describe('digests', () => {
  it('aligns two digests in groups of 8 and marks exactly the differing characters', () => {
    const a = 'a'.repeat(64);
    const b = 'a'.repeat(10) + 'bb' + 'a'.repeat(52);
    const html = digestBlock([
      { label: 'published', value: a },
      { label: 'rebuilt', value: b },
    ]);
    const rows = [...html.matchAll(/<div class="d">(.*?)<\/div>/g)].map((m) => m[1]!);
    expect(rows).toHaveLength(2);
    expect(rows[0]).not.toContain('<mark>'); // the reference row
    expect((rows[1]!.match(/<span class="g">/g) ?? []).length).toBe(8);
    expect(rows[1]).toContain('<span class="g">aa<mark>bb</mark>aaaa</span>');
    expect(rows[1]!.replace(/<[^>]+>/g, '')).toBe(b);
    expect(html).toContain('first at character 11');
    expect(
      digestBlock([
        { label: 'x', value: a },
        { label: 'y', value: a },
      ]),
    ).toContain('the digests are identical');
  });
});

describe.skipIf(!toolsAvailable('cc', 'tar'))('mismatch: differences from real comparisons', () => {
  let dir: string;
  let report: RunReport;
  let html: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rv-report-html-'));
    report = await mismatchReport(dir);
    html = renderHtml(report);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is a MISMATCH, by the comparers', () => {
    expect(report.verdict).toBe('MISMATCH');
    expect(report.targets[0]!.artifacts.every((a) => a.comparison?.match === false)).toBe(true);
  });

  it('shows a unified diff of the differing text member, bounded and escaped', () => {
    const archive = report.targets[0]!.artifacts.find((a) => a.asset === 'app.tar.gz')!;
    const d = archive.comparison!.differences.find((x) => x.textDiff);
    expect(d?.where).toBe('entry ./etc/app.conf');
    expect(html).toContain('<span class="del">-update_url = https://updates.evil.example/app</span>');
    expect(html).toContain('<span class="add">+update_url = https://updates.example.com/app</span>');
    expect(html).toContain('text diff: entry ./etc/app.conf');
    // the unchanged member has no diff
    expect(html).not.toContain('text diff: entry ./README');
  });

  it('shows the differing byte ranges of the binary by ELF section', () => {
    const c = card(html, 'app');
    expect(c).toContain('Differing byte ranges');
    expect(c).toMatch(/<td data-label="section">[^<]*section \.rodata/);
    expect(c).toMatch(/<td data-label="published bytes" class="mono">0x[0-9a-f]+–0x[0-9a-f]+<\/td>/);
    // no text diff for a binary
    expect(c).not.toContain('text diff:');
  });

  it('marks the differing digests and links the diffoscope report and the build log', () => {
    const c = card(html, 'app');
    expect(c).toContain('<mark>');
    expect(html).toContain('href="https://eu-west-1.console.aws.amazon.com/s3/object/results?region=eu-west-1&amp;prefix=diff%2Fapp%2Freport.html"');
    expect(html).toContain('>build log</a>');
  });
});

describe('links, escaping and the policy', () => {
  it('links the GitLab release, tag and commit, and the run records', () => {
    const html = renderHtml(verifiedReport());
    expect(html).toContain('href="https://gitlab.example.com/acme/app/-/releases/v1.2.0"');
    expect(html).toContain('href="https://gitlab.example.com/acme/app/-/tags/v1.2.0"');
    expect(html).toMatch(/href="https:\/\/gitlab\.example\.com\/acme\/app\/-\/commit\/c0ffee1{34}"/);
    expect(html).toContain('href="summary.json"');
    expect(html).toContain('href="targets/linux.json"');
    expect(html).toContain('href="../index.html"');
    expect(html).toMatch(/href="\.\.\/index\.html#release-v1\.2\.0-[0-9a-f]+"/);
  });

  it('adds console links for records when told how (AWS)', () => {
    const html = renderHtml(verifiedReport(), { recordUrl: (key) => `https://console.example/${key}` });
    expect(html).toContain(`href="https://console.example/runs/${RUN_IDS.verified}/summary.json"`);
  });

  it('never links a javascript:, data: or credential URL from the forge', () => {
    expect(safeHref('javascript:alert(1)')).toBeNull();
    expect(safeHref('data:text/html,x')).toBeNull();
    expect(safeHref('https://user:pw@example.com/')).toBeNull();
    const r = verifiedReport();
    r.release!.webUrl = 'javascript:alert(1)//-/releases/v1';
    const html = renderHtml(r);
    expect(html).not.toMatch(/href="javascript:/i);
  });

  it('escapes and neutralises forge text: markup, and bidi controls made visible', () => {
    const r = verifiedReport();
    r.targets[0]!.artifacts[0]!.asset = 'app\u202Egpj.exe<script>alert(1)</script>';
    r.findings.push(
      finding('UNVERIFIED_ASSET', 'link "<img src=x onerror=alert(1)>" is not covered', { evidence: { url: 'https://gitlab.example.com/x"><b>' } }),
    );
    const html = renderHtml(r);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('\u202E');
    expect(html).toContain('app\\u{202e}gpj.exe&lt;script&gt;');
  });

  it('allows only its own stylesheet: no scripts, no external assets, no inline style attributes', () => {
    for (const html of [renderHtml(verifiedReport()), renderHtml(tamperedReport()), renderHtml(incompleteReport())]) {
      expect(html).not.toMatch(/<script|\son\w+=|\sstyle=|\ssrc=|<link\b|<img\b|@import|url\(/i);
      expect(html).toContain(`content="${CSP}"`);
      const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
      expect(style).toBe(CSS);
    }
    expect(CSP).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(CSP).not.toContain('unsafe-inline');
    expect(CSP).toContain(`'sha256-${createHash('sha256').update(CSS).digest('base64')}'`);
  });
});
