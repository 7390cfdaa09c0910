/**
 * Authenticode fixtures made at test time: PEs built reproducibly with mingw-w64, a small PKI made
 * with `openssl ca` (explicit validity dates, so expired signers and backdated TSAs are possible),
 * signatures by osslsigncode (incl. offline RFC 3161 timestamps, nesting, unauthenticated blobs),
 * crafted certificate-table variants, and osslsigncode's own verdicts to agree with.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import { run } from '../../support/tools';

export const REQUIRED_TOOLS = ['osslsigncode', 'x86_64-w64-mingw32-gcc', 'openssl'] as const;

const execFileAsync = promisify(execFile);

export const HELLO_C = `#include <stdio.h>
int main(void) { puts("hello from release-verifier"); return 0; }
`;

/**
 * Builds a PE from C source with reproducible flags (no link timestamp, fixed file prefix, stripped).
 * The source is written as `<name>.c` in `dir` and compiled from there with a relative path.
 */
export function buildPe(dir: string, name: string, source: string, extra: string[] = []): string {
  const build = join(dir, `build-${name}`);
  mkdirSync(build, { recursive: true });
  writeFileSync(join(build, 'main.c'), source);
  const out = join(dir, `${name}.exe`);
  run(
    'x86_64-w64-mingw32-gcc',
    ['-O2', '-s', `-ffile-prefix-map=${build}=.`, '-fno-ident', '-Wl,--no-insert-timestamp', '-Wl,--build-id=none', ...extra, '-o', out, 'main.c'],
    { cwd: build },
  );
  return out;
}

export interface Cert {
  crt: string;
  key: string;
  der: Buffer;
  sha256: string;
  pem: string;
}

const CA_CNF = `[ca]
default_ca = d
[d]
dir = .
database = ./index.txt
new_certs_dir = .
serial = ./serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = none
[p]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
[v3_lifetime]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning,1.3.6.1.4.1.311.10.3.13
[v3_tsa]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
[v3_tls]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
`;

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function certFiles(crt: string, key: string): Cert {
  const pem = readFileSync(crt, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return { crt, key, der, pem, sha256: createHash('sha256').update(der).digest('hex') };
}

/** A CA directory for `openssl ca`. */
export class TestCa {
  readonly cert: Cert;
  constructor(
    readonly dir: string,
    subject: string,
    start: Date,
    end: Date,
  ) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'ca.cnf'), CA_CNF);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '1000\n');
    run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.csr', '-subj', subject], {
      cwd: dir,
    });
    this.ca(['-selfsign', '-keyfile', 'ca.key', '-in', 'ca.csr', '-out', 'ca.crt', '-extensions', 'v3_ca'], start, end);
    this.cert = certFiles(join(dir, 'ca.crt'), join(dir, 'ca.key'));
  }

  private ca(args: string[], start: Date, end: Date): void {
    run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-notext', '-preserveDN', '-startdate', stamp(start), '-enddate', stamp(end), ...args], {
      cwd: this.dir,
    });
  }

  /** Issues a certificate; `rsa` keys are slower to make but cover RSA signatures. */
  issue(name: string, subject: string, profile: 'v3_leaf' | 'v3_lifetime' | 'v3_tsa' | 'v3_tls', start: Date, end: Date, opts: { rsa?: boolean } = {}): Cert {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const crt = join(this.dir, `${name}.crt`);
    const keyArgs = opts.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    run('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
    this.ca(['-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', csr, '-out', crt, '-extensions', profile], start, end);
    return certFiles(crt, key);
  }
}

export const SIGNER_SUBJECT = '/C=DE/O=Example/CN=Test Maintainer';
/** the same subject in RFC 4514 form, as the policy names it */
export const SIGNER_SUBJECT_RFC4514 = 'CN=Test Maintainer,O=Example,C=DE';

export interface Pki {
  ca: TestCa;
  /** another CA with the SAME name as `ca` but another key (for impostors) */
  fakeCa: TestCa;
  leaf: Cert;
  /** same subject as `leaf`, another key, issued by `fakeCa` (same issuer name) */
  impostor: Cert;
  /** valid code-signing cert from `ca`, different subject */
  colleague: Cert;
  /** expired signer (2020) from `ca` */
  oldLeaf: Cert;
  /** TSA cert from `ca`, valid 2019–2040 */
  tsa: Cert;
  /** TSA cert from `fakeCa` (untrusted) */
  fakeTsa: Cert;
  /** a TLS server cert (no codeSigning EKU) from `ca` */
  tls: Cert;
  /** expired (2020) signer with Lifetime Signing EKU from `ca` */
  lifetime: Cert;
}

