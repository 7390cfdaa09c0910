/**
 * Test-side Apple code signing, written independently of lambda/formats/apple (tests must not
 * share code with what they test):
 *  - `makeTestAppleChain`: a TEST CA that mimics Apple's structure (root → "Developer ID
 *    Certification Authority" with 1.2.840.113635.100.6.2.6 → "Developer ID Application: …" leaf
 *    with 1.2.840.113635.100.6.1.13, EKU codeSigning, Team ID in the OU), made with openssl. It is
 *    not Apple's: the verifier only trusts it when a test passes it as `testAnchors`.
 *  - SuperBlob / CodeDirectory readers and builders (big-endian layouts from Apple's cs_blobs.h).
 *  - `signCms`: a detached CMS SignedData over a CodeDirectory with the cdhashes attributes, made
 *    with pkijs (openssl cms cannot add Apple's attributes).
 *  - `signDmg`: a DMG's own signature as codesign writes it (rcodesign's dmg.rs layout).
 *  - zip/tar read and write (yauzl/yazl, tar-stream) to tamper with bundles.
 */
import { createHash, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import * as yauzl from 'yauzl';
import * as yazl from 'yazl';
import * as tar from 'tar-stream';
import { run } from '../../support/tools';

export interface TestIdentity {
  certDer: Buffer;
  keyPkcs8: Buffer;
  sha256: string;
}
export interface TestChain {
  root: TestIdentity;
  ca: TestIdentity;
  leaf: TestIdentity;
  rootCert: pkijs.Certificate;
}

const EXT = `[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
1.2.840.113635.100.6.2.6 = critical,DER:0500
[devid]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,codeSigning
1.2.840.113635.100.6.1.13 = critical,DER:0500
[dev]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,codeSigning
1.2.840.113635.100.6.1.12 = critical,DER:0500
`;

function identity(dir: string, name: string): TestIdentity {
  const certDer = Buffer.from(
    readFileSync(join(dir, `${name}.crt`), 'utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s+/g, ''),
    'base64',
  );
  run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', `${name}.key`, '-outform', 'DER', '-out', `${name}.p8`], { cwd: dir });
  return { certDer, keyPkcs8: readFileSync(join(dir, `${name}.p8`)), sha256: createHash('sha256').update(certDer).digest('hex') };
}

/** Root → Developer ID CA → leaf, EC P-256, valid `days` from yesterday. `profile: 'dev'` makes an "Apple Development"-style leaf. */
export function makeTestAppleChain(dir: string, teamId: string, opts: { profile?: 'devid' | 'dev'; days?: number } = {}): TestChain {
  writeFileSync(join(dir, 'ext.cnf'), EXT);
  const days = String(opts.days ?? 30);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'root.key',
      '-out',
      'root.crt',
      '-days',
      '3650',
      '-subj',
      '/C=US/O=Test Not Apple/OU=Test Certification Authority/CN=TEST Apple Root CA',
      '-config',
      'ext.cnf',
      '-extensions',
      'root',
    ],
    { cwd: dir },
  );
  run(
    'openssl',
    [
      'req',
      '-new',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.csr',
      '-subj',
      '/CN=Developer ID Certification Authority/OU=TEST Certification Authority/O=Test Not Apple/C=US',
      '-config',
      'ext.cnf',
    ],
    { cwd: dir },
  );
  run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      'ca.csr',
      '-CA',
      'root.crt',
      '-CAkey',
      'root.key',
      '-set_serial',
      '2',
      '-days',
      '3650',
      '-extfile',
      'ext.cnf',
      '-extensions',
      'ca',
      '-out',
      'ca.crt',
    ],
    { cwd: dir },
  );
  const profile = opts.profile ?? 'devid';
  const cn = profile === 'devid' ? `Developer ID Application: Test Maintainer (${teamId})` : `Apple Development: Test Maintainer (${teamId})`;
  run(
    'openssl',
    [
      'req',
      '-new',
      ...ec,
      '-keyout',
      'leaf.key',
      '-out',
      'leaf.csr',
      '-subj',
      `/UID=${teamId}/CN=${cn}/OU=${teamId}/O=Test Maintainer/C=US`,
      '-config',
      'ext.cnf',
    ],
    { cwd: dir },
  );
  run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      '3',
      '-days',
      days,
      '-extfile',
      'ext.cnf',
      '-extensions',
      profile,
      '-out',
      'leaf.crt',
    ],
    { cwd: dir },
  );
  const root = identity(dir, 'root');
  return { root, ca: identity(dir, 'ca'), leaf: identity(dir, 'leaf'), rootCert: pkijs.Certificate.fromBER(root.certDer) };
}

