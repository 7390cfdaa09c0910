/**
 * The HTML report and the history page in a real browser: puppeteer-core driving the system
 * Chromium (Debian `chromium`, installed by .ci/run), at desktop (1280 px) and phone (390 px)
 * widths. For a VERIFIED, a MISMATCH (text diff and byte ranges from real comparisons), a TAMPERED
 * (history change) and an INCOMPLETE report, and for runs/index.html: the visible text says the
 * verdict and explains the findings, nothing overflows horizontally, the stylesheet applies under
 * the page's CSP (no violation), and a full-page screenshot is kept under
 * test-artifacts/screenshots/ (gitignored; the path is printed).
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'puppeteer-core';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';
import { HISTORY_KEYS, regenerateHistory } from '../../lambda/core/history';
import { renderHtml } from '../../lambda/core/render-html';
import { EXPLANATIONS } from '../../lambda/core/report-html/explanations';
import { HEADLINE } from '../../lambda/core/report-html/verdict';
import type { RunReport } from '../../lambda/core/report';
import { runKeys } from '../../lambda/core/run/summary';
import { toolsAvailable } from '../support/tools';
import { incompleteReport, mismatchReport, tamperedReport, verifiedReport } from '../core/report-html/fixtures';

// browser globals used inside page.evaluate (that code runs in Chromium; the project compiles without the DOM lib)
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const window: any;
declare function getComputedStyle(e: any): any;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = resolve(process.env.SCREENSHOT_DIR ?? 'test-artifacts/screenshots');
const WIDTHS = { desktop: 1280, phone: 390 } as const;

const available = toolsAvailable(CHROMIUM, 'cc', 'tar');

interface PageFacts {
  text: string;
  scrollWidth: number;
  innerWidth: number;
  /** elements wider than the viewport (what overflowed, for the failure message) */
  wide: string[];
  badgeColour: string;
  violations: string[];
}

