/**
 * The forge audit: how well GitLab itself protects what the release depends on. Advisory — these
 * are NOTICE findings that never change the verdict — but they say where an attacker with a
 * Developer account could move a release tag or rewrite the branch it was cut from.
 */
import { errorMessage, ForgeError } from './errors';
import { finding, type Finding, type FindingCode } from './findings';
import { DEFAULT_TREE_LIMITS, runHygiene } from './hygiene/runner';
import type { HygieneHit, TreeReader } from './hygiene/types';
import type { AccessLevel, Forge, ForgeProtections, ForgeWritePaths, TreeLimits } from './ports';
import type { AuditReport } from './report';
import { neutralise } from './text/neutralise';

const MAINTAINER = 40;
const NO_ONE = 0;

/** GitLab protection names are exact names or wildcards where `*` matches any run of characters. */
export function protectionMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
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
      finding(
        'AUDIT_TAG_UNPROTECTED',
        `release tag ${release.tag} matches no protected-tag rule: anyone who can push may create, delete and re-create (move) it`,
        {
          evidence: { tag: release.tag, protectedTags: protections.protectedTags.map((t) => t.name) },
        },
      ),
    );
  } else {
    // GitLab applies the most permissive matching rule
    const wide = tagRules.flatMap((t) => tooWide(t.createAccessLevels).map((l) => ({ rule: t.name, level: l })));
    if (wide.length)
      findings.push(
        finding(
          'AUDIT_TAG_CREATE_TOO_WIDE',
          `release tag ${release.tag} may be created by ${describe(wide.map((w) => w.level))} (rule "${wide[0]!.rule}"); Maintainers only is safer`,
          {
            evidence: { tag: release.tag, rules: wide.map((w) => ({ rule: w.rule, accessLevel: w.level.accessLevel })) },
          },
        ),
      );
  }

  const branch = protections.defaultBranch;
  if (branch) {
    const rules = protections.protectedBranches.filter((b) => protectionMatches(b.name, branch));
    if (rules.length === 0) {
      findings.push(
        finding('AUDIT_BRANCH_UNPROTECTED', `default branch ${branch} is not protected: anyone who can push may rewrite it`, { evidence: { branch } }),
      );
    } else {
      const push = rules.flatMap((r) => tooWide(r.pushAccessLevels));
      if (push.length)
        findings.push(
          finding('AUDIT_BRANCH_PUSH_TOO_WIDE', `default branch ${branch} accepts direct pushes from ${describe(push)}`, {
            evidence: { branch, pushAccessLevels: push.map((l) => l.accessLevel) },
          }),
        );
      if (rules.some((r) => r.allowForcePush))
        findings.push(
          finding('AUDIT_BRANCH_FORCE_PUSH', `default branch ${branch} allows force pushes: its history can be rewritten`, { evidence: { branch } }),
        );
    }
  }
  return findings;
}

// ───────────────────────────── forge write paths (issue 11) ─────────────────────────────

const WRITE_SCOPES = ['write_repository', 'write_registry', 'write_package_registry'];

/** What the release's assets are served from: decides whether an open package registry matters. */
export interface ReleaseExposure {
  tag: string;
  /** true when an asset is fetched from the package registry (generic packages, or links into /packages/) */
  usesPackageRegistry: boolean;
  /** protected-tag findings already raised for the release tag (AUDIT_TAG_UNPROTECTED / AUDIT_TAG_CREATE_TOO_WIDE) */
  tagCreationOpen: boolean;
}

/**
 * Findings for every way to change what users download besides the tag and the branch. Each part
 * the token could not read becomes one AUDIT_UNAVAILABLE naming the permission it needs — never an
 * error, never a verdict change.
 */
