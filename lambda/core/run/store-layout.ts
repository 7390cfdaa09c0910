/**
 * Where everything lives in the results store (an S3 bucket in AWS, a directory on a laptop). The
 * only module that spells store keys: the engine, the history, the ledger, the attestations, the
 * watch, the dead-man and the stack's IAM grants (lib/) all ask here, so the layout cannot drift
 * between the CLI and the Lambdas.
 *
 *   runs/<runId>/plan.json                 the run plan, write-once
 *   runs/<runId>/builds/<target>.json      a remote build's launch record (AWS), write-once
 *   runs/<runId>/source.json               the staged source's record (aws.stageSource)
 *   runs/<runId>/audit.json                the run's repository and forge audit
 *   runs/<runId>/targets/<target>.json     one target's report, write-once
 *   runs/<runId>/summary.json              the run report, write-once: its writer alone finishes the run
 *   runs/<runId>/report.html               the report for people
 *   runs/<runId>/alerted.json              the alert went out (or was deliberately not sent)
 *   runs/<runId>/{attestation,vsa}.{intoto,dsse}.json   the in-toto statements, unsigned and signed
 *   runs/index.{json,html}                 the run history
 *   ledger/ledger.json                     what earlier runs saw of the release history
 *   ledger/audit-latest.json               the latest audit, for "new and gone since"
 *   watch/state.json                       the hourly watch's own state
 *   deadman/first-seen.json                when the dead-man first ran (before any summary)
 */

/** Top-level prefixes, for listings and the stack's IAM grants. */
export const STORE_PREFIXES = { runs: 'runs/', ledger: 'ledger/', watch: 'watch/', deadman: 'deadman/' } as const;

const run = (runId: string) => `${STORE_PREFIXES.runs}${runId}`;

export const runKeys = {
  plan: (runId: string) => `${run(runId)}/plan.json`,
  launch: (runId: string, target: string) => `${run(runId)}/builds/${target}.json`,
  launchesPrefix: (runId: string) => `${run(runId)}/builds/`,
  source: (runId: string) => `${run(runId)}/source.json`,
  audit: (runId: string) => `${run(runId)}/audit.json`,
  target: (runId: string, target: string) => `${run(runId)}/targets/${target}.json`,
  targetsPrefix: (runId: string) => `${run(runId)}/targets/`,
  summary: (runId: string) => `${run(runId)}/summary.json`,
  html: (runId: string) => `${run(runId)}/report.html`,
  /** written once the run's alert went out (or was deliberately not sent): a redelivered event re-sends a lost alert until it exists */
  alerted: (runId: string) => `${run(runId)}/alerted.json`,
  /** where a run's own side files go (diffoscope reports locally) */
  dir: (runId: string) => run(runId),
};

/** The run's in-toto statements: the detailed one (attestation.ts) and the SLSA VSA (vsa.ts). */
export const attestationKeys = {
  /** the unsigned in-toto statement (both modes) */
  statement: (runId: string) => `${run(runId)}/attestation.intoto.json`,
  /** the DSSE envelope signed with the stack's KMS key (AWS) */
  envelope: (runId: string) => `${run(runId)}/attestation.dsse.json`,
};
export const vsaKeys = {
  statement: (runId: string) => `${run(runId)}/vsa.intoto.json`,
  envelope: (runId: string) => `${run(runId)}/vsa.dsse.json`,
};

export const HISTORY_KEYS = { json: `${STORE_PREFIXES.runs}index.json`, html: `${STORE_PREFIXES.runs}index.html` } as const;
export const LEDGER_KEY = `${STORE_PREFIXES.ledger}ledger.json`;
export const AUDIT_LATEST_KEY = `${STORE_PREFIXES.ledger}audit-latest.json`;
export const WATCH_STATE_KEY = `${STORE_PREFIXES.watch}state.json`;
export const DEADMAN_FIRST_SEEN_KEY = `${STORE_PREFIXES.deadman}first-seen.json`;

const RUN_RECORD = /^runs\/([^/]+)\/(plan|summary|alerted)\.json$/;

/** The run id and record kind of a `runs/<id>/{plan,summary,alerted}.json` key; null for any other key. */
export function runRecordOf(key: string): { runId: string; kind: 'plan' | 'summary' | 'alerted' } | null {
  const m = RUN_RECORD.exec(key);
  return m ? { runId: m[1]!, kind: m[2] as 'plan' | 'summary' | 'alerted' } : null;
}

/** The target names under a run's `targets/` (or `builds/`) prefix, from a store listing. */
export function namesUnder(prefix: string, keys: readonly string[]): Set<string> {
  return new Set(keys.filter((k) => k.startsWith(prefix) && k.endsWith('.json')).map((k) => k.slice(prefix.length, -'.json'.length)));
}
