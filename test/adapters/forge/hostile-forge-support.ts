/**
 * Shared by the hostile-forge tests: a minimal configuration for the stand-in project, and run
 * ports whose build "fails" at once — the checker still fetches the published assets and their
 * signatures (it does so even for a failed build), which is the path these tests attack.
 */
import { join } from 'node:path';
import { DirectoryStore } from '../../../lambda/adapters/store/directory-store';
import { parseConfig } from '../../../lambda/core/config/load';
import type { Config, ConfigInput } from '../../../lambda/core/config/schema';
import type { Alert } from '../../../lambda/core/alert';
import type { Builder, BuildResult, Forge, Notifier } from '../../../lambda/core/ports';
import type { LocalRunPorts } from '../../../lambda/core/run/in-process';
import { formatOps } from '../../../lambda/formats/ops';

export const IMAGE = `docker.io/library/node@sha256:${'a'.repeat(64)}`;

type ArtifactInput = ConfigInput['targets'][number]['artifacts'][number];

export function hostileConfig(gitlabUrl: string, project: string, artifacts: ArtifactInput[], extra: Partial<ConfigInput> = {}): Config {
  return parseConfig({
    version: 1,
    gitlab: { url: gitlabUrl, project },
    ...extra,
    targets: [{ name: 'linux', image: IMAGE, command: 'true', artifacts }],
  });
}

/** A builder whose every build ended FAILED (no artifacts): the run goes straight to the checker. */
export const failedBuilder: Builder = {
  async run(req) {
    const result: BuildResult = {
      target: req.target.name,
      buildId: 'stub-1',
      sandbox: 'bwrap' as const,
      status: 'FAILED',
      message: 'stub build',
      image: { ref: req.target.image, enforced: true },
      artifacts: { fetch: async () => null },
    };
    return result;
  },
} as Builder;

export function hostilePorts(forge: Forge, storeDir: string): LocalRunPorts & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  const notifier: Notifier = { notify: async (a: Alert) => void alerts.push(a) } as Notifier;
  return { forge, builder: failedBuilder, store: new DirectoryStore(join(storeDir)), notifier, formats: formatOps, alerts };
}
