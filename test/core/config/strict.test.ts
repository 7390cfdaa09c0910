/**
 * Typos are not accepted (issue 9 item 8): every unknown configuration key is an error naming the
 * nearest valid key, in the zod schema and in the published JSON Schema.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lambda/core/config/load';
import { configJsonSchema } from '../../../lambda/core/config/json-schema';
import { editDistance, nearestKey } from '../../../lambda/core/config/suggest';
import { ConfigError } from '../../../lambda/core/errors';

const DIGEST = 'a'.repeat(64);
const MINISIGN_PUB = 'RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3';
const FPR = 'B'.repeat(40);

function valid(): any {
  return {
    version: 1,
    gitlab: { url: 'https://gitlab.example.com', project: 'group/app' },
    alerts: { emails: ['a@example.com'], notifyOnVerified: false },
    targets: [
      {
        name: 'linux-x64',
        image: `debian@sha256:${DIGEST}`,
        command: 'make dist',
        timeoutMinutes: 30,
        artifacts: [
          { path: 'dist/app.tar.gz', asset: 'app.tar.gz', compare: 'bytes', signature: { scheme: 'minisign', publicKey: MINISIGN_PUB } },
          {
            path: 'dist/web.js',
            asset: 'web.js',
            source: { type: 'generic-package', packageName: 'app' },
            signature: { scheme: 'sha256sums', manifestSignature: { scheme: 'openpgp', fingerprint: FPR, publicKey: 'x' } },
          },
        ],
      },
    ],
  };
}

function messageOf(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).userMessage;
  }
  throw new Error('expected a ConfigError');
}

describe('unknown configuration keys', () => {
  it('the valid base configuration parses (so each case below fails for its typo only)', () => {
    expect(() => parseConfig(valid())).not.toThrow();
  });

  it.each([
    ['alerts.notifyOnVerifed', (r: any) => (r.alerts.notifyOnVerifed = true), 'alerts.notifyOnVerifed: unknown key — did you mean notifyOnVerified?'],
    ['compar on an artifact', (r: any) => (r.targets[0].artifacts[0].compar = 'bytes'), 'targets[0].artifacts[0].compar: unknown key — did you mean compare?'],
    ['a target-level timeout', (r: any) => (r.targets[0].timeout = 30), 'targets[0].timeout: unknown key — did you mean timeoutMinutes?'],
    ['a top-level typo', (r: any) => (r.ignoreAsset = ['CHANGELOG*']), 'ignoreAsset: unknown key — did you mean ignoreAssets?'],
    ['gitlab.tokn', (r: any) => (r.gitlab.tokn = { env: 'X' }), 'gitlab.tokn: unknown key — did you mean token?'],
    [
      'a signature policy key',
      (r: any) => (r.targets[0].artifacts[0].signature.publicKy = MINISIGN_PUB),
      'targets[0].artifacts[0].signature.publicKy: unknown key — did you mean publicKey?',
    ],
    [
      'a key of the manifest signature',
      (r: any) => (r.targets[0].artifacts[1].signature.manifestSignature.fingerprnt = FPR),
      'targets[0].artifacts[1].signature.manifestSignature.fingerprnt: unknown key — did you mean fingerprint?',
    ],
    [
      'an asset source key',
      (r: any) => (r.targets[0].artifacts[1].source.packageVersin = '1'),
      'targets[0].artifacts[1].source.packageVersin: unknown key — did you mean packageVersion?',
    ],
    ['a limits key (transposition)', (r: any) => (r.limits = { parallelBiulds: 2 }), 'limits.parallelBiulds: unknown key — did you mean parallelBuilds?'],
    ['a key of release: {tag}', (r: any) => (r.release = { tag: 'v1', tga: 'v2' }), 'release.tga: unknown key — did you mean tag?'],
    ['a key of aws', (r: any) => (r.aws = { stagesource: true }), 'aws.stagesource: unknown key — did you mean stageSource?'],
  ])('rejects %s with the nearest valid key', (_what, mutate, expected) => {
    const raw = valid();
    mutate(raw);
    expect(messageOf(raw)).toContain(expected);
  });

  it.each([
    [
      'a misspelt scheme',
      (r: any) => (r.targets[0].artifacts[0].signature.scheme = 'minisgn'),
      /targets\[0\]\.artifacts\[0\]\.signature\.scheme: unknown scheme: .* — did you mean minisign\?/,
    ],
    ['a misspelt compare value', (r: any) => (r.targets[0].artifacts[0].compare = 'byte'), /targets\[0\]\.artifacts\[0\]\.compare: .* — did you mean bytes\?/],
    [
      'a misspelt source type',
      (r: any) => (r.targets[0].artifacts[1].source.type = 'generic-packag'),
      /source\.type: unknown type: .* — did you mean generic-package\?/,
    ],
  ])('names the nearest valid value for %s', (_what, mutate, expected) => {
    const raw = valid();
    mutate(raw);
    expect(messageOf(raw)).toMatch(expected);
  });

  it('lists the valid keys when none is near, and reports every unknown key', () => {
    const raw = valid();
    raw.alerts.pagerduty = 'x';
    raw.alerts.notifyOnVerifed = true;
    const message = messageOf(raw);
    expect(message).toContain('alerts.pagerduty: unknown key — valid keys here: emails, sms, notifyOnVerified');
    expect(message).toContain('alerts.notifyOnVerifed: unknown key — did you mean notifyOnVerified?');
  });

  it('suggests by Damerau–Levenshtein distance and never an unrelated key', () => {
    expect(editDistance('notifyOnVerifed', 'notifyOnVerified')).toBe(1);
    expect(editDistance('parallelBiulds', 'parallelBuilds')).toBe(1); // one transposition
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(nearestKey('compar', ['path', 'asset', 'source', 'compare', 'signature'])).toBe('compare');
    expect(nearestKey('timeout', ['name', 'timeoutMinutes', 'env'])).toBe('timeoutMinutes');
    expect(nearestKey('pagerduty', ['emails', 'sms', 'notifyOnVerified'])).toBeUndefined();
    expect(nearestKey('x', ['sms'])).toBeUndefined();
  });
});

describe('published JSON Schema is closed', () => {
  /** Every object schema in the document, with its JSON pointer. */
  function objectSchemas(node: unknown, at = '#', out: { at: string; node: Record<string, unknown> }[] = []) {
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) objectSchemas(n, `${at}/${i}`, out);
    } else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.type === 'object' || o.properties) out.push({ at, node: o });
      for (const [k, v] of Object.entries(o)) objectSchemas(v, `${at}/${k}`, out);
    }
    return out;
  }

  it('has additionalProperties: false on every object with fixed properties', () => {
    const objects = objectSchemas(configJsonSchema()).filter((o) => o.node.properties);
    expect(objects.length).toBeGreaterThan(15);
    const open = objects.filter((o) => o.node.additionalProperties !== false).map((o) => o.at);
    expect(open).toEqual([]);
  });

  it('is the file the repository publishes (regenerated with npm run schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const published = JSON.parse(readFileSync('schema/release-verifier.schema.json', 'utf8'));
    const open = objectSchemas(published).filter((o) => o.node.properties && o.node.additionalProperties !== false);
    expect(open.map((o) => o.at)).toEqual([]);
  });
});
