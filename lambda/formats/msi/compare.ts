/**
 * Signature-transparent MSI comparison (issue 5, signatures.md §2). Signing rewrites the whole
 * compound file (new sector layout), so bytes cannot be compared; the MSI Authenticode digest can:
 * the release matches when the digest inside its signature equals the digest computed from the
 * release AND the digest computed from the rebuild (an unsigned release: computed digests equal).
 * Differences are named per stream (and storage CLSID) in hashing order.
 *
 * Memory: the bounded CFB reader (cfb.ts) streams stream data; only directory, FAT and the mini
 * stream (≤ 256 MiB, MSI tables) are held. MsiDigitalSignatureEx (a metadata pre-hash over times
 * and sizes) is not supported: such a release is reported as not comparable, never as a match.
 */
import type { ComparisonReport, Difference } from '../../base/comparison';
import { errorMessage } from '../../base/errors';
import type { CompareContext } from '../types';
import { OID } from '../authenticode/oids';
import type { AuthenticodePkcs7 } from '../authenticode/pkcs7';
import type { AuthenticodeHash } from '../pe/authenticode-digest';
import { isCfb } from './cfb';
import type { MsiFile, MsiItem } from './digest';
import type { ComparerRegistration } from '../compare/registration';

/** How many differing streams a report lists. */
const MAX_LISTED_STREAMS = 32;

/** This comparer's entry in the registry (compare/registry.ts): light to import; cfb and pkijs load on the first comparison. */
export const msiComparer: ComparerRegistration = {
  method: 'msi',
  formatName: 'an MSI (CFB) file',
  detect: isCfb,
  compare: compareMsi,
};

function isIo(err: unknown): boolean {
  return typeof (err as { syscall?: unknown })?.syscall === 'string';
}

export async function compareMsi(publishedPath: string, rebuiltPath: string, _context: CompareContext = {}): Promise<ComparisonReport> {
  const differences: Difference[] = [];
  const details: Record<string, unknown> = {};
  const report = (): ComparisonReport => ({ method: 'msi', match: differences.length === 0, differences, details });

  const [{ readMsi }, { parseAuthenticodePkcs7 }] = await Promise.all([import('./digest'), import('../authenticode/pkcs7')]);
  let p7: AuthenticodePkcs7 | undefined;
  let signatureError: string | undefined;
  let pub: MsiFile;
  try {
    pub = await readMsi(publishedPath, (signature) => {
      if (!signature) return ['sha256'];
      try {
        p7 = parseAuthenticodePkcs7(signature, OID.spcSipInfo);
        return [p7.digestAlgorithm];
      } catch (err) {
        signatureError = errorMessage(err);
        return ['sha256'];
      }
    });
  } catch (err) {
    if (isIo(err)) throw err;
    differences.push({ where: 'published file', detail: `cannot read the MSI: ${errorMessage(err)}` });
    return report();
  }
  const algorithm: AuthenticodeHash = p7?.digestAlgorithm ?? 'sha256';
  let reb: MsiFile;
  try {
    reb = await readMsi(rebuiltPath, () => [algorithm]);
  } catch (err) {
    if (isIo(err)) throw err;
    differences.push({ where: 'rebuilt file', detail: `cannot read the MSI: ${errorMessage(err)}` });
    return report();
  }

  const pubDigest = pub.digest(algorithm);
  const rebDigest = reb.digest(algorithm);
  details.published = {
    signed: !!pub.signature,
    digestAlgorithm: algorithm,
    signedDigest: p7?.digest.toString('hex'),
    computedDigest: pubDigest.toString('hex'),
    signatureEx: pub.hasSignatureEx,
  };
  details.rebuilt = { signed: !!reb.signature, computedDigest: rebDigest.toString('hex') };

  if (signatureError) differences.push({ where: '\\x05DigitalSignature', detail: `published signature is malformed: ${signatureError}` });
  if (pub.signature && pub.hasSignatureEx) {
    differences.push({
      where: '\\x05MsiDigitalSignatureEx',
      detail: 'signatures with a metadata pre-hash (MsiDigitalSignatureEx) are not supported: cannot confirm the signed digest',
    });
  }
  if (p7 && !pub.hasSignatureEx) {
    if (!p7.digest.equals(pubDigest))
      differences.push({
        where: 'MSI digest (published)',
        detail: `the release was modified after signing: signed ${p7.digest.toString('hex')}, computed ${pubDigest.toString('hex')}`,
      });
    if (!p7.digest.equals(rebDigest))
      differences.push({
        where: 'MSI digest',
        detail: `the release's signature vouches for ${algorithm} ${p7.digest.toString('hex')}; the rebuild's digest is ${rebDigest.toString('hex')}`,
      });
  } else if (!pub.signature && !pubDigest.equals(rebDigest)) {
    differences.push({ where: 'MSI digest', detail: `published ${pubDigest.toString('hex')} vs rebuilt ${rebDigest.toString('hex')}` });
  }
  differences.push(...streamDifferences(pub.scan.items, reb.scan.items));
  return report();
}

/** Streams (and storage CLSIDs) that differ, are missing on one side, in hashing order. */
function streamDifferences(pub: MsiItem[], reb: MsiItem[]): Difference[] {
  const key = (i: MsiItem) => `${i.kind}:${i.path}`;
  const rebByKey = new Map(reb.map((i) => [key(i), i]));
  const pubKeys = new Set(pub.map(key));
  const out: Difference[] = [];
  for (const p of pub) {
    const r = rebByKey.get(key(p));
    const where = p.kind === 'clsid' ? `CLSID of storage ${p.path}` : `stream ${p.path}`;
    if (!r) out.push({ where, detail: `only in the published MSI (${p.size} bytes)` });
    else if (r.sha256 !== p.sha256)
      out.push({ where, detail: p.size === r.size ? `content differs (${p.size} bytes)` : `content differs (${p.size} bytes published, ${r.size} rebuilt)` });
  }
  for (const r of reb) {
    if (!pubKeys.has(key(r)))
      out.push({ where: r.kind === 'clsid' ? `CLSID of storage ${r.path}` : `stream ${r.path}`, detail: `only in the rebuilt MSI (${r.size} bytes)` });
  }
  if (out.length > MAX_LISTED_STREAMS) {
    const more = out.length - MAX_LISTED_STREAMS;
    return [...out.slice(0, MAX_LISTED_STREAMS), { where: 'further streams', detail: `${more} more differing streams not listed` }];
  }
  return out;
}
