/**
 * Alerts are written from findings, never from free text: a subject, a body for email, an
 * SMS-sized short form, and a severity subscribers can filter on (SNS message attribute).
 */
import { costLine } from './cost/format';
import type { Finding, Verdict } from './findings';
import { isAuditFinding } from './audit-history';
import { allFindings, type RunReport } from './report';
import { neutralise } from './text/neutralise';
import { smsText } from './sms-text';
import { artifactRowVerdict, targetRowVerdict } from './report-html/verdict';

export type { Alert, AlertLinks, AlertSeverity } from './alert-message';
import type { Alert, AlertLinks, AlertSeverity } from './alert-message';

export function severityOf(verdict: Verdict): AlertSeverity {
  switch (verdict) {
    case 'TAMPERED':
    case 'MISMATCH':
      return 'critical';
    case 'INCOMPLETE':
      return 'warning';
    case 'VERIFIED':
      return 'info';
  }
}

const HEADLINE: Record<Verdict, string> = {
  TAMPERED: 'TAMPERED — a published asset is not what it should be',
  MISMATCH: 'MISMATCH — a published binary differs from what the source builds',
  INCOMPLETE: 'INCOMPLETE — the release could NOT be verified',
  VERIFIED: 'VERIFIED — every artifact rebuilt identically and every signature checked',
};

function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

function describeFinding(f: Finding): string {
  const where = [f.target, f.artifact].filter(Boolean).join(' / ');
  return `[${f.level}] ${f.code}${where ? ` (${where})` : ''}: ${f.message}`;
}

function evidenceLines(f: Finding): string[] {
  if (!f.evidence) return [];
  return Object.entries(f.evidence)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .slice(0, 12)
    .map(([k, v]) => `      ${k}: ${clip(typeof v === 'string' ? v : JSON.stringify(v), 300)}`);
}

/** "HYGIENE_IMAGE_NOT_PINNED ×3, AUDIT_BRANCH_FORCE_PUSH" for the codes left after the new ones */
function summariseCodes(all: string[], appeared: string[]): string {
  const counts = new Map<string, number>();
  for (const c of all) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const c of appeared) counts.set(c, (counts.get(c) ?? 1) - 1);
  const parts = [...counts].filter(([, n]) => n > 0).map(([c, n]) => (n > 1 ? `${c} ×${n}` : c));
  return clip(parts.join(', '), 300);
}

/** The Targets section: each target's verdict and build, each artifact's verdict, comparison and signature. */
function targetLines(report: RunReport): string[] {
  const lines: string[] = [];
  lines.push('Targets:');
  for (const t of report.targets) {
    const build = t.build ? ` build ${t.build.status}${t.build.id ? ` (${t.build.id})` : ''}` : '';
    // rows raised by run-level findings naming them (a history change), as in the HTML report
    lines.push(`  ${t.name}: ${targetRowVerdict(report, t)}${build}`);
    for (const a of t.artifacts) {
      // a manifest line that does not match is not an invalid signature: the manifest's signature held
      const line = a.findings.find((f) => f.code.startsWith('MANIFEST_'));
      const sig = a.signature
        ? `, signature ${a.signature.scheme} ${a.signature.valid ? 'valid' : line ? `of the manifest valid, but ${line.code}` : 'INVALID'}`
        : '';
      const cmp = a.comparison ? `, ${a.comparison.method} ${a.comparison.match ? 'match' : 'DIFFERS'}` : '';
      lines.push(`    ${a.asset}: ${artifactRowVerdict(report, t, a).verdict}${cmp}${sig}`);
      if (a.published) lines.push(`      published sha256 ${a.published.sha256}`);
      if (a.rebuilt) lines.push(`      rebuilt   sha256 ${a.rebuilt.sha256}`);
    }
  }
  lines.push('');
  return lines;
}

