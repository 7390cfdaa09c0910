/**
 * The run report as one self-contained HTML page (stored next to the JSON: runs/<runId>/report.html),
 * written for the person who got the alert: the verdict in plain language, each file with its
 * signature, comparison, digests and differences, then every finding with what it means and what to
 * do next, evidence collapsed. No scripts, no external assets, a CSP that allows only our stylesheet
 * (report-html/layout.ts); readable on a phone without horizontal scrolling.
 *
 * Everything that came from the forge or a build is escaped and neutralised (report-html/escape.ts):
 * release names, asset names, messages, member names and diffs are chosen by whoever controls them.
 */
import type { Finding, Verdict } from './findings';
import { allFindings, type ArtifactReport, type RunReport, type TargetReport } from './report';
import { costHtml } from './cost/html';
import { differencesSection } from './report-html/diffs';
import { digestBlock } from './report-html/digests';
import { escapeHtml } from './report-html/escape';
import { evidenceDetails } from './report-html/evidence';
import { explain } from './report-html/explanations';
import { badge, page } from './report-html/layout';
import { findingLinks, logLink, reportLinks, targetRecordLink, type LinkOptions } from './report-html/links';
import { artifactRowVerdict, countsSentence, HEADLINE, targetRowVerdict, WHAT_NOW } from './report-html/verdict';

export { escapeHtml } from './report-html/escape';

export type RenderOptions = LinkOptions;

const LEVEL_ORDER = { TAMPERED: 0, MISMATCH: 1, INCOMPLETE: 2, NOTICE: 3 } as const;
/** finding cards per section at most (the page stays readable and bounded; the JSON has them all) */
export const MAX_FINDING_CARDS = 300;
const MANIFEST_CODES = new Set(['MANIFEST_DIGEST_MISMATCH', 'MANIFEST_ENTRY_MISSING', 'MANIFEST_ENTRY_DUPLICATE']);

const where = (f: Pick<Finding, 'target' | 'artifact'>) => [f.target, f.artifact].filter(Boolean).join(' / ');

/** The signature line of a file. A manifest-line problem is not an invalid signature: the manifest's signature held. */
function signatureText(a: ArtifactReport): string {
  const codes = new Set(a.findings.map((f) => f.code));
  if (codes.has('SIGNATURE_NOT_REQUIRED')) return '<span class="note">not required by the configuration</span>';
  const s = a.signature;
  if (!s) return codes.has('SIGNATURE_MISSING') ? '<span class="differs">signature missing</span>' : '<span class="note">not checked</span>';
  const signer = s.signer ? ` — signed by <code>${escapeHtml(s.signer)}</code>` : '';
  if (s.valid) return `<span class="same">valid</span> (${escapeHtml(s.scheme)})${signer}`;
  const manifestProblem = a.findings.find((f) => MANIFEST_CODES.has(f.code));
  if (manifestProblem) {
    const manifest = escapeHtml(s.signatureAsset ?? 'the checksum manifest');
    const what =
      manifestProblem.code === 'MANIFEST_DIGEST_MISMATCH'
        ? `this file's SHA-256 is <b>not the one listed</b> in ${manifest}`
        : manifestProblem.code === 'MANIFEST_ENTRY_MISSING'
          ? `this file is <b>not listed</b> in ${manifest}`
          : `this file is <b>listed more than once</b> in ${manifest}`;
    return `signature of ${manifest} <span class="same">valid</span>${signer}; but ${what}`;
  }
  return `<span class="differs">INVALID</span> (${escapeHtml(s.scheme)})${signer}${s.reason ? `: ${escapeHtml(s.reason)}` : ''}`;
}

