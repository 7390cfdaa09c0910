/**
 * Metric names shared by the handlers (which emit them as CloudWatch EMF through Powertools) and
 * the stack (which alarms on them). Powertools adds a `service` dimension with the service name,
 * so an alarm must name the same dimension.
 */
export const METRIC_NAMESPACE = 'ReleaseVerifier';

export const SERVICE = {
  launcher: 'release-verifier-launcher',
  checker: 'release-verifier-checker',
  deadman: 'release-verifier-deadman',
  watch: 'release-verifier-watch',
} as const;

export const METRIC = {
  /** a run's summary was written (any verdict) */
  runCompleted: 'RunCompleted',
  /** days since the newest summary (or since the dead-man first ran, before any run) */
  daysSinceLastSummary: 'DaysSinceLastSummary',
  buildsStarted: 'BuildsStarted',
  buildsNotStarted: 'BuildsNotStarted',
  targetsChecked: 'TargetsChecked',
  /** state-change events for builds that are not ours or have no plan */
  eventsIgnored: 'EventsIgnored',
  staleRunsClosed: 'StaleRunsClosed',
  /** the watch started a full run for a release without one */
  watchRunsStarted: 'WatchRunsStarted',
  /** a watch check could not ask GitLab for the latest release */
  watchForgeDown: 'WatchForgeDown',
} as const;
