/**
 * The audit over time (issue 11): each run's audit findings are stored with the run
 * (`runs/<id>/audit.json`) and as the latest audit (`ledger/audit-latest.json`); the next run lists what
 * appeared and what disappeared since. A finding is identified by its code, file and offending text
 * (hygiene) or its code and forge object (write paths) — not by its line, so an unrelated edit that
 * moves a line is not news.
 */
import { errorMessage } from './errors';
import type { Finding } from './findings';
import type { Store } from './ports';
import { AUDIT_LATEST_KEY, runKeys } from './run/store-layout';
import type { AuditEntry, AuditReport } from './report';

/** the run's audit and the latest one (store-layout.ts) */
export const AUDIT_KEYS = { latest: AUDIT_LATEST_KEY, run: runKeys.audit };

/** Codes the audit raises (protections, write paths, hygiene); AUDIT_UNAVAILABLE is a state, not a weakness. */
export function isAuditFinding(f: Pick<Finding, 'code'>): boolean {
  return (f.code.startsWith('AUDIT_') || f.code.startsWith('HYGIENE_')) && f.code !== 'AUDIT_UNAVAILABLE';
}

export function auditEntry(f: Finding): AuditEntry {
  const e = f.evidence ?? {};
  const file = typeof e.file === 'string' ? e.file : undefined;
  const line = typeof e.line === 'number' ? e.line : undefined;
  let identity: string;
  if (file !== undefined) identity = `${file}\u0000${String(e.text ?? '')}`;
  else if (e.deployKeyId !== undefined) identity = `key ${String(e.deployKeyId)}`;
  else if (e.deployTokenId !== undefined) identity = `token ${String(e.deployTokenId)}`;
  else if (e.what !== undefined) identity = String(e.what);
  else if (e.branch !== undefined) identity = `branch ${String(e.branch)}`;
  else if (e.tag !== undefined)
    identity = `tag`; // the tag changes with every release; the weakness does not
  else identity = '';
  return {
    code: f.code,
    key: `${f.code}\u0000${identity}`,
    message: f.message,
    ...(file !== undefined ? { file } : {}),
    ...(line !== undefined ? { line } : {}),
  };
}

export interface StoredAudit {
  schemaVersion: 1;
  runId: string;
  release?: string;
  commitSha?: string;
  createdAt: string;
  entries: AuditEntry[];
}

/** The previous run's audit, or null (first run, or unreadable: then this run is the baseline). */
export async function loadPreviousAudit(store: Store): Promise<StoredAudit | null> {
  try {
    const raw = await store.get(AUDIT_KEYS.latest);
    if (!raw) return null;
    const v = JSON.parse(raw) as StoredAudit;
    if (v?.schemaVersion !== 1 || !Array.isArray(v.entries)) return null;
    return v;
  } catch {
    return null;
  }
}

export function auditChanges(previous: StoredAudit | null, current: AuditEntry[], currentRunId: string): AuditReport['changes'] {
  // the first audit (or a re-run of the same run) is the baseline: nothing to compare with
  if (!previous || previous.runId === currentRunId) return { previousRunId: null, appeared: [], disappeared: [], unchanged: 0 };
  const before = new Map(previous.entries.map((e) => [e.key, e]));
  const now = new Map(current.map((e) => [e.key, e]));
  const appeared = current.filter((e) => !before.has(e.key));
  const disappeared = previous.entries.filter((e) => !now.has(e.key));
  return { previousRunId: previous.runId, appeared, disappeared, unchanged: current.length - appeared.length };
}

/**
 * The audit block of a run: its audit findings (every finding with an audit code) against the
 * previous stored audit; stores it with the run (`runs/<id>/audit.json`, write-once) and as the
 * latest. A store failure costs the comparison next time, never the run.
 */
export async function recordAudit(
  store: Store,
  run: { runId: string; release?: string; createdAt: string; findings: readonly Finding[] },
  audit: Omit<AuditReport, 'changes'>,
  progress?: (line: string) => void,
): Promise<AuditReport> {
  const entries = run.findings.filter(isAuditFinding).map(auditEntry);
  const previous = await loadPreviousAudit(store);
  const block: AuditReport = { ...audit, changes: auditChanges(previous, entries, run.runId) };
  const stored: StoredAudit = { schemaVersion: 1, runId: run.runId, release: run.release, commitSha: audit.commitSha, createdAt: run.createdAt, entries };
  try {
    const created = await store.put(AUDIT_KEYS.run(run.runId), JSON.stringify({ ...stored, audit: block }, null, 2), {
      ifNoneMatch: true,
      contentType: 'application/json',
    });
    if (!created) return (await readRunAudit(store, run.runId)) ?? block; // the run's audit was fixed first
    await store.put(AUDIT_KEYS.latest, JSON.stringify(stored, null, 2), { contentType: 'application/json' });
  } catch (err) {
    progress?.(`the audit could not be stored: ${errorMessage(err)}`);
  }
  return block;
}

/** The audit block stored with a run (the AWS summary reads it), or null. */
export async function readRunAudit(store: Store, runId: string): Promise<AuditReport | null> {
  try {
    const raw = await store.get(AUDIT_KEYS.run(runId));
    if (!raw) return null;
    const v = JSON.parse(raw) as { audit?: AuditReport };
    return v.audit && typeof v.audit === 'object' ? v.audit : null;
  } catch {
    return null;
  }
}
