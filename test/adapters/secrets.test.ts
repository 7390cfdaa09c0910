import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { GitLabTokenReader, tokenFromSecretString } from '../../lambda/adapters/secrets';

describe('GitLab token from Secrets Manager', () => {
  it('reads a bare token, JSON {"token"}, and "anonymous"/empty as no token', () => {
    expect(tokenFromSecretString('glpat-abc')).toBe('glpat-abc');
    expect(tokenFromSecretString(' glpat-abc\n')).toBe('glpat-abc');
    expect(tokenFromSecretString('{"token":"glpat-x"}')).toBe('glpat-x');
    expect(tokenFromSecretString('anonymous')).toBeUndefined();
    expect(tokenFromSecretString('')).toBeUndefined();
    expect(() => tokenFromSecretString('{"tok":1}')).toThrow(/without a string "token"/);
    expect(() => tokenFromSecretString('{bad')).toThrow(/does not parse/);
    expect(() => tokenFromSecretString('two words')).toThrow(/whitespace/);
  });

  it('fetches the secret once per cache period', async () => {
    const client = new SecretsManagerClient({ region: 'eu-west-1' });
    const sm = mockClient(client);
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'glpat-1' });
    let now = 0;
    const reader = new GitLabTokenReader('arn:secret', { client, now: () => now, cacheMs: 1000 });
    expect(await reader.read()).toBe('glpat-1');
    now = 500;
    expect(await reader.read()).toBe('glpat-1');
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    now = 1500;
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'glpat-2' });
    expect(await reader.read()).toBe('glpat-2');
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'arn:secret' });
  });
});
