/** Environment variable names the stack sets on the Lambdas (no imports: the CDK app reads this too). */
/** Where the stack's config layer puts the resolved configuration. */
export const DEFAULT_CONFIG_FILE = '/opt/release-verifier/config.json';

/** Environment variable names the stack sets (lib/constructs/verifier-function.ts). */
export const ENV = {
  configFile: 'RELEASE_VERIFIER_CONFIG_FILE',
  resultsBucket: 'RESULTS_BUCKET',
  /** the artifacts bucket (checker: rebuilt artifacts and diff inputs; launcher: staged sources) */
  artifactsBucket: 'ARTIFACTS_BUCKET',
  topicArn: 'ALERTS_TOPIC_ARN',
  tokenSecret: 'GITLAB_TOKEN_SECRET',
  /** JSON: target name → CodeBuild project name */
  projects: 'TARGET_PROJECTS',
  runWindowMinutes: 'RUN_WINDOW_MINUTES',
  /** CodeBuild project that runs diffoscope on a mismatch (unset: no diff jobs) */
  diffProject: 'DIFF_PROJECT',
  /** minutes after planning a run may stay open before the dead-man Lambda closes it */
  staleRunMinutes: 'STALE_RUN_MINUTES',
  /** ARN of the KMS key the checker signs run attestations with (ECC_NIST_P256, SIGN_VERIFY) */
  attestationKey: 'ATTESTATION_KEY_ARN',
  /** the launcher the watch invokes (asynchronously) when the latest release has no run yet */
  launcherFunction: 'LAUNCHER_FUNCTION_NAME',
} as const;
