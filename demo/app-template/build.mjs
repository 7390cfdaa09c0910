#!/usr/bin/env node
// Reproducible build of the demo app "mealplanner". Uses Node built-ins only. Every output byte is a
// function of the source: fixed file order, modes, owners, and mtimes from SOURCE_DATE_EPOCH (the
// commit time, which release-verifier's builders set), gzip with no timestamp.
//   node build.mjs linux   → dist/mealplanner_<version>_linux_x64.tar.gz
//   node build.mjs web     → dist/mealplanner_<version>_web.js.gz
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const target = process.argv[2];
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
mkdirSync('dist', { recursive: true });

const sources = readdirSync('src')
  .sort()
  .map((f) => readFileSync(`src/${f}`, 'utf8'));
const bundle = `// mealplanner ${version}\n` + sources.join('\n');

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}
function tarEntry(name, data, mode) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(data.length, 12), 124);
  h.write(octal(epoch, 12), 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0' + '00', 257);
  h.write('root', 265);
  h.write('root', 297);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

if (target === 'linux') {
  const launcher = Buffer.from(`#!/bin/sh\nexec node "$(dirname "$0")/../lib/mealplanner/app.js" "$@"\n`);
  const tar = Buffer.concat([
    tarEntry('mealplanner/bin/mealplanner', launcher, 0o755),
    tarEntry('mealplanner/lib/mealplanner/app.js', Buffer.from(bundle), 0o644),
    tarEntry('mealplanner/share/doc/mealplanner/VERSION', Buffer.from(version + '\n'), 0o644),
    Buffer.alloc(1024),
  ]);
  writeFileSync(`dist/mealplanner_${version}_linux_x64.tar.gz`, gzipSync(tar, { level: 9 }));
} else if (target === 'web') {
  writeFileSync(`dist/mealplanner_${version}_web.js.gz`, gzipSync(Buffer.from(bundle), { level: 9 }));
} else {
  console.error('usage: node build.mjs linux|web');
  process.exit(2);
}
console.log(`built ${target} ${version}`);