export function makePki(dir: string): Pki {
  const now = Date.now();
  const day = 86_400_000;
  const ca = new TestCa(join(dir, 'ca'), '/CN=Test CA', new Date('2015-01-01T00:00:00Z'), new Date('2045-01-01T00:00:00Z'));
  const fakeCa = new TestCa(join(dir, 'fake-ca'), '/CN=Test CA', new Date('2015-01-01T00:00:00Z'), new Date('2045-01-01T00:00:00Z'));
  const from = new Date(now - day);
  const to = new Date(now + 365 * day);
  return {
    ca,
    fakeCa,
    leaf: ca.issue('leaf', SIGNER_SUBJECT, 'v3_leaf', from, to, { rsa: true }),
    impostor: fakeCa.issue('impostor', SIGNER_SUBJECT, 'v3_leaf', from, to),
    colleague: ca.issue('colleague', '/C=DE/O=Example/CN=Someone Else', 'v3_leaf', from, to),
    oldLeaf: ca.issue('old', SIGNER_SUBJECT, 'v3_leaf', new Date('2020-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z')),
    tsa: ca.issue('tsa', '/CN=Test TSA', 'v3_tsa', new Date('2019-01-01T00:00:00Z'), new Date('2040-01-01T00:00:00Z')),
    fakeTsa: fakeCa.issue('tsa', '/CN=Test TSA', 'v3_tsa', new Date('2019-01-01T00:00:00Z'), new Date('2040-01-01T00:00:00Z')),
    tls: ca.issue('tls', '/CN=www.example.test', 'v3_tls', from, to),
    lifetime: ca.issue('lifetime', SIGNER_SUBJECT, 'v3_lifetime', new Date('2020-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z')),
  };
}

export interface SignOptions {
  hash?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** offline RFC 3161 timestamp */
  tsa?: { cert: Cert; time: Date };
  /** add as a nested signature to an already signed input */
  nest?: boolean;
  /** osslsigncode -addUnauthenticatedBlob */
  blob?: boolean;
}

/** osslsigncode sign → `out`. */
export function sign(input: string, out: string, signer: Cert, opts: SignOptions = {}): string {
  const args = ['sign', '-certs', signer.crt, '-key', signer.key, '-h', opts.hash ?? 'sha256'];
  if (opts.tsa) args.push('-TSA-certs', opts.tsa.cert.crt, '-TSA-key', opts.tsa.cert.key, '-TSA-time', String(Math.floor(opts.tsa.time.getTime() / 1000)));
  if (opts.nest) args.push('-nest');
  if (opts.blob) args.push('-addUnauthenticatedBlob');
  args.push('-in', input, '-out', out);
  run('osslsigncode', args);
  return out;
}

