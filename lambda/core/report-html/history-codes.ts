/** Findings that say the published history changed: the history timeline's "what changed", and the report's link to it. */
export const HISTORY_CODES: ReadonlySet<string> = new Set([
  'TAG_MOVED',
  'RELEASE_COMMIT_DIFFERS',
  'PAST_ASSET_CHANGED',
  'PAST_LINK_CHANGED',
  'PAST_RELEASE_REMOVED',
]);
