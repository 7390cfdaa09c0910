/**
 * The forge side of the audit (issue 11): the stand-in's templates parse with the adapter's zod
 * schemas; GitLabForge reads the tree, raw files and write paths through the bounded requester; a
 * 403 on any part is AUDIT_UNAVAILABLE naming the permission, never a crash or a verdict change.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { insecureWritePaths, secureWritePaths, startGitLabStandIn, fakeSha, type GitLabStandIn, type StandInProject } from '../../demo/gitlab-standin';
import { GitLabForge } from '../../lambda/adapters/forge/gitlab-forge';
import {
  DeployKeyJson,
  DeployTokenJson,
  JobTokenScopeJson,
  ProjectSettingsJson,
  PushRuleJson,
  TreeEntryJson,
  ProjectJson,
} from '../../lambda/adapters/forge/gitlab-schemas';
import { auditForPlan, runAudit, writePathFindings } from '../../lambda/core/audit';
import { verdictOf } from '../../lambda/core/findings';

const tpl = (f: string) => JSON.parse(readFileSync(new URL(`../../demo/gitlab-api-templates/${f}`, import.meta.url), 'utf8')) as unknown;

describe('audit templates parse with the adapter schemas', () => {
  it.each([
    ['GET_projects_4242_repository_tree.json', z.array(TreeEntryJson)],
    ['GET_projects_4242_deploy_keys.json', z.array(DeployKeyJson)],
    ['GET_projects_4242_deploy_tokens.json', z.array(DeployTokenJson)],
    ['GET_projects_4242_job_token_scope.json', JobTokenScopeJson],
    ['GET_projects_4242_push_rule.json', PushRuleJson],
    ['GET_projects_4242.settings.json', ProjectSettingsJson],
    ['GET_projects_4242.settings.json', ProjectJson],
  ] as const)('%s', (file, schema) => {
    const r = (schema as z.ZodType).safeParse(tpl(file));
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
  });
  it('a wrong shape is refused (the schemas can fail)', () => {
    expect(z.array(DeployKeyJson).safeParse([{ id: 1, title: 'k' }]).success).toBe(false);
    expect(JobTokenScopeJson.safeParse({ inbound_enabled: 'no' }).success).toBe(false);
  });
});

const COMMIT = fakeSha('release-commit');
let gl: GitLabStandIn;
let project: StandInProject;
beforeEach(async () => {
  gl = await startGitLabStandIn({ token: 'tok' });
  project = gl.model.addProject({ path: 'group/app', id: 41 });
  gl.model.publishRelease(project, { tag: 'v1.0.0', commitSha: COMMIT, assets: [{ name: 'app', bytes: Buffer.from('app\n') }] });
  project.repository.set(COMMIT, {
    Dockerfile: 'FROM rust:1.80\nRUN git clone https://github.com/tpoechtrager/osxcross\n',
    'web/package.json': JSON.stringify({ dependencies: { a: 'github:o/a' } }, null, 2),
    'web/package-lock.json': '{"lockfileVersion":3,"packages":{}}',
  });
});
afterEach(async () => gl.close());
const forge = () => new GitLabForge({ url: gl.url, project: project.path, token: 'tok', retry: { attempts: 1 }, requestTimeoutMs: 10_000 });

describe('GitLabForge: tree and files at a commit', () => {
  it('lists the tree (bounded) and reads raw files', async () => {
    const f = forge();
    const tree = await f.readTree(COMMIT, { maxEntries: 100, maxFiles: 10, maxFileBytes: 10_000, maxTotalBytes: 100_000 });
    expect(
      tree.entries
        .filter((e) => e.type === 'blob')
        .map((e) => e.path)
        .sort(),
    ).toEqual(['Dockerfile', 'web/package-lock.json', 'web/package.json']);
    expect(tree.complete).toBe(true);
    expect(await f.readFile(COMMIT, 'web/package.json', { maxFileBytes: 10_000 })).toContain('github:o/a');
    const cut = await f.readTree(COMMIT, { maxEntries: 2, maxFiles: 10, maxFileBytes: 10_000, maxTotalBytes: 100_000 });
    expect(cut.complete).toBe(false);
    expect(cut.entries.length).toBeLessThanOrEqual(2);
  });
  it('a file over the byte bound is refused by the requester', async () => {
    await expect(forge().readFile(COMMIT, 'Dockerfile', { maxFileBytes: 10 })).rejects.toThrow(/over 10|exceeds 10/);
  });
  it('runAudit reports hygiene with file:line through the API', async () => {
    const r = await runAudit(forge(), { tag: 'v1.0.0', commitSha: COMMIT }, { usesPackageRegistry: false, tagCreationOpen: false });
    expect(r.report.hygiene.findings.map((h) => `${h.code} ${h.file}:${h.line}`)).toEqual([
      'HYGIENE_IMAGE_NOT_PINNED Dockerfile:1',
      'HYGIENE_TOOL_NOT_PINNED Dockerfile:2',
      'HYGIENE_GIT_DEP_NOT_PINNED web/package.json:3',
    ]);
    expect(r.findings.every((f) => f.level === 'NOTICE')).toBe(true);
  });
});

describe('GitLabForge: write paths', () => {
  it('a well-kept project: no write-path finding', async () => {
    project.writePaths = secureWritePaths();
    const paths = await forge().getWritePaths();
    expect(paths.unavailable).toEqual([]);
    expect(writePathFindings(paths, { tag: 'v1.0.0', usesPackageRegistry: false, tagCreationOpen: false })).toEqual([]);
  });
  it('the templates as GitLab documents them: each weakness raised with its code', async () => {
    project.writePaths = insecureWritePaths();
    const paths = await forge().getWritePaths();
    const codes = writePathFindings(paths, { tag: 'v1.0.0', usesPackageRegistry: true, tagCreationOpen: true }).map((f) => f.code);
    expect(codes).toEqual([
      'AUDIT_DEPLOY_KEY_CAN_PUSH',
      'AUDIT_DEPLOY_TOKEN_WRITE',
      'AUDIT_JOB_TOKEN_SCOPE_OPEN',
      'AUDIT_TAG_DELETABLE',
      'AUDIT_RELEASES_OPEN',
      'AUDIT_RELEASES_OPEN',
    ]);
  });
  it('expired or revoked write tokens are not open paths; a tier without push rules (404) is not a finding', async () => {
    project.writePaths = insecureWritePaths();
    project.writePaths.deployTokens = project.writePaths.deployTokens.map((t) => ({ ...t, revoked: true }));
    project.writePaths.pushRule = 'absent';
    const paths = await forge().getWritePaths();
    expect(paths.pushRules).toBe('absent');
    const codes = writePathFindings(paths, { tag: 'v1.0.0', usesPackageRegistry: false, tagCreationOpen: false }).map((f) => f.code);
    expect(codes).toEqual(['AUDIT_DEPLOY_KEY_CAN_PUSH', 'AUDIT_JOB_TOKEN_SCOPE_OPEN']);
  });
  it('403 on each part (a token below Maintainer): AUDIT_UNAVAILABLE naming the permission, the rest still read, verdict untouched', async () => {
    project.writePaths = insecureWritePaths();
    project.writePaths.forbidden = new Set(['deploy_keys', 'deploy_tokens', 'job_token_scope', 'push_rule']);
    const paths = await forge().getWritePaths();
    expect(paths.unavailable.map((u) => u.what)).toEqual(['deploy keys', 'deploy tokens', 'job token scope', 'push rules']);
    const findings = writePathFindings(paths, { tag: 'v1.0.0', usesPackageRegistry: true, tagCreationOpen: false });
    const unavailable = findings.filter((f) => f.code === 'AUDIT_UNAVAILABLE');
    expect(unavailable).toHaveLength(4);
    for (const f of unavailable) expect(f.message).toMatch(/needs a token of a Maintainer.*HTTP 403/);
    expect(findings.map((f) => f.code)).toContain('AUDIT_RELEASES_OPEN'); // settings were still readable
    expect(verdictOf(findings, true)).toBe('VERIFIED');
  });
  it('403 on the repository: hygiene unavailable, no crash', async () => {
    project.writePaths.forbidden = new Set(['repository']);
    const plan = { release: { tag: 'v1.0.0', commitSha: COMMIT, tagCommitSha: COMMIT, links: [] }, targets: [], findings: [] };
    const r = await auditForPlan(forge(), plan);
    const f = r.findings.find((x) => x.code === 'AUDIT_UNAVAILABLE');
    expect(f?.message).toMatch(/repository hygiene .* not checked \(needs read_api/);
    expect(r.report.hygiene.unavailable).toMatch(/403/);
  });
});