export function writePathFindings(paths: ForgeWritePaths, release: ReleaseExposure): Finding[] {
  const findings: Finding[] = [];
  for (const k of paths.deployKeys ?? []) {
    if (k.canPush) {
      findings.push(
        finding('AUDIT_DEPLOY_KEY_CAN_PUSH', `deploy key "${neutralise(k.title)}" (id ${k.id}) has write access: whoever holds it can push commits and tags`, {
          evidence: {
            deployKeyId: k.id,
            title: neutralise(k.title),
            fix: 'make the deploy key read-only (or remove it) in Settings → Repository → Deploy keys',
          },
        }),
      );
    }
  }
  for (const t of paths.deployTokens ?? []) {
    const write = t.scopes.filter((s) => WRITE_SCOPES.includes(s));
    if (t.active && write.length) {
      findings.push(
        finding(
          'AUDIT_DEPLOY_TOKEN_WRITE',
          `deploy token "${neutralise(t.name)}" (id ${t.id}) has ${write.join(', ')}: whoever holds it can change the repository, images or packages`,
          {
            evidence: {
              deployTokenId: t.id,
              name: neutralise(t.name),
              scopes: write,
              fix: 'revoke the token and issue a read-only one (Settings → Repository → Deploy tokens)',
            },
          },
        ),
      );
    }
  }
  if (paths.jobTokenInboundLimited === false) {
    findings.push(
      finding(
        'AUDIT_JOB_TOKEN_SCOPE_OPEN',
        'the CI/CD job token setting "Limit access to this project" is off: jobs of any other project may use their job token against this project',
        {
          evidence: { fix: 'turn on Settings → CI/CD → Job token permissions → "Limit access to this project" with an allow-list' },
        },
      ),
    );
  }
  if (paths.pushRules && paths.pushRules !== 'absent' && !paths.pushRules.denyDeleteTag) {
    findings.push(
      finding('AUDIT_TAG_DELETABLE', 'push rules allow deleting tags with git push: a release tag can be deleted and re-created elsewhere', {
        evidence: { fix: 'turn on "Do not allow users to remove Git tags with git push" in Settings → Repository → Push rules' },
      }),
    );
  }
  if (release.tagCreationOpen) {
    findings.push(
      finding(
        'AUDIT_RELEASES_OPEN',
        `the release for ${release.tag} can be created or edited by Developers: GitLab lets whoever may create the tag create and edit its release (links included)`,
        {
          evidence: { what: 'releases', fix: `protect the release tags (e.g. v*) with "Allowed to create: Maintainers"` },
        },
      ),
    );
  }
  const s = paths.settings;
  if (release.usesPackageRegistry && s && s.packagesEnabled !== false && s.packageRegistryAccessLevel !== 'disabled') {
    findings.push(
      finding(
        'AUDIT_RELEASES_OPEN',
        'release assets are served from the package registry, where Developers may publish (GitLab serves the newest upload of a file name)',
        {
          evidence: {
            what: 'package registry',
            packagesEnabled: s.packagesEnabled,
            packageRegistryAccessLevel: s.packageRegistryAccessLevel,
            fix: 'add a package protection rule (minimum access to push: Maintainer) for the release packages, or serve assets as release links to write-once storage',
          },
        },
      ),
    );
  }
  for (const u of paths.unavailable) {
    findings.push(
      finding('AUDIT_UNAVAILABLE', `${u.what} could not be read (needs ${u.permission}): ${neutralise(u.reason)}`, {
        evidence: { what: u.what, permission: u.permission, reason: neutralise(u.reason) },
      }),
    );
  }
  return findings;
}

// ───────────────────────────── the run's audit (issue 11) ─────────────────────────────

