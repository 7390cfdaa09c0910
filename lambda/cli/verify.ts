/**
 * `release-verifier verify --config FILE [--release TAG] [--json] [--if-new]`
 *
 * Exit codes (a contract): 0 VERIFIED, 1 MISMATCH or TAMPERED, 2 INCOMPLETE, 3 usage/configuration.
 * The report goes to stdout (`--json`: the JSON report); progress and the human summary to stderr.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config/load';
import { assertKeyMaterial } from '../core/config/key-material';
import { ConfigError, errorMessage } from '../core/errors';
import { exitCodeFor } from '../core/findings';
import { runVerification } from '../core/run/in-process';
import { runKeys } from '../core/run/store-layout';
import { skipIfVerified } from './if-new';
import { forgeFromConfig } from '../adapters/forge/from-config';
import { LocalBuilder } from '../adapters/builder/local-builder';
import { DirectoryStore } from '../adapters/store/directory-store';
import { ConsoleNotifier } from '../adapters/notifier/console-notifier';
import { formatOps } from '../formats/ops';
import { runDiffoscope } from '../formats/compare/diffoscope';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { neutralise, neutraliseLines, safeJson } from '../core/text/neutralise';

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
  --unsafe-host-build  without Docker and bubblewrap, build on the host anyway (unsandboxed:
                    the build could read the token; such targets are never VERIFIED)
  --keep            keep build directories and downloads for inspection
  --diffoscope      on a mismatch, attach a diffoscope report (when diffoscope is installed)
  --quiet           no progress lines
  --if-new          (for cron) when the store's newest run of the release is VERIFIED, stop
                    after one GitLab lookup: exit 0, one line on stderr, {"skipped":true,"tag":…}
                    with --json. Any other verdict, a moved tag, changed links, no run yet, or
                    a VERIFIED run older than --if-new-max-age: a full run
  --if-new-max-age DAYS  with --if-new: a VERIFIED run older than this does not count (default 7;
                    a file re-uploaded at the same URL shows only in a full run)
exit codes: 0 VERIFIED, 1 MISMATCH or TAMPERED, 2 INCOMPLETE, 3 usage or configuration error`;

function parseOptions(argv: string[]) {
  return parseArgs({
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
      'unsafe-host-build': { type: 'boolean', default: false },
      diffoscope: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      'if-new': { type: 'boolean', default: false },
      'if-new-max-age': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

type Options = ReturnType<typeof parseOptions>['values'];
type Config = ReturnType<typeof loadConfig>;

/** What is wrong with the options (the whole stderr text), or undefined. */
function optionProblem(values: Options, maxAgeDays: number | undefined): string | undefined {
  if (!values.config) return `release-verifier verify: --config is required\n\n${HELP}\n`;
  if (maxAgeDays !== undefined && (!values['if-new'] || !Number.isFinite(maxAgeDays) || maxAgeDays <= 0))
    return `release-verifier verify: --if-new-max-age takes a positive number of days and needs --if-new\n`;
  if (!['auto', 'always', 'never'].includes(values.docker!)) return `release-verifier verify: --docker must be auto, always or never\n`;
  return undefined;
}

/** The configuration with its key material checked, or undefined after saying why on stderr. */
async function loadCheckedConfig(path: string): Promise<Config | undefined> {
  try {
    const config = loadConfig(path);
    // keys that do not parse, or fingerprints that are not the key's, are configuration errors now
    await assertKeyMaterial(config, path);
    return config;
  } catch (err) {
    process.stderr.write(`release-verifier: ${neutraliseLines(err instanceof ConfigError ? err.userMessage : errorMessage(err))}\n`);
    return undefined;
  }
}

/** Why builds run unsandboxed (warned on stderr), or undefined when they are sandboxed or refused. */
function unsandboxedReason(builder: LocalBuilder): string | undefined {
  try {
    if (builder.isolation() === 'host') {
      process.stderr.write(`release-verifier: WARNING — builds run on the host without a sandbox (--unsafe-host-build); targets cannot be VERIFIED\n`);
      return 'neither Docker nor bubblewrap is usable and --unsafe-host-build was given';
    }
  } catch {
    /* no sandbox and no --unsafe-host-build: each build is refused and reported as BUILD_NOT_SANDBOXED */
  }
  return undefined;
}

/** The run itself (after --if-new's shortcut): report on stdout, exit code by verdict. */
async function verifyRelease(
  values: Options,
  config: Config,
  token: string | undefined,
  store: DirectoryStore,
  builder: LocalBuilder,
  unsandboxedBuilds: string | undefined,
  maxAgeDays: number | undefined,
): Promise<number> {
  const progress = values.quiet ? undefined : (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${neutralise(line)}\n`);
  const forge = forgeFromConfig(config, token);
  if (values['if-new']) {
    const skip = await skipIfVerified(config, forge, store, values.release, { maxAgeDays });
    if (skip) {
      process.stderr.write(neutralise(`release-verifier: ${skip.tag} is already VERIFIED (run ${skip.runId}); nothing to do (--if-new)`) + '\n');
      if (values.json) process.stdout.write(safeJson({ skipped: true, tag: skip.tag }) + '\n');
      return 0;
    }
  }
  const { report, reportKey } = await runVerification(
    config,
    {
      forge,
      builder,
      store,
      notifier: new ConsoleNotifier({ stream: process.stderr }),
      formats: formatOps,
    },
    {
      tag: values.release,
      progress,
      keepFiles: values.keep,
      unsandboxedBuilds,
      policyUri: pathToFileURL(resolve(values.config!)).href,
      explainMismatch: values.diffoscope ? (runId) => diffoscopeExplainer(join(store.locate(runKeys.dir(runId)), 'diffoscope')) : undefined,
    },
  );
  // forge text never reaches the terminal raw (tags, names and messages are the forge's choice)
  if (values.json) process.stdout.write(safeJson(report, 2) + '\n');
  else process.stdout.write(neutralise(`${report.verdict}: ${report.release?.tag ?? '(no release)'} — report ${store.locate(reportKey)}`) + '\n');
  return exitCodeFor(report.verdict);
}

export async function run(argv: string[]): Promise<number> {
  let values: Options;
  try {
    ({ values } = parseOptions(argv));
  } catch (err) {
    process.stderr.write(`release-verifier verify: ${errorMessage(err)}\n\n${HELP}\n`);
    return 3;
  }
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const maxAgeDays = values['if-new-max-age'] === undefined ? undefined : Number(values['if-new-max-age']);
  const problem = optionProblem(values, maxAgeDays);
  if (problem) {
    process.stderr.write(problem);
    return 3;
  }

  const config = await loadCheckedConfig(values.config!);
  if (!config) return 3;

  const token = process.env[config.gitlab.token.env] || undefined;
  // Read once, then gone from our environment, so no child process inherits it. (Linux still shows
  // the environment we were started with in /proc/<pid>/environ: the build sandbox hides /proc.)
  delete process.env[config.gitlab.token.env];
  const store = new DirectoryStore(values.store!);
  const builder = new LocalBuilder({ docker: values.docker as 'auto' | 'always' | 'never', keep: values.keep, unsafeHostBuild: values['unsafe-host-build'] });
  const unsandboxedBuilds = unsandboxedReason(builder);
  try {
    return await verifyRelease(values, config, token, store, builder, unsandboxedBuilds, maxAgeDays);
  } catch (err) {
    // Fail closed: an unexpected failure is never success.
    process.stderr.write(`release-verifier: INCOMPLETE — the run failed: ${neutralise(errorMessage(err))}\n`);
    return 2;
  } finally {
    await builder.dispose();
  }
}
