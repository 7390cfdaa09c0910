/**
 * The stack synthesizes, cdk-nag AwsSolutions clean (every acknowledgement with its reason), for
 * the configurations a deployer will write: the shipped example, a private-ECR image (the deploy
 * guide's recommendation), a Windows target, a macOS target on a MAC_ARM fleet,
 * `aws.stageSource: true`, and SMS numbers. Bundling is skipped here (synth-offline.test.ts
 * bundles for real).
 */
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../lambda/core/config/load';
import type { Config, ConfigInput } from '../../lambda/core/config/schema';
import { ReleaseVerifierStack } from '../../lib/release-verifier-stack';

const ECR_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/builders/rust@sha256:${'7'.repeat(64)}`;
const PUBLIC_IMAGE = `public.ecr.aws/docker/library/rust@sha256:${'5'.repeat(64)}`;
const FLEET = 'arn:aws:codebuild:eu-west-1:123456789012:fleet/mac:1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d';
const none = { scheme: 'none', reason: 'test asset' } as const;
const artifact = (name: string) => [{ path: `dist/${name}`, asset: `${name}-{version}`, signature: none }];

function config(targets: ConfigInput['targets'], overrides: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    version: 1,
    gitlab: { url: 'https://gitlab.com', project: 'group/app' },
    alerts: { emails: ['ops@example.com'] },
    targets,
    ...overrides,
  });
}

const VARIANTS: Record<string, () => Config> = {
  'the shipped example': () => loadConfig('examples/release-verifier.example.yaml'),
  'a private-ECR image': () => config([{ name: 'linux', image: ECR_IMAGE, command: 'make', artifacts: artifact('app') }]),
  'a Windows target': () =>
    config([
      {
        name: 'win',
        platform: 'windows',
        image: `mcr.microsoft.com/windows/servercore@sha256:${'8'.repeat(64)}`,
        command: 'build.cmd',
        artifacts: artifact('app.exe'),
      },
    ]),
  'a macOS target on a fleet': () =>
    config([
      { name: 'mac', platform: 'macos', image: 'aws/codebuild/macos-arm-base:15', fleetArn: FLEET, command: 'make mac', artifacts: artifact('app.dmg') },
    ]),
  'aws.stageSource: true': () =>
    config([{ name: 'linux', image: PUBLIC_IMAGE, command: 'make', artifacts: artifact('app') }], { aws: { stageSource: true } as ConfigInput['aws'] }),
  'SMS numbers set': () =>
    config([{ name: 'linux', image: PUBLIC_IMAGE, command: 'make', artifacts: artifact('app') }], {
      alerts: { emails: ['ops@example.com'], sms: ['+14155550100', '+442071838750'] },
    }),
};

function synthWithNag(cfg: Config): { template: Template; problems: string[] } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new ReleaseVerifierStack(app, 'RV', { config: cfg });
  const template = Template.fromStack(stack);
  const annotations = Annotations.fromStack(stack);
  const problems = [
    ...annotations.findError('*', Match.stringLikeRegexp('.*')),
    ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((m) => `${m.id}: ${String(m.entry.data)}`);
  return { template, problems };
}

describe('cdk synth with cdk-nag, for every configuration the deploy guide describes', () => {
  for (const [name, cfg] of Object.entries(VARIANTS)) {
    it(`${name}: synthesizes with no unacknowledged AwsSolutions finding`, () => {
      const { template, problems } = synthWithNag(cfg());
      expect(problems).toEqual([]);
      expect(Object.keys(template.findResources('AWS::CodeBuild::Project')).length).toBeGreaterThanOrEqual(2);
    });
  }
});
