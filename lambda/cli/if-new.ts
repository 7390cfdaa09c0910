/**
 * `verify --if-new` (for a laptop's cron): one forge call for the release, and when the store's
 * newest run of that release (same tag, same commit) is VERIFIED, nothing else — exit 0, one line
 * on stderr, `{"skipped":true,"tag":…}` with --json. Anything else runs in full: a release never
 * run, one whose tag now points elsewhere, and one whose newest run was TAMPERED, MISMATCH or
 * INCOMPLETE — a bad release keeps failing loudly every time cron asks (core/watch.ts explains
 * why the AWS watch decides differently).
 *
 * When GitLab cannot be asked, nothing is skipped: the full run then reports why (INCOMPLETE),
 * in the store and on the exit code — never a silent exit 0.
 */
import type { Config } from '../core/config/schema';
import { buildRunIndex } from '../core/history';
import type { Forge, Store } from '../core/ports';
import { alreadyVerified } from '../core/watch';

export interface Skip {
  skipped: true;
  tag: string;
  /** the VERIFIED run that makes this one unnecessary (for the stderr line; not in the JSON) */
  runId: string;
}

export async function skipIfVerified(config: Pick<Config, 'gitlab' | 'release'>, forge: Forge, store: Store, tag?: string): Promise<Skip | null> {
  let release;
  try {
    release = await forge.getRelease(tag ?? (config.release === 'latest' ? undefined : config.release.tag));
  } catch {
    return null;
  }
  // the stored index plus any summary it does not list yet (a run whose index write was lost)
  const index = await buildRunIndex(store, { project: String(config.gitlab.project) });
  const run = alreadyVerified(index.runs, release);
  return run ? { skipped: true, tag: release.tag, runId: run.runId } : null;
}
