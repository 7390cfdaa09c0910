/**
 * The CDK app: one ReleaseVerifierStack, configured from the same file as the CLI.
 *
 *   npx cdk deploy -c config=path/to/release-verifier.yaml [-c stackName=ReleaseVerifier]
 *   RELEASE_VERIFIER_CONFIG=path/to/file npx cdk deploy
 *
 * There is no default configuration (the example is deployed only when named: -c config=examples/…);
 * key files must parse and pinned fingerprints match their keys. The account and region are the CLI's
 * (AWS_PROFILE / AWS_REGION); the stack is meant for a dedicated account.
 *
 * cdk-nag's AwsSolutions rules run on every synth and deploy (`-c nag=false` turns them off): an
 * unacknowledged finding fails the synth, and every acknowledgement carries its reason in lib/.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { deployConfigFile } from '../lambda/core/config/deploy-config';
import { assertKeyMaterial } from '../lambda/core/config/key-material';
import { loadConfig } from '../lambda/core/config/load';
import { VerifierError } from '../lambda/core/errors';
import { ReleaseVerifierStack } from '../lib/release-verifier-stack';

export function createApp(app: App = new App()): { app: App; stack: ReleaseVerifierStack; configFile: string } {
  const configFile = deployConfigFile(app.node.tryGetContext('config'), process.env);
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) || process.env.RELEASE_VERIFIER_STACK || 'ReleaseVerifier';
  const config = loadConfig(configFile);
  if (app.node.tryGetContext('nag') !== 'false' && app.node.tryGetContext('nag') !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new ReleaseVerifierStack(app, stackName, {
    config,
    description: `release-verifier: rebuilds and verifies releases of ${config.gitlab.project} (${config.gitlab.url})`,
    env: process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } : undefined,
  });
  return { app, stack, configFile };
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  try {
    const { app, configFile } = createApp();
    await assertKeyMaterial(loadConfig(configFile), configFile);
    app.synth();
  } catch (err) {
    if (err instanceof VerifierError) {
      process.stderr.write(`release-verifier: ${err.userMessage}\n`);
      process.exit(3);
    }
    throw err;
  }
}
