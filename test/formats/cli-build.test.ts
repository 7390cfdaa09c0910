/**
 * The compiled CLI (issue 14, issue 10): scripts/build-cli.mjs bundles bin/cli.ts with esbuild; the
 * entry chunk imports only built-ins and a 2 KiB helpers chunk (so `--version` loads almost nothing), schemes and
 * commands are separate chunks, and the compiled check-signature agrees with minisign(1) on a
 * genuine and a tampered file. Built into a temporary directory inside the repository (so that
 * `../package.json` and node_modules resolve as they do for dist/), removed afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsAvailable } from '../support/tools';

const repo = join(import.meta.dirname, '..', '..');
let out: string;
let work: string;

/** Runs the compiled CLI's main() with argv, as bin/release-verifier.mjs does. */
function runBuilt(argv: string[]): { code: number | null; stdout: string; stderr: string } {
  const script = `const { main } = await import(${JSON.stringify(join(out, 'cli.js'))}); process.exitCode = await main(${JSON.stringify(argv)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The specifiers of a chunk's static imports (minified: `import{a as b}from"./x.js";`, `import"./y.js";`), not its `import("…")`. */
function staticImports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:^|[;\n}])\s*import\s*(?:[^;"'()]*?from\s*)?["']([^"']+)["']/g)].map((m) => m[1]!);
}

describe('compiled CLI (esbuild)', () => {
  beforeAll(() => {
    out = mkdtempSync(join(repo, '.dist-test-'));
    work = mkdtempSync(join(tmpdir(), 'rv-cli-build-'));
    execFileSync(process.execPath, [join(repo, 'scripts', 'build-cli.mjs'), '--outdir', out], { stdio: 'pipe' });
  }, 120_000);
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('--version prints package.json version; the entry chunk statically imports only node built-ins', () => {
    const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    const r = runBuilt(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
    // statically: node built-ins and esbuild's small runtime-helpers chunk, no package, no command
    const imports = staticImports(join(out, 'cli.js'));
    expect(imports.filter((s) => !s.startsWith('node:') && !s.startsWith('./'))).toEqual([]);
    const ours = imports.filter((s) => s.startsWith('./'));
    for (const s of ours) expect(staticImports(join(out, s)).filter((x) => !x.startsWith('node:'))).toEqual([]);
    expect(ours.reduce((n, s) => n + readFileSync(join(out, s)).length, 0)).toBeLessThan(8 * 1024);
    // commands are chunks of their own, loaded by dynamic import
    expect(readdirSync(join(out, 'chunks')).some((f) => f.startsWith('check-signature-'))).toBe(true);
    const inputs = JSON.parse(readFileSync(join(out, 'inputs.json'), 'utf8')) as { inputs: string[]; builtAt: number };
    expect(inputs.inputs).toContain('bin/cli.ts');
    expect(inputs.inputs.some((f) => f.includes('node_modules'))).toBe(false);
    // bin/release-verifier.mjs stats every input to decide that the build is current: one that is
    // not a file (a bundler's virtual module) would send every start back to tsx
    for (const f of inputs.inputs) expect(statSync(join(repo, f)).isFile(), f).toBe(true);
  });

  /** The sources (from the source maps: the bundle is minified) of a chunk and every chunk it imports statically. */
  const staticSources = (chunk: string): string[] => {
    const seen = new Set<string>();
    const walk = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const s of staticImports(f)) if (s.startsWith('.')) walk(join(f, '..', s));
    };
    walk(join(out, 'chunks', chunk));
    return [...seen].flatMap((f) => (JSON.parse(readFileSync(`${f}.map`, 'utf8')) as { sources: string[] }).sources);
  };
  const chunkNamed = (pattern: RegExp) => {
    const found = readdirSync(join(out, 'chunks')).filter((f) => pattern.test(f));
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('check-signature loads neither openpgp, sigstore, pkijs nor classic zod before a scheme needs them', () => {
    const sources = staticSources(chunkNamed(/^check-signature-[A-Z0-9]{8}\.js$/));
    // the walk sees the registry and the policy schemas (zod/mini and zod's core) …
    expect(sources.some((f) => f.includes('lambda/formats/schemes/registry.ts'))).toBe(true);
    expect(sources.some((f) => f.includes('node_modules/zod/v4/mini/'))).toBe(true);
    // … and none of these
    for (const marker of ['openpgp/', 'sigstore/', '@sigstore/', 'pkijs/', 'asn1js/', 'zod/v4/classic/']) {
      expect(sources.filter((f) => f.includes(`node_modules/${marker}`))).toEqual([]);
    }
    // of zod's error-message locales, English only (build-cli.mjs drops the rest from zod/mini)
    expect(sources.filter((f) => f.includes('zod/v4/locales/')).map((f) => f.replace(/.*locales\//, ''))).toEqual(['en.js']);
  });

  it('the check-signature entry (it starts the early Authenticode digest) loads no scheme registry and no zod', () => {
    const sources = staticSources(chunkNamed(/^check-signature-entry-[A-Z0-9]{8}\.js$/));
    expect(sources.some((f) => f.includes('lambda/formats/authenticode/early-digest.ts'))).toBe(true);
    expect(sources.filter((f) => f.includes('zod') || f.includes('formats/schemes/'))).toEqual([]);
  });

  it.skipIf(!toolsAvailable('minisign'))('compiled check-signature agrees with minisign -V (valid 0, tampered 1)', () => {
    const file = join(work, 'a.txt');
    writeFileSync(file, 'payload\n');
    execFileSync('minisign', ['-G', '-W', '-p', join(work, 'k.pub'), '-s', join(work, 'k.key')], { stdio: 'pipe' });
    execFileSync('minisign', ['-S', '-W', '-s', join(work, 'k.key'), '-m', file], { stdio: 'pipe' });
    const args = ['check-signature', '--scheme', 'minisign', '--file', file, '--key', join(work, 'k.pub'), '--json'];
    expect(spawnSync('minisign', ['-V', '-p', join(work, 'k.pub'), '-m', file]).status).toBe(0);
    const ok = runBuilt(args);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).valid).toBe(true);
    writeFileSync(file, 'payload, changed\n');
    expect(spawnSync('minisign', ['-V', '-p', join(work, 'k.pub'), '-m', file]).status).not.toBe(0);
    const bad = runBuilt(args);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).valid).toBe(false);
  });
});
