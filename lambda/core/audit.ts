/**
 * The forge audit: how well GitLab itself protects what the release depends on. Advisory — these
 * are NOTICE findings that never change the verdict — but they say where an attacker with a
 * Developer account could move a release tag or rewrite the branch it was cut from.
 */
import { finding, type Finding } from './findings';
import type { AccessLevel, ForgeProtections } from './ports';

const MAINTAINER = 40;
const NO_ONE = 0;

/** GitLab protection names are exact names or wildcards where `*` matches any run of characters. */
export function protectionMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}

/** Role entries below Maintainer (Developer, Reporter…) open the action to every such member. */
function tooWide(levels: AccessLevel[]): AccessLevel[] {
  return levels.filter((l) => l.userId == null && l.groupId == null && l.accessLevel !== NO_ONE && l.accessLevel < MAINTAINER);
}

function describe(levels: AccessLevel[]): string {
  return levels.map((l) => l.description ?? `level ${l.accessLevel}`).join(', ');
}

export function auditFindings(protections: ForgeProtections, release: { tag: string }): Finding[] {
  const findings: Finding[] = [];
  const tagRules = protections.protectedTags.filter((t) => protectionMatches(t.name, release.tag));
  if (tagRules.length === 0) {
    findings.push(
      finding('AUDIT_TAG_UNPROTECTED', `release tag ${release.tag} matches no protected-tag rule: anyone who can push may create, delete and re-create (move) it`, {
        evidence: { tag: release.tag, protectedTags: protections.protectedTags.map((t) => t.name) },
      }),
    );
  } else {
    // GitLab applies the most permissive matching rule
    const wide = tagRules.flatMap((t) => tooWide(t.createAccessLevels).map((l) => ({ rule: t.name, level: l })));
    if (wide.length)
      findings.push(
        finding('AUDIT_TAG_CREATE_TOO_WIDE', `release tag ${release.tag} may be created by ${describe(wide.map((w) => w.level))} (rule "${wide[0]!.rule}"); Maintainers only is safer`, {
          evidence: { tag: release.tag, rules: wide.map((w) => ({ rule: w.rule, accessLevel: w.level.accessLevel })) },
        }),
      );
  }

  const branch = protections.defaultBranch;
  if (branch) {
    const rules = protections.protectedBranches.filter((b) => protectionMatches(b.name, branch));
    if (rules.length === 0) {
      findings.push(finding('AUDIT_BRANCH_UNPROTECTED', `default branch ${branch} is not protected: anyone who can push may rewrite it`, { evidence: { branch } }));
    } else {
      const push = rules.flatMap((r) => tooWide(r.pushAccessLevels));
      if (push.length)
        findings.push(finding('AUDIT_BRANCH_PUSH_TOO_WIDE', `default branch ${branch} accepts direct pushes from ${describe(push)}`, { evidence: { branch, pushAccessLevels: push.map((l) => l.accessLevel) } }));
      if (rules.some((r) => r.allowForcePush))
        findings.push(finding('AUDIT_BRANCH_FORCE_PUSH', `default branch ${branch} allows force pushes: its history can be rewritten`, { evidence: { branch } }));
    }
  }
  return findings;
}
