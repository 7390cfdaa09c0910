/**
 * Where the reader goes next: the release, tag and commit on GitLab, the run's JSON records, the
 * earlier run a history finding cites, the diffoscope report, the build logs.
 *
 * Record links are relative (the page sits at runs/<runId>/report.html next to its records, and
 * the history at runs/index.html), so they work in a local store directory and in a copy of the
 * bucket; `recordUrl` adds an absolute link (the S3 console in AWS) beside each.
 * Run ids are checked against RUN_ID_PATTERN before they become a path.
 */
import { attestationKeys } from '../attestation';
import { vsaKeys } from '../vsa';
import { RUN_ID_PATTERN } from '../run/plan';
import type { Finding } from '../findings';
import type { RunReport } from '../report';
import { runKeys } from '../run/summary';
import { escapeHtml, link, relLink, safeHref } from './escape';
import { HISTORY_CODES } from './history-codes';
import { HISTORY_KEYS } from '../run/store-layout';

export interface LinkOptions {
  /** an absolute link for a store key, e.g. the S3 console (AWS); none locally */
  recordUrl?: (key: string) => string | undefined;
}

/** The project's web address: from the release's web URL, else the GitLab URL and the project path. */
export function projectWebUrl(report: Pick<RunReport, 'project' | 'release'>): string | undefined {
  const web = report.release?.webUrl;
  const i = typeof web === 'string' ? web.indexOf('/-/releases/') : -1;
  if (i > 0 && safeHref(web)) return web!.slice(0, i);
  if (typeof report.project.project === 'string' && safeHref(report.project.gitlabUrl)) {
    return `${report.project.gitlabUrl.replace(/\/+$/, '')}/${report.project.project.split('/').map(encodeURIComponent).join('/')}`;
  }
  return undefined;
}

export function tagUrl(base: string | undefined, tag: string | undefined): string | undefined {
  return base && tag ? `${base}/-/tags/${encodeURIComponent(tag)}` : undefined;
}

export function commitUrl(base: string | undefined, sha: string | undefined): string | undefined {
  return base && sha && /^[0-9a-f]{7,64}$/i.test(sha) ? `${base}/-/commit/${sha}` : undefined;
}

/** The anchor of a release's timeline (tags are forge text: hashed into a safe id). */
export function releaseAnchor(tag: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193) >>> 0;
  return `release-${tag.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60)}-${h.toString(16)}`;
}

/** A record link (relative) with its absolute twin when there is one. */
export function recordLink(relPath: string, key: string, text: string, options: LinkOptions): string {
  const abs = options.recordUrl?.(key);
  return `${relLink(relPath, text)}${abs && safeHref(abs) ? ` <span class="note">(${link(abs, 'console')})</span>` : ''}`;
}

/** The GitLab and record links at the top of a run report. */
export function reportLinks(report: RunReport, options: LinkOptions): string {
  const base = projectWebUrl(report);
  const items: string[] = [];
  if (report.release?.webUrl && safeHref(report.release.webUrl)) items.push(link(report.release.webUrl, 'release on GitLab'));
  const tag = tagUrl(base, report.release?.tag);
  if (tag) items.push(link(tag, `tag ${report.release!.tag}`));
  const commit = commitUrl(base, report.release?.commitSha);
  if (commit) items.push(link(commit, `commit ${report.release!.commitSha!.slice(0, 12)}`));
  const id = report.runId;
  if (RUN_ID_PATTERN.test(id)) {
    items.push(recordLink('summary.json', runKeys.summary(id), 'summary.json', options));
    if (report.release) items.push(recordLink('plan.json', runKeys.plan(id), 'plan.json', options));
    items.push(
      recordLink(
        report.mode === 'aws' ? 'attestation.dsse.json' : 'attestation.intoto.json',
        report.mode === 'aws' ? attestationKeys.envelope(id) : attestationKeys.statement(id),
        report.mode === 'aws' ? 'attestation (when signed)' : 'attestation',
        options,
      ),
    );
    items.push(
      recordLink(
        report.mode === 'aws' ? 'vsa.dsse.json' : 'vsa.intoto.json',
        report.mode === 'aws' ? vsaKeys.envelope(id) : vsaKeys.statement(id),
        report.mode === 'aws' ? 'SLSA VSA (when signed)' : 'SLSA VSA',
        options,
      ),
    );
    items.push(
      `${recordLink('../index.html', HISTORY_KEYS.html, 'run history', options)}${report.release ? ` (${relLink(`../index.html#${releaseAnchor(report.release.tag)}`, `timeline of ${report.release.tag}`)})` : ''}`,
    );
  }
  return `<ul class="links">${items.map((i) => `<li>${i}</li>`).join('')}</ul>`;
}

