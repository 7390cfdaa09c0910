/**
 * The mismatch diff job: CDK assertions on the synthesized template (image pinned, untrusted-code
 * boundary, least privilege read from the policy documents themselves, who may start it), and the
 * shipped buildspecs/diffoscope.yml executed with `sh` as CodeBuild runs it — with the real
 * diffoscope and an `aws` stub that maps s3://bucket/key onto a directory.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import { DIFF_ENV } from '../../lambda/adapters/builder/codebuild-diff-env';
import { buildspecObject } from '../../lib/buildspec';
import { DEFAULT_DIFFOSCOPE_IMAGE, validateDiffImage } from '../../lib/constructs/diff-job-project';
import { ReleaseVerifierStack, type ReleaseVerifierStackProps } from '../../lib/release-verifier-stack';
import { toolsAvailable } from '../support/tools';

const IMG = `public.ecr.aws/docker/library/rust@sha256:${'5'.repeat(64)}`;
const none = { scheme: 'none', reason: 'test asset' } as const;
const config = parseConfig({
  version: 1,
  gitlab: { url: 'https://gitlab.com', project: 'group/app' },
  alerts: { emails: ['ops@example.com'] },
  targets: [
    { name: 'linux-x64', image: IMG, command: 'make', artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }] },
    { name: 'linux-arm', image: IMG, command: 'make', artifacts: [{ path: 'dist/app', asset: 'app-arm-{version}', signature: none }] },
  ],
});

function synth(extra: Partial<ReleaseVerifierStackProps> = {}, context: Record<string, string> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new ReleaseVerifierStack(app, 'RV', { config, ...extra });
  return { stack, template: Template.fromStack(stack) };
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
type Res = { Properties: Record<string, any>; DeletionPolicy?: string };

const { stack, template } = synth();
const resources = (type: string) => template.findResources(type) as Record<string, Res>;
const DIFF_PROJECT = 'relverify-rv--diffoscope';
const diffProjectEntry = () => Object.entries(resources('AWS::CodeBuild::Project')).find(([, r]) => r.Properties.Name === DIFF_PROJECT)!;
const artifactsBucketId = () =>
  Object.entries(resources('AWS::S3::Bucket')).find(([id, r]) => !r.Properties.ObjectLockEnabled && id.startsWith('ArtifactsBucket'))![0];
const resultsBucketId = () => Object.entries(resources('AWS::S3::Bucket')).find(([, r]) => r.Properties.ObjectLockEnabled)![0];
const statementsOfRole = (roleId: string): Statement[] =>
  Object.values(resources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
const actions = (s: Statement) => [s.Action].flat();
/** `{Fn::Join: ['', [{Fn::GetAtt: [bucket, 'Arn']}, '/diffs/*\/published']]}` → `bucket:/diffs/*\/published` */
const objectArn = (r: unknown): string => {
  const join = (r as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return JSON.stringify(r);
  const [head, ...rest] = join[1];
  const bucket = (head as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0] ?? JSON.stringify(head);
  return `${bucket}:${rest.join('')}`;
};
const functionWithEnv = (name: string) =>
  Object.values(resources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.[name] !== undefined)!;

describe('diff job project', () => {
  it('Debian image pinned by digest, inline shipped buildspec, no source, no cache, not privileged', () => {
    const p = diffProjectEntry()[1].Properties;
    expect(DEFAULT_DIFFOSCOPE_IMAGE).toMatch(/^public\.ecr\.aws\/docker\/library\/debian@sha256:[0-9a-f]{64}$/);
    expect(p.Environment.Image).toBe(DEFAULT_DIFFOSCOPE_IMAGE);
    expect(p.Environment.Type).toBe('LINUX_CONTAINER');
    expect(p.Environment.PrivilegedMode).toBe(false);
    expect(p.Source.Type).toBe('NO_SOURCE');
    expect(p.Cache ?? { Type: 'NO_CACHE' }).toEqual({ Type: 'NO_CACHE' });
    expect(p.Artifacts).toEqual({ Type: 'NO_ARTIFACTS' });
    expect(p.EncryptionKey).toBeDefined();
    const spec = p.Source.BuildSpec as string;
    expect(spec).toContain('apt-get install -y -qq --no-install-recommends ca-certificates diffoscope-minimal awscli');
    expect(spec).toContain('diffoscope --no-progress --timeout "$limit"');
    expect(spec).not.toMatch(/arn:aws:s3|buildspec\.yml/);
    expect(p.Environment.EnvironmentVariables).toEqual(
      expect.arrayContaining([
        { Name: DIFF_ENV.bucket, Type: 'PLAINTEXT', Value: { Ref: artifactsBucketId() } },
        { Name: DIFF_ENV.timeoutSeconds, Type: 'PLAINTEXT', Value: '1800' },
      ]),
    );
    expect(p.TimeoutInMinutes).toBe(30 + 25);
  });

  it('image, time limit and compute type are props; an unpinned image fails synth', () => {
    const image = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/diffoscope@sha256:${'a'.repeat(64)}`;
    const t = synth({ diffJob: { image, diffTimeout: { toSeconds: () => 600, toMinutes: () => 10 } as never } }).template;
    const p = Object.values(t.findResources('AWS::CodeBuild::Project')).find((r) => r.Properties.Name === DIFF_PROJECT)!.Properties;
    expect(p.Environment.Image).toBe(image);
    expect(p.Environment.EnvironmentVariables).toContainEqual({ Name: DIFF_ENV.timeoutSeconds, Type: 'PLAINTEXT', Value: '600' });
    expect(p.TimeoutInMinutes).toBe(35);
    // or from the deploy command line: cdk deploy -c diffJobImage=…
    const fromContext = Object.values(synth({}, { diffJobImage: image }).template.findResources('AWS::CodeBuild::Project')).find(
      (r) => r.Properties.Name === DIFF_PROJECT,
    )!;
    expect(fromContext.Properties.Environment.Image).toBe(image);
    expect(() => synth({}, { diffJobImage: 'debian:bookworm' })).toThrow(/must be pinned by digest/);
    expect(() => validateDiffImage('debian:bookworm')).toThrow(/diff job: image "debian:bookworm" must be pinned by digest/);
    expect(() => synth({ diffJob: { image: 'public.ecr.aws/docker/library/debian:bookworm-slim' } })).toThrow(/must be pinned by digest/);
  });

  it('role: untrusted-code boundary; reads only diff inputs, writes only reports; nothing of token, results, alerts, builds', () => {
    const roleId = diffProjectEntry()[1].Properties.ServiceRole['Fn::GetAtt'][0] as string;
    const role = resources('AWS::IAM::Role')[roleId]!;
    const boundary = resources('AWS::IAM::ManagedPolicy')[role.Properties.PermissionsBoundary.Ref]!;
    const boundaryDoc = JSON.stringify(boundary.Properties.PolicyDocument);
    expect(boundaryDoc).not.toMatch(/secretsmanager|ssm:|sns:|\/builds\//);
    // the boundary carries the same S3 scope as the identity policy
    for (const key of ['/diffs/*/published', '/diffs/*/rebuilt', '/diffs/*/report.html', '/diffs/*/report.txt']) expect(boundaryDoc).toContain(key);

    const statements = statementsOfRole(roleId);
    const s3 = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    const bucket = artifactsBucketId();
    expect(s3.map((s) => ({ actions: actions(s), resources: [s.Resource].flat().map(objectArn).sort() }))).toEqual([
      { actions: ['s3:GetObject'], resources: [`${bucket}:/diffs/*/published`, `${bucket}:/diffs/*/rebuilt`] },
      { actions: ['s3:PutObject'], resources: [`${bucket}:/diffs/*/report.html`, `${bucket}:/diffs/*/report.txt`] },
    ]);
    const doc = JSON.stringify(statements);
    expect(doc).not.toContain(resultsBucketId());
    expect(doc).not.toMatch(/secretsmanager|sns:|codebuild:StartBuild|events:PutEvents|s3:DeleteObject|"s3:\*"|\/builds\//);
  });

  it('the checker may start only the diff job, never with a buildspec override, and upload only its inputs', () => {
    const checker = functionWithEnv('DIFF_PROJECT');
    expect(checker.Properties.Environment.Variables.DIFF_PROJECT).toEqual({ Ref: diffProjectEntry()[0] });
    const statements = statementsOfRole(checker.Properties.Role['Fn::GetAtt'][0]);
    const diffArn = { 'Fn::GetAtt': [diffProjectEntry()[0], 'Arn'] };
    const starts = statements.filter((s) => actions(s).includes('codebuild:StartBuild'));
    expect(starts).toEqual([{ Sid: 'StartDiffJobs', Effect: 'Allow', Action: 'codebuild:StartBuild', Resource: diffArn }]);
    // overrides are denied by a managed policy on the role (test/iam/deny-matrix.test.ts evaluates it)
    const guard = Object.values(resources('AWS::IAM::ManagedPolicy')).find((p) =>
      JSON.stringify(p.Properties.Roles ?? []).includes(checker.Properties.Role['Fn::GetAtt'][0]),
    )!;
    const denies = guard.Properties.PolicyDocument.Statement as { Effect: string; Resource: unknown; Condition: Record<string, Record<string, unknown>> }[];
    expect(denies.every((d) => d.Effect === 'Deny' && JSON.stringify(d.Resource) === JSON.stringify(diffArn))).toBe(true);
    expect(denies.map((d) => Object.keys(Object.values(d.Condition)[0]!)[0])).toEqual(
      expect.arrayContaining(['codebuild:source.buildspec', 'codebuild:environment.image', 'codebuild:environment.environmentVariables.name']),
    );
    const artifactPuts = statements.filter((s) => actions(s).includes('s3:PutObject') && JSON.stringify(s.Resource).includes(artifactsBucketId()));
    expect(artifactPuts.flatMap((s) => [s.Resource].flat().map(objectArn)).sort()).toEqual([
      `${artifactsBucketId()}:/diffs/*/published`,
      `${artifactsBucketId()}:/diffs/*/rebuilt`,
    ]);
    // the launcher starts target builds only
    const launcher = functionWithEnv('RUN_WINDOW_MINUTES');
    expect(JSON.stringify(statementsOfRole(launcher.Properties.Role['Fn::GetAtt'][0]))).not.toContain(diffProjectEntry()[0]);
  });

  it("a diff build's end does not trigger the checker; the project name is a stack output", () => {
    const rule = Object.values(resources('AWS::Events::Rule')).find((r) => r.Properties.EventPattern?.source?.[0] === 'aws.codebuild')!;
    expect(rule.Properties.EventPattern.detail['project-name']).toEqual(['relverify-rv-linux-x64', 'relverify-rv-linux-arm']);
    expect(stack.resolve(template.toJSON().Outputs.DiffJobProjectName.Value)).toEqual({ Ref: diffProjectEntry()[0] });
  });
});

// ───────────────────────── the buildspec, executed ─────────────────────────

type Spec = { phases: Record<string, { commands: string[] }> };

const AWS_STUB = `#!/bin/sh
# aws stub: "aws --version" and "aws s3 cp [opts] SRC DST" with s3://bucket/key mapped to $FAKE_S3/bucket/key
set -eu
echo "$*" >> "$FAKE_S3_LOG"
if [ "$1" = "--version" ]; then echo "aws-cli/stub"; exit 0; fi
[ "$1 $2" = "s3 cp" ] || { echo "stub: unsupported: $*" >&2; exit 2; }
shift 2
src=""; dst=""
while [ $# -gt 0 ]; do
  case "$1" in
    --content-type) shift ;;
    --*) ;;
    *) if [ -z "$src" ]; then src="$1"; else dst="$1"; fi ;;
  esac
  shift
done
map() { case "$1" in s3://*) printf '%s/%s' "$FAKE_S3" "\${1#s3://}" ;; *) printf '%s' "$1" ;; esac; }
from="$(map "$src")"; to="$(map "$dst")"
[ -f "$from" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key not found ($src)" >&2; exit 1; }
mkdir -p "$(dirname "$to")"
cp "$from" "$to"
`;

describe.skipIf(!toolsAvailable('diffoscope'))('buildspecs/diffoscope.yml (real diffoscope, stubbed aws)', () => {
  let root: string;
  let bin: string;
  const BUCKET = 'relverify-artifacts-test';
  const PREFIX = 'diffs/20260302T000000Z-aaaaaa/linux-x64/app-2.0.0.tar';

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'relverify-diffjob-'));
    bin = join(root, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'aws'), AWS_STUB);
    await chmod(join(bin, 'aws'), 0o755);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  async function run(name: string, options: { published?: string; rebuilt?: string; prefix?: string; extraPath?: string } = {}) {
    const dir = join(root, name);
    const s3 = join(dir, 's3');
    const src = join(dir, 'src');
    await mkdir(src, { recursive: true });
    const prefix = options.prefix ?? PREFIX;
    for (const [obj, content] of [
      ['published', options.published],
      ['rebuilt', options.rebuilt],
    ] as const) {
      if (content === undefined) continue;
      const f = join(s3, BUCKET, PREFIX, obj);
      await mkdir(dirname(f), { recursive: true });
      await writeFile(f, content);
    }
    const env = {
      PATH: `${options.extraPath ? `${options.extraPath}:` : ''}${bin}:${process.env.PATH}`,
      HOME: src,
      CODEBUILD_SRC_DIR: src,
      CODEBUILD_BUILD_ID: `${DIFF_PROJECT}:test`,
      FAKE_S3: s3,
      FAKE_S3_LOG: join(dir, 'aws.log'),
      [DIFF_ENV.bucket]: BUCKET,
      [DIFF_ENV.timeoutSeconds]: '120',
      [DIFF_ENV.prefix]: prefix,
    };
    const spec = buildspecObject('diffoscope') as unknown as Spec;
    let log = '';
    let failedPhase: string | undefined;
    for (const phase of ['install', 'pre_build', 'build', 'post_build']) {
      if (!spec.phases[phase] || failedPhase) continue;
      for (const command of spec.phases[phase]!.commands) {
        const r = spawnSync('sh', ['-c', command], { env, encoding: 'utf8', timeout: 120_000 });
        log += r.stdout + r.stderr;
        if (r.status !== 0) {
          failedPhase = phase;
          break;
        }
      }
    }
    const object = (o: string) => join(s3, BUCKET, PREFIX, o);
    const awsCalls = existsSync(env.FAKE_S3_LOG) ? (await readFile(env.FAKE_S3_LOG, 'utf8')).trim().split('\n') : [];
    return { failedPhase, log, object, awsCalls };
  }

  it('differences: diffoscope exits 1, the job succeeds and uploads the HTML and text reports next to the inputs', async () => {
    const published = 'line one\nline two\nsigned: yes\n';
    const rebuilt = 'line one\nline two\n';
    const r = await run('differs', { published, rebuilt });
    expect(r.failedPhase, r.log).toBeUndefined();
    expect(r.log).toContain('diffoscope and aws provided by the image');
    expect(r.log).toContain('diffoscope found differences');
    // the reference tool's own verdict on the same bytes: exit 1
    const direct = spawnSync('diffoscope', ['--no-progress', '--text', '-', '--', r.object('published'), r.object('rebuilt')], { encoding: 'utf8' });
    expect(direct.status).toBe(1);
    const html = await readFile(r.object('report.html'), 'utf8');
    const text = await readFile(r.object('report.txt'), 'utf8');
    expect(html).toMatch(/<html/i);
    expect(html).toMatch(/<tr class="diffdeleted">.*signed:<span class="dp">·<\/span>yes/);
    expect(text).toMatch(/^--- published\n\+\+\+ rebuilt/m);
    expect(text).toContain('-signed: yes');
    expect(r.awsCalls).toContain(
      `s3 cp --only-show-errors --content-type text/html; charset=utf-8 ${join(root, 'differs', 'src', '.release-verifier-diff', 'out', 'report.html')} s3://${BUCKET}/${PREFIX}/report.html`,
    );
  });

  it('identical inputs: diffoscope exits 0, the job succeeds and says so', async () => {
    const r = await run('same', { published: 'same\n', rebuilt: 'same\n' });
    expect(r.failedPhase, r.log).toBeUndefined();
    expect(r.log).toContain('diffoscope found no differences');
  });

  it('a missing input fails the job before diffoscope runs; nothing is uploaded', async () => {
    const r = await run('missing', { published: 'x\n' });
    expect(r.failedPhase).toBe('build');
    expect(r.log).toMatch(/Key not found/);
    expect(existsSync(r.object('report.html'))).toBe(false);
    expect(r.awsCalls.filter((c) => c.includes('report.'))).toEqual([]);
  });

  it('a prefix outside diffs/ or with unsafe segments is refused before any S3 access', async () => {
    for (const [i, prefix] of ['builds/linux-x64/x', 'diffs/../builds/linux-x64', 'diffs/a b/c', 'diffs/', 'diffs/x/./y', 'diffs/$(id)'].entries()) {
      const r = await run(`bad-${i}`, { published: 'a', rebuilt: 'b', prefix });
      expect(r.failedPhase, prefix).toBe('build');
      expect(r.log).toMatch(/RELVERIFY_DIFF_PREFIX/);
      expect(r.awsCalls.filter((c) => c.startsWith('s3'))).toEqual([]);
    }
  });

  it('diffoscope failing (exit 2) fails the job but still leaves a text report pointing at the log', async () => {
    const fake = join(root, 'fake-bin');
    await mkdir(fake, { recursive: true });
    await writeFile(join(fake, 'diffoscope'), '#!/bin/sh\n[ "$1" = "--version" ] && { echo "diffoscope stub"; exit 0; }\necho "Traceback: boom" >&2\nexit 2\n');
    await chmod(join(fake, 'diffoscope'), 0o755);
    const r = await run('broken', { published: 'a\n', rebuilt: 'b\n', extraPath: fake });
    expect(r.failedPhase).toBe('build');
    expect(r.log).toContain('diffoscope failed (exit 2)');
    expect(await readFile(r.object('report.txt'), 'utf8')).toContain(`no diffoscope report (exit 2); see the diff build log (${DIFF_PROJECT}:test)`);
    expect(existsSync(r.object('report.html'))).toBe(false);
  });
});