/** The Audit section: what appeared, went away or stayed since the previous audit. */
function auditLines(audit: NonNullable<RunReport['audit']>, notices: Finding[]): string[] {
  const lines: string[] = [];
  const c = audit.changes;
  const current = notices.filter(isAuditFinding).length;
  lines.push(`Audit (repository at ${audit.commitSha.slice(0, 12)} and forge settings; advisory, not part of the verdict):`);
  if (c.previousRunId === null) {
    lines.push(`  first audit: ${current} weakness(es), listed in the report; later runs list what changes`);
  } else {
    for (const e of c.appeared) lines.push(`  [WARNING] new since ${c.previousRunId}: ${e.code}: ${e.message}`);
    for (const e of c.disappeared) lines.push(`  gone since ${c.previousRunId}: ${e.code}: ${e.message}`);
    lines.push(
      `  unchanged since ${c.previousRunId}: ${c.unchanged} weakness(es)${
        c.unchanged
          ? ` (${summariseCodes(
              notices.filter(isAuditFinding).map((f) => f.code),
              c.appeared.map((e) => e.code),
            )})`
          : ''
      }`,
    );
  }
  const unavailable = notices.filter((f) => f.code === 'AUDIT_UNAVAILABLE');
  if (unavailable.length) lines.push(`  not checked: ${unavailable.length} part(s) (AUDIT_UNAVAILABLE in the report)`);
  lines.push('');
  return lines;
}

export function alertFor(report: RunReport, options: { reportLocation?: string; links?: AlertLinks } = {}): Alert {
  const tag = report.release?.tag;
  const project = String(report.project.project);
  // forge text (names, tags, URLs, messages) is neutralised before it is clipped and sent
  const subject = clip(neutralise(`[release-verifier] ${report.verdict}: ${project}${tag ? ` ${tag}` : ''}`), 100);
  const problems = allFindings(report).filter((f) => f.level !== 'NOTICE');
  const notices = allFindings(report).filter((f) => f.level === 'NOTICE');

  const lines: string[] = [];
  lines.push(HEADLINE[report.verdict], '');
  lines.push(`Project:  ${project} (${report.project.gitlabUrl})`);
  if (report.release) {
    lines.push(`Release:  ${report.release.tag}${report.release.commitSha ? ` @ ${report.release.commitSha}` : ''}`);
    if (report.release.webUrl) lines.push(`          ${report.release.webUrl}`);
  } else {
    lines.push('Release:  (not determined)');
  }
  lines.push(`Run:      ${report.runId} (${report.mode}), ${report.startedAt} → ${report.finishedAt}`);
  if (report.cost) lines.push(`Cost:     ${costLine(report.cost)}`);
  // near the top: a notifier that must shorten a long body cuts from the end
  if (options.links?.report) lines.push(`Report:   ${options.links.report}`);
  if (options.links?.history) lines.push(`History:  ${options.links.history}`);
  if (options.reportLocation) lines.push(`${options.links?.report ? 'JSON:    ' : 'Report:  '} ${options.reportLocation}`);
  lines.push('');
  if (report.targets.length) lines.push(...targetLines(report));
  if (problems.length) {
    lines.push('Findings:');
    for (const f of problems) lines.push(`  ${describeFinding(f)}`, ...evidenceLines(f));
    lines.push('');
  }
  // the audit over time (issue 11): a new weakness is a WARNING line, one that went away is named,
  // the unchanged ones are one line — the verdict still comes from the rebuild and the signatures
  const audit = report.audit;
  const shown = audit ? notices.filter((f) => !isAuditFinding(f)) : notices;
  if (audit) lines.push(...auditLines(audit, notices));
  const rest = shown.filter((f) => !(audit && f.code === 'AUDIT_UNAVAILABLE'));
  if (rest.length) {
    lines.push('Notices:');
    for (const f of rest) lines.push(`  ${describeFinding(f)}`);
    lines.push('');
  }
  if (options.links?.report) lines.push(`Full report: ${options.links.report}`);
  else if (options.reportLocation) lines.push(`Full report: ${options.reportLocation}`);

  const firstProblem = problems[0];
  // SMS: GSM-7 only (one other character makes it UCS-2, 70 a segment), at most 2 segments
  const short = smsText(
    neutralise(
      `release-verifier ${report.verdict} ${project}${tag ? ` ${tag}` : ''}` +
        (firstProblem ? `: ${firstProblem.code}${firstProblem.artifact ? ` ${firstProblem.artifact}` : ''}` : '') +
        (problems.length > 1 ? ` (+${problems.length - 1} more)` : '') +
        ` run ${report.runId}`,
    ),
  );
  return {
    verdict: report.verdict,
    severity: severityOf(report.verdict),
    subject,
    body: lines.map(neutralise).join('\n'),
    short,
    runId: report.runId,
    release: tag,
    ...(options.reportLocation ? { reportLocation: options.reportLocation } : {}),
    ...(options.links ? { links: options.links } : {}),
  };
}
