/**
 * PE comparer: a release signed by osslsigncode (mingw-built PE) against its unsigned rebuild.
 * Signature-transparent, as pe/compare.ts documents: the CheckSum, the certificate-table directory
 * entry, and the certificate table itself — except the Authenticode digest it carries (the digest
 * must equal the rebuild's, so changing it must be a mismatch). The padding before the table must
 * stay zero, and every other byte is the rebuild's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPe, certDir, HELLO_C, makePki, osslCalculatedDigest, osslVerify, sign } from '../../formats/support/authenticode-fixtures';
import { compareCase, insideRanges, occurrences, subtract, type Range } from '../compare-support';
import type { FuzzTarget } from '../fuzz-target';

const target: FuzzTarget = {
  name: 'compare-pe',
  async setup(dir) {
    const pki = makePki(dir);
    const unsigned = buildPe(dir, 'app', HELLO_C);
    const signedPath = sign(unsigned, join(dir, 'app-signed.exe'), pki.leaf);
    const signed = readFileSync(signedPath);
    const digest = osslCalculatedDigest(osslVerify(signedPath, pki.ca.cert.crt).output);
    if (!digest) throw new Error('osslsigncode printed no calculated digest');
    const { at: dirAt, offset } = certDir(signed);
    const checksumAt = signed.readUInt32LE(0x3c) + 88;
    const digestAt = occurrences(signed.subarray(offset), Buffer.from(digest, 'hex')).map((o): Range => [offset + o, offset + o + 32]);
    if (digestAt.length !== 1) throw new Error(`expected the digest once in the certificate table, found it ${digestAt.length} times`);
    const ranges: Range[] = [[checksumAt, checksumAt + 4], [dirAt, dirAt + 8], ...subtract([[offset, signed.length]], digestAt)];
    return [compareCase({ published: signed, rebuiltPath: unsigned, dir, name: 'app.exe', transparent: (m) => insideRanges(signed, m, ranges) })];
  },
};
export default target;
