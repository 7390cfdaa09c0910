import { describe, expect, it } from 'vitest';
import { alertFor } from '../../lambda/core/alert';
import { finding } from '../../lambda/core/findings';
import { renderHtml } from '../../lambda/core/render-html';
import type { RunReport } from '../../lambda/core/report';

function report(): RunReport {
  return {
    schemaVersion: 1,
    runId: 'r1',
    startedAt: '2026-11-22T00:00:00Z',
    finishedAt: '2026-11-22T00:05:00Z',
    verdict: 'MISMATCH',
    project: { gitlabUrl: 'https://gitlab.example.com', project: 'g/app' },
    release: { tag: 'v1.0.0', commitSha: 'c'.repeat(40) },
    mode: 'local',
    findings: [finding('IMAGE_NOT_ENFORCED', 'a notice')],
    targets: [
      {
        name: 'linux',
        verdict: 'MISMATCH',
        findings: [],
        artifacts: [
          {
            path: 'out/app',
            asset: '<script>alert(1)</script>.tar.gz',
            verdict: 'MISMATCH',
            published: { sha256: 'a'.repeat(64), size: 1 },
            rebuilt: { sha256: 'b'.repeat(64), size: 1 },
            findings: [
              finding('ARTIFACT_MISMATCH', 'differs at <img src=x onerror=alert(1)>', { target: 'linux', artifact: 'x', evidence: { where: '"><b>' } }),
            ],
          },
        ],
      },
    ],
  };
}

describe('report rendering', () => {
  it('escapes everything that came from the forge or a build, and forbids scripts', () => {
    const html = renderHtml(report());
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.tar.gz');
    expect(html).toContain("default-src 'none'");
  });

  it('lists problems before notices', () => {
    const html = renderHtml(report());
    expect(html.indexOf('ARTIFACT_MISMATCH')).toBeLessThan(html.indexOf('IMAGE_NOT_ENFORCED'));
  });

  it('writes alerts from findings: subject, body with digests and evidence, SMS-sized short form, severity', () => {
    const a = alertFor(report(), { reportLocation: 's3://bucket/runs/r1/summary.json' });
    expect(a.subject).toBe('[release-verifier] MISMATCH: g/app v1.0.0');
    expect(a.severity).toBe('critical');
    expect(a.body).toContain('published sha256 ' + 'a'.repeat(64));
    expect(a.body).toContain('rebuilt   sha256 ' + 'b'.repeat(64));
    expect(a.body).toContain('[MISMATCH] ARTIFACT_MISMATCH (linux / x)');
    expect(a.body).toContain('s3://bucket/runs/r1/summary.json');
    expect(a.short.length).toBeLessThanOrEqual(160);
    expect(a.short).toContain('ARTIFACT_MISMATCH');
    const incomplete = alertFor({ ...report(), verdict: 'INCOMPLETE' });
    expect(incomplete.severity).toBe('warning');
    expect(incomplete.body).toMatch(/could NOT be verified/);
  });
});
