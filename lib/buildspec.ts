/**
 * The buildspecs shipped by the stack. They live as YAML in buildspecs/, are parsed here with the
 * `yaml` package and inlined into each project with BuildSpec.fromObjectToYaml — never
 * fromSourceFilename (the application's repository would choose the commands) and not fromAsset
 * (which grants the untrusted build role read access to the whole CDK assets bucket).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { BuildSpec } from 'aws-cdk-lib/aws-codebuild';
import { BUILDSPECS_DIR } from './paths';

/** posix/windows: target builds; diffoscope: the mismatch diff job */
export type BuildspecKind = 'posix' | 'windows' | 'diffoscope';

/** The buildspec document for a platform, as an object. */
export function buildspecObject(kind: BuildspecKind): Record<string, unknown> {
  const file = join(BUILDSPECS_DIR, `${kind}.yml`);
  const doc = parse(readFileSync(file, 'utf8'), { maxAliasCount: 0 }) as unknown;
  if (!doc || typeof doc !== 'object' || (doc as { version?: unknown }).version !== 0.2) {
    throw new Error(`${file}: not a CodeBuild buildspec (expected "version: 0.2")`);
  }
  return doc as Record<string, unknown>;
}

export function buildspecFor(platform: 'linux' | 'windows' | 'macos'): BuildSpec {
  return BuildSpec.fromObjectToYaml(buildspecObject(platform === 'windows' ? 'windows' : 'posix'));
}