// ── SuperBlob / CodeDirectory ───────────────────────────────────────────────────────────────────

export interface Blob {
  slot: number;
  data: Buffer;
}

export function readSuperBlob(buf: Buffer): Blob[] {
  if (buf.readUInt32BE(0) !== 0xfade0cc0) throw new Error('test: not a SuperBlob');
  const count = buf.readUInt32BE(8);
  const out: Blob[] = [];
  for (let i = 0; i < count; i++) {
    const slot = buf.readUInt32BE(12 + i * 8);
    const off = buf.readUInt32BE(16 + i * 8);
    out.push({ slot, data: buf.subarray(off, off + buf.readUInt32BE(off + 4)) });
  }
  return out;
}

export function buildSuperBlob(blobs: Blob[]): Buffer {
  const header = 12 + blobs.length * 8;
  const total = header + blobs.reduce((n, b) => n + b.data.length, 0);
  const out = Buffer.alloc(total);
  out.writeUInt32BE(0xfade0cc0, 0);
  out.writeUInt32BE(total, 4);
  out.writeUInt32BE(blobs.length, 8);
  let off = header;
  blobs.forEach((b, i) => {
    out.writeUInt32BE(b.slot, 12 + i * 8);
    out.writeUInt32BE(off, 16 + i * 8);
    b.data.copy(out, off);
    off += b.data.length;
  });
  return out;
}

export function wrapCms(der: Buffer): Buffer {
  const out = Buffer.alloc(8 + der.length);
  out.writeUInt32BE(0xfade0b01, 0);
  out.writeUInt32BE(out.length, 4);
  der.copy(out, 8);
  return out;
}

export const HASHES = { sha1: { type: 1, size: 20 }, sha256: { type: 2, size: 32 } } as const;

/** A version 0x20200 CodeDirectory. `special[n - 1]` is the hash for slot -n (null: empty). */
export function buildCodeDirectory(o: {
  identifier: string;
  teamId?: string;
  hash: 'sha1' | 'sha256';
  pageSizeLog2: number;
  codeLimit: number;
  code: Buffer;
  special: (Buffer | null)[];
  flags?: number;
}): Buffer {
  const { type, size } = HASHES[o.hash];
  const pageSize = o.pageSizeLog2 === 0 ? o.codeLimit || 1 : 2 ** o.pageSizeLog2;
  const pages: Buffer[] = [];
  for (let p = 0; p < o.codeLimit; p += pageSize)
    pages.push(
      createHash(o.hash)
        .update(o.code.subarray(p, Math.min(p + pageSize, o.codeLimit)))
        .digest(),
    );
  const ident = Buffer.from(`${o.identifier}\0`);
  const team = o.teamId ? Buffer.from(`${o.teamId}\0`) : Buffer.alloc(0);
  const identOffset = 52;
  const teamOffset = o.teamId ? identOffset + ident.length : 0;
  const hashOffset = identOffset + ident.length + team.length + o.special.length * size;
  const out = Buffer.alloc(hashOffset + pages.length * size);
  out.writeUInt32BE(0xfade0c02, 0);
  out.writeUInt32BE(out.length, 4);
  out.writeUInt32BE(0x20200, 8);
  out.writeUInt32BE(o.flags ?? 0, 12);
  out.writeUInt32BE(hashOffset, 16);
  out.writeUInt32BE(identOffset, 20);
  out.writeUInt32BE(o.special.length, 24);
  out.writeUInt32BE(pages.length, 28);
  out.writeUInt32BE(o.codeLimit, 32);
  out[36] = size;
  out[37] = type;
  out[39] = o.pageSizeLog2;
  out.writeUInt32BE(teamOffset, 48);
  ident.copy(out, identOffset);
  team.copy(out, identOffset + ident.length);
  o.special.forEach((h, i) => {
    h?.copy(out, hashOffset - (i + 1) * size);
  });
  pages.forEach((h, i) => {
    h.copy(out, hashOffset + i * size);
  });
  return out;
}