/** The maintainer's checklist, each item with the checks that automate it or why none can. */
export const AUDIT_CHECKLIST: AuditReport['checklist'] = [
  {
    item: 'Rebuild and compare the published binaries',
    automatedBy: ['ARTIFACT_MISMATCH', 'SIGNATURE_INVALID'],
    note: 'the verdict: every run rebuilds at the release commit and compares',
  },
  {
    item: 'Pin build images',
    automatedBy: ['HYGIENE_IMAGE_NOT_PINNED', 'IMAGE_NOT_DIGEST_PINNED'],
    note: 'Dockerfile/Containerfile FROM and COPY --from, .gitlab-ci.yml image:/services:',
  },
  {
    item: 'Pin build tools (osxcross, cross) by revision',
    automatedBy: ['HYGIENE_TOOL_NOT_PINNED'],
    note: 'git clone without a checkout of a full SHA; cargo install --git without --rev; ADD of a git URL',
  },
  {
    item: 'Pin git dependencies',
    automatedBy: ['HYGIENE_GIT_DEP_NOT_PINNED'],
    note: 'Cargo.toml git dependencies without rev; package.json git/GitHub/URL dependencies without a commit',
  },
  { item: 'Pin the Rust toolchain', automatedBy: ['HYGIENE_TOOLCHAIN_NOT_PINNED'], note: 'rust-toolchain(.toml) naming a channel' },
  {
    item: 'Lock files with integrity hashes',
    automatedBy: ['HYGIENE_LOCKFILE_MISSING'],
    note: 'Cargo.lock / package-lock.json present, every registry entry with a checksum/integrity',
  },
  { item: 'No custom PPAs', automatedBy: ['HYGIENE_APT_SOURCE'], note: "add-apt-repository, ppa:, apt sources other than the distribution's" },
  {
    item: 'No piped installers, every download checked',
    automatedBy: ['HYGIENE_REMOTE_SCRIPT', 'HYGIENE_UNVERIFIED_DOWNLOAD'],
    note: 'curl … | sh; ADD <url> without --checksum; downloads never checked',
  },
  {
    item: 'No release building left in .gitlab-ci.yml',
    automatedBy: ['HYGIENE_CI_PUBLISHES_RELEASE', 'HYGIENE_CI_INCLUDE_NOT_PINNED'],
    note: 'release: keyword, release-cli, package uploads; includes that follow a branch',
  },
  {
    item: 'No force pushes to main',
    automatedBy: ['AUDIT_BRANCH_FORCE_PUSH', 'AUDIT_BRANCH_UNPROTECTED', 'AUDIT_BRANCH_PUSH_TOO_WIDE'],
    note: 'protected-branch settings of the default branch',
  },
  {
    item: 'No force pushes to tags (release tags never move)',
    automatedBy: ['AUDIT_TAG_UNPROTECTED', 'AUDIT_TAG_CREATE_TOO_WIDE', 'AUDIT_TAG_DELETABLE', 'TAG_MOVED'],
    note: 'protected tags and push rules; the ledger catches a tag that did move',
  },
  {
    item: 'Deploy keys and tokens read-only',
    automatedBy: ['AUDIT_DEPLOY_KEY_CAN_PUSH', 'AUDIT_DEPLOY_TOKEN_WRITE'],
    note: 'needs a token of a Maintainer; otherwise AUDIT_UNAVAILABLE names it',
  },
  {
    item: 'CI job tokens of other projects cannot reach this one',
    automatedBy: ['AUDIT_JOB_TOKEN_SCOPE_OPEN'],
    note: 'job token inbound allow-list (Maintainer to read)',
  },
  {
    item: 'Releases and packages writable by Maintainers only',
    automatedBy: ['AUDIT_RELEASES_OPEN'],
    note: 'release creation follows tag creation; package registry uploads are open to Developers (package protection rules are not read yet)',
  },
  {
    item: 'Two-factor authentication for every member',
    automatedBy: [],
    note: "not automatable here: members' 2FA status is visible to group owners and admins only, never to a read_api token",
  },
  {
    item: 'Signing keys kept offline',
    automatedBy: [],
    note: 'not automatable: where a key is kept cannot be observed; the pinned-signer check (SIGNER_NOT_PINNED) catches a different key',
  },
  {
    item: 'Review what the pins point at',
    automatedBy: [],
    note: 'not automatable: pins make a change visible, whether the pinned code is benign is a human review',
  },
];

export interface AuditLimits {
  tree: TreeLimits;
}

export interface RunAuditResult {
  findings: Finding[];
  report: Omit<AuditReport, 'changes'>;
}

function hygieneFinding(h: HygieneHit): Finding {
  return finding(h.code as FindingCode, `${h.file}:${h.line}: ${h.text}`, { evidence: { file: h.file, line: h.line, text: h.text, fix: h.fix } });
}

/** the forge's tree reader at a commit, or null when the forge cannot read trees */
export function forgeTreeReader(forge: Forge, commitSha: string, limits: TreeLimits): TreeReader | null {
  if (!forge.readTree || !forge.readFile) return null;
  const readTree = forge.readTree.bind(forge);
  const readFile = forge.readFile.bind(forge);
  return { commitSha, list: () => readTree(commitSha, limits), read: (path) => readFile(commitSha, path, limits) };
}

/**
 * The whole audit of one run beyond the protections planRun already judged: repository hygiene at
 * the release commit and the forge's write paths. Never throws: what cannot be read is an
 * AUDIT_UNAVAILABLE finding naming why.
 */
