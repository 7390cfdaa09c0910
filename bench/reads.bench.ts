/**
 * Bytes read per artifact by the checker's format steps (issue 14), counted by a wrapper around every
 * file read of this process (FileHandle.read and fs.read, which streams use), attributed to paths via
 * /proc/self/fd. The flow is the checker's (lambda/core/check-target.ts): the published asset and the
 * rebuilt artifact are written once while their SHA-256 is computed (copyAndHash, as the download
 * does), then the signature is verified — its Authenticode digest kept (SignatureInput.onDigest) —
 * and the files are compared with the known digests (CompareContext.publishedDigests).
 * Set BENCH_SHARE=0 to see the flow without the shared digest (the release read twice).
 * Reads in worker threads (the Authenticode check's early digest of a large PE) are not seen by the
 * wrapper, so that one is switched off here; as a cross-check each case also prints the process's
 * whole `rchar` (/proc/self/io: bytes read by every thread of this process).
 *
 * Printed: for each artifact, bytes read after it was written, as a multiple of its size.
 *   - signed PE (authenticode) vs its unsigned rebuild
 *   - a plain file with a minisign signature vs an identical rebuild
 * Size: BENCH_MIB (default 64) MiB. Files in os.tmpdir(), deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyAndHash, type ComputedDigest } from '../lambda/formats/digest';
import { formatOps } from '../lambda/formats/ops';
import { earlyDigestPolicy } from '../lambda/formats/authenticode/verify';
import { buildPe, HELLO_C, makePki, sign } from '../test/formats/support/authenticode-fixtures';

// the CommonJS view of node:fs, whose properties can be replaced (then synced into the ESM bindings)
const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const MIB = Number(process.env.BENCH_MIB ?? 64);
const SHARE = process.env.BENCH_SHARE !== '0';
const counts = new Map<string, number>();

function pathOf(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return `fd ${fd}`;
  }
}

async function installCounter(): Promise<void> {
  const probe = await open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<{ bytesRead: number }> };
  await probe.close();
  const original = proto.read;
  proto.read = async function (this: { fd: number }, ...args: unknown[]) {
    const path = pathOf(this.fd);
    const r = await original.apply(this, args);
    counts.set(path, (counts.get(path) ?? 0) + r.bytesRead);
    return r;
  };
  const fsRead = fs.read;
  (fs as { read: unknown }).read = (fd: number, ...rest: unknown[]) => {
    const path = pathOf(fd);
    const cb = rest.pop() as (err: unknown, n: number, buf: unknown) => void;
    return (fsRead as (...a: unknown[]) => void)(fd, ...rest, (err: unknown, n: number, buf: unknown) => {
      if (!err) counts.set(path, (counts.get(path) ?? 0) + n);
      cb(err, n, buf);
    });
  };
  const readSync = fs.readSync;
  (fs as { readSync: unknown }).readSync = (fd: number, ...rest: unknown[]) => {
    const n = (readSync as (...a: unknown[]) => number)(fd, ...rest);
    const path = pathOf(fd);
    counts.set(path, (counts.get(path) ?? 0) + n);
    return n;
  };
  syncBuiltinESMExports();
}

/** the download step: write once while hashing (as safe-download.ts does) */
async function receive(source: string, dest: string): Promise<{ path: string; sha256: string; size: number }> {
  const d = await copyAndHash(createReadStream(source), dest, { maxBytes: 8 * 1024 ** 3, timeoutMs: 600_000 });
  return { path: dest, ...d };
}

/** bytes read by all threads of this process so far (read/pread syscalls, page cache included) */
function rchar(): number {
  const m = /^rchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}
let rcharAtStart = 0;

function report(label: string, files: Record<string, string>): void {
  const all = rchar() - rcharAtStart;
  const sizes = Object.values(files).reduce((n, f) => n + statSync(f).size, 0);
  console.log(`  ${label} — all threads read ${(all / 1024 / 1024).toFixed(1)} MiB = ${(all / sizes).toFixed(2)}× the two files:`);
  for (const [name, path] of Object.entries(files)) {
    const size = statSync(path).size;
    const read = counts.get(path) ?? 0;
    console.log(
      `    ${name.padEnd(34)} ${(size / 1024 / 1024).toFixed(1).padStart(7)} MiB, read after writing ${(read / 1024 / 1024).toFixed(1).padStart(7)} MiB = ${(read / size).toFixed(2)}× its size`,
    );
  }
}

