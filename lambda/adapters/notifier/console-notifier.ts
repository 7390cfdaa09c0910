/**
 * The Notifier port for a terminal: the alert body, written to a stream (stderr by default so
 * that `--json` output on stdout stays machine-readable). Optionally also to a file.
 */
import { appendFile } from 'node:fs/promises';
import type { Alert } from '../../core/alert';
import type { Notifier } from '../../core/ports';
import { neutraliseLines } from '../../core/text/neutralise';

export class ConsoleNotifier implements Notifier {
  constructor(private readonly options: { stream?: NodeJS.WritableStream; file?: string } = {}) {}

  async notify(alert: Alert): Promise<void> {
    // the alert is neutralised already; a terminal gets the same guarantee whoever built the alert
    const text = neutraliseLines(`${alert.subject}\n\n${alert.body}\n`);
    (this.options.stream ?? process.stderr).write(text);
    if (this.options.file) await appendFile(this.options.file, `${new Date().toISOString()} ${alert.severity}\n${text}\n`);
  }
}