function comparisonText(a: ArtifactReport): string {
  const c = a.comparison;
  if (!c) return a.rebuilt ? '<span class="note">not compared</span>' : '<span class="note">no rebuild to compare</span>';
  if (!c.match) return `<span class="differs">DIFFERS</span> from the rebuild (${escapeHtml(c.method)} comparison)`;
  if (a.published && a.rebuilt && a.published.sha256 === a.rebuilt.sha256) return '<span class="same">identical bytes</span> to the rebuild';
  return `<span class="same">same as the rebuild</span> (${escapeHtml(c.method)} comparison: only the embedded signature or metadata differ)`;
}

function findingRefs(findings: readonly Finding[], ids: Map<Finding, string>): string {
  const problems = findings.filter((f) => f.level !== 'NOTICE');
  if (problems.length === 0) return '';
  return `<p>Findings: ${problems.map((f) => `<a href="#${ids.get(f)}">${escapeHtml(f.code)}</a>`).join(', ')}</p>`;
}

function artifactCard(report: RunReport, t: TargetReport, a: ArtifactReport, ids: Map<Finding, string>): string {
  const row = artifactRowVerdict(report, t, a);
  const raised = row.raisedBy.length
    ? `<p class="note">${escapeHtml(row.verdict)} because of ${row.raisedBy.map((f) => `<a href="#${ids.get(f)}">${escapeHtml(f.code)}</a>`).join(', ')} (the file's own check: ${escapeHtml(a.verdict)})</p>`
    : '';
  const digests = digestBlock([
    { label: 'published', value: a.published?.sha256 },
    { label: 'rebuilt', value: a.rebuilt?.sha256 },
  ]);
  const sizes =
    a.published || a.rebuilt
      ? `<p class="note">size: published ${a.published ? `${a.published.size} bytes` : '—'}, rebuilt ${a.rebuilt ? `${a.rebuilt.size} bytes` : '—'}</p>`
      : '';
  return `<div class="finding finding-${row.verdict === 'VERIFIED' ? 'NOTICE' : row.verdict}">
<h4>${badge(row.verdict)} <code>${escapeHtml(a.asset)}</code></h4>${raised}
<p><span class="label">Signature:</span> ${signatureText(a)}</p>
<p><span class="label">Rebuild:</span> ${comparisonText(a)} <span class="note">(built as <code>${escapeHtml(a.path)}</code>)</span></p>
${digests ? `<p class="label">SHA-256</p>${digests}` : ''}${sizes}
${a.comparison ? differencesSection(a.comparison) : ''}
${findingRefs([...a.findings, ...row.raisedBy], ids)}
</div>`;
}

function targetSection(report: RunReport, t: TargetReport, ids: Map<Finding, string>, options: RenderOptions): string {
  const b = t.build;
  const build = b
    ? `<p class="meta">build <code>${escapeHtml(b.id)}</code> ${escapeHtml(b.status)}${b.durationMs !== undefined ? ` in ${Math.round(b.durationMs / 1000)} s` : ''} · image <code>${escapeHtml(b.image)}</code>${b.imageEnforced ? '' : ' (not enforced)'}${b.logLink ? ` · ${logLink(b.logLink)}` : ''}${b.message ? ` · ${escapeHtml(b.message)}` : ''}</p>`
    : '';
  const rec = targetRecordLink(report, t.name, options);
  const cards = t.artifacts.length ? t.artifacts.map((a) => artifactCard(report, t, a, ids)).join('\n') : '<p>No file of this target was checked.</p>';
  return `<section><h3>${badge(targetRowVerdict(report, t))} target ${escapeHtml(t.name)}</h3>
${build}${rec ? `<p class="meta">record: ${rec}</p>` : ''}
${findingRefs(t.findings, ids)}
${cards}</section>`;
}