describe.skipIf(!available)('HTML pages in Chromium', () => {
  let browser: Browser;
  let dir: string;
  const pages: Record<string, string> = {};
  const shots: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rv-browser-'));
    mkdirSync(SCREENSHOTS, { recursive: true });
    const store = new DirectoryStore(join(dir, 'store'));
    const reports: Record<string, RunReport> = {
      verified: verifiedReport(),
      mismatch: await mismatchReport(join(dir, 'files')),
      tampered: tamperedReport(),
      incomplete: incompleteReport(),
    };
    for (const [name, r] of Object.entries(reports)) {
      await store.put(runKeys.summary(r.runId), JSON.stringify(r), { ifNoneMatch: true });
      await store.put(runKeys.html(r.runId), renderHtml(r), { ifNoneMatch: true });
      pages[name] = store.locate(runKeys.html(r.runId));
    }
    await regenerateHistory(store, { project: 'acme/app' });
    pages.history = store.locate(HISTORY_KEYS.html);
    const puppeteer = await import('puppeteer-core');
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (shots.length) console.log(`[screenshots] ${shots.length} kept in ${SCREENSHOTS}`);
  });

  async function open(name: string, width: number, shot: string): Promise<PageFacts> {
    const page = await browser.newPage();
    try {
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
      });
      await page.setViewport({ width, height: 900, deviceScaleFactor: 1, isMobile: width < 600, hasTouch: width < 600 });
      await page.goto(pathToFileURL(pages[name]!).href, { waitUntil: 'load' });
      const facts = await page.evaluate((configured: number) => {
        // a phone zooms out to fit content wider than the screen (innerWidth grows with it), so
        // elements are measured against the width the viewport was given
        const vw = configured;
        const wide = [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > vw + 0.5)
          .slice(0, 5)
          .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px: ${(e.textContent ?? '').slice(0, 60)}`);
        // a box that scrolls sideways inside the page is horizontal scrolling too
        const scrollers = [...document.querySelectorAll('body *')]
          .filter((e) => e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
          .slice(0, 5)
          .map(
            (e) => `${e.tagName.toLowerCase()}.${e.className} scrolls sideways (${e.scrollWidth} > ${e.clientWidth}px): ${(e.textContent ?? '').slice(0, 60)}`,
          );
        wide.push(...scrollers);
        const badge = document.querySelector('h1 .v');
        return {
          // biome-ignore lint/performance/useDomNodeTextContent: the test checks the rendered text a reader sees, which only innerText gives
          text: document.body.innerText,
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          wide,
          badgeColour: badge ? getComputedStyle(badge).backgroundColor : '',
        };
      }, width);
      const file = join(SCREENSHOTS, `${shot}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
      return { ...facts, violations };
    } finally {
      await page.close();
    }
  }

  const COLOURS = { VERIFIED: 'rgb(26, 127, 55)', MISMATCH: 'rgb(207, 34, 46)', TAMPERED: 'rgb(130, 80, 223)', INCOMPLETE: 'rgb(154, 103, 0)' };

  for (const [width, px] of Object.entries(WIDTHS)) {
    describe(`${width} (${px} px)`, () => {
      const common = (f: PageFacts) => {
        expect(f.violations).toEqual([]);
        expect(f.wide, `elements wider than the ${px} px viewport`).toEqual([]);
        expect(f.innerWidth).toBe(px); // not zoomed out to fit something wider
        expect(f.scrollWidth).toBeLessThanOrEqual(f.innerWidth);
      };

      it('VERIFIED: the verdict in plain words, nothing to do', async () => {
        const f = await open('verified', px, `verified-${width}`);
        common(f);
        expect(f.text).toContain(HEADLINE.VERIFIED);
        expect(f.text).toContain('Nothing to do.');
        expect(f.text).toContain('3 files in 2 targets: 3 verified.');
        expect(f.badgeColour).toBe(COLOURS.VERIFIED); // the stylesheet applied under the CSP
      });

      it('MISMATCH: the differences are visible — text diff lines and byte ranges by section', async () => {
        const f = await open('mismatch', px, `mismatch-${width}`);
        common(f);
        expect(f.text).toContain(HEADLINE.MISMATCH);
        expect(f.text).toContain(EXPLANATIONS.ARTIFACT_MISMATCH.meaning);
        expect(f.text).toContain(EXPLANATIONS.ARTIFACT_MISMATCH.next);
        expect(f.text).toContain('-update_url = https://updates.evil.example/app');
        expect(f.text).toContain('+update_url = https://updates.example.com/app');
        expect(f.text).toContain('Differing byte ranges');
        expect(f.text).toMatch(/section \.rodata/);
        expect(f.text).toMatch(/the digests differ \(first at character \d+/);
        expect(f.badgeColour).toBe(COLOURS.MISMATCH);
      });

      it('TAMPERED (history): the changed file says TAMPERED and why; the manifest line is not an invalid signature', async () => {
        const f = await open('tampered', px, `tampered-${width}`);
        common(f);
        expect(f.text).toContain(HEADLINE.TAMPERED);
        expect(f.text).toContain(EXPLANATIONS.PAST_ASSET_CHANGED.meaning);
        expect(f.text).toMatch(/TAMPERED because of PAST_ASSET_CHANGED \(the file's own check: VERIFIED\)/);
        expect(f.text).toMatch(/signature of SHA256SUMS valid — signed by RWQf6LRCGA9i53ml; but this file's SHA-256 is not the one listed in SHA256SUMS/);
        expect(f.text).not.toMatch(/INVALID/);
        expect(f.text).toMatch(/earlier run: 20261124T060000Z-0a1b2c/);
        expect(f.badgeColour).toBe(COLOURS.TAMPERED);
      });

      it('INCOMPLETE: not a pass, and what to do about each problem', async () => {
        const f = await open('incomplete', px, `incomplete-${width}`);
        common(f);
        expect(f.text).toContain(HEADLINE.INCOMPLETE);
        expect(f.text).toContain(EXPLANATIONS.BUILD_FAILED.next);
        expect(f.text).toContain(EXPLANATIONS.TARGET_NOT_REPORTED.meaning);
        expect(f.badgeColour).toBe(COLOURS.INCOMPLETE);
      });

      it('history: every run and the release timeline', async () => {
        const f = await open('history', px, `history-${width}`);
        common(f);
        expect(f.text).toContain('Run history: acme/app');
        expect(f.text).toContain('4 runs of 1 release');
        expect(f.text).toMatch(/last verified\s+2026-12-01T06:00:00Z/);
        expect(f.text).toMatch(/verdict VERIFIED → MISMATCH/);
      });
    });
  }

  it('kept every screenshot, non-empty', () => {
    expect(shots).toHaveLength(10);
    for (const s of shots) expect(statSync(s).size).toBeGreaterThan(5_000);
    console.log(`[screenshots] ${SCREENSHOTS}`);
    writeFileSync(
      join(SCREENSHOTS, 'README.txt'),
      `Screenshots of the HTML report and history page, made by test/browser/report-browser.test.ts with ${CHROMIUM}.\n`,
    );
  });
});