// ── CMS ─────────────────────────────────────────────────────────────────────────────────────────

async function importKey(pkcs8: Buffer): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
}

/**
 * A detached CMS over `cds[0]` signed by the chain's leaf, with the cdhashes plist (truncated
 * hashes of every CD) and digests attributes unless `cdhashes: false`.
 */
export async function signCms(
  chain: TestChain,
  cds: { blob: Buffer; hash: 'sha1' | 'sha256' }[],
  opts: { cdhashes?: boolean; signer?: TestIdentity } = {},
): Promise<Buffer> {
  const signerId = opts.signer ?? chain.leaf;
  const leaf = pkijs.Certificate.fromBER(signerId.certDer);
  const certs = [leaf, pkijs.Certificate.fromBER(chain.ca.certDer), chain.rootCert];
  const attrs: pkijs.Attribute[] = [
    new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })] }),
    new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: createHash('sha256').update(cds[0]!.blob).digest() })] }),
  ];
  if (opts.cdhashes !== false) {
    const list = cds.map((c) => `<data>${createHash(c.hash).update(c.blob).digest().subarray(0, 20).toString('base64')}</data>`).join('');
    const plist = `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0"><dict><key>cdhashes</key><array>${list}</array></dict></plist>\n`;
    attrs.push(new pkijs.Attribute({ type: '1.2.840.113635.100.9.1', values: [new asn1js.OctetString({ valueHex: Buffer.from(plist) })] }));
    const oid = { sha1: '1.3.14.3.2.26', sha256: '2.16.840.1.101.3.4.2.1' };
    attrs.push(
      new pkijs.Attribute({
        type: '1.2.840.113635.100.9.2',
        values: cds.map(
          (c) =>
            new asn1js.Sequence({
              value: [new asn1js.ObjectIdentifier({ value: oid[c.hash] }), new asn1js.OctetString({ valueHex: createHash(c.hash).update(c.blob).digest() })],
            }),
        ),
      }),
    );
  }
  const sd = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '1.2.840.113549.1.7.1' }),
    certificates: certs,
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: leaf.issuer, serialNumber: leaf.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: attrs }),
      }),
    ],
  });
  await sd.sign(await importKey(signerId.keyPkcs8), 0, 'SHA-256', Uint8Array.from(cds[0]!.blob).buffer);
  const ci = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: sd.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false));
}

/** A CMS without its unsigned attributes (e.g. the Apple timestamp): the signature over the signed attributes stays valid. */
export function stripUnsignedAttributes(der: Buffer): Buffer {
  const asn = asn1js.fromBER(der);
  const ci = new pkijs.ContentInfo({ schema: asn.result });
  const sd = new pkijs.SignedData({ schema: ci.content });
  sd.signerInfos[0]!.unsignedAttrs = undefined;
  const out = new pkijs.ContentInfo({ contentType: ci.contentType, content: sd.toSchema(true) });
  return Buffer.from(out.toSchema().toBER(false));
}

// ── Mach-O (64-bit little-endian thin) ──────────────────────────────────────────────────────────