function findingCard(f: Finding, id: string, report: RunReport, options: RenderOptions): string {
  const e = explain(f.code);
  const links = findingLinks(f, report, options);
  const w = where(f);
  return `<div class="finding finding-${escapeHtml(f.level)}" id="${id}">
<p>${badge(f.level)} <b><code>${escapeHtml(f.code)}</code></b>${w ? ` · ${escapeHtml(w)}` : ''}</p>
<p>${escapeHtml(f.message)}</p>
<p><span class="label">What it means:</span> ${escapeHtml(e.meaning)}</p>
<p><span class="label">What to do:</span> ${escapeHtml(e.next)}</p>
${links.length ? `<ul class="links">${links.map((l) => `<li>${l}</li>`).join('')}</ul>` : ''}
${evidenceDetails(f.evidence, { skip: f.code === 'ARTIFACT_MISMATCH' ? ['differences'] : [] })}
</div>`;
}

function cards(findings: readonly Finding[], report: RunReport, ids: Map<Finding, string>, options: RenderOptions): string {
  const shown = findings.slice(0, MAX_FINDING_CARDS).map((f) => findingCard(f, ids.get(f)!, report, options));
  if (findings.length > MAX_FINDING_CARDS)
    shown.push(`<p class="note">${findings.length - MAX_FINDING_CARDS} more not shown here: they are in summary.json.</p>`);
  return shown.join('\n');
}

export function renderHtml(report: RunReport, options: RenderOptions = {}): string {
  const findings = allFindings(report);
  const ids = new Map(findings.map((f, i) => [f, `f${i + 1}`]));
  const sorted = [...findings].sort((a, b) => (LEVEL_ORDER[a.level] ?? 9) - (LEVEL_ORDER[b.level] ?? 9)); // problems first, notices last
  const problems = sorted.filter((f) => f.level !== 'NOTICE');
  const notices = sorted.filter((f) => f.level === 'NOTICE');
  const v: Verdict = report.verdict;
  const tag = report.release?.tag ?? '';
  const project = String(report.project.project);
  const firstCodes = [...new Set(problems.map((f) => f.code))].slice(0, 3);
  const why = firstCodes.length ? `<p>Why: ${firstCodes.map((c) => `<b>${escapeHtml(c)}</b> — ${escapeHtml(explain(c).meaning)}`).join('<br>')}</p>` : '';

  const body = `<header>
<h1>${badge(v)} ${escapeHtml(project)} ${escapeHtml(tag)}</h1>
<div class="verdict verdict-${escapeHtml(v)}">
<p class="headline">${escapeHtml(HEADLINE[v] ?? v)}</p>
<p>${escapeHtml(countsSentence(report))}</p>
${why}
<p><span class="label">What to do now:</span> ${escapeHtml(WHAT_NOW[v] ?? '')}</p>
</div>
<p class="meta">${report.release?.name && report.release.name !== tag ? `release “${escapeHtml(report.release.name)}” · ` : ''}commit <code>${escapeHtml(report.release?.commitSha ?? 'unknown')}</code>${report.release?.releasedAt ? ` · released ${escapeHtml(report.release.releasedAt)}` : ''}</p>
<p class="meta">run <code>${escapeHtml(report.runId)}</code> (${escapeHtml(report.mode)}) · ${escapeHtml(report.startedAt)} → ${escapeHtml(report.finishedAt)} · GitLab ${escapeHtml(report.project.gitlabUrl)}</p>
${report.cost ? costHtml(report.cost) : ''}
${reportLinks(report, options)}
</header>
<main>
<h2>Files</h2>
${report.targets.length ? report.targets.map((t) => targetSection(report, t, ids, options)).join('\n') : '<p>No target was checked.</p>'}
<h2>Problems (${problems.length})</h2>
${problems.length ? cards(problems, report, ids, options) : '<p>None.</p>'}
<h2>Notices (${notices.length})</h2>
${notices.length ? `<details${problems.length === 0 ? ' open' : ''}><summary>${notices.length} notice(s): worth knowing, they do not change the verdict</summary>${cards(notices, report, ids, options)}</details>` : '<p>None.</p>'}
</main>`;
  return page(`release-verifier ${v} ${project} ${tag}`, body);
}
