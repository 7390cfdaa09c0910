/**
 * Run ids: they sort by time and match RUN_ID_PATTERN (`<UTC stamp>-<6 hex>`). A fresh id per run
 * (the CLI, `run-now --fresh`), or an id that is the same for every launch of the same release state
 * within one window, so a re-invoked launcher (Lambda retry, double schedule delivery, a second
 * `run-now`) finds the run it already planned instead of starting duplicate builds.
 */
import { createHash } from 'node:crypto';
import type { Release, Store } from '../ports';
import type { RunPlan } from './run-plan';
import { runKeys } from './store-layout';

export { newRunId, RUN_ID_PATTERN } from './run-plan';

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** `<window start>-<6 hex of the identity>`: the same for every call within one window. */
export function windowedRunId(now: Date, windowMs: number, identity: readonly (string | number | undefined)[]): string {
  const start = new Date(Math.floor(now.getTime() / windowMs) * windowMs);
  const hash = createHash('sha256')
    .update(JSON.stringify([stamp(start), ...identity]))
    .digest('hex');
  return `${stamp(start)}-${hash.slice(0, 6)}`;
}

/** What makes two launches "the same release state": the project, the tag and both commits. */
export function releaseIdentity(project: { url: string; project: string | number }, release: Pick<Release, 'tag' | 'tagCommitSha' | 'commitSha'>): string[] {
  return [project.url, String(project.project), release.tag, release.tagCommitSha, release.commitSha];
}

/**
 * The run a launch of this release state belongs to: the current window's id — unless the previous
 * window already planned this very release less than one window ago (a launch just across a window
 * boundary joins that run instead of starting duplicate builds).
 */
export async function runIdForRelease(store: Store, now: Date, windowMs: number, identity: string[]): Promise<string> {
  const current = windowedRunId(now, windowMs, identity);
  const previous = windowedRunId(new Date(now.getTime() - windowMs), windowMs, identity);
  if (previous !== current) {
    const text = await store.get(runKeys.plan(previous));
    const earlier = text === null ? null : (JSON.parse(text) as RunPlan);
    if (earlier && now.getTime() - Date.parse(earlier.createdAt) < windowMs) return previous;
  }
  return current;
}
