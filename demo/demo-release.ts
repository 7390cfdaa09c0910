/**
 * The demo maintainer's side: a small app in a git repository, its official release build, and its
 * signatures (minisign for the Linux tarball; an OpenPGP-signed SHA256SUMS for the web bundle).
 * Everything here uses Node and npm packages only, so `npm run demo` runs on a fresh machine.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { generateMinisignKey, minisignSign, type MinisignKeyPair } from './minisign-signer';

const TEMPLATE = fileURLToPath(new URL('./app-template/', import.meta.url));

const gitEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_DATE: '2026-11-01T10:00:00Z',
  GIT_COMMITTER_DATE: '2026-11-01T10:00:00Z',
};
export function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    [
      '-c',
      'user.name=Mealplanner Maintainer',
      '-c',
      'user.email=maintainer@mealplanner-app.example',
      '-c',
      'tag.gpgSign=false',
      '-c',
      'commit.gpgSign=false',
      ...args,
    ],
    { cwd, env: gitEnv },
  )
    .toString()
    .trim();
}

export interface DemoRepo {
  dir: string;
  commitSha: string;
  /** the annotated tag object's id (GitLab's tag `target`) */
  tagObjectSha: string;
  tag: string;
  version: string;
  commitDate: string;
}

/** The release commit's build and CI files, with the problems the repository audit finds (demo/repo-hygiene/). */
export const REPO_HYGIENE_FILES = fileURLToPath(new URL('./repo-hygiene/', import.meta.url));

/** Creates the app's repository with one release commit and an annotated tag; `extraDir` is copied over the app first. */
export function createDemoRepo(dir: string, version = '1.0.0', extraDir?: string): DemoRepo {
  rmSync(dir, { recursive: true, force: true });
  cpSync(TEMPLATE, dir, { recursive: true });
  if (extraDir) cpSync(extraDir, dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', `chore(release): ${version}`);
  const tag = `v${version}`;
  git(dir, 'tag', '-a', tag, '-m', `mealplanner ${tag}`);
  return {
    dir,
    tag,
    version,
    commitSha: git(dir, 'rev-parse', 'HEAD'),
    tagObjectSha: git(dir, 'rev-parse', tag),
    commitDate: git(dir, 'log', '-1', '--format=%cI'),
  };
}

/** The maintainer's official build of one target, like their CI would run it: at the tag, with SOURCE_DATE_EPOCH. */
export function officialBuild(repo: DemoRepo, target: 'linux' | 'web', workDir: string, patch?: (srcDir: string) => void): Buffer {
  rmSync(workDir, { recursive: true, force: true });
  execFileSync('git', ['clone', '-q', repo.dir, workDir], { env: gitEnv });
  git(workDir, 'checkout', '-q', repo.tag);
  patch?.(workDir);
  const epoch = git(workDir, 'log', '-1', '--format=%ct');
  execFileSync(process.execPath, ['build.mjs', target], { cwd: workDir, env: { PATH: process.env.PATH ?? '', SOURCE_DATE_EPOCH: epoch }, stdio: 'ignore' });
  const name = target === 'linux' ? `mealplanner_${repo.version}_linux_x64.tar.gz` : `mealplanner_${repo.version}_web.js.gz`;
  return readFileSync(join(workDir, 'dist', name));
}

export interface MaintainerKeys {
  minisign: MinisignKeyPair;
  pgpPrivate: openpgp.PrivateKey;
  pgpPublicArmored: string;
  pgpFingerprint: string;
}

export async function maintainerKeys(): Promise<MaintainerKeys> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs: [{ name: 'Mealplanner Maintainer', email: 'maintainer@mealplanner-app.example' }],
    format: 'object',
  });
  return {
    minisign: generateMinisignKey(),
    pgpPrivate: privateKey,
    pgpPublicArmored: publicKey.armor(),
    pgpFingerprint: publicKey.getFingerprint().toUpperCase(),
  };
}

export function signMinisign(keys: MaintainerKeys, data: Buffer, fileName: string): string {
  return minisignSign(keys.minisign, data, `timestamp:${Math.floor(Date.now() / 1000)}\tfile:${fileName}\thashed`);
}

export async function signOpenpgpDetached(keys: MaintainerKeys, data: Buffer): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return (await openpgp.sign({ message, signingKeys: keys.pgpPrivate, detached: true, format: 'armored' })) as string;
}

export function sha256sums(files: Record<string, Buffer>): string {
  return Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, data]) => `${createHash('sha256').update(data).digest('hex')}  ${name}\n`)
    .join('');
}

export function writeKeys(dir: string, keys: MaintainerKeys): { minisignPub: string; pgpPub: string } {
  mkdirSync(dir, { recursive: true });
  const minisignPub = join(dir, 'minisign.pub');
  const pgpPub = join(dir, 'maintainer.asc');
  writeFileSync(minisignPub, keys.minisign.publicKeyFile);
  writeFileSync(pgpPub, keys.pgpPublicArmored);
  return { minisignPub, pgpPub };
}

/** Every file of the repository at `commitSha` (path → text), as GitLab's tree and raw-file API would serve them. */
export function filesAtCommit(dir: string, commitSha: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const path of git(dir, 'ls-tree', '-r', '--name-only', commitSha).split('\n').filter(Boolean))
    out[path] = git(dir, 'show', `${commitSha}:${path}`) + '\n';
  return out;
}
