/**
 * A self-contained HTML rendering of a run report (stored next to the JSON). Everything that came
 * from the forge or a build is escaped and neutralised: release names, asset names and messages are
 * untrusted (markup, but also bidi overrides that make a name read backwards).
 */
import { allFindings, type RunReport } from './report';
import type { Verdict } from './findings';
import { neutralise, neutraliseLines } from './text/neutralise';

const COLOR: Record<Verdict, string> = { VERIFIED: '#1a7f37', INCOMPLETE: '#9a6700', MISMATCH: '#cf222e', TAMPERED: '#8250df' };

/** Escapes for HTML text and attributes, and renders control/bidi/format characters visibly. */
export function escapeHtml(s: unknown): string {
  return neutralise(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** As escapeHtml, for a <pre> block: keeps its line breaks. */
function escapeBlock(s: string): string {
  return neutraliseLines(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const badge = (v: Verdict) => `<span class="v" style="background:${COLOR[v]}">${v}</span>`;

export function renderHtml(report: RunReport): string {
  const rows = report.targets
    .flatMap((t) =>
      t.artifacts.length
        ? t.artifacts.map(
            (a) => `<tr><td>${escapeHtml(t.name)}</td><td>${escapeHtml(a.asset)}</td><td>${badge(a.verdict)}</td>
<td><code>${escapeHtml(a.published?.sha256 ?? '—')}</code></td><td><code>${escapeHtml(a.rebuilt?.sha256 ?? '—')}</code></td>
<td>${escapeHtml(a.comparison ? `${a.comparison.method}: ${a.comparison.match ? 'match' : 'differs'}` : '—')}</td>
<td>${escapeHtml(a.signature ? `${a.signature.scheme}: ${a.signature.valid ? 'valid' : 'INVALID'}${a.signature.signer ? ` (${a.signature.signer})` : ''}` : '—')}</td></tr>`,
          )
        : [`<tr><td>${escapeHtml(t.name)}</td><td colspan="6">${badge(t.verdict)} no artifact checked</td></tr>`],
    )
    .join('\n');
  const order = { TAMPERED: 0, MISMATCH: 1, INCOMPLETE: 2, NOTICE: 3 } as const;
  const findings = allFindings(report)
    .sort((a, b) => order[a.level] - order[b.level]) // problems first, notices last
    .map(
      (f) => `<li><b>${escapeHtml(f.level)}</b> <code>${escapeHtml(f.code)}</code> ${escapeHtml([f.target, f.artifact].filter(Boolean).join(' / '))}: ${escapeHtml(f.message)}
${f.evidence ? `<pre>${escapeBlock(JSON.stringify(f.evidence, null, 2))}</pre>` : ''}</li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>release-verifier ${escapeHtml(report.verdict)} ${escapeHtml(report.release?.tag ?? '')}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}
code{font-size:12px;word-break:break-all}.v{color:#fff;padding:2px 6px;border-radius:4px;font-weight:bold}pre{background:#f6f8fa;padding:6px;overflow:auto;max-height:20em}</style></head>
<body><h1>${badge(report.verdict)} ${escapeHtml(String(report.project.project))} ${escapeHtml(report.release?.tag ?? '')}</h1>
<p>Commit <code>${escapeHtml(report.release?.commitSha ?? 'unknown')}</code> · run ${escapeHtml(report.runId)} (${escapeHtml(report.mode)}) · ${escapeHtml(report.startedAt)} → ${escapeHtml(report.finishedAt)}</p>
<table><tr><th>target</th><th>asset</th><th>verdict</th><th>published sha256</th><th>rebuilt sha256</th><th>comparison</th><th>signature</th></tr>
${rows}
</table>
<h2>Findings</h2><ul>${findings || '<li>none</li>'}</ul>
</body></html>
`;
}
