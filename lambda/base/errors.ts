/**
 * The error base every layer shares (core, formats, adapters): a stable machine `code` and a
 * one-line `userMessage` that says what went wrong and, where we know it, what to do about it.
 * It lives below both core and formats so that neither imports the other for its errors.
 */
export class VerifierError extends Error {
  readonly code: string;
  readonly userMessage: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, userMessage: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(userMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.userMessage = userMessage;
    this.details = options?.details;
  }
}

/** Input (a file, a signature, a key) is not in the format it claims to be. */
export class FormatError extends VerifierError {
  constructor(format: string, userMessage: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(`FORMAT_${format.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`, userMessage, options);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof VerifierError) return err.userMessage;
  if (err instanceof Error) return err.message;
  return String(err);
}
