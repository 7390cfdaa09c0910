/**
 * The GitLab token, read from Secrets Manager by the launcher and the checker (never by a build).
 *
 * The secret holds the token as a plain string, or JSON `{"token": "…"}`. The value `anonymous`
 * (the stack's initial value) or an empty string means "no token": public projects are read
 * anonymously. The value is cached for a few minutes per Lambda container.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { VerifierError } from '../core/errors';

export const ANONYMOUS_TOKEN = 'anonymous';

export interface TokenReaderOptions {
  /** @default a new SecretsManagerClient for the Lambda's region */
  client?: SecretsManagerClient;
  /** @default 5 minutes */
  cacheMs?: number;
  now?: () => number;
}

/** Interprets a secret's string value. Exported for tests. */
export function tokenFromSecretString(value: string | undefined): string | undefined {
  const raw = (value ?? '').trim();
  if (raw === '' || raw === ANONYMOUS_TOKEN) return undefined;
  if (raw.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new VerifierError('TOKEN_SECRET_INVALID', 'the GitLab token secret looks like JSON but does not parse; store the bare token or {"token":"…"}');
    }
    const token = (parsed as { token?: unknown }).token;
    if (typeof token !== 'string') throw new VerifierError('TOKEN_SECRET_INVALID', 'the GitLab token secret is JSON without a string "token" field');
    return tokenFromSecretString(token);
  }
  if (/\s/.test(raw)) throw new VerifierError('TOKEN_SECRET_INVALID', 'the GitLab token secret contains whitespace; store the bare token');
  return raw;
}

export class GitLabTokenReader {
  private readonly client: SecretsManagerClient;
  private cached?: { value: string | undefined; at: number };
  constructor(
    private readonly secretId: string,
    private readonly options: TokenReaderOptions = {},
  ) {
    this.client = options.client ?? new SecretsManagerClient({});
  }

  async read(): Promise<string | undefined> {
    const now = (this.options.now ?? Date.now)();
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? 5 * 60_000)) return this.cached.value;
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    if (out.SecretString === undefined)
      throw new VerifierError('TOKEN_SECRET_INVALID', 'the GitLab token secret has no string value (binary secrets are not supported)');
    const value = tokenFromSecretString(out.SecretString);
    this.cached = { value, at: now };
    return value;
  }
}
