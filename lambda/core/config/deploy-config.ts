/**
 * Which configuration `cdk synth` / `cdk deploy` use. There is no default: a deploy without
 * `-c config=…` (and without RELEASE_VERIFIER_CONFIG) used to deploy the example project — a
 * watchdog of somebody else's releases, paid for by the caller. Now it stops with the fix.
 */
import { ConfigError } from '../errors';

export const DEPLOY_CONFIG_HELP =
  'no configuration given: run `npx cdk deploy -c config=path/to/release-verifier.yaml` (or set RELEASE_VERIFIER_CONFIG=path/to/file). ' +
  'To try the example project on purpose: -c config=examples/release-verifier.example.yaml';

/** The configuration file named by the CDK context `config` or RELEASE_VERIFIER_CONFIG; empty counts as unset. */
export function deployConfigFile(contextValue: unknown, env: Record<string, string | undefined> = process.env): string {
  const fromContext = typeof contextValue === 'string' ? contextValue.trim() : '';
  const fromEnv = (env.RELEASE_VERIFIER_CONFIG ?? '').trim();
  const file = fromContext || fromEnv;
  if (!file) throw new ConfigError([{ path: '', message: DEPLOY_CONFIG_HELP }]);
  return file;
}
