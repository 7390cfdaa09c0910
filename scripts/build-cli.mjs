#!/usr/bin/env node
/**
 * `npm run build` (also run by `npm ci` / `npm install` through the `prepare` script): compiles the
 * CLI (bin/cli.ts and everything it imports) to JavaScript in dist/ with esbuild, so that starting
 * the CLI does not transpile TypeScript (issue 10, issue 14).
 *
 * - Code split (ESM chunks): each command and each signature scheme is a chunk loaded by its dynamic
 *   import, so `--version` loads dist/cli.js and nothing else of ours.
 * - Packages stay external (node_modules is there after `npm ci`): the AWS SDK, openpgp, sigstore and
 *   pkijs load from node_modules exactly as under tsx.
 * - dist/inputs.json lists the project sources the build read; bin/release-verifier.mjs runs dist/
 *   only while none of them is newer than the build (a stale build falls back to tsx).
 *
 * When esbuild is not installed (e.g. `npm ci --omit=dev` without tsx's copy of it), nothing is built
 * and this says so; the launcher then runs the TypeScript through tsx.
 *
 *   node scripts/build-cli.mjs [--outdir DIR]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--outdir');
const outdir = i > 0 ? resolve(process.argv[i + 1]) : join(root, 'dist');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stderr.write('build-cli: esbuild is not installed; the CLI will run its TypeScript through tsx (slower start)\n');
  process.exit(0);
}

/**
 * zod/mini re-exports every error-message locale (`z.locales`, ≈ 60 modules) which nothing here
 * uses: the policy schemas set English themselves (lambda/formats/schemes/policy/fields.ts). Bundled
 * as is, check-signature would parse and run them all at start (issue 14). This points that one
 * re-export at an empty namespace; classic zod, used by the configuration, keeps its own. Should a
 * zod release move the file, the filter simply stops matching and the build stays correct.
 */
const zodMiniWithoutLocales = {
  name: 'zod-mini-without-locales',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](?:mini[\\/]external|core[\\/]index)\.js$/.test(args.importer) ? { path: 'zod-mini-locales', namespace: 'rv-empty' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'rv-empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const started = Date.now();
const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { cli: 'bin/cli.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // dependencies are bundled too (fewer files to resolve and load at start); the AWS SDK, CDK and
  // the test-only packages stay external (large, only the AWS commands need them)
  external: ['@aws-sdk/*', '@smithy/*', 'aws-cdk-lib', 'constructs', '@aws-lambda-powertools/*', 'isomorphic-git', 'tsx', 'esbuild'],
  // bundled CommonJS packages call require() for Node built-ins
  banner: { js: "import { createRequire as __rvCreateRequire } from 'node:module'; const require = __rvCreateRequire(import.meta.url);" },
  // minified (issue 14): V8 parses every byte of a chunk it loads; whitespace, long local names and
  // dead branches cost start-up time (≈ 15 % of check-signature's). Names of functions and classes
  // are kept (error classes report their name); dist/*.map maps stack traces back to the sources.
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // chunk names say which module they hold
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [zodMiniWithoutLocales],
});
// the project's own source files (not packages, not the plugin's virtual module "rv-empty:…"): the
// launcher stats each of them to decide whether this build is current
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules') && !/^[\w-]+:/.test(f));
writeFileSync(join(outdir, 'inputs.json'), JSON.stringify({ builtAt: started, inputs }, null, 1) + '\n');
// dist/ is ESM whatever a parent package.json says
writeFileSync(join(outdir, 'package.json'), '{ "type": "module" }\n');
process.stdout.write(
  `build-cli: dist/cli.js and ${Object.keys(result.metafile.outputs).filter((o) => o.endsWith('.js')).length - 1} chunks from ${inputs.length} sources in ${Date.now() - started} ms\n`,
);