/** Link to a target's JSON record. */
export function targetRecordLink(report: RunReport, target: string, options: LinkOptions): string {
  if (!RUN_ID_PATTERN.test(report.runId) || !/^[A-Za-z0-9._-]{1,100}$/.test(target)) return '';
  return recordLink(`targets/${target}.json`, runKeys.target(report.runId, target), `${target}.json`, options);
}

/** A build log: a link when it is a URL (CloudWatch console in AWS), the path otherwise (local). */
export function logLink(log: unknown): string {
  if (typeof log !== 'string' || !log) return '';
  return safeHref(log) ? link(log, 'build log') : `build log: <code>${escapeHtml(log)}</code>`;
}

/** Every http(s) URL and s3:// location in a text (the diffoscope notice is a sentence with several). */
export function urlsIn(text: string): string[] {
  return [...text.matchAll(/\b(?:https?|s3):\/\/[^\s()<>"']+/g)].map((m) => m[0].replace(/[.,;]+$/, '')).slice(0, 5);
}

/** Links a finding adds: the earlier run it cites, the diffoscope report, the build log. */
export function findingLinks(f: Finding, report: RunReport, options: LinkOptions): string[] {
  const ev = (f.evidence ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const key of ['firstSeenRunId', 'previousRunId', 'runId'] as const) {
    const id = ev[key];
    if (typeof id === 'string' && RUN_ID_PATTERN.test(id) && id !== report.runId) {
      out.push(`earlier run: ${recordLink(`../${id}/report.html`, runKeys.html(id), id, options)} (${relLink(`../${id}/summary.json`, 'JSON')})`);
    }
  }
  // a change to a past release (moved tag, changed link, removed release): that release's timeline
  // in the history says when it was first seen and which runs saw what
  const tag = typeof ev.tag === 'string' ? ev.tag : f.code === 'PAST_ASSET_CHANGED' ? report.release?.tag : undefined;
  if (tag && HISTORY_CODES.has(f.code)) out.push(relLink(`../index.html#${releaseAnchor(tag)}`, `history of ${tag}`));
  if (f.code === 'DIFFOSCOPE_REPORT') {
    const where = typeof ev.report === 'string' ? ev.report : '';
    for (const u of urlsIn(where))
      out.push(
        u.startsWith('s3://')
          ? `diffoscope report: <code>${escapeHtml(u)}</code>`
          : link(u, u.includes('console.aws') ? 'diffoscope report (console)' : 'diffoscope report'),
      );
    if (where && !/:\/\//.test(where)) {
      // a local report sits under this run's directory: link it relatively
      const marker = `/runs/${report.runId}/`;
      const at = RUN_ID_PATTERN.test(report.runId) ? where.indexOf(marker) : -1;
      const rel = at >= 0 ? where.slice(at + marker.length) : '';
      out.push(
        rel && !rel.split('/').includes('..') && !/\s/.test(rel) ? relLink(rel, 'diffoscope report') : `diffoscope report: <code>${escapeHtml(where)}</code>`,
      );
    }
  }
  if (ev.log) out.push(logLink(ev.log));
  return out.filter(Boolean);
}
