/**
 * Issue 10 item 2: a signature scheme owns its registration. Every scheme of the registry must
 * reach every place that derives from it — the configuration schema and its JSON Schema, load-time
 * key-file inlining, plan expansion, the companion download and its bound, the assets the plan
 * counts as covered, and check-signature's --scheme choices. A switch reintroduced somewhere that
 * forgets a scheme fails here; a scheme added without a sample below fails to compile.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run as checkSignature } from '../../../lambda/cli/check-signature';
import { signatureDownloadLimit } from '../../../lambda/core/companion-limits';
import { configJsonSchema } from '../../../lambda/core/config/json-schema';
import { parseConfig } from '../../../lambda/core/config/load';
import { SignaturePolicySchema } from '../../../lambda/core/config/schema';
import { planTargets } from '../../../lambda/core/run/plan';
import { unverifiedAssetFindings } from '../../../lambda/core/unverified-assets';
import { MAX_SIGNATURE_FILE_BYTES } from '../../../lambda/formats/minisign';
import { MAX_OPENPGP_SIGNATURE_BYTES } from '../../../lambda/formats/openpgp';
import { BUNDLE_MAX_BYTES } from '../../../lambda/formats/schemes/sigstore';
import { MAX_BUNDLE_BYTES } from '../../../lambda/formats/sigstore';
import { companionOf, SCHEME_NAMES, SIGNATURE_SCHEMES, type SchemeName } from '../../../lambda/formats/schemes/registry';
import { verifySignature } from '../../../lambda/formats/signature';

const IMG = `debian@sha256:${'a'.repeat(64)}`;

/** A minimal valid policy of each scheme, key material left out (given as files below). */
const SAMPLES: Record<SchemeName, Record<string, unknown>> = {
  minisign: { scheme: 'minisign' },
  tauri: { scheme: 'tauri' },
  openpgp: { scheme: 'openpgp', fingerprint: 'B'.repeat(40) },
  authenticode: { scheme: 'authenticode', certSha256: ['c'.repeat(64)] },
  sigstore: { scheme: 'sigstore', issuer: 'https://issuer.example', san: 'someone' },
  apple: { scheme: 'apple', teamId: 'ZCK58M894E' },
};

function config(signature: Record<string, unknown>, baseDir?: string) {
  return parseConfig(
    {
      version: 1,
      gitlab: { project: 'g/app' },
      targets: [{ name: 'linux', image: IMG, command: 'make', artifacts: [{ path: 'dist/app-{version}', asset: 'app-{version}', signature }] }],
    },
    { baseDir },
  );
}

/** the sample with each required key field given as a file (what load.ts must inline) */
function withKeyFiles(name: SchemeName, dir: string): Record<string, unknown> {
  const policy = { ...SAMPLES[name] };
  for (const { field } of requiredKeys(name)) {
    writeFileSync(join(dir, `${name}-${field}`), `${name} ${field} material\n`);
    policy[`${field}File`] = `${name}-${field}`;
  }
  return policy;
}

function requiredKeys(name: SchemeName) {
  return SIGNATURE_SCHEMES.find((s) => s.name === name)?.keyFields.filter((k) => k.required) ?? [];
}

function schemeConsts(node: unknown): string[] {
  const oneOf = (node as { oneOf?: { properties?: { scheme?: { const?: string } } }[] }).oneOf ?? [];
  return oneOf.map((o) => o.properties?.scheme?.const ?? '?');
}

