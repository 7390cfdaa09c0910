/**
 * The audit over time (issue 11): stored with the run, compared with the last run's; the alert
 * lists what appeared (a WARNING line) and what disappeared, the unchanged ones in one line, and
 * the verdict stays what the rebuild and signatures say.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryStore } from '../../lambda/adapters/store/directory-store';
import { alertFor } from '../../lambda/core/alert';
import { AUDIT_CHECKLIST } from '../../lambda/core/audit';
import { AUDIT_KEYS, auditChanges, auditEntry, readRunAudit, recordAudit } from '../../lambda/core/audit-history';
import { finding, FINDING_CODES, type Finding } from '../../lambda/core/findings';
import type { AuditReport, RunReport } from '../../lambda/core/report';

const hyg = (code: 'HYGIENE_IMAGE_NOT_PINNED' | 'HYGIENE_REMOTE_SCRIPT', file: string, line: number, text: string): Finding =>
  finding(code, `${file}:${line}: ${text}`, { evidence: { file, line, text, fix: 'pin it' } });
const base: Omit<AuditReport, 'changes'> = {
  commitSha: 'a'.repeat(40),
  hygiene: { findings: [], coverage: null },
  writePaths: { checked: [], unavailable: [] },
  checklist: AUDIT_CHECKLIST,
};

function report(runId: string, findings: Finding[], audit?: AuditReport): RunReport {
  return {
    schemaVersion: 1,
    runId,
    startedAt: '2026-01-01T00:00:00Z',
    finishedAt: '2026-01-01T00:10:00Z',
    verdict: 'VERIFIED',
    project: { gitlabUrl: 'https://gitlab.example.com', project: 'group/app' },
    release: { tag: 'v1.0.0', commitSha: 'a'.repeat(40) },
    targets: [],
    findings,
    mode: 'local',
    ...(audit ? { audit } : {}),
  };
}

let dir: string;
let store: DirectoryStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-history-'));
  store = new DirectoryStore(dir);
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('audit identity', () => {
  it('a moved line is the same finding; other text or another file is not', () => {
    const a = auditEntry(hyg('HYGIENE_IMAGE_NOT_PINNED', 'Dockerfile', 1, 'FROM rust:1.80'));
    expect(auditEntry(hyg('HYGIENE_IMAGE_NOT_PINNED', 'Dockerfile', 7, 'FROM rust:1.80')).key).toBe(a.key);
    expect(auditEntry(hyg('HYGIENE_IMAGE_NOT_PINNED', 'Dockerfile', 1, 'FROM rust:1.81')).key).not.toBe(a.key);
    expect(auditEntry(hyg('HYGIENE_IMAGE_NOT_PINNED', 'ci/Dockerfile', 1, 'FROM rust:1.80')).key).not.toBe(a.key);
    const k1 = auditEntry(finding('AUDIT_DEPLOY_KEY_CAN_PUSH', 'k', { evidence: { deployKeyId: 1 } })).key;
    expect(auditEntry(finding('AUDIT_DEPLOY_KEY_CAN_PUSH', 'k', { evidence: { deployKeyId: 2 } })).key).not.toBe(k1);
  });
  it('no previous audit: the baseline, nothing appeared', () => {
    expect(auditChanges(null, [auditEntry(hyg('HYGIENE_REMOTE_SCRIPT', 'a.sh', 1, 'curl x | sh'))], 'r1')).toEqual({
      previousRunId: null,
      appeared: [],
      disappeared: [],
      unchanged: 0,
    });
  });
});

describe('recordAudit and the alert', () => {
  it('second run: appeared, disappeared and unchanged against the first; stored with each run', async () => {
    const image = hyg('HYGIENE_IMAGE_NOT_PINNED', 'Dockerfile', 1, 'FROM rust:1.80');
    const script = hyg('HYGIENE_REMOTE_SCRIPT', 'ci/setup.sh', 3, 'curl -fsSL https://x.test/i | sh');
    const key = finding('AUDIT_DEPLOY_KEY_CAN_PUSH', 'deploy key "ci" (id 3) has write access', { evidence: { deployKeyId: 3 } });
    const first = await recordAudit(store, { runId: 'run-1', release: 'v1.0.0', createdAt: '2026-01-01T00:00:00Z', findings: [image, script] }, base);
    expect(first.changes.previousRunId).toBeNull();
    expect(await store.get(AUDIT_KEYS.latest)).toContain('run-1');

    const moved = hyg('HYGIENE_IMAGE_NOT_PINNED', 'Dockerfile', 4, 'FROM rust:1.80'); // same weakness, line moved
    const unrelated = finding('SIGNATURE_NOT_REQUIRED', 'not an audit code');
    const second = await recordAudit(store, { runId: 'run-2', release: 'v1.1.0', createdAt: '2026-01-02T00:00:00Z', findings: [moved, key, unrelated] }, base);
    expect(second.changes.previousRunId).toBe('run-1');
    expect(second.changes.appeared.map((e) => e.code)).toEqual(['AUDIT_DEPLOY_KEY_CAN_PUSH']);
    expect(second.changes.disappeared.map((e) => `${e.code} ${e.file}:${e.line}`)).toEqual(['HYGIENE_REMOTE_SCRIPT ci/setup.sh:3']);
    expect(second.changes.unchanged).toBe(1);
    expect(await readRunAudit(store, 'run-2')).toEqual(second);
    expect(await readRunAudit(store, 'run-1')).toEqual(first);

    const r = report('run-2', [moved, key, unrelated], second);
    const alert = alertFor(r);
    expect(alert.verdict).toBe('VERIFIED'); // the audit never changes the verdict
    expect(alert.severity).toBe('info');
    const lines = alert.body.split('\n');
    expect(lines).toContain('  [WARNING] new since run-1: AUDIT_DEPLOY_KEY_CAN_PUSH: deploy key "ci" (id 3) has write access');
    expect(lines).toContain('  gone since run-1: HYGIENE_REMOTE_SCRIPT: ci/setup.sh:3: curl -fsSL https://x.test/i | sh');
    expect(lines).toContain('  unchanged since run-1: 1 weakness(es) (HYGIENE_IMAGE_NOT_PINNED)');
    // audit findings are summarised, not repeated under Notices; other notices still are
    expect(alert.body).not.toMatch(/\[NOTICE\] HYGIENE_IMAGE_NOT_PINNED/);
    expect(alert.body).toMatch(/\[NOTICE\] SIGNATURE_NOT_REQUIRED/);
  });
  it('re-recording the same run keeps the audit fixed first (write-once)', async () => {
    const a = await recordAudit(store, { runId: 'run-1', createdAt: 'x', findings: [hyg('HYGIENE_REMOTE_SCRIPT', 'a.sh', 1, 'curl x | sh')] }, base);
    const again = await recordAudit(store, { runId: 'run-1', createdAt: 'x', findings: [] }, base);
    expect(again).toEqual(a);
  });
  it('a report without an audit block lists audit notices as before', () => {
    const body = alertFor(report('run-9', [hyg('HYGIENE_IMAGE_NOT_PINNED', 'Dockerfile', 1, 'FROM x')])).body;
    expect(body).toMatch(/\[NOTICE\] HYGIENE_IMAGE_NOT_PINNED: Dockerfile:1: FROM x/);
    expect(body).not.toMatch(/^Audit/m);
  });
});

describe('the checklist', () => {
  it('every automated item names registered finding codes; every other item says why not', () => {
    for (const row of AUDIT_CHECKLIST) {
      for (const c of row.automatedBy) expect(Object.keys(FINDING_CODES), `${row.item}: ${c}`).toContain(c);
      if (row.automatedBy.length === 0) expect(row.note).toMatch(/not automatable/);
    }
    const covered = new Set(AUDIT_CHECKLIST.flatMap((r) => r.automatedBy));
    for (const code of Object.keys(FINDING_CODES).filter((c) => c.startsWith('HYGIENE_') || (c.startsWith('AUDIT_') && c !== 'AUDIT_UNAVAILABLE')))
      expect(covered, code).toContain(code);
  });
});