/** Offset and size of the code signature of a thin 64-bit LE Mach-O. */
export function codeSignatureOf(m: Buffer): { dataoff: number; datasize: number } {
  const ncmds = m.readUInt32LE(16);
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    if (m.readUInt32LE(off) === 0x1d) return { dataoff: m.readUInt32LE(off + 8), datasize: m.readUInt32LE(off + 12) };
    off += m.readUInt32LE(off + 4);
  }
  throw new Error('test: no LC_CODE_SIGNATURE');
}

/** Replaces the SuperBlob of a thin Mach-O with `superblob`, zero-padded to the same datasize. */
export function withSuperBlob(m: Buffer, superblob: Buffer): Buffer {
  const { dataoff, datasize } = codeSignatureOf(m);
  if (superblob.length > datasize) throw new Error(`test: new signature (${superblob.length}) does not fit (${datasize})`);
  const out = Buffer.from(m);
  out.fill(0, dataoff, dataoff + datasize);
  superblob.copy(out, dataoff);
  return out;
}

export function superBlobOf(m: Buffer): Buffer {
  const { dataoff, datasize } = codeSignatureOf(m);
  return m.subarray(dataoff, dataoff + datasize);
}

// ── DMG ─────────────────────────────────────────────────────────────────────────────────────────

/** Signs an (unsigned) UDIF image: SuperBlob after the data, koly fields 0x128/0x130, CD over [0, offset), slot -6 over the trailer with size 0. */
export async function signDmg(
  dmg: Buffer,
  chain: TestChain | null,
  opts: { alternate?: boolean; cdhashes?: boolean; ticket?: boolean; sha1Only?: boolean; hashOffsetAfterPlist?: boolean } = {},
): Promise<Buffer> {
  const koly = Buffer.from(dmg.subarray(dmg.length - 512));
  if (koly.toString('latin1', 0, 4) !== 'koly') throw new Error('test: not a DMG');
  const body = dmg.subarray(0, dmg.length - 512);
  koly.writeBigUInt64BE(BigInt(body.length), 0x128);
  koly.writeBigUInt64BE(0n, 0x130);
  const requirements = Buffer.from([0xfa, 0xde, 0x0c, 0x01, 0, 0, 0, 12, 0, 0, 0, 0]);
  // rcodesign hashes the trailer with the offset "just after the XML plist" (here a resource fork follows it)
  const hashed = Buffer.from(koly);
  if (opts.hashOffsetAfterPlist) hashed.writeBigUInt64BE(koly.readBigUInt64BE(0xd8) + koly.readBigUInt64BE(0xe0), 0x128);
  const cd = (hash: 'sha1' | 'sha256') =>
    buildCodeDirectory({
      identifier: 'test-image',
      teamId: 'TESTTEAM01',
      hash,
      pageSizeLog2: 0,
      codeLimit: body.length,
      code: body,
      flags: chain ? 0 : 2,
      special: [null, createHash(hash).update(requirements).digest(), null, null, null, createHash(hash).update(hashed).digest()],
    });
  const first = opts.alternate || opts.sha1Only ? 'sha1' : 'sha256';
  const cds = [{ blob: cd(first), hash: first as 'sha1' | 'sha256' }];
  if (opts.alternate) cds.push({ blob: cd('sha256'), hash: 'sha256' });
  const cms = chain ? await signCms(chain, cds, { cdhashes: opts.cdhashes }) : Buffer.alloc(0);
  const blobs: Blob[] = [
    { slot: 0, data: cds[0]!.blob },
    { slot: 2, data: requirements },
  ];
  if (opts.alternate) blobs.push({ slot: 0x1000, data: cds[1]!.blob });
  blobs.push({ slot: 0x10000, data: wrapCms(cms) });
  if (opts.ticket) blobs.push({ slot: 0x10002, data: wrapCms(Buffer.from('a stapled ticket, opaque to the verifier')) }); // a blob wrapper, as rcodesign staples
  const sb = buildSuperBlob(blobs);
  koly.writeBigUInt64BE(BigInt(sb.length), 0x130);
  return Buffer.concat([body, sb, koly]);
}

// ── archives ────────────────────────────────────────────────────────────────────────────────────

