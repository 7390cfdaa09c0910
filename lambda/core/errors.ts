/**
 * Typed errors. Every error that can reach a user carries a stable machine `code` and a one-line
 * `userMessage` that says what went wrong and, where we know it, what to do about it.
 */
import { VerifierError } from '../base/errors';

export { errorMessage, FormatError, VerifierError } from '../base/errors';

/** One problem in the configuration file, named by its field path. */
export interface ConfigIssue {
  /** e.g. `targets[1].image` */
  path: string;
  /** what is wrong and how to fix it */
  message: string;
}

export class ConfigError extends VerifierError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], source?: string) {
    const where = source ? ` in ${source}` : '';
    super('CONFIG_INVALID', `configuration invalid${where}:\n` + issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n'), {
      details: { issues },
    });
    this.issues = issues;
  }
}

export type ForgeErrorKind =
  | 'not-found'
  | 'unreachable'
  | 'rate-limited'
  | 'server-error'
  | 'bad-response'
  | 'too-large'
  | 'timeout'
  | 'truncated'
  | 'refused-host'
  | 'unauthorized';

/** Anything the forge (GitLab) did or failed to do. Always maps to an INCOMPLETE finding unless
 * the caller knows better (e.g. a digest disagreement is TAMPERED, raised elsewhere). */
export class ForgeError extends VerifierError {
  readonly kind: ForgeErrorKind;
  readonly url?: string;
  readonly status?: number;
  constructor(kind: ForgeErrorKind, userMessage: string, options?: { cause?: unknown; url?: string; status?: number }) {
    super(`FORGE_${kind.toUpperCase().replace(/-/g, '_')}`, userMessage, {
      cause: options?.cause,
      details: { url: options?.url, status: options?.status },
    });
    this.kind = kind;
    this.url = options?.url;
    this.status = options?.status;
  }
}

/** A builder could not start or run a build (not: the build failed — that is a BuildResult). */
export class BuildError extends VerifierError {
  constructor(userMessage: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('BUILD_ERROR', userMessage, options);
  }
}

/** Command-line misuse: exit code 3 for `verify`, 2 for `check-signature`/`compare`. */
export class UsageError extends VerifierError {
  constructor(userMessage: string) {
    super('USAGE', userMessage);
  }
}