async function main(): Promise<void> {
  for (const tool of ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl', 'minisign']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.log(`reads bench skipped: ${tool} not installed`);
      return;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'rv-bench-reads-'));
  try {
    const pki = makePki(dir);
    const small = buildPe(dir, 'app', HELLO_C);
    const unsigned = join(dir, 'origin-app.exe');
    spawnSync('sh', ['-c', `cat "$1" > "$2" && head -c ${MIB * 1024 * 1024} /dev/urandom >> "$2"`, 'sh', small, unsigned]);
    const signed = sign(unsigned, join(dir, 'origin-app-signed.exe'), pki.leaf);
    const plain = join(dir, 'origin-tool.tar');
    spawnSync('sh', [
      '-c',
      `head -c ${MIB * 1024 * 1024} /dev/urandom > "$1" && minisign -G -W -p "$2/k.pub" -s "$2/k.key" >/dev/null && minisign -S -W -s "$2/k.key" -m "$1" >/dev/null`,
      'sh',
      plain,
      dir,
    ]);

    await installCounter();
    // in this thread, so that the wrapper sees it (the early digest's worker reads the same bytes once)
    earlyDigestPolicy.minBytes = Number.POSITIVE_INFINITY;
    console.log(`bytes read per artifact by the checker's steps (${MIB} MiB artifacts); the download/collection write is not a read`);

    // 1. Authenticode: signed release vs unsigned rebuild
    counts.clear();
    const pub = await receive(signed, join(dir, 'published-app.exe'));
    const reb = await receive(unsigned, join(dir, 'rebuilt-app.exe'));
    rcharAtStart = rchar();
    const kept: ComputedDigest[] = [];
    const sig = await formatOps.verifySignature({
      assetPath: pub.path,
      policy: { scheme: 'authenticode', certSha256: [pki.leaf.sha256] } as never,
      onDigest: (d) => kept.push(d),
    });
    const afterSignature = counts.get(pub.path) ?? 0;
    const cmp = await formatOps.compareArtifacts(pub.path, reb.path, {
      publishedSha256: pub.sha256,
      rebuiltSha256: reb.sha256,
      ...(SHARE ? { publishedDigests: kept } : {}),
    });
    if (!sig.valid || !cmp.match) throw new Error(`PE case: valid=${sig.valid} match=${cmp.match}`);
    report(`PE: signature ${(afterSignature / pub.size).toFixed(2)}× + comparison (${cmp.method}${SHARE ? ", given the signature check's digest" : ''})`, {
      'published (signed PE)': pub.path,
      'rebuilt (unsigned PE)': reb.path,
    });

    // 2. minisign + bytes comparison
    counts.clear();
    const pubPlain = await receive(plain, join(dir, 'published-tool.tar'));
    writeFileSync(join(dir, 'published-tool.tar.minisig'), fs.readFileSync(`${plain}.minisig`));
    const rebPlain = await receive(plain, join(dir, 'rebuilt-tool.tar'));
    rcharAtStart = rchar();
    const sig2 = await formatOps.verifySignature({
      assetPath: pubPlain.path,
      signaturePath: join(dir, 'published-tool.tar.minisig'),
      policy: { scheme: 'minisign', publicKey: fs.readFileSync(join(dir, 'k.pub'), 'utf8').trim().split('\n').pop()! } as never,
    });
    const afterSig2 = counts.get(pubPlain.path) ?? 0;
    const cmp2 = await formatOps.compareArtifacts(pubPlain.path, rebPlain.path, { publishedSha256: pubPlain.sha256, rebuiltSha256: rebPlain.sha256 });
    if (!sig2.valid || !cmp2.match) throw new Error(`minisign case: valid=${sig2.valid} (${sig2.reason}) match=${cmp2.match}`);
    report(`plain file: minisign ${(afterSig2 / pubPlain.size).toFixed(2)}× + comparison (${cmp2.method})`, {
      'published (minisign-signed)': pubPlain.path,
      rebuilt: rebPlain.path,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