export interface Member {
  name: string;
  data: Buffer;
  mode: number;
  dir: boolean;
  symlink: boolean;
}

export async function readZip(path: string): Promise<Member[]> {
  const zip = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.open(path, { lazyEntries: true, decodeStrings: true }, (e, z) => (e ? rej(e) : res(z!))));
  const out: Member[] = [];
  await new Promise<void>((res, rej) => {
    zip.on('entry', (e: yauzl.Entry) => {
      const mode = (e.externalFileAttributes >>> 16) & 0xffff;
      if (e.fileName.endsWith('/')) {
        out.push({ name: e.fileName, data: Buffer.alloc(0), mode, dir: true, symlink: false });
        zip.readEntry();
        return;
      }
      zip.openReadStream(e, (err, s) => {
        if (err) return rej(err);
        const chunks: Buffer[] = [];
        s!.on('data', (c: Buffer) => chunks.push(c));
        s!.on('end', () => {
          out.push({ name: e.fileName, data: Buffer.concat(chunks), mode, dir: false, symlink: (mode & 0o170000) === 0o120000 });
          zip.readEntry();
        });
      });
    });
    zip.on('end', () => res());
    zip.on('error', rej);
    zip.readEntry();
  });
  return out;
}

export async function writeZip(path: string, members: Member[]): Promise<void> {
  const z = new yazl.ZipFile();
  for (const m of members) {
    if (m.dir) z.addEmptyDirectory(m.name.replace(/\/$/, ''), { mode: m.mode || 0o40755 });
    else z.addBuffer(m.data, m.name, { mode: m.mode || 0o100644 });
  }
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  writeFileSync(path, Buffer.concat(chunks));
}

export async function writeTar(path: string, members: Member[]): Promise<void> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((res) => pack.on('end', () => res()));
  for (const m of members) {
    if (m.dir) pack.entry({ name: m.name, type: 'directory', mode: 0o755 });
    else if (m.symlink) pack.entry({ name: m.name, type: 'symlink', linkname: m.data.toString('utf8') });
    else pack.entry({ name: m.name, mode: m.mode & 0o7777 || 0o644 }, m.data);
  }
  pack.finalize();
  await done;
  writeFileSync(path, Buffer.concat(chunks));
}

// ── signing a Mach-O and a bundle (test CA) ─────────────────────────────────────────────────────

const EMPTY_REQUIREMENTS = Buffer.from([0xfa, 0xde, 0x0c, 0x01, 0, 0, 0, 12, 0, 0, 0, 0]);
const align = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Re-signs a thin 64-bit LE Mach-O that has an LC_CODE_SIGNATURE (e.g. ld64.lld -adhoc_codesign
 * output) with the test chain: the signature space grown to fit a CMS (datasize and __LINKEDIT
 * sizes edited, as a signer does), a SHA-256 CodeDirectory over the edited bytes before the
 * signature, requirements, and `special` hashes (slot → bound content: 1 Info.plist, 3 CodeResources).
 */
