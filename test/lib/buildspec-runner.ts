/**
 * Runs the shell commands of buildspecs/posix.yml phase by phase the way CodeBuild does (BUILD is
 * skipped after a failed PRE_BUILD, POST_BUILD always runs, CODEBUILD_BUILD_SUCCEEDING says how it
 * went), so the buildspec's own logic is tested with real `sh` and `git`.
 */
import { spawnSync } from 'node:child_process';
import { buildspecObject } from '../../lib/buildspec';

type Spec = { phases: Record<string, { commands: string[] }> };

export function runPosixBuildspec(env: Record<string, string>, path: string = process.env.PATH ?? ''): { failedPhase?: string; log: string; srcDir: string } {
  const spec = buildspecObject('posix') as unknown as Spec;
  let log = '';
  let failedPhase: string | undefined;
  for (const phase of ['install', 'pre_build', 'build', 'post_build']) {
    if (!spec.phases[phase]) continue;
    if (failedPhase && phase !== 'post_build') continue;
    for (const command of spec.phases[phase]!.commands) {
      const r = spawnSync('sh', ['-c', command], {
        env: { PATH: path, HOME: env.CODEBUILD_SRC_DIR, ...env, CODEBUILD_BUILD_SUCCEEDING: failedPhase ? '0' : '1' },
        encoding: 'utf8',
      });
      log += r.stdout + r.stderr;
      if (r.status !== 0) {
        failedPhase ??= phase;
        break;
      }
    }
  }
  return { failedPhase, log, srcDir: env.CODEBUILD_SRC_DIR! };
}
