/**
 * The forge audit over GitLab's real response shapes (the reference protected_tags/branches
 * answers, served by the stand-in and read by the GitLab forge), and its matching rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitLabForge } from '../../lambda/adapters/forge/gitlab-forge';
import { auditFindings, protectionMatches } from '../../lambda/core/audit';
import { PROTECTIONS, startGitLabStandIn, type GitLabStandIn, type StandInProject } from '../../demo/gitlab-standin';

let gl: GitLabStandIn;
let project: StandInProject;
const forge = () => new GitLabForge({ url: gl.url, project: 'mealplanner/mealplanner', token: 'glpat-audit', retry: { attempts: 1 } });

beforeAll(async () => {
  gl = await startGitLabStandIn({ token: 'glpat-audit' });
  project = gl.model.addProject({ path: 'mealplanner/mealplanner' });
});
afterAll(() => gl.close());

describe('forge audit', () => {
  it('is silent for the secure reference project (all tags and main: Maintainers only, no force push)', async () => {
    project.protectedTags = structuredClone(PROTECTIONS.secure.tags) as any;
    project.protectedBranches = structuredClone(PROTECTIONS.secure.branches) as any;
    const p = await forge().getProtections();
    expect(p.defaultBranch).toBe('main');
    expect(auditFindings(p, { tag: 'v0.4.0' })).toEqual([]);
  });

  it('names each weakness of the insecure reference project, as notices', async () => {
    project.protectedTags = structuredClone(PROTECTIONS.insecure.tags) as any;
    project.protectedBranches = structuredClone(PROTECTIONS.insecure.branches) as any;
    const findings = auditFindings(await forge().getProtections(), { tag: 'v0.4.0' });
    expect(findings.map((f) => f.code).sort()).toEqual(['AUDIT_BRANCH_FORCE_PUSH', 'AUDIT_BRANCH_PUSH_TOO_WIDE', 'AUDIT_TAG_UNPROTECTED']);
    expect(findings.every((f) => f.level === 'NOTICE')).toBe(true);
    // a release-* tag is protected there, but Developers may create it
    expect(auditFindings(await forge().getProtections(), { tag: 'release-7' }).map((f) => f.code)).toContain('AUDIT_TAG_CREATE_TOO_WIDE');
  });

  it('flags an unprotected default branch', () => {
    expect(
      auditFindings(
        { defaultBranch: 'main', protectedTags: [{ name: 'v*', createAccessLevels: [{ accessLevel: 40 }] }], protectedBranches: [] },
        { tag: 'v1' },
      ).map((f) => f.code),
    ).toEqual(['AUDIT_BRANCH_UNPROTECTED']);
  });

  it('does not count per-user grants or "No one" as too wide', () => {
    const p = { protectedTags: [{ name: '*', createAccessLevels: [{ accessLevel: 30, userId: 7 }, { accessLevel: 0 }] }], protectedBranches: [] };
    expect(auditFindings(p, { tag: 'v1' })).toEqual([]);
  });

  it('matches GitLab wildcards', () => {
    expect(protectionMatches('*', 'v1.2.3')).toBe(true);
    expect(protectionMatches('v*', 'v1.2.3')).toBe(true);
    expect(protectionMatches('release-*', 'v1.2.3')).toBe(false);
    expect(protectionMatches('v1.*', 'v1.2')).toBe(true);
    expect(protectionMatches('v1.2', 'v1x2')).toBe(false); // "." is literal
    expect(protectionMatches('main', 'main')).toBe(true);
  });
});