export async function runAudit(
  forge: Forge,
  release: { tag: string; commitSha: string },
  exposure: Omit<ReleaseExposure, 'tag'>,
  limits: AuditLimits = { tree: DEFAULT_TREE_LIMITS },
): Promise<RunAuditResult> {
  const findings: Finding[] = [];
  const report: Omit<AuditReport, 'changes'> = {
    commitSha: release.commitSha,
    hygiene: { findings: [], coverage: null },
    writePaths: { checked: [], unavailable: [] },
    checklist: AUDIT_CHECKLIST,
  };
  const reader = forgeTreeReader(forge, release.commitSha, limits.tree);
  if (!reader) {
    report.hygiene.unavailable = 'this forge adapter cannot read repository trees';
    findings.push(
      finding('AUDIT_UNAVAILABLE', `repository hygiene at ${release.commitSha} not checked: ${report.hygiene.unavailable}`, {
        evidence: { what: 'repository tree', permission: 'read_api' },
      }),
    );
  } else {
    try {
      const h = await runHygiene(reader, limits.tree);
      report.hygiene = { findings: h.hits, coverage: h.coverage };
      findings.push(...h.hits.map(hygieneFinding));
      if (!h.coverage.complete) {
        const why = h.coverage.treeComplete
          ? `${h.coverage.skipped.length} file(s) not checked (${h.coverage.skipped
              .slice(0, 3)
              .map((s) => `${s.file}: ${s.reason}`)
              .join('; ')})`
          : `the tree listing was cut at ${h.coverage.treeEntries} entries`;
        findings.push(
          finding('AUDIT_UNAVAILABLE', `repository hygiene at ${release.commitSha} is partial: ${why}`, {
            evidence: { what: 'repository tree', permission: 'read_api', skipped: h.coverage.skipped.slice(0, 20) },
          }),
        );
      }
    } catch (err) {
      report.hygiene.unavailable = neutralise(errorMessage(err));
      const permission = err instanceof ForgeError && err.kind === 'unauthorized' ? 'read_api (repository read access)' : 'read_api';
      findings.push(
        finding('AUDIT_UNAVAILABLE', `repository hygiene at ${release.commitSha} not checked (needs ${permission}): ${report.hygiene.unavailable}`, {
          evidence: { what: 'repository tree', permission },
        }),
      );
    }
  }
  if (!forge.getWritePaths) {
    findings.push(
      finding('AUDIT_UNAVAILABLE', 'forge write paths not checked: this forge adapter cannot read them', {
        evidence: { what: 'write paths', permission: 'read_api' },
      }),
    );
  } else {
    try {
      const paths = await forge.getWritePaths();
      report.writePaths = {
        checked: [
          paths.deployKeys !== null ? 'deploy keys' : null,
          paths.deployTokens !== null ? 'deploy tokens' : null,
          paths.jobTokenInboundLimited !== null ? 'job token scope' : null,
          paths.pushRules !== null ? 'push rules' : null,
          paths.settings !== null ? 'release and package settings' : null,
        ].filter((x): x is string => x !== null),
        unavailable: paths.unavailable,
      };
      findings.push(...writePathFindings(paths, { tag: release.tag, ...exposure }));
    } catch (err) {
      findings.push(
        finding('AUDIT_UNAVAILABLE', `forge write paths could not be read: ${neutralise(errorMessage(err))}`, {
          evidence: { what: 'write paths', permission: 'read_api' },
        }),
      );
    }
  }
  return { findings, report };
}

/** What of a plan the audit needs (RunPlan has all of it). */
export interface AuditablePlan {
  release: { tag: string; commitSha: string; tagCommitSha: string; links: { url: string }[] };
  targets: { artifacts: { source: { type: string } }[] }[];
  findings: readonly Finding[];
}

/** runAudit for a planned run: the release commit, and how exposed its assets are. */
export function auditForPlan(forge: Forge, plan: AuditablePlan, limits?: AuditLimits): Promise<RunAuditResult> {
  const usesPackageRegistry =
    plan.targets.some((t) => t.artifacts.some((a) => a.source.type === 'generic-package')) || plan.release.links.some((l) => /\/packages\//.test(l.url));
  const tagCreationOpen = plan.findings.some((f) => f.code === 'AUDIT_TAG_UNPROTECTED' || f.code === 'AUDIT_TAG_CREATE_TOO_WIDE');
  // the tree the builds check out: the tag's commit
  return runAudit(forge, { tag: plan.release.tag, commitSha: plan.release.tagCommitSha }, { usesPackageRegistry, tagCreationOpen }, limits);
}
