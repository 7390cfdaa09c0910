/**
 * `release-verifier verify --config FILE [--release TAG] [--json]`
 *
 * Exit codes (a contract): 0 VERIFIED, 1 MISMATCH or TAMPERED, 2 INCOMPLETE, 3 usage/configuration.
 * The report goes to stdout (`--json`: the JSON report); progress and the human summary to stderr.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config/load';
import { ConfigError, errorMessage } from '../core/errors';
import { exitCodeFor } from '../core/findings';
import { runVerification } from '../core/run-local';
import { installProcessLastResort, leaveAfterLastResort } from '../core/last-resort';
import { forgeFromConfig } from '../adapters/forge/from-config';
import { LocalBuilder } from '../adapters/builder/local-builder';
import { DirectoryStore } from '../adapters/store/directory-store';
import { ConsoleNotifier } from '../adapters/notifier/console-notifier';
import { formatOps } from '../formats/ops';
import { runDiffoscope } from '../formats/compare/diffoscope';
import { join } from 'node:path';

/** Local mismatch explanation: diffoscope's HTML report next to the run records. */
function diffoscopeExplainer(outRoot: string) {
  return async (published: string, rebuilt: string, ctx: { target: string; asset: string }) => {
    const r = await runDiffoscope(published, rebuilt, { outDir: join(outRoot, `${ctx.target}-${ctx.asset.replace(/[^A-Za-z0-9._-]/g, '_')}`) });
    return r.htmlReport ?? r.textReport ?? r.message;
  };
}

const HELP = `usage: release-verifier verify --config FILE [--release TAG] [--json]
  --config FILE     configuration (YAML or JSON; see schema/release-verifier.schema.json)
  --release TAG     verify this release instead of the configured one (default: latest)
  --json            print the JSON report on stdout
  --store DIR       where run records are written: DIR/runs/<runId>/ (default: .)
  --docker MODE     auto | always | never: run builds in the pinned image with Docker (default: auto)
  --keep            keep build directories and downloads for inspection
  --diffoscope      on a mismatch, attach a diffoscope report (when diffoscope is installed)
  --quiet           no progress lines
exit codes: 0 VERIFIED, 1 MISMATCH or TAMPERED, 2 INCOMPLETE, 3 usage or configuration error`;

export async function run(argv: string[]): Promise<number> {
  // the run itself is guarded (runVerification); this covers the rest of the process's life
  installProcessLastResort();
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        release: { type: 'string' },
        json: { type: 'boolean', default: false },
        store: { type: 'string', default: '.' },
        docker: { type: 'string', default: 'auto' },
        keep: { type: 'boolean', default: false },
        diffoscope: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`release-verifier verify: ${errorMessage(err)}\n\n${HELP}\n`);
    return 3;
  }
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (!values.config) {
    process.stderr.write(`release-verifier verify: --config is required\n\n${HELP}\n`);
    return 3;
  }
  if (!['auto', 'always', 'never'].includes(values.docker!)) {
    process.stderr.write(`release-verifier verify: --docker must be auto, always or never\n`);
    return 3;
  }

  let config;
  try {
    config = loadConfig(values.config);
  } catch (err) {
    process.stderr.write(`release-verifier: ${err instanceof ConfigError ? err.userMessage : errorMessage(err)}\n`);
    return 3;
  }

  const token = process.env[config.gitlab.token.env] || undefined;
  const store = new DirectoryStore(values.store!);
  const progress = values.quiet ? undefined : (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  const builder = new LocalBuilder({ docker: values.docker as 'auto' | 'always' | 'never', keep: values.keep });
  try {
    const { report, reportKey } = await runVerification(
      config,
      {
        forge: forgeFromConfig(config, token),
        builder,
        store,
        notifier: new ConsoleNotifier({ stream: process.stderr }),
        formats: formatOps,
      },
      {
        tag: values.release,
        progress,
        keepFiles: values.keep,
        explainMismatch: values.diffoscope ? (runId) => diffoscopeExplainer(join(store.locate(`runs/${runId}`), 'diffoscope')) : undefined,
      },
    );
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(`${report.verdict}: ${report.release?.tag ?? '(no release)'} — report ${store.locate(reportKey)}\n`);
    leaveAfterLastResort(report, exitCodeFor(report.verdict));
    return exitCodeFor(report.verdict);
  } catch (err) {
    // Fail closed: an unexpected failure is never success.
    process.stderr.write(`release-verifier: INCOMPLETE — the run failed: ${errorMessage(err)}\n`);
    return 2;
  } finally {
    await builder.dispose();
  }
}
