/**
 * PE comparison in one read per file (issue 14): the same reports with the hashes in worker threads
 * as in this thread; the Authenticode digests equal osslsigncode's "Calculated message digest" and
 * the library's own streamed digest; both SHA-256s equal sha256sum; a release modified after
 * signing still says so (its own digest computed again); and the whole comparison reads each file
 * about once (a counting wrapper around FileHandle.read).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { comparePeOnce } from '../../../lambda/formats/pe/compare';
import { authenticodeDigestOfFile } from '../../../lambda/formats/pe/authenticode-digest';
import { compareArtifacts } from '../../../lambda/formats/compare/index';
import { parallelPolicy } from '../../../lambda/formats/compare/pair-pass';
import { hashFile, type ComputedDigest } from '../../../lambda/formats/digest';
import { earlyDigestPolicy, verifyAuthenticode } from '../../../lambda/formats/authenticode/verify';
import { digestRangesInWorker } from '../../../lambda/formats/pe/digest-worker';
import { run, toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

const defaultMin = parallelPolicy.minBytes;

/** Counts bytes read through every FileHandle of this process (the hash workers read nothing). */
async function countingReads<T>(fn: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  const probe = await open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<{ bytesRead: number }> };
  await probe.close();
  const original = proto.read;
  let bytes = 0;
  proto.read = async function (this: unknown, ...args: unknown[]) {
    const r = await original.apply(this, args);
    bytes += r.bytesRead;
    return r;
  };
  try {
    return { result: await fn(), bytes };
  } finally {
    proto.read = original;
  }
}

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS, 'sha256sum'))('PE comparison, one read per file', () => {
  let dir: string;
  let pki: F.Pki;
  let unsigned: string;
  let signed: string;
  const p = (n: string) => join(dir, n);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-pe-one-pass-'));
    pki = F.makePki(dir);
    const small = F.buildPe(dir, 'app', F.HELLO_C);
    // 5 MiB + 3 bytes of overlay (part of the digest): two 4 MiB chunks, a size not a multiple of 8
    const code = readFileSync(small);
    const big = Buffer.concat([code, Buffer.alloc(5 * 1024 * 1024 + 3, 0x5a)]);
    for (let i = code.length; i < big.length; i += 4099) big[i] = (i * 31) & 0xff;
    writeFileSync(p('app.exe'), big);
    unsigned = p('app.exe');
    signed = F.sign(unsigned, p('app-signed.exe'), pki.leaf);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    parallelPolicy.minBytes = defaultMin;
  });

  const both = async (a: string, b: string) => {
    parallelPolicy.minBytes = 0;
    const workers = await comparePeOnce(a, b);
    parallelPolicy.minBytes = Number.MAX_SAFE_INTEGER;
    const inline = await comparePeOnce(a, b);
    expect(workers).toEqual(inline);
    expect(workers.published.sha256).toBe(run('sha256sum', [a]).split(' ')[0]);
    expect(workers.rebuilt.sha256).toBe(run('sha256sum', [b]).split(' ')[0]);
    return workers;
  };

  it('signed release vs unsigned rebuild: match; digests agree with osslsigncode and the streamed digest', async () => {
    const r = await both(signed, unsigned);
    expect(r.report.differences).toEqual([]);
    expect(r.report.match).toBe(true);
    const pub = r.report.details!.published as Record<string, string>;
    const reb = r.report.details!.rebuilt as Record<string, string>;
    const ossl = F.osslCalculatedDigest(F.osslVerify(signed, pki.ca.cert.crt).output);
    expect(ossl).toBeDefined();
    expect(pub.computedDigest).toBe(ossl!.toLowerCase());
    expect(reb.computedDigest).toBe((await authenticodeDigestOfFile(unsigned)).toString('hex'));
    expect(pub.signedDigest).toBe(reb.computedDigest);
  });

  it('a rebuild changed in the overlay: mismatch, same differences in workers and inline', async () => {
    const bytes = readFileSync(unsigned);
    const changed = F.flip(bytes, bytes.length - 1000);
    writeFileSync(p('changed.exe'), changed);
    const r = await both(signed, p('changed.exe'));
    expect(r.report.match).toBe(false);
    const wheres = r.report.differences.map((d) => d.where);
    expect(wheres).toContain('authenticode digest');
    expect(wheres).not.toContain('authenticode digest (published)');
  });

  it('a release modified after signing: its own digest is computed again and reported', async () => {
    const bytes = readFileSync(signed);
    const table = F.certDir(bytes).offset;
    writeFileSync(p('tampered.exe'), F.flip(bytes, table - 5000));
    const r = await both(p('tampered.exe'), unsigned);
    expect(r.report.match).toBe(false);
    const wheres = r.report.differences.map((d) => d.where);
    expect(wheres).toContain('authenticode digest (published)');
    const ossl = F.osslVerify(p('tampered.exe'), pki.ca.cert.crt);
    expect(ossl.ok).toBe(false);
    expect((r.report.details!.published as Record<string, string>).computedDigest).toBe(F.osslCalculatedDigest(ossl.output)!.toLowerCase());
  });

  it('both unsigned, one byte apart: the same byte ranges either way', async () => {
    const bytes = readFileSync(unsigned);
    writeFileSync(p('other.exe'), F.flip(bytes, 4 * 1024 * 1024 + 17));
    const r = await both(unsigned, p('other.exe'));
    expect(r.report.match).toBe(false);
    expect(r.report.differences.some((d) => d.publishedRange?.[0] === 4 * 1024 * 1024 + 17)).toBe(true);
  });

  it('auto on the PE pair reads each file about once (digests, Authenticode digest and diff in one pass)', async () => {
    parallelPolicy.minBytes = 0;
    const size = statSync(signed).size + statSync(unsigned).size;
    const { result, bytes } = await countingReads(() => compareArtifacts(signed, unsigned));
    expect(result.match).toBe(true);
    expect(bytes).toBeGreaterThanOrEqual(size);
    // headers, the certificate table and the format sniffing are a few KiB each
    expect(bytes).toBeLessThan(size + 256 * 1024);
  });

  /** the checker's order: signature (its Authenticode digest kept), then the comparison given both SHA-256s and that digest */
  const signatureThenCompare = async (release: string, rebuild: string) => {
    const kept: ComputedDigest[] = [];
    const sig = await verifyAuthenticode({
      assetPath: release,
      policy: { scheme: 'authenticode', certSha256: [pki.leaf.sha256] } as never,
      onDigest: (d) => kept.push(d),
    });
    const [pd, rd] = await Promise.all([hashFile(release), hashFile(rebuild)]);
    const known = { publishedSha256: pd.sha256, rebuiltSha256: rd.sha256 };
    const shared = await countingReads(() => compareArtifacts(release, rebuild, { ...known, publishedDigests: kept }));
    const alone = await compareArtifacts(release, rebuild, known);
    return { sig, kept, shared, alone };
  };

  it('signature then comparison: the release is read once — the comparison reads only the rebuild and reports as without', async () => {
    const { sig, kept, shared, alone } = await signatureThenCompare(signed, unsigned);
    expect(sig.valid).toBe(true);
    expect(kept.map((d) => [d.kind, d.algorithm, d.digest.toString('hex')])).toEqual([
      ['authenticode-pe', 'sha256', F.osslCalculatedDigest(F.osslVerify(signed, pki.ca.cert.crt).output)!.toLowerCase()],
    ]);
    expect(shared.result.match).toBe(true);
    expect(alone.match).toBe(true);
    const { releaseReadOnce, ...rest } = shared.result.details as Record<string, unknown>;
    expect(releaseReadOnce).toBeDefined();
    expect(rest).toEqual(alone.details);
    expect(shared.result.differences).toEqual(alone.differences);
    // the rebuild once, plus the release's headers and certificate table (a few KiB), not the release
    expect(shared.bytes).toBeGreaterThanOrEqual(statSync(unsigned).size);
    expect(shared.bytes).toBeLessThan(statSync(unsigned).size + 256 * 1024);
  });

  it('signature then comparison, release modified after signing: invalid, and the same mismatch as without the shared digest', async () => {
    const bytes = readFileSync(signed);
    writeFileSync(p('tampered2.exe'), F.flip(bytes, F.certDir(bytes).offset - 5000));
    const { sig, kept, shared, alone } = await signatureThenCompare(p('tampered2.exe'), unsigned);
    expect(sig.valid).toBe(false);
    expect(F.osslVerify(p('tampered2.exe'), pki.ca.cert.crt).ok).toBe(false);
    expect(kept).toHaveLength(1);
    expect(shared.result.match).toBe(false);
    expect(shared.result.differences).toEqual(alone.differences);
    expect(shared.result.details).toEqual(alone.details);
    expect(shared.result.differences.map((d) => d.where)).toContain('authenticode digest (published)');
  });

  it('a shared digest that does not fit the rebuild never makes a match by itself: the full pass decides', async () => {
    const bytes = readFileSync(unsigned);
    writeFileSync(p('changed2.exe'), F.flip(bytes, bytes.length - 1000));
    const { shared, alone } = await signatureThenCompare(signed, p('changed2.exe'));
    expect(shared.result.match).toBe(false);
    expect(shared.result.differences).toEqual(alone.differences);
    expect(shared.result.differences.map((d) => d.where)).toContain('authenticode digest');
  });

  it('the early digest in a worker (large files) gives the same verdicts, digests and reasons as computing it in the judge', async () => {
    const bytes = readFileSync(signed);
    writeFileSync(p('tampered3.exe'), F.flip(bytes, F.certDir(bytes).offset - 5000));
    const defaultEarly = earlyDigestPolicy.minBytes;
    const now = new Date();
    const verify = (file: string) => verifyAuthenticode({ assetPath: file, now, policy: { scheme: 'authenticode', certSha256: [pki.leaf.sha256] } as never });
    try {
      for (const [file, valid] of [
        [signed, true],
        [p('tampered3.exe'), false],
        [unsigned, false],
      ] as const) {
        earlyDigestPolicy.minBytes = 0;
        const early = await verify(file);
        earlyDigestPolicy.minBytes = Number.MAX_SAFE_INTEGER;
        const late = await verify(file);
        expect(early).toEqual(late);
        expect(early.valid).toBe(valid);
        expect(F.osslVerify(file, pki.ca.cert.crt).ok).toBe(valid);
      }
    } finally {
      earlyDigestPolicy.minBytes = defaultEarly;
    }
  });

  it("the early digest worker: the ranges' digest, or undefined (never an error) for a file that ends early", async () => {
    const size = statSync(unsigned).size;
    const ranges: Array<[number, number]> = [
      [0, 100],
      [200, size],
    ];
    const ok = digestRangesInWorker(unsigned, ranges, 3, 'sha256');
    const bytes = readFileSync(unsigned);
    const expected = createHash('sha256').update(bytes.subarray(0, 100)).update(bytes.subarray(200)).update(Buffer.alloc(3)).digest();
    expect((await ok.digest)?.equals(expected)).toBe(true);
    ok.cancel();
    const short = digestRangesInWorker(unsigned, [[0, size + 10]], 0, 'sha256');
    expect(await short.digest).toBeUndefined();
    short.cancel();
  });
});
