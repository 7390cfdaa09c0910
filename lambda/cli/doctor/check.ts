/**
 * One doctor check's outcome, and the helpers every check uses. Statuses are a contract (the
 * `--json` output): "ok", "problem", "cannot check".
 */
import { errorMessage } from '../../core/errors';
import type { DeployedConfig } from '../../handlers/launcher';

export type CheckStatus = 'ok' | 'problem' | 'cannot check';

export interface CheckResult {
  /** stable id, e.g. `stack`, `subscription:email:ops@example.com`, `image:linux-x64` */
  id: string;
  status: CheckStatus;
  /** what was found (never a secret value) */
  detail: string;
  /** what to do about it (problem / cannot check) */
  fix?: string;
}

export const ok = (id: string, detail: string): CheckResult => ({ id, status: 'ok', detail });
export const problem = (id: string, detail: string, fix: string): CheckResult => ({ id, status: 'problem', detail, fix });
export const cannot = (id: string, detail: string, fix: string): CheckResult => ({ id, status: 'cannot check', detail, fix });

/** The stack outputs doctor reads. */
export interface StackFacts {
  name: string;
  status: string;
  outputs: Record<string, string>;
}

export interface DoctorContext {
  stack: StackFacts;
  region?: string;
  /** the deployed configuration (from the launcher's dry run, else --config), null when unknown */
  config: DeployedConfig | null;
  /** where `config` came from, for the lines that depend on it */
  configSource: string;
  now: Date;
}

function errorName(err: unknown): string {
  return (err as { name?: string })?.name ?? '';
}

export function isAccessDenied(err: unknown): boolean {
  return /AccessDenied|UnauthorizedOperation|AuthorizationError|not authorized/i.test(`${errorName(err)} ${errorMessage(err)}`);
}

/**
 * A check whose AWS call failed: "cannot check", naming the action the credentials lack when AWS
 * said so. Never "ok" — a failure to look is not a finding that all is well.
 */
export function failed(id: string, what: string, action: string, err: unknown): CheckResult {
  const message = errorMessage(err);
  if (/CredentialsProviderError|ExpiredToken|InvalidClientTokenId|UnrecognizedClient|TokenRefreshRequired/.test(`${errorName(err)} ${message}`)) {
    return cannot(
      id,
      `${what}: no usable AWS credentials (${message})`,
      'sign in: AWS_PROFILE=<profile> (aws sso login), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
    );
  }
  return isAccessDenied(err)
    ? cannot(id, `${what}: access denied (${message})`, `allow ${action} to the credentials you run doctor with (see the README's list of doctor's actions)`)
    : cannot(id, `${what}: ${errorName(err) || 'error'}: ${message}`, 'retry; if it persists, check the region (--region) and the stack');
}

export function nameOf(err: unknown): string {
  return errorName(err);
}
