/**
 * Test doubles for the serverless run: a forge over a directory (GitLab itself is covered by the
 * forge adapter's own tests), a git repository made at test time, a CodeBuild double that runs
 * each build with the local builder and uploads what the buildspec would stage, and build
 * state-change events shaped exactly like AWS's (sample-build-notifications-ref).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand, type Build, type StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { parseConfig } from '../../lambda/core/config/load';
import { planTargets, type RunPlan } from '../../lambda/core/run/plan';
import type { Config, ConfigInput } from '../../lambda/core/config/schema';
import { ForgeError } from '../../lambda/core/errors';
import type { AssetRequest, DownloadLimits, DownloadedFile, Forge, Release, ReleaseHistory } from '../../lambda/core/ports';
import { copyAndHash } from '../../lambda/formats/digest';
import { LocalBuilder } from '../../lambda/adapters/builder/local-builder';
import { ARTIFACTS_NAME, artifactsPathFor, BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
    .toString()
    .trim();
}

/** A repository with one commit; returns its path and HEAD. */
export async function makeRepo(files: Record<string, string>): Promise<{ dir: string; head: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'relverify-repo-'));
  git(dir, 'init', '--quiet', '-b', 'main');
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'release');
  git(dir, 'tag', 'v1.0.0');
  return { dir, head: git(dir, 'rev-parse', 'HEAD') };
}

/** A Forge over a directory of "published" assets. */
export class DirectoryForge implements Forge {
  downloads: string[] = [];
  constructor(
    readonly release: Release,
    private readonly assetsDir: string,
    private readonly repo: string,
  ) {}
  async getRelease(tag?: string): Promise<Release> {
    if (tag && tag !== this.release.tag) throw new ForgeError('not-found', `release ${tag} not found`, { status: 404 });
    return this.release;
  }
  async downloadAsset(request: AssetRequest, destPath: string, limits: DownloadLimits): Promise<DownloadedFile> {
    this.downloads.push(request.name);
    const path = join(this.assetsDir, request.name);
    try {
      await readFile(path);
    } catch {
      throw new ForgeError('not-found', `${request.name} is not a link of ${this.release.tag}`, { status: 404 });
    }
    const { sha256, size } = await copyAndHash(createReadStream(path), destPath, { maxBytes: limits.maxBytes, timeoutMs: limits.timeoutMs });
    return { path: destPath, sha256, size, url: `https://gitlab.example/g/app/-/releases/${this.release.tag}/downloads/${request.name}` };
  }
  cloneUrl(): string {
    return this.repo;
  }
  async getHistory(): Promise<ReleaseHistory> {
    const r = this.release;
    return {
      releases: [{ tag: r.tag, commitSha: r.commitSha, links: r.links.map((l) => ({ name: l.name, url: l.url })) }],
      tags: { [r.tag]: r.tagCommitSha },
      complete: true,
    };
  }
  /** protections as a well-kept project has them: all tags and the default branch Maintainers-only */
  async getProtections() {
    const maintainers = [{ accessLevel: 40 }];
    return {
      defaultBranch: 'main',
      protectedTags: [{ name: '*', createAccessLevels: maintainers }],
      protectedBranches: [{ name: 'main', pushAccessLevels: maintainers, mergeAccessLevels: maintainers, allowForcePush: false }],
    };
  }
}

export function testConfig(overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.example', project: 'g/app' },
    alerts: { emails: ['ops@example.com'], notifyOnVerified: true },
    targets: [],
    ...overrides,
  });
}

export const IMAGE = `debian@sha256:${'c'.repeat(64)}`;

/**
 * A run plan for release v2.0.0 at `sha`, expanded from `config` by the real planner (so fixtures
 * cannot drift from what the launcher would write). `only` keeps a subset of the targets.
 */
export function planFor(config: Config, runId: string, sha: string, only?: string[]): RunPlan {
  const release: Release = { tag: 'v2.0.0', name: 'v2.0.0', commitSha: sha, tagCommitSha: sha, links: [] };
  const { version, targets } = planTargets(config, release);
  return {
    schemaVersion: 1,
    runId,
    createdAt: '2026-03-02T03:00:00.000Z',
    project: { gitlabUrl: config.gitlab.url, project: config.gitlab.project },
    release,
    version,
    targets: only ? targets.filter((t) => only.includes(t.name)) : targets,
    findings: [],
  };
}

/** The build state-change event exactly as EventBridge delivers it (AWS docs sample, all fields). */
export function stateChangeEvent(build: Build, options: { lieSha256?: string } = {}): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: REGION,
    resources: [build.arn],
    detail: {
      'build-status': build.buildStatus,
      'project-name': build.projectName,
      'build-id': build.arn,
      'additional-information': {
        artifact: {
          md5sum: 'd41d8cd98f00b204e9800998ecf8427e',
          sha256sum: options.lieSha256 ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          location: build.artifacts?.location ?? '',
        },
        environment: {
          image: build.environment?.image,
          'privileged-mode': false,
          'compute-type': build.environment?.computeType,
          type: build.environment?.type,
          'environment-variables': (build.environment?.environmentVariables ?? []).map((v) => ({ name: v.name, type: v.type, value: v.value })),
        },
        'timeout-in-minutes': 60,
        'build-complete': true,
        initiator: `release-verifier-launcher`,
        'build-start-time': 'Jan 1, 2026 3:00:00 AM',
        source: { type: 'NO_SOURCE' },
        'source-version': undefined,
        logs: { 'group-name': `/aws/codebuild/${build.projectName}`, 'stream-name': build.id?.split(':')[1], 'deep-link': build.logs?.deepLink },
        phases: (build.phases ?? []).map((p) => ({ 'phase-type': p.phaseType, 'phase-status': p.phaseStatus, 'duration-in-seconds': 1, 'phase-context': [] })),
      },
      'current-phase': 'COMPLETED',
      'current-phase-context': '[: ]',
      version: '1',
    },
  };
}

