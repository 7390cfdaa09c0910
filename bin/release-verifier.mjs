#!/usr/bin/env node
// Entry point for `npx release-verifier …`: the CLI is TypeScript, run through tsx's loader so that
// a fresh `npm ci` is enough (no build step to forget).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
