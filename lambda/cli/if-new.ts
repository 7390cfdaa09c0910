/**
 * `verify --if-new` (for a laptop's cron): one forge call for the release, and when the store's
 * newest run of that release (same tag, the tag's commit now) is VERIFIED, younger than the bound
 * (`--if-new-max-age DAYS`, default 7), and the release shows no change against the ledger (its
 * release commit is the tag's, its links are the ones first recorded: core/watch.ts
 * releaseChanges), nothing else — exit 0, one line on stderr, `{"skipped":true,"tag":…}` with
 * --json. Anything else runs in full: a release never run, one whose tag now points elsewhere or
 * whose links changed, a VERIFIED run older than the bound (a file re-uploaded at the same URL
 * shows only in a full run: the ledger's digests), and one whose newest run was TAMPERED,
 * MISMATCH or INCOMPLETE — a bad release keeps failing loudly every time cron asks (core/watch.ts
 * explains why the AWS watch decides differently).
 *
 * When GitLab cannot be asked, nothing is skipped: the full run then reports why (INCOMPLETE),
 * in the store and on the exit code — never a silent exit 0.
 */
import type { Config } from '../core/config/schema';
import { buildRunIndex } from '../core/history';
import type { Ledger } from '../core/ledger';
import { loadLedger } from '../core/ledger-store';
import type { Forge, Release, Store } from '../core/ports';
import { alreadyVerified, IF_NEW_MAX_AGE_DAYS } from '../core/watch';

export interface Skip {
  skipped: true;
  tag: string;
  /** the VERIFIED run that makes this one unnecessary (for the stderr line; not in the JSON) */
  runId: string;
}

export interface IfNewOptions {
  /** a VERIFIED run older than this many days does not count (default IF_NEW_MAX_AGE_DAYS) */
  maxAgeDays?: number;
  now?: Date;
}

export async function skipIfVerified(
  config: Pick<Config, 'gitlab' | 'release'>,
  forge: Forge,
  store: Store,
  tag?: string,
  options: IfNewOptions = {},
): Promise<Skip | null> {
  let release: Release;
  try {
    release = await forge.getRelease(tag ?? (config.release === 'latest' ? undefined : config.release.tag));
  } catch {
    return null;
  }
  let ledger: Ledger | null | 'unreadable';
  try {
    ledger = await loadLedger(store);
  } catch {
    ledger = 'unreadable';
  }
  // the stored index plus any summary it does not list yet (a run whose index write was lost)
  const index = await buildRunIndex(store, { project: String(config.gitlab.project) });
  const maxAgeMs = (options.maxAgeDays ?? IF_NEW_MAX_AGE_DAYS) * 24 * 3600_000;
  const run = alreadyVerified(index.runs, release, { now: options.now ?? new Date(), maxAgeMs, ledger });
  return run ? { skipped: true, tag: release.tag, runId: run.runId } : null;
}