export interface CodeBuildDouble {
  client: CodeBuildClient;
  builds: Map<string, Build>;
  /** resolves when every started build has finished and uploaded */
  settled(): Promise<void>;
  startCalls(): StartBuildCommandInput[];
}

/**
 * CodeBuild behind aws-sdk-client-mock: StartBuild runs the local builder (clone at the commit,
 * verify HEAD, run the command), then "uploads" the staged artifacts to the artifacts bucket at
 * builds/<target>/<uuid>/out/ as the project's S3 artifacts would; BatchGetBuilds answers from
 * what happened. Idempotency tokens behave as in CodeBuild (same token → same build).
 */
export function codeBuildDouble(options: { config: Config; projects: Record<string, string>; s3: S3Client; artifactsBucket: string }): CodeBuildDouble {
  const client = new CodeBuildClient({ region: REGION });
  const mock = mockClient(client);
  const builds = new Map<string, Build>();
  const byToken = new Map<string, string>();
  const pending: Promise<void>[] = [];
  const builder = new LocalBuilder({ docker: 'never' });
  const targetOfProject = Object.fromEntries(Object.entries(options.projects).map(([t, p]) => [p, t]));

  mock.on(StartBuildCommand).callsFake(async (input: StartBuildCommandInput) => {
    const token = input.idempotencyToken;
    if (token && byToken.has(token)) return { build: builds.get(byToken.get(token)!) };
    const targetName = targetOfProject[input.projectName!];
    const target = options.config.targets.find((t) => t.name === targetName);
    if (!target) throw Object.assign(new Error(`Project cannot be found: ${input.projectName}`), { name: 'ResourceNotFoundException' });
    const uuid = randomUUID();
    const id = `${input.projectName}:${uuid}`;
    const env = [
      { name: BUILD_ENV.command, value: target.command, type: 'PLAINTEXT' as const },
      { name: BUILD_ENV.target, value: target.name, type: 'PLAINTEXT' as const },
      ...(input.environmentVariablesOverride ?? []),
    ];
    const envMap = new Map(env.map((e) => [e.name!, e.value!]));
    const build: Build = {
      id,
      arn: `arn:aws:codebuild:${REGION}:${ACCOUNT}:build/${id}`,
      projectName: input.projectName,
      buildStatus: 'IN_PROGRESS',
      buildComplete: false,
      startTime: new Date(),
      environment: { type: 'LINUX_CONTAINER', image: target.image, computeType: 'BUILD_GENERAL1_MEDIUM', environmentVariables: env },
      logs: {
        deepLink: `https://console.aws.amazon.com/cloudwatch/home?region=${REGION}#logsV2:log-groups/log-group/$252Faws$252Fcodebuild$252F${input.projectName}`,
      },
    };
    builds.set(id, build);
    if (token) byToken.set(token, id);
    pending.push(
      (async () => {
        const result = await builder.run({
          runId: envMap.get(BUILD_ENV.runId)!,
          target,
          cloneUrl: envMap.get(BUILD_ENV.cloneUrl)!,
          commitSha: envMap.get(BUILD_ENV.commit)!,
          tag: envMap.get(BUILD_ENV.tag)!,
          version: envMap.get(BUILD_ENV.version)!,
        });
        const prefix = `${artifactsPathFor(target.name)}/${uuid}/${ARTIFACTS_NAME}`;
        if (result.status === 'SUCCEEDED') {
          const scratch = await mkdtemp(join(tmpdir(), 'relverify-upload-'));
          for (const p of (envMap.get(BUILD_ENV.artifacts) ?? '').split('\n').filter(Boolean)) {
            const got = await result.artifacts.fetch(p, join(scratch, String(Math.random())), { maxBytes: 1 << 30, timeoutMs: 60_000 });
            if (got) await options.s3.send(new PutObjectCommand({ Bucket: options.artifactsBucket, Key: `${prefix}/${p}`, Body: await readFile(got.path) }));
          }
        }
        build.buildStatus = result.status === 'SUCCEEDED' ? 'SUCCEEDED' : result.status === 'TIMED_OUT' ? 'TIMED_OUT' : 'FAILED';
        build.buildComplete = true;
        build.endTime = new Date();
        build.artifacts = { location: `arn:aws:s3:::${options.artifactsBucket}/${prefix}` };
        build.phases = [
          { phaseType: 'PRE_BUILD', phaseStatus: result.status === 'NOT_STARTED' ? 'FAILED' : 'SUCCEEDED' },
          ...(result.status === 'NOT_STARTED'
            ? []
            : [
                {
                  phaseType: 'BUILD' as const,
                  phaseStatus: result.status === 'SUCCEEDED' ? ('SUCCEEDED' as const) : ('FAILED' as const),
                  contexts: result.message ? [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: result.message }] : [],
                },
              ]),
        ];
      })(),
    );
    return { build: { id, arn: build.arn, buildStatus: 'IN_PROGRESS' } };
  });
  mock.on(BatchGetBuildsCommand).callsFake(async (input: { ids: string[] }) => ({
    builds: input.ids.filter((i) => builds.has(i)).map((i) => structuredClone(builds.get(i)!)),
    buildsNotFound: input.ids.filter((i) => !builds.has(i)),
  }));
  return {
    client,
    builds,
    settled: async () => {
      await Promise.all(pending);
      await builder.dispose();
    },
    startCalls: () => mock.commandCalls(StartBuildCommand).map((c) => c.args[0].input),
  };
}
