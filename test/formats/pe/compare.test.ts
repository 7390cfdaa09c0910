/**
 * Signature-transparent PE comparison on PEs built here twice with mingw-w64 and signed with
 * osslsigncode: a signed release matches its unsigned rebuild; a changed source, appended bytes or a
 * crafted certificate table do not, and the differences name the PE section or structure.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peComparer } from '../../../lambda/formats/pe/compare';
import { toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS))('PE / Authenticode comparer', () => {
  let dir: string;
  let pki: F.Pki;
  let first: string;
  let second: string;
  let signed: string;
  let signedBytes: Buffer;
  const write = (name: string, bytes: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const compare = (a: string, b: string) => peComparer.compare(a, b, {});
  const wheres = (r: { differences: Array<{ where: string }> }) => r.differences.map((d) => d.where);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-pe-compare-'));
    pki = F.makePki(dir);
    first = F.buildPe(dir, 'first', F.HELLO_C);
    second = F.buildPe(dir, 'second', F.HELLO_C);
    signed = F.sign(first, join(dir, 'release.exe'), pki.leaf, { tsa: { cert: pki.tsa, time: new Date() } });
    signedBytes = readFileSync(signed);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('detects PEs by content', () => {
    expect(peComparer.detect(signedBytes.subarray(0, 4096))).toBe(true);
    expect(peComparer.detect(Buffer.from('MZ not a PE at all'.padEnd(4096, ' ')))).toBe(false);
    expect(peComparer.detect(Buffer.from('\x7fELF'.padEnd(4096, '\0')))).toBe(false);
  });

  it('a signed release matches an independent unsigned rebuild (built twice, identical bytes)', async () => {
    expect(readFileSync(first).equals(readFileSync(second))).toBe(true);
    const r = await compare(signed, second);
    expect(r.differences).toEqual([]);
    expect(r).toMatchObject({ method: 'authenticode', match: true });
    const pub = r.details?.published as Record<string, unknown>;
    const reb = r.details?.rebuilt as Record<string, unknown>;
    expect(pub.signedDigest).toBe(reb.computedDigest);
    expect(pub.signed).toBe(true);
  });

  it('two unsigned identical builds match; a signed rebuild of the same code matches the signed release', async () => {
    expect((await compare(first, second)).match).toBe(true);
    const otherSigning = F.sign(second, join(dir, 'rebuild-signed.exe'), pki.colleague);
    expect((await compare(signed, otherSigning)).match).toBe(true);
  });

  it('matches with padding when the unsigned size is not a multiple of 8', async () => {
    const odd = write('odd.exe', Buffer.concat([readFileSync(first), Buffer.from('installer overlay, 37 bytes long....')]));
    expect(readFileSync(odd).length % 8).not.toBe(0);
    const oddSigned = F.sign(odd, join(dir, 'odd-signed.exe'), pki.leaf);
    const r = await compare(oddSigned, odd);
    expect(r.match).toBe(true);
    expect(r.details?.paddingBytes).toBeGreaterThan(0);
    // the overlay is part of the image: a different overlay is a mismatch named as such
    const odd2 = write('odd2.exe', Buffer.concat([readFileSync(first), Buffer.from('installer overlay, 37 bytes LONG....')]));
    const r2 = await compare(oddSigned, odd2);
    expect(r2.match).toBe(false);
    expect(wheres(r2)).toContain('overlay/appended data');
  });

  it('a rebuild from changed code mismatches, naming .text', async () => {
    const changed = F.buildPe(dir, 'changed-code', F.HELLO_C.replace('return 0;', 'return 42;'));
    const r = await compare(signed, changed);
    expect(r.match).toBe(false);
    expect(wheres(r)).toContain('section .text');
    expect(wheres(r)).toContain('authenticode digest');
    const text = r.differences.find((d) => d.where === 'section .text')!;
    const range = F.sectionRange(readFileSync(changed), '.text');
    expect(text.publishedRange![0]).toBeGreaterThanOrEqual(range.start);
    expect(text.publishedRange![1]).toBeLessThanOrEqual(range.end);
  });

  it('a rebuild with a changed string mismatches, naming .rdata', async () => {
    const changed = F.buildPe(dir, 'changed-string', F.HELLO_C.replace('hello from', 'HELLO FROM'));
    const r = await compare(signed, changed);
    expect(r.match).toBe(false);
    expect(wheres(r)).toContain('section .rdata');
  });

  it('signed + appended bytes mismatches (table not at EOF)', async () => {
    const f = write('appended.exe', F.appended(signedBytes));
    const r = await compare(f, second);
    expect(r.match).toBe(false);
    expect(r.differences[0]).toMatchObject({ where: 'certificate table' });
    expect(r.differences[0].detail).toMatch(/follow the certificate table/);
  });

  it('crafted certificate tables mismatch: data after the DER, two entries, truncated signature', async () => {
    for (const [name, bytes] of [
      ['after-der.exe', F.dataAfterDer(signedBytes)],
      ['two.exe', F.twoCertificates(signedBytes)],
      ['trunc-der.exe', F.truncatedDer(signedBytes)],
    ] as const) {
      const r = await compare(write(name, bytes), second);
      expect(r.match, name).toBe(false);
      expect(wheres(r), name).toContain('certificate table');
    }
  });

  it('a release modified after signing mismatches, naming the section and the digest', async () => {
    const at = F.sectionRange(signedBytes, '.text').start + 100;
    const r = await compare(write('tampered.exe', F.flip(signedBytes, at)), second);
    expect(r.match).toBe(false);
    expect(r.differences).toContainEqual(expect.objectContaining({ where: 'section .text', publishedRange: [at, at + 1] }));
    expect(wheres(r)).toContain('authenticode digest (published)');
  });

  it('extra data inserted before the signature (an appended payload, then signed) mismatches', async () => {
    const withPayload = write('payload.exe', Buffer.concat([readFileSync(first), Buffer.alloc(4096, 0x41)]));
    const payloadSigned = F.sign(withPayload, join(dir, 'payload-signed.exe'), pki.leaf);
    const r = await compare(payloadSigned, second);
    expect(r.match).toBe(false);
    expect(wheres(r)).toContain('overlay/appended data');
  });

  it('both unsigned and different: byte differences with section names', async () => {
    const changed = F.buildPe(dir, 'changed-unsigned', F.HELLO_C.replace('return 0;', 'return 7;'));
    const r = await compare(first, changed);
    expect(r.match).toBe(false);
    expect(r.details?.mode).toMatch(/both unsigned/);
    expect(wheres(r)).toContain('section .text');
  });

  it('a checksum-only change in an unsigned release is a mismatch (plain byte equality)', async () => {
    const b = Buffer.from(readFileSync(first));
    const checksumAt = b.readUInt32LE(0x3c) + 88;
    b.writeUInt32LE(0x12345678, checksumAt);
    const r = await compare(write('checksum.exe', b), second);
    expect(r.match).toBe(false);
    expect(wheres(r)).toContain('headers: CheckSum');
  });
});
