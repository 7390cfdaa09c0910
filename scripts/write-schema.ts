/**
 * Writes schema/release-verifier.schema.json (JSON Schema of the configuration, for editors) from
 * the zod schema. `--check` fails when the committed file is stale (run in the tests).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../lambda/core/config/json-schema';

const out = fileURLToPath(new URL('../schema/release-verifier.schema.json', import.meta.url));
const text = JSON.stringify(configJsonSchema(), null, 2) + '\n';
if (process.argv.includes('--check')) {
  if (readFileSync(out, 'utf8') !== text) {
    console.error('schema/release-verifier.schema.json is stale: run `npm run schema`');
    process.exit(1);
  }
} else {
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}
