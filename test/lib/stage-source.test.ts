/**
 * aws.stageSource in the stack: the launcher may PutObject (only) under `sources/` of the
 * artifacts bucket and learns the bucket's name; target build roles (and their boundary) may
 * GetObject (only) under `sources/`; nothing of the kind without the option; Windows targets are
 * refused at synth; cdk-nag stays clean.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config/load';
import type { Config, ConfigInput } from '../../lambda/core/config/schema';
import { ReleaseVerifierStack } from '../../lib/release-verifier-stack';

const IMG = `public.ecr.aws/docker/library/rust@sha256:${'5'.repeat(64)}`;
const FLEET = 'arn:aws:codebuild:eu-west-1:111122223333:fleet/mac:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d';
const none = { scheme: 'none', reason: 'test asset' } as const;

function config(stageSource: boolean, overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.com', project: 'group/private-app' },
    aws: { stageSource },
    targets: [
      { name: 'linux-x64', image: IMG, command: 'make release', artifacts: [{ path: 'dist/app', asset: 'app-{version}', signature: none }] },
      {
        name: 'macos-arm64',
        platform: 'macos',
        image: 'aws/codebuild/macos-arm-base:15',
        fleetArn: FLEET,
        command: 'make mac',
        artifacts: [{ path: 'dist/app.dmg', asset: 'app-{version}.dmg', signature: none }],
      },
    ],
    ...overrides,
  });
}

function synth(cfg: Config, nag = false) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseVerifierStack(app, 'RV', { config: cfg });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: Template.fromStack(stack) };
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };
function helpers(template: Template) {
  const resources = (type: string) => template.findResources(type);
  const artifactsId = Object.entries(resources('AWS::S3::Bucket')).find(([id, r]) => !r.Properties.ObjectLockEnabled && id.startsWith('ArtifactsBucket'))![0];
  const statementsOfRole = (roleId: string): Statement[] =>
    Object.values(resources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  const launcher = Object.values(resources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.RUN_WINDOW_MINUTES !== undefined)!;
  const project = (target: string) => Object.values(resources('AWS::CodeBuild::Project')).find((r) => r.Properties.Name === `relverify-rv-${target}`)!;
  const roleOfProject = (target: string) => project(target).Properties.ServiceRole['Fn::GetAtt'][0] as string;
  const boundaryOf = (roleId: string) =>
    resources('AWS::IAM::ManagedPolicy')[resources('AWS::IAM::Role')[roleId]!.Properties.PermissionsBoundary.Ref as string]!;
  const on = (s: Statement, action: string) => [s.Action].flat().includes(action);
  const sourcesArn = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [artifactsId, 'Arn'] }, '/sources/*']] };
  return { resources, artifactsId, statementsOfRole, launcher, roleOfProject, boundaryOf, on, sourcesArn };
}

describe('aws.stageSource: IAM', () => {
  const { template } = synth(config(true));
  const h = helpers(template);

  it('launcher: PutObject on sources/* only (no read, no delete), the artifacts key to encrypt, the bucket name, more memory', () => {
    const roleId = h.launcher.Properties.Role['Fn::GetAtt'][0] as string;
    const statements = h.statementsOfRole(roleId);
    const onArtifacts = statements.filter((s) => JSON.stringify(s.Resource).includes(h.artifactsId));
    expect(onArtifacts).toEqual([{ Sid: 'WriteStagedSources', Effect: 'Allow', Action: 's3:PutObject', Resource: h.sourcesArn }]);
    // (its GetObject statements are on the results bucket: plan and ledger)
    expect(statements.filter((s) => h.on(s, 's3:GetObject')).every((s) => !JSON.stringify(s.Resource).includes(h.artifactsId))).toBe(true);
    expect(statements.some((s) => h.on(s, 's3:DeleteObject'))).toBe(false);
    expect(statements.some((s) => h.on(s, 'kms:GenerateDataKey') && JSON.stringify(s.Resource).includes('ArtifactsKey'))).toBe(true);
    expect(h.launcher.Properties.Environment.Variables.ARTIFACTS_BUCKET).toEqual({ Ref: h.artifactsId });
    expect(h.launcher.Properties.MemorySize).toBe(3008);
  });

  it('build roles and their boundary: GetObject on sources/* only; still PutObject only on their own builds/ prefix', () => {
    for (const target of ['linux-x64', 'macos-arm64']) {
      const roleId = h.roleOfProject(target);
      const statements = h.statementsOfRole(roleId);
      const gets = statements.filter((s) => h.on(s, 's3:GetObject'));
      expect(gets).toEqual([{ Sid: 'ReadStagedSource', Effect: 'Allow', Action: 's3:GetObject', Resource: h.sourcesArn }]);
      const puts = statements.filter((s) => h.on(s, 's3:PutObject'));
      expect(puts).toHaveLength(1);
      expect(JSON.stringify(puts[0]!.Resource)).toContain(`/builds/${target}/*`);
      expect(JSON.stringify(statements)).not.toMatch(/secretsmanager|sns:|s3:DeleteObject|s3:\*/);
      const boundary = h.boundaryOf(roleId).Properties.PolicyDocument.Statement as Statement[];
      expect(boundary.filter((s) => h.on(s, 's3:GetObject'))).toEqual([
        { Sid: 'ReadStagedSource', Effect: 'Allow', Action: 's3:GetObject', Resource: h.sourcesArn },
      ]);
    }
  });

  it('cdk-nag: no unacknowledged error', () => {
    const { app, stack } = synth(config(true), true);
    app.synth();
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).slice(0, 160)}`)).toEqual([]);
  });
});

describe('aws.stageSource off (the default)', () => {
  it('nobody may touch sources/; the launcher has neither the bucket name nor more memory', () => {
    const cfg = config(false);
    expect(cfg.aws.stageSource).toBe(false);
    const { template } = synth(cfg);
    const h = helpers(template);
    const all = JSON.stringify([h.resources('AWS::IAM::Policy'), h.resources('AWS::IAM::ManagedPolicy')]);
    expect(all).not.toContain('/sources/*');
    expect(h.launcher.Properties.Environment.Variables.ARTIFACTS_BUCKET).toBeUndefined();
    expect(h.launcher.Properties.MemorySize).toBe(1024);
  });
});

describe('aws.stageSource with a Windows target', () => {
  it('fails synth with a message that names the target and the fix', () => {
    const cfg = config(true, {
      targets: [
        { name: 'windows-x64', platform: 'windows', image: IMG, command: 'make win', artifacts: [{ path: 'dist/app.exe', asset: 'app.exe', signature: none }] },
      ],
    });
    expect(() => synth(cfg)).toThrow(/target "windows-x64": aws.stageSource is not supported for Windows targets yet/);
  });
});