export async function signMachO(
  m: Buffer,
  chain: TestChain,
  o: { identifier: string; teamId: string; special?: Partial<Record<number, Buffer>> },
): Promise<Buffer> {
  const { dataoff } = codeSignatureOf(m);
  const out = Buffer.alloc(dataoff);
  m.copy(out, 0, 0, dataoff);
  const datasize = 16 * 1024;
  const ncmds = out.readUInt32LE(16);
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = out.readUInt32LE(off);
    if (cmd === 0x1d) out.writeUInt32LE(datasize, off + 12);
    if (cmd === 0x19 && out.toString('latin1', off + 8, off + 24).replace(/\0+$/, '') === '__LINKEDIT') {
      const fileoff = Number(out.readBigUInt64LE(off + 40));
      out.writeBigUInt64LE(BigInt(dataoff + datasize - fileoff), off + 48);
      out.writeBigUInt64LE(BigInt(align(dataoff + datasize - fileoff, 16384)), off + 32);
    }
    off += out.readUInt32LE(off + 4);
  }
  const special: (Buffer | null)[] = [1, 2, 3].map((slot) => {
    const content = slot === 2 ? EMPTY_REQUIREMENTS : o.special?.[slot];
    return content ? createHash('sha256').update(content).digest() : null;
  });
  const cd = buildCodeDirectory({ identifier: o.identifier, teamId: o.teamId, hash: 'sha256', pageSizeLog2: 12, codeLimit: dataoff, code: out, special });
  const cms = await signCms(chain, [{ blob: cd, hash: 'sha256' }]);
  const sb = buildSuperBlob([
    { slot: 0, data: cd },
    { slot: 2, data: EMPTY_REQUIREMENTS },
    { slot: 0x10000, data: wrapCms(cms) },
  ]);
  if (sb.length > datasize) throw new Error('test: signature space too small');
  const sig = Buffer.alloc(datasize);
  sb.copy(sig);
  return Buffer.concat([out, sig]);
}

/** The 20-byte cdhash of a thin Mach-O's primary (SHA-256) CodeDirectory. */
export function cdhashOf(m: Buffer): Buffer {
  const cd = readSuperBlob(superBlobOf(m)).find((b) => b.slot === 0)!.data;
  return createHash('sha256').update(cd).digest().subarray(0, 20);
}

export const STANDARD_RULES2 = `<key>rules2</key><dict>
<key>.*\\.dSYM($|/)</key><dict><key>weight</key><real>11</real></dict>
<key>^(.*/)?\\.DS_Store$</key><dict><key>omit</key><true/><key>weight</key><real>2000</real></dict>
<key>^(Frameworks|SharedFrameworks|PlugIns|Plug-ins|XPCServices|Helpers|MacOS|Library/(Automator|Spotlight|LoginItems))/</key><dict><key>nested</key><true/><key>weight</key><real>10</real></dict>
<key>^.*</key><true/>
<key>^Info\\.plist$</key><dict><key>omit</key><true/><key>weight</key><real>20</real></dict>
<key>^PkgInfo$</key><dict><key>omit</key><true/><key>weight</key><real>20</real></dict>
<key>^Resources/</key><dict><key>weight</key><real>20</real></dict>
<key>^[^/]+$</key><dict><key>nested</key><true/><key>weight</key><real>10</real></dict>
</dict>`;

/** CodeResources with files2 entries: a Buffer is a file (hash2), {cdhash, requirement?} nested code, {symlink} a link. */
export function codeResources(files: Record<string, Buffer | { cdhash: Buffer; requirement?: string } | { symlink: string }>): Buffer {
  const entries = Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => {
      const body = Buffer.isBuffer(v)
        ? `<key>hash2</key><data>${createHash('sha256').update(v).digest('base64')}</data>`
        : 'cdhash' in v
          ? `<key>cdhash</key><data>${v.cdhash.toString('base64')}</data><key>requirement</key><string>${(v.requirement ?? 'anchor apple generic').replace(/&/g, '&amp;').replace(/</g, '&lt;')}</string>`
          : `<key>symlink</key><string>${v.symlink}</string>`;
      return `<key>${k}</key><dict>${body}</dict>`;
    })
    .join('\n');
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0"><dict>\n<key>files</key><dict/>\n<key>files2</key><dict>\n${entries}\n</dict>\n<key>rules</key><dict/>\n${STANDARD_RULES2}\n</dict></plist>\n`,
  );
}

export function infoPlist(executable: string, identifier: string): Buffer {
  return Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>CFBundleExecutable</key><string>${executable}</string><key>CFBundleIdentifier</key><string>${identifier}</string></dict></plist>\n`,
  );
}

export const file = (name: string, data: Buffer | string, mode = 0o100644): Member => ({ name, data: Buffer.from(data), mode, dir: false, symlink: false });
export const link = (name: string, target: string): Member => ({ name, data: Buffer.from(target), mode: 0o120777, dir: false, symlink: true });