describe('the signature scheme registry', () => {
  it('lists six schemes in the order of the configuration union', () => {
    expect(SCHEME_NAMES).toEqual(['minisign', 'tauri', 'openpgp', 'authenticode', 'sigstore', 'apple']);
    expect(SIGNATURE_SCHEMES.map((s) => s.name)).toEqual(SCHEME_NAMES);
  });

  it('every scheme is in the JSON Schema, and each manifest-capable one under sha256sums', () => {
    const json = configJsonSchema() as { properties: { targets: { items: { properties: { artifacts: { items: { properties: { signature: unknown } } } } } } } };
    const signature = json.properties.targets.items.properties.artifacts.items.properties.signature as {
      oneOf: { properties: { scheme: { const: string }; manifestSignature?: unknown } }[];
    };
    expect(schemeConsts(signature)).toEqual([...SCHEME_NAMES, 'sha256sums', 'none']);
    const sums = signature.oneOf.find((o) => o.properties.scheme.const === 'sha256sums');
    expect(schemeConsts(sums?.properties.manifestSignature)).toEqual(SIGNATURE_SCHEMES.filter((s) => s.usableForManifest).map((s) => s.name));
    expect(SIGNATURE_SCHEMES.find((s) => s.name === 'apple')?.usableForManifest).toBe(false);
  });

  it('the openpgp manifest variant: text mode by default, cleartext allowed; not for direct assets', () => {
    const direct = SignaturePolicySchema.parse({ scheme: 'openpgp', fingerprint: 'B'.repeat(40), publicKey: 'k' });
    expect(direct).not.toHaveProperty('allowTextMode');
    expect(SignaturePolicySchema.safeParse({ scheme: 'openpgp', fingerprint: 'B'.repeat(40), publicKey: 'k', cleartext: true }).success).toBe(false);
    const sums = SignaturePolicySchema.parse({
      scheme: 'sha256sums',
      manifestSignature: { scheme: 'openpgp', fingerprint: 'B'.repeat(40), publicKey: 'k', cleartext: true },
    });
    expect(sums).toMatchObject({ manifestSignature: { allowTextMode: true, cleartext: true } });
  });

  for (const scheme of SIGNATURE_SCHEMES) {
    describe(scheme.name, () => {
      it('loads: its key files are inlined, and a missing required key is named', () => {
        const dir = mkdtempSync(join(tmpdir(), 'rv-scheme-'));
        const signature = config(withKeyFiles(scheme.name, dir), dir).targets[0]?.artifacts[0]?.signature as Record<string, unknown>;
        for (const { field } of requiredKeys(scheme.name)) {
          expect(signature[field]).toBe(`${scheme.name} ${field} material\n`);
          expect(signature).not.toHaveProperty(`${field}File`);
        }
        for (const { field } of requiredKeys(scheme.name)) expect(() => config(SAMPLES[scheme.name])).toThrow(new RegExp(`signature\\.${field}.*is required`));
      });

      it('plans: the companion name is expanded; the companion is fetched within its bound, or none for embedded schemes', () => {
        const dir = mkdtempSync(join(tmpdir(), 'rv-scheme-'));
        const cfg = config(withKeyFiles(scheme.name, dir), dir);
        const { targets } = planTargets(cfg, { tag: 'v1.2.3' });
        const planned = targets[0]?.artifacts[0];
        expect(planned?.asset).toBe('app-1.2.3');
        const policy = planned?.signature;
        if (!policy || policy.scheme === 'none' || policy.scheme === 'sha256sums') throw new Error('expected a direct policy');
        const companion = companionOf(policy);
        const release = { tag: 'v1.2.3', links: [{ name: 'app-1.2.3', url: 'https://gitlab.example.com/a', linkType: 'package' }] };
        if (scheme.companion === 'embedded') {
          expect(companion).toBeUndefined();
          expect(signatureDownloadLimit(scheme.name)).toBeUndefined();
        } else {
          // the default companion name of the policy schema, {asset} expanded
          expect(companion?.name).toMatch(/^app-1\.2\.3\.[a-z.]+$/);
          expect(companion?.maxBytes).toBeGreaterThan(0);
          expect(signatureDownloadLimit(scheme.name)).toBe(companion?.maxBytes);
          // the plan counts the companion as covered: a release link of that name is not UNVERIFIED_ASSET
          const links = [...release.links, { name: companion?.name ?? '', url: 'https://gitlab.example.com/b', linkType: 'other' }];
          expect(unverifiedAssetFindings({ ...release, links } as never, targets, { gitlabUrl: 'https://gitlab.example.com' })).toEqual([]);
        }
        // a link nobody reads is still reported (the test above could not pass by covering everything)
        const stray = [...release.links, { name: 'app-1.2.3.stray', url: 'https://gitlab.example.com/c', linkType: 'other' }];
        expect(unverifiedAssetFindings({ ...release, links: stray } as never, targets, { gitlabUrl: 'https://gitlab.example.com' })).toHaveLength(1);
      });

      it('is a --scheme choice of check-signature', async () => {
        const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
        const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
        try {
          // no --file: the scheme is accepted, the next check fails
          expect(await checkSignature(['--scheme', scheme.name])).toBe(3);
          expect(String(err.mock.calls.at(-1)?.[0])).toContain('--file is required');
        } finally {
          err.mockRestore();
          out.mockRestore();
        }
      });

      it("check-signature's help names the scheme and each of its flags", async () => {
        const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
        try {
          expect(await checkSignature(['--help'])).toBe(0);
          const help = String(out.mock.calls[0]?.[0]);
          expect(help).toMatch(new RegExp(`--scheme <[a-z|]*\\b${scheme.name}\\b`));
          for (const flag of Object.keys(scheme.cli.flags)) expect(help).toMatch(new RegExp(`^\\s+--${flag}\\b`, 'm'));
        } finally {
          out.mockRestore();
        }
      });

      it('verifies through the registry: a file that is not signed is never valid', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'rv-scheme-'));
        const asset = join(dir, 'asset');
        writeFileSync(asset, 'not signed\n');
        writeFileSync(`${asset}.sig`, 'not a signature\n');
        const policy = SignaturePolicySchema.parse({ ...SAMPLES[scheme.name], ...Object.fromEntries(requiredKeys(scheme.name).map((k) => [k.field, 'x'])) });
        if (policy.scheme === 'none' || policy.scheme === 'sha256sums') throw new Error('expected a direct policy');
        const verdict = await verifySignature({ assetPath: asset, signaturePath: `${asset}.sig`, policy }).then(
          (r) => r.valid,
          () => 'could not check',
        );
        expect(verdict).not.toBe(true);
      });
    });
  }

  it('the companion bounds are the format modules’ own', () => {
    expect(signatureDownloadLimit('minisign')).toBe(MAX_SIGNATURE_FILE_BYTES);
    expect(signatureDownloadLimit('openpgp')).toBe(MAX_OPENPGP_SIGNATURE_BYTES);
    expect(BUNDLE_MAX_BYTES).toBe(MAX_BUNDLE_BYTES);
    expect(signatureDownloadLimit('sigstore')).toBe(MAX_BUNDLE_BYTES);
  });

  it('check-signature refuses an unknown scheme and names every registered one', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await checkSignature(['--scheme', 'nope', '--file', 'x'])).toBe(3);
      expect(String(err.mock.calls.at(-1)?.[0])).toContain(`--scheme must be one of ${SCHEME_NAMES.join(', ')}`);
    } finally {
      err.mockRestore();
    }
  });
});
