/**
 * runs/index.html: the run history as a page — one timeline per release (first seen, last
 * verified, what changed) and every run (time, release, verdict per target, links to its report
 * and JSON). Same shell, CSP and escaping as the run report (report-html/); links are relative to
 * runs/, with the S3 console beside them in AWS.
 */
import type { RunIndex, RunIndexEntry, ReleaseTimeline } from './history-model';
import { RUN_ID_PATTERN } from './run/run-plan';
import { HISTORY_KEYS, runKeys } from './run/store-layout';
import { escapeHtml, link, safeHref } from './report-html/escape';
import { badge, page } from './report-html/layout';
import { recordLink, releaseAnchor, type LinkOptions } from './report-html/links';

export { releaseAnchor } from './report-html/links';

/** runs listed on the page at most (index.json has them all) */
export const MAX_RUN_ROWS = 2000;

export type HistoryRenderOptions = Pick<LinkOptions, 'recordUrl'>;

function runLinks(e: Pick<RunIndexEntry, 'runId'>, options: HistoryRenderOptions): string {
  if (!RUN_ID_PATTERN.test(e.runId)) return '';
  return `${recordLink(`${e.runId}/report.html`, runKeys.html(e.runId), 'report', options)} · ${recordLink(`${e.runId}/summary.json`, runKeys.summary(e.runId), 'JSON', options)}`;
}

function timelineSection(t: ReleaseTimeline, options: HistoryRenderOptions): string {
  const events = t.events
    .map(
      (ev) =>
        `<li><span class="mono">${escapeHtml(ev.at)}</span> ${ev.code ? `<b>${escapeHtml(ev.code)}</b> ` : ''}${escapeHtml(ev.text)} <span class="note">(${runLinks(ev, options)})</span></li>`,
    )
    .join('\n');
  return `<section id="${releaseAnchor(t.tag)}"><h3>${badge(t.latest.verdict)} ${escapeHtml(t.tag)}</h3>
<dl class="ev"><dt>first seen</dt><dd>${escapeHtml(t.firstSeen.at)} (run <code>${escapeHtml(t.firstSeen.runId)}</code>)</dd>
<dt>last verified</dt><dd>${t.lastVerified ? `${escapeHtml(t.lastVerified.at)} (${runLinks(t.lastVerified, options)})` : '<span class="differs">never</span>'}</dd>
<dt>latest run</dt><dd>${escapeHtml(t.latest.at)} ${badge(t.latest.verdict)} (${runLinks(t.latest, options)})</dd>
<dt>runs</dt><dd>${t.runs}</dd></dl>
<details${t.events.some((e) => e.kind !== 'first-seen') ? ' open' : ''}><summary>what changed (${t.events.length} event${t.events.length === 1 ? '' : 's'})</summary><ul class="timeline">${events}</ul></details>
</section>`;
}

function runRow(e: RunIndexEntry, options: HistoryRenderOptions): string {
  if (e.unreadable) {
    return `<tr><td data-label="time">—</td><td data-label="run"><code>${escapeHtml(e.runId)}</code></td><td data-label="release">—</td><td data-label="verdict">${badge('INCOMPLETE')}</td><td data-label="targets">${escapeHtml(e.unreadable)}</td><td data-label="links">${runLinks(e, options)}</td></tr>`;
  }
  const tag = e.release?.tag;
  const release = tag
    ? `<a href="#${releaseAnchor(tag)}">${escapeHtml(tag)}</a>${e.release?.webUrl && safeHref(e.release.webUrl) ? ` <span class="note">(${link(e.release.webUrl, 'GitLab')})</span>` : ''}`
    : '<span class="note">not determined</span>';
  const targets = e.targets.length ? e.targets.map((t) => `${escapeHtml(t.name)} ${badge(t.verdict)}`).join(' ') : '<span class="note">none</span>';
  const problems = e.problems.length
    ? `<br><span class="note">${e.problems.map((p) => `${escapeHtml(p.code)}${Number(p.count) > 1 ? ` ×${escapeHtml(String(Number(p.count)))}` : ''}`).join(', ')}</span>`
    : '';
  return `<tr><td data-label="time" class="mono">${escapeHtml(e.startedAt)}</td><td data-label="run"><code>${escapeHtml(e.runId)}</code> <span class="note">${escapeHtml(e.mode)}</span></td><td data-label="release">${release}</td><td data-label="verdict">${badge(e.verdict)}</td><td data-label="targets">${targets}${problems}</td><td data-label="links">${runLinks(e, options)}</td></tr>`;
}

export function renderHistoryHtml(index: RunIndex, options: HistoryRenderOptions = {}): string {
  const latest = index.runs[0];
  const rows = index.runs
    .slice(0, MAX_RUN_ROWS)
    .map((e) => runRow(e, options))
    .join('\n');
  const more = index.runs.length > MAX_RUN_ROWS ? `<p class="note">${index.runs.length - MAX_RUN_ROWS} older run(s) only in index.json.</p>` : '';
  const pending = index.pending ? `<p class="note">${index.pending} run(s) not indexed yet (too many to read at once); the next run adds them.</p>` : '';
  const body = `<header><h1>Run history: ${escapeHtml(index.project)}</h1>
<div class="verdict verdict-${latest ? escapeHtml(latest.verdict) : 'INCOMPLETE'}">
<p class="headline">${latest ? `Latest run: ${badge(latest.verdict)} ${escapeHtml(latest.release?.tag ?? '(no release)')} at ${escapeHtml(latest.startedAt)}` : 'No run yet.'}</p>
<p>${index.runs.length} run${index.runs.length === 1 ? '' : 's'} of ${index.releases.length} release${index.releases.length === 1 ? '' : 's'} · updated ${escapeHtml(index.updatedAt)}</p>
</div>
<ul class="links"><li>${recordLink('index.json', HISTORY_KEYS.json, 'index.json', options)}</li>${latest && RUN_ID_PATTERN.test(latest.runId) ? `<li>${recordLink(`${latest.runId}/report.html`, runKeys.html(latest.runId), 'latest report', options)}</li>` : ''}</ul>
</header>
<main>
<h2>Releases</h2>
${index.releases.length ? index.releases.map((t) => timelineSection(t, options)).join('\n') : '<p>None yet.</p>'}
<h2>Runs</h2>${pending}
<table class="cards runs"><thead><tr><th>time</th><th>run</th><th>release</th><th>verdict</th><th>targets</th><th>links</th></tr></thead><tbody>
${rows}
</tbody></table>${more}
</main>`;
  return page(`release-verifier history ${index.project}`, body);
}
