/**
 * Start-up and signature checks as whole processes (issue 14), min of BENCH_RUNS (default 5),
 * peak RSS of each; ratios project / reference:
 *   - `release-verifier --version`                      target ≤ 0.15 s (node -e 0 shown as the floor)
 *   - check-signature on a small file: minisign (vs `minisign -V`), openpgp (vs `gpg --verify`),
 *     authenticode on a ~15 KiB PE (vs `osslsigncode verify`)   target ≤ 0.25 s each
 *   - check-signature --scheme authenticode on a 256 MiB PE      target ≤ 1.0× `osslsigncode verify`
 * The CLI is bin/release-verifier.mjs as users run it (dist/ when built: `npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPe, HELLO_C, makePki, sign } from '../test/formats/support/authenticode-fixtures';
import { best, buildCli, buildIsCurrent, CLI, load, row, type Command } from './measure';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MIB = Number(process.env.BENCH_MIB ?? 256);

function sh(script: string, ...args: string[]): string {
  const r = spawnSync('sh', ['-c', script, 'sh', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return r.stdout;
}

const cli = (name: string, args: string[]): Command => ({ name, cmd: process.execPath, args: [CLI, ...args] });

async function main(): Promise<void> {
  for (const tool of ['minisign', 'gpg', 'osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.log(`startup bench skipped: ${tool} not installed`);
      return;
    }
  }
  buildCli();
  const dir = mkdtempSync(join(tmpdir(), 'rv-bench-startup-'));
  try {
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'release notes\n'.repeat(1000));
    // minisign
    sh('minisign -G -W -p "$1/k.pub" -s "$1/k.key" && minisign -S -W -s "$1/k.key" -m "$2"', dir, file);
    // OpenPGP (a throw-away home)
    const gnupg = join(dir, 'gnupg');
    mkdirSync(gnupg, { mode: 0o700 });
    sh(
      'export GNUPGHOME="$1"; gpg --batch --quiet --passphrase "" --quick-gen-key "Bench <bench@example.org>" ed25519 sign never && gpg --batch --quiet --armor --export > "$1/pub.asc" && gpg --batch --quiet --detach-sign -o "$2.sig" "$2"',
      gnupg,
      file,
    );
    // Authenticode: a small PE and a MIB MiB one (random overlay), signed by osslsigncode
    const pki = makePki(dir);
    const small = buildPe(dir, 'small', HELLO_C);
    const smallSigned = sign(small, join(dir, 'small-signed.exe'), pki.leaf);
    const big = join(dir, 'big.exe');
    sh(`cat "$1" > "$2" && head -c ${MIB * 1024 * 1024} /dev/urandom >> "$2"`, small, big);
    const bigSigned = sign(big, join(dir, 'big-signed.exe'), pki.leaf);
    sh('cat "$1" > /dev/null', bigSigned);
    const auth = (f: string) => ['check-signature', '--scheme', 'authenticode', '--file', f, '--cert-sha256', pki.leaf.sha256];

    console.log(`start-up and signature checks, whole processes, min of ${RUNS}; ${load()}`);
    const m = best(
      [
        { name: 'node -e 0 (the floor)', cmd: process.execPath, args: ['-e', '0'] },
        cli('release-verifier --version', ['--version']),
        { name: 'minisign -V', cmd: 'minisign', args: ['-V', '-q', '-p', join(dir, 'k.pub'), '-m', file] },
        cli('check-signature minisign (14 KiB)', ['check-signature', '--scheme', 'minisign', '--file', file, '--key', join(dir, 'k.pub')]),
        { name: 'gpg --verify', cmd: 'gpg', args: ['--batch', '--quiet', '--verify', `${file}.sig`, file], env: { ...process.env, GNUPGHOME: gnupg } },
        cli('check-signature openpgp (14 KiB)', [
          'check-signature',
          '--scheme',
          'openpgp',
          '--file',
          file,
          '--signature',
          `${file}.sig`,
          '--key',
          join(gnupg, 'pub.asc'),
        ]),
        { name: 'osslsigncode verify (small PE)', cmd: 'osslsigncode', args: ['verify', '-CAfile', pki.ca.cert.crt, '-in', smallSigned] },
        cli('check-signature authenticode (small PE)', auth(smallSigned)),
        { name: `osslsigncode verify (${MIB} MiB PE)`, cmd: 'osslsigncode', args: ['verify', '-CAfile', pki.ca.cert.crt, '-in', bigSigned] },
        cli(`check-signature authenticode (${MIB} MiB PE)`, auth(bigSigned)),
      ],
      RUNS,
    );
    const [floor, version, minisignV, minisignOurs, gpgV, pgpOurs, osslSmall, authSmall, osslBig, authBig] = m as [(typeof m)[0], ...typeof m];
    const abs = (x: typeof floor, target: number) => `${row(x)}  target ≤ ${target} s${x.seconds <= target ? ' ✓' : ' ✗'}`;
    console.log(row(floor));
    console.log(abs(version, 0.15));
    console.log(row(minisignV));
    console.log(`${abs(minisignOurs, 0.25)}  (${(minisignOurs.seconds / minisignV.seconds).toFixed(2)}× minisign -V)`);
    console.log(row(gpgV));
    console.log(`${abs(pgpOurs, 0.25)}  (${(pgpOurs.seconds / gpgV.seconds).toFixed(2)}× gpg --verify)`);
    console.log(row(osslSmall));
    console.log(`${abs(authSmall, 0.25)}  (${(authSmall.seconds / osslSmall.seconds).toFixed(2)}× osslsigncode)`);
    console.log(row(osslBig));
    console.log(row(authBig, osslBig, 1.0));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `(measured through bin/release-verifier.mjs, which ran the dist/ build made at the start${buildIsCurrent() ? '' : ' — NOT for every run: a source changed meanwhile, so later runs went through tsx'})`,
  );
}

await main();
