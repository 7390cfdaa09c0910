/**
 * What a notifier receives (the Notifier port's message): written by alert.ts from findings, sent
 * as it is by SNS or the console. Kept apart from alert.ts so that ports.ts needs nothing else.
 */
import type { Verdict } from './findings';

export type AlertSeverity = 'critical' | 'warning' | 'info';

export interface Alert {
  verdict: Verdict;
  severity: AlertSeverity;
  /** ≤ 100 characters (SNS email subject limit) */
  subject: string;
  body: string;
  /** for SMS: GSM-7 characters only, at most 2 segments (sms-text.ts) */
  short: string;
  runId: string;
  release?: string;
  /** where the full report is (the summary in the results bucket), for a notifier that must shorten the body */
  reportLocation?: string;
  /** where a person reads it: the HTML report and the run history (console links in AWS, file paths locally) */
  links?: AlertLinks;
}

/** Links for the reader of the mail: never presigned URLs (they would grant access to whoever the mail reaches, for days). */
export interface AlertLinks {
  /** the HTML report of the run */
  report?: string;
  /** the run history page (runs/index.html) */
  history?: string;
}