/** osslsigncode's verdict (exit 0) and its output. */
export function osslVerify(file: string, caFile: string, tsaCaFile = caFile): { ok: boolean; output: string } {
  const r = spawnSync('osslsigncode', ['verify', '-CAfile', caFile, '-TSA-CAfile', tsaCaFile, '-in', file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}\n${r.stderr}` };
}

/** The "Calculated message digest" / "Calculated DigitalSignature" value osslsigncode prints. */
export function osslCalculatedDigest(output: string, label = 'Calculated message digest'): string | undefined {
  const m = new RegExp(`${label}\\s*:\\s*([0-9A-Fa-f]+)`).exec(output);
  return m?.[1]?.toLowerCase();
}

// ------------------------------------------------------------ crafted certificate-table variants

const e = (b: Buffer, o: number) => b.readUInt32LE(0x3c) + o;

/** Offsets of the certificate directory entry for PE32+ (mingw x86_64 output). */
export function certDir(pe: Buffer): { at: number; offset: number; size: number } {
  const opt = e(pe, 24);
  const magic = pe.readUInt16LE(opt);
  const at = opt + (magic === 0x20b ? 112 : 96) + 4 * 8;
  return { at, offset: pe.readUInt32LE(at), size: pe.readUInt32LE(at + 4) };
}

function withTable(pe: Buffer, table: Buffer, dwLength?: number): Buffer {
  const { at, offset } = certDir(pe);
  const out = Buffer.concat([pe.subarray(0, offset), table]);
  out.writeUInt32LE(table.length, at + 4);
  if (dwLength !== undefined) out.writeUInt32LE(dwLength, offset);
  return out;
}

/** Extra bytes inside the WIN_CERTIFICATE after the DER (dwLength and directory size grow). MS13-098. */
export function dataAfterDer(signed: Buffer, extra = Buffer.from('EVILDATA')): Buffer {
  const { offset, size } = certDir(signed);
  const table = Buffer.concat([signed.subarray(offset, offset + size), extra]);
  const padded = Buffer.concat([table, Buffer.alloc((8 - (table.length % 8)) % 8)]);
  return withTable(signed, padded, table.length);
}

/** A second WIN_CERTIFICATE (a copy of the first) after the first. */
export function twoCertificates(signed: Buffer): Buffer {
  const { offset, size } = certDir(signed);
  const one = signed.subarray(offset, offset + size);
  return withTable(signed, Buffer.concat([one, one]));
}

/** Bytes appended after the table without touching the directory. */
export function appended(signed: Buffer, extra = Buffer.from('appended data after the signature')): Buffer {
  return Buffer.concat([signed, extra]);
}

/** The file cut `n` bytes short (the table now extends past EOF). */
export function truncated(signed: Buffer, n = 100): Buffer {
  return signed.subarray(0, signed.length - n);
}

/** The signature's DER cut short, with dwLength and directory size consistent with the shorter table. */
export function truncatedDer(signed: Buffer, n = 64): Buffer {
  const { offset, size } = certDir(signed);
  const table = Buffer.from(signed.subarray(offset, offset + size - n));
  const padded = Buffer.concat([table, Buffer.alloc((8 - (table.length % 8)) % 8)]);
  return withTable(signed, padded, table.length);
}

/** Flips one byte at `at`. */
export function flip(buf: Buffer, at: number): Buffer {
  const out = Buffer.from(buf);
  out[at] ^= 0x01;
  return out;
}

/** File offset of the named section's raw data (from the PE section table). */
export function sectionRange(pe: Buffer, name: string): { start: number; end: number } {
  const coff = pe.readUInt32LE(0x3c) + 4;
  const count = pe.readUInt16LE(coff + 2);
  const table = coff + 20 + pe.readUInt16LE(coff + 16);
  for (let i = 0; i < count; i++) {
    const s = table + 40 * i;
    const n = pe
      .subarray(s, s + 8)
      .toString('latin1')
      .replace(/\0+$/, '');
    if (n === name) return { start: pe.readUInt32LE(s + 20), end: pe.readUInt32LE(s + 20) + pe.readUInt32LE(s + 16) };
  }
  throw new Error(`no section ${name}`);
}

/** The signed file with its PKCS#7 replaced by `der`, in a well-formed WIN_CERTIFICATE (osslsigncode layout). */
export function withSignature(signed: Buffer, der: Buffer): Buffer {
  const pad = (8 - (der.length % 8)) % 8;
  const table = Buffer.alloc(8 + der.length + pad);
  table.writeUInt32LE(table.length, 0);
  table.writeUInt16LE(0x0200, 4);
  table.writeUInt16LE(0x0002, 6);
  der.copy(table, 8);
  return withTable(signed, table);
}

/** The PKCS#7 DER of a signed file (exactly its own length). */
export function signatureDer(signed: Buffer): Buffer {
  const { offset } = certDir(signed);
  const der = signed.subarray(offset + 8);
  const n = der[1] < 0x80 ? 0 : der[1] & 0x7f;
  const len = n === 0 ? der[1] : der.readUIntBE(2, n);
  return Buffer.from(der.subarray(0, 2 + n + len));
}

// ------------------------------------------------------------ legacy (PKCS#9) timestamps

/** Tools for legacy timestamps: the TSA backdates its signingTime with libfaketime. */
export const LEGACY_TSA_TOOLS = [...REQUIRED_TOOLS, 'faketime'] as const;

export interface LegacyTsaOptions {
  /** the countersignature's digest algorithm (legacy servers answer with SHA-1) */
  hash?: 'sha1' | 'sha256';
  /** countersign these bytes instead of the signature value osslsigncode sent */
  otherContent?: Buffer;
}

/** The first primitive OCTET STRING in a DER tree (the signature value in a TimeStampRequest). */
function firstOctetString(block: asn1js.BaseBlock): Buffer | undefined {
  if (block instanceof asn1js.OctetString && !block.idBlock.isConstructed) return Buffer.from(block.valueBlock.valueHexView);
  const children = block.idBlock.isConstructed ? (block.valueBlock as { value?: unknown } | undefined)?.value : undefined;
  if (Array.isArray(children)) {
    for (const c of children) {
      const found = firstOctetString(c as asn1js.BaseBlock);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * A loopback HTTP server speaking the Authenticode ("legacy") timestamp protocol that
 * `osslsigncode sign -t URL` (like `signtool /t`) uses: the request body is base64 of a DER
 * TimeStampRequest { 1.3.6.1.4.1.311.3.2.1, ContentInfo { data, [0] signature value } }; the answer
 * is base64 of a PKCS#7 SignedData whose SignerInfo osslsigncode adds as the countersignature
 * (1.2.840.113549.1.9.6) and whose certificates it adds to the signature. The SignedData is made by
 * `openssl cms -sign` over the signature value (signed attributes contentType, signingTime,
 * messageDigest), under faketime so that signingTime is `time`.
 */
export async function startLegacyTsa(
  dir: string,
  tsa: Cert,
  time: Date,
  opts: LegacyTsaOptions = {},
): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const work = mkdtempSync(join(dir, 'legacy-tsa-'));
  const state = { requests: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        state.requests++;
        const der = Buffer.from(Buffer.concat(chunks).toString('latin1').replace(/\s+/g, ''), 'base64');
        const asn = asn1js.fromBER(der);
        const content = asn.offset === -1 ? undefined : firstOctetString(asn.result);
        if (!content) throw new Error('no signature value in the timestamp request');
        const contentFile = join(work, `content-${state.requests}.bin`);
        const outFile = join(work, `response-${state.requests}.der`);
        writeFileSync(contentFile, opts.otherContent ?? content);
        const when = time
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, '');
        run(
          'faketime',
          [
            when,
            'openssl',
            'cms',
            '-sign',
            '-binary',
            '-nodetach',
            '-nosmimecap',
            '-md',
            opts.hash ?? 'sha1',
            '-in',
            contentFile,
            '-signer',
            tsa.crt,
            '-inkey',
            tsa.key,
            '-outform',
            'DER',
            '-out',
            outFile,
          ],
          {
            env: { ...process.env, TZ: 'UTC' },
          },
        );
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(readFileSync(outFile).toString('base64'));
      } catch (err) {
        res.writeHead(500);
        res.end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * `osslsigncode sign -t URL` → `out`, asynchronously (the TSA runs in this process). `time` sets
 * the signer's own signingTime attribute (osslsigncode `-time`).
 */
export async function signWithLegacyTimestamp(
  input: string,
  out: string,
  signer: Cert,
  tsaUrl: string,
  opts: { hash?: SignOptions['hash']; nest?: boolean; time?: Date } = {},
): Promise<string> {
  const args = ['sign', '-certs', signer.crt, '-key', signer.key, '-h', opts.hash ?? 'sha256', '-t', tsaUrl];
  if (opts.time) args.push('-time', String(Math.floor(opts.time.getTime() / 1000)));
  if (opts.nest) args.push('-nest');
  args.push('-in', input, '-out', out);
  try {
    await execFileAsync('osslsigncode', args);
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`osslsigncode ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
  return out;
}

// ------------------------------------------------------------ the CLI, spawned

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `release-verifier check-signature …` as a user runs it (bin/release-verifier.mjs, a child process). */
export function checkSignatureCli(args: string[]): Promise<CliRun> {
  const bin = join(__dirname, '..', '..', '..', 'bin', 'release-verifier.mjs');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, 'check-signature', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      if (err && code === null) reject(err);
      else resolve({ code, stdout, stderr });
    });
  });
}
