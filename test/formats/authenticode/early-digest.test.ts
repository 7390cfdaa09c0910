/**
 * The prefetched early Authenticode digest (issue 14): check-signature starts hashing a large signed
 * PE before its verifier loads. The verification of that same path takes the prefetched job (one
 * worker, not two); another path, or no prefetch, starts its own; a prefetch nobody takes is
 * stopped; verdicts are the same whichever way the digest came. The argument scan that decides
 * the prefetch takes the value parseArgs takes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cancelPrefetched, earlyDigestFor, earlyDigestPolicy, pendingPrefetch, prefetchEarlyDigest } from '../../../lambda/formats/authenticode/early-digest';
import { verifyAuthenticode } from '../../../lambda/formats/authenticode/verify';
import { lastFlagValue, run as checkSignatureEntry } from '../../../lambda/cli/check-signature-entry';
import { toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

describe('lastFlagValue (the prefetch decision)', () => {
  it('takes the last --name VALUE or --name=VALUE before --, as parseArgs does', () => {
    expect(lastFlagValue(['--scheme', 'authenticode', '--file', 'a.exe'], 'file')).toBe('a.exe');
    expect(lastFlagValue(['--file=a.exe', '--file', 'b.exe'], 'file')).toBe('b.exe');
    expect(lastFlagValue(['--file', 'a.exe', '--', '--file', 'b.exe'], 'file')).toBe('a.exe');
    expect(lastFlagValue(['--scheme=authenticode'], 'scheme')).toBe('authenticode');
    expect(lastFlagValue(['--filename', 'x', '--file-x=y'], 'file')).toBeUndefined();
    expect(lastFlagValue(['--file'], 'file')).toBeUndefined();
  });
});

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS))('the prefetched early digest', () => {
  let dir: string;
  let pki: F.Pki;
  let signed: string;
  let other: string;
  const defaultMin = earlyDigestPolicy.minBytes;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-early-digest-'));
    pki = F.makePki(dir);
    const small = F.buildPe(dir, 'app', F.HELLO_C);
    writeFileSync(join(dir, 'big.exe'), Buffer.concat([readFileSync(small), Buffer.alloc(2 * 1024 * 1024 + 5, 0x41)]));
    signed = F.sign(join(dir, 'big.exe'), join(dir, 'big-signed.exe'), pki.leaf);
    other = join(dir, 'other-signed.exe');
    writeFileSync(other, readFileSync(signed));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    cancelPrefetched();
    earlyDigestPolicy.minBytes = defaultMin;
  });

  const policy = () => ({ scheme: 'authenticode', certSha256: [pki.leaf.sha256] }) as never;

  it('is taken by the verification of the same path, once; another path starts its own', async () => {
    earlyDigestPolicy.minBytes = 0;
    prefetchEarlyDigest(signed);
    const taken = await earlyDigestFor(signed);
    expect(taken).toBeDefined();
    const again = await earlyDigestFor(signed); // the prefetch was handed out: a new job
    expect(again).not.toBe(taken);
    expect((await taken!.digest)?.equals((await again!.digest)!)).toBe(true);
    prefetchEarlyDigest(signed);
    const forOther = await earlyDigestFor(other);
    expect(forOther).toBeDefined();
    // still waiting for its own path
    expect(await earlyDigestFor(signed)).toBeDefined();
    for (const j of [taken, again, forOther]) j!.cancel();
  });

  it('gives the verdict of a verification without it, for a genuine and a tampered file', async () => {
    earlyDigestPolicy.minBytes = 0;
    const bytes = readFileSync(signed);
    const tampered = join(dir, 'tampered.exe');
    writeFileSync(tampered, F.flip(bytes, F.certDir(bytes).offset - 1000));
    for (const [file, valid] of [
      [signed, true],
      [tampered, false],
    ] as const) {
      const now = new Date();
      prefetchEarlyDigest(file);
      const withPrefetch = await verifyAuthenticode({ assetPath: file, now, policy: policy() });
      earlyDigestPolicy.minBytes = Number.MAX_SAFE_INTEGER;
      const without = await verifyAuthenticode({ assetPath: file, now, policy: policy() });
      earlyDigestPolicy.minBytes = 0;
      expect(withPrefetch).toEqual(without);
      expect(withPrefetch.valid).toBe(valid);
    }
  });

  it('a prefetch for a file that changed before the judge read it is not used: the judge digests what it reads', async () => {
    earlyDigestPolicy.minBytes = 0;
    const file = join(dir, 'swapped.exe');
    const bytes = readFileSync(signed);
    writeFileSync(file, bytes);
    prefetchEarlyDigest(file);
    const job = await earlyDigestFor(file);
    await job!.digest; // the early digest saw the genuine file
    writeFileSync(file, F.flip(bytes, F.certDir(bytes).offset - 1000));
    // the verification takes no prefetch now (handed out above) and digests the tampered bytes itself
    const r = await verifyAuthenticode({ assetPath: file, policy: policy() });
    expect(r.valid).toBe(false);
    expect(r.reason).toContain('modified after signing');
    job!.cancel();
  });

  it('check-signature: a usage error after the prefetch ends the command at once (the worker is stopped)', async () => {
    earlyDigestPolicy.minBytes = 0;
    const started = Date.now();
    // --signatures takes "primary" or "any-pinned": a usage error once the registry has loaded
    const code = await checkSignatureEntry(['--scheme', 'authenticode', '--file', signed, '--cert-sha256', pki.leaf.sha256, '--signatures', 'bogus', '--json']);
    expect(code).toBe(3);
    // the entry cancelled the prefetch nobody took
    expect(pendingPrefetch()).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('check-signature through the entry: VALID for the genuine file with the prefetch in play', async () => {
    earlyDigestPolicy.minBytes = 0;
    const code = await checkSignatureEntry(['--scheme', 'authenticode', '--file', signed, '--cert-sha256', pki.leaf.sha256, '--json']);
    expect(code).toBe(0);
    expect(pendingPrefetch()).toBeUndefined(); // taken by the verification
  });

  it('never opens what is not a regular file (a FIFO would block the open)', async () => {
    earlyDigestPolicy.minBytes = 0;
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    expect(await earlyDigestFor(fifo)).toBeUndefined();
    expect(await earlyDigestFor(dir)).toBeUndefined();
    expect(await earlyDigestFor(join(dir, 'missing.exe'))).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('prefetches only for --scheme authenticode with a --file', async () => {
    earlyDigestPolicy.minBytes = 0;
    prefetchEarlyDigest(other);
    expect(pendingPrefetch()).toBe(other);
    cancelPrefetched();
    expect(pendingPrefetch()).toBeUndefined();
    // a minisign check of the same file never starts one (and fails: no key), leaving nothing behind
    const code = await checkSignatureEntry(['--scheme', 'minisign', '--file', signed, '--json']);
    expect(code).toBe(3);
    expect(pendingPrefetch()).toBeUndefined();
  });
});
