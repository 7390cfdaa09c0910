/**
 * Authenticode: mutations of a signed, RFC 3161-timestamped PE (the whole file) and of its PKCS#7
 * alone (re-wrapped in a well-formed WIN_CERTIFICATE, so the mutations reach the ASN.1/CMS code).
 *
 * A mutation may stay valid only if it touched bytes no signature covers: the PE CheckSum, the
 * WIN_CERTIFICATE dwLength (the DER carries its own length), the SignedData digestAlgorithms set
 * (unused by Authenticode verification) and the SignerInfo's unsigned attributes (timestamp, nested
 * signatures — a broken timestamp only means "judged now", and the signer is valid now). A PKCS#7
 * truncated by < 8 bytes reads, through the zero alignment padding, as the DER with its last bytes
 * zeroed; that is equivalent when those bytes lie in the unsigned attributes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import { verifyAuthenticode } from '../../../lambda/formats/authenticode/verify';
import { derTotalLength } from '../../../lambda/formats/pe/authenticode-digest';
import { buildPe, certDir, HELLO_C, makePki, sign } from '../../formats/support/authenticode-fixtures';
import { sameBytes } from '../equivalence';
import type { FuzzCase, FuzzTarget } from '../fuzz-target';
import { checkWith } from '../target-support';

type Range = [number, number];

/** Offsets (within `der`) of the SignedData digestAlgorithms SET and the SignerInfo unsignedAttrs. */
function unsignedRanges(der: Buffer): Range[] {
  const asn = asn1js.fromBER(der);
  const ci = asn.result as asn1js.Sequence;
  const sd = (ci.valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
  const digestAlgorithms = Buffer.from(sd.valueBlock.value[1].valueBeforeDecodeView);
  const signerInfos = sd.valueBlock.value[sd.valueBlock.value.length - 1] as asn1js.Set;
  const si = signerInfos.valueBlock.value[0] as asn1js.Sequence;
  const last = si.valueBlock.value[si.valueBlock.value.length - 1];
  const ranges: Range[] = [];
  const da = der.indexOf(digestAlgorithms);
  ranges.push([da, da + digestAlgorithms.length]);
  if (last.idBlock.tagClass === 3 && last.idBlock.tagNumber === 1) {
    const ua = Buffer.from(last.valueBeforeDecodeView);
    const at = der.lastIndexOf(ua);
    ranges.push([at, at + ua.length]);
  }
  return ranges;
}

/** True when `mutated` differs from `original` only inside `ranges` (same length). */
function onlyWithin(original: Uint8Array, mutated: Uint8Array, ranges: Range[]): boolean {
  if (original.length !== mutated.length) return false;
  for (let i = 0; i < original.length; i++) {
    if (original[i] !== mutated[i] && !ranges.some(([s, e]) => i >= s && i < e)) return false;
  }
  return true;
}

/** What the verifier reads from a table built by `wrap(m)`: m zero-padded to 8, cut at its own DER length. */
function effectiveDer(m: Uint8Array): Uint8Array {
  const padded = Buffer.concat([Buffer.from(m), Buffer.alloc((8 - (m.length % 8)) % 8)]);
  const n = derTotalLength(padded, 0);
  return n === undefined || n > padded.length ? m : padded.subarray(0, n);
}

/** A PE with `der` as its signature in a well-formed WIN_CERTIFICATE (osslsigncode layout). */
function wrap(unsignedImage: Buffer, dirAt: number, der: Uint8Array): Buffer {
  const pad = (8 - (der.length % 8)) % 8;
  const table = Buffer.alloc(8 + der.length + pad);
  table.writeUInt32LE(table.length, 0);
  table.writeUInt16LE(0x0200, 4);
  table.writeUInt16LE(0x0002, 6);
  table.set(der, 8);
  const out = Buffer.concat([unsignedImage, table]);
  out.writeUInt32LE(unsignedImage.length, dirAt);
  out.writeUInt32LE(table.length, dirAt + 4);
  return out;
}

const target: FuzzTarget = {
  name: 'authenticode',
  async setup(dir) {
    const pki = makePki(dir);
    const pe = buildPe(dir, 'fuzz', HELLO_C);
    const signedPath = sign(pe, join(dir, 'signed.exe'), pki.leaf, { tsa: { cert: pki.tsa, time: new Date(Date.now() - 3600_000) } });
    const signed = readFileSync(signedPath);
    const { at: dirAt, offset, size } = certDir(signed);
    const der = Buffer.from(signed.subarray(offset + 8, offset + size));
    const derLength = 2 + (der[1] < 0x80 ? 0 : der[1] & 0x7f) + (der[1] < 0x80 ? der[1] : der.readUIntBE(2, der[1] & 0x7f));
    const pkcs7 = der.subarray(0, derLength);
    const image = signed.subarray(0, offset);
    const derRanges = unsignedRanges(pkcs7);
    const checksumAt = signed.readUInt32LE(0x3c) + 88;
    const fileRanges: Range[] = [
      [checksumAt, checksumAt + 4],
      [offset, offset + 4], // dwLength
      ...derRanges.map(([s, e]): Range => [offset + 8 + s, offset + 8 + e]),
    ];
    const policy = { scheme: 'authenticode' as const, certSha256: [pki.leaf.sha256] };
    const verify = (assetPath: string) => verifyAuthenticode({ assetPath, policy }, { tsaTrustAnchors: [pki.ca.cert.pem] });
    const mutFile = join(dir, 'mut.exe');
    const wrapped = wrap(Buffer.from(image), dirAt, pkcs7);
    if (!sameBytes(wrapped, signed)) throw new Error('re-wrapping the signature does not reproduce the osslsigncode file');
    if (!(await verify(signedPath)).valid) throw new Error('the genuine signed PE does not verify');
    const cases: FuzzCase[] = [
      {
        bytes: signed,
        check: (m) => checkWith(mutFile, m, () => verify(mutFile)),
        isEquivalent: (m) => onlyWithin(signed, m, fileRanges),
      },
      {
        bytes: pkcs7,
        check: (m) => checkWith(mutFile, wrap(Buffer.from(image), dirAt, m), () => verify(mutFile)),
        // the verifier reads the DER by its own length from the zero-padded table: compare that
        isEquivalent: (m) => onlyWithin(pkcs7, effectiveDer(m), derRanges),
      },
    ];
    return cases;
  },
};
export default target;
