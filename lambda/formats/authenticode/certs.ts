/**
 * X.509 helpers for Authenticode: fingerprints, RFC 4514 subjects, key usages, validity and chains
 * (pkijs CertificateChainValidationEngine; trust anchors must be CA certificates).
 */
import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { OID } from './oids';

export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Parses every "BEGIN CERTIFICATE" block of a PEM text (or a lone DER certificate). */
export function parsePemCertificates(pem: string | Uint8Array): pkijs.Certificate[] {
  if (typeof pem !== 'string') return [pkijs.Certificate.fromBER(pem)];
  const blocks = [...pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g)];
  return blocks.map((m) => pkijs.Certificate.fromBER(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  // not in RFC 4514's table, but how OpenSSL and Windows show them
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '2.5.4.97': 'organizationIdentifier',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
  '2.5.4.15': 'businessCategory',
};

function escapeValue(v: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters in a name are escaped as \XX (RFC 4514), so they are matched on purpose
  let s = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/[\u0000-\u001f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (s.startsWith('#') || s.startsWith(' ')) s = `\\${s}`;
  if (s.endsWith(' ')) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/**
 * A distinguished name in RFC 4514 form: most specific RDN first, "," between RDNs, "+" inside a
 * multi-valued RDN, e.g. "CN=Test Maintainer,O=Example,C=DE". Non-string values as "#<hex DER>".
 */
export function formatName(name: pkijs.RelativeDistinguishedNames): string {
  const asn = asn1js.fromBER(name.valueBeforeDecode);
  if (asn.offset === -1 || !(asn.result instanceof asn1js.Sequence)) return name.typesAndValues.map((t) => `${t.type}=?`).join(',');
  const rdns = asn.result.valueBlock.value.map((set) => {
    const atvs = set instanceof asn1js.Set ? set.valueBlock.value : [];
    return atvs
      .map((atv) => {
        const [type, value] = atv instanceof asn1js.Sequence ? atv.valueBlock.value : [];
        const oid = type instanceof asn1js.ObjectIdentifier ? type.valueBlock.toString() : '?';
        const key = SHORT_NAMES[oid] ?? oid;
        const str = stringValue(value);
        return `${key}=${str === undefined ? `#${Buffer.from(value?.valueBeforeDecodeView ?? []).toString('hex')}` : escapeValue(str)}`;
      })
      .join('+');
  });
  return rdns.reverse().join(',');
}

function stringValue(value: unknown): string | undefined {
  if (
    value instanceof asn1js.Utf8String ||
    value instanceof asn1js.PrintableString ||
    value instanceof asn1js.IA5String ||
    value instanceof asn1js.BmpString ||
    value instanceof asn1js.UniversalString ||
    value instanceof asn1js.TeletexString ||
    value instanceof asn1js.VisibleString ||
    value instanceof asn1js.NumericString
  ) {
    return value.valueBlock.value;
  }
  return undefined;
}

/** Normalises a configured subject for comparison: whitespace after unescaped "," / "+" is ignored. */
export function normaliseSubject(subject: string): string {
  return subject.trim().replace(/(?<!\\)([,+])\s+/g, '$1');
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

/** The extended key usages, or undefined when the certificate has no EKU extension. */
export function extendedKeyUsages(cert: pkijs.Certificate): string[] | undefined {
  const ext = extension(cert, OID.extKeyUsage);
  if (!ext) return undefined;
  return ext.parsedValue instanceof pkijs.ExtKeyUsage ? ext.parsedValue.keyPurposes : [];
}

export function ekuIsCritical(cert: pkijs.Certificate): boolean {
  return !!extension(cert, OID.extKeyUsage)?.critical;
}

/** keyUsage digitalSignature bit; undefined when the certificate has no keyUsage extension. */
export function hasDigitalSignatureUsage(cert: pkijs.Certificate): boolean | undefined {
  const ext = extension(cert, OID.keyUsage);
  if (!ext) return undefined;
  const bits = ext.parsedValue instanceof asn1js.BitString ? ext.parsedValue.valueBlock.valueHexView : undefined;
  return !!bits && bits.length > 0 && (bits[0] & 0x80) !== 0;
}

export function validAt(cert: pkijs.Certificate, at: Date): boolean {
  return cert.notBefore.value.getTime() <= at.getTime() && at.getTime() <= cert.notAfter.value.getTime();
}

export function describeValidity(cert: pkijs.Certificate): string {
  return `${cert.notBefore.value.toISOString()} – ${cert.notAfter.value.toISOString()}`;
}

export interface ChainResult {
  ok: boolean;
  /** true when a path to an anchor exists but a certificate on it is not valid at `at` */
  timeOnly?: boolean;
  message?: string;
  path?: pkijs.Certificate[];
}

/** Longest path leaf → anchor we build (leaf, intermediates, anchor). */
const MAX_PATH = 8;

function isCa(cert: pkijs.Certificate): boolean {
  const bc = cert.extensions?.find((e) => e.extnID === '2.5.29.19')?.parsedValue;
  return bc instanceof pkijs.BasicConstraints && bc.cA === true;
}

function sameTbs(a: pkijs.Certificate, b: pkijs.Certificate): boolean {
  return Buffer.from(a.tbsView).equals(Buffer.from(b.tbsView));
}

async function signedBy(cert: pkijs.Certificate, issuer: pkijs.Certificate): Promise<boolean> {
  try {
    return await cert.verify(issuer);
  } catch {
    return false;
  }
}

/**
 * Builds and checks a path leaf → … → one of `anchors` at time `at`: names chain, each certificate
 * is signed by the next, every issuer (the anchor too) is a CA, every certificate is valid at `at`.
 * Hand-written and bounded (depth, no revisits) because pkijs' path builder recurses without a
 * visited set, which a signature carrying two certificates that issue each other turns into an
 * endless loop. No revocation data is consulted.
 */
export async function verifyChain(leaf: pkijs.Certificate, intermediates: pkijs.Certificate[], anchors: pkijs.Certificate[], at: Date): Promise<ChainResult> {
  if (anchors.length === 0) return { ok: false, message: 'no trust anchor' };
  if (anchors.some((a) => sameTbs(a, leaf))) return { ok: false, message: 'the signer certificate is the trust anchor itself' };
  const path = [leaf];
  let current = leaf;
  for (;;) {
    if (path.length >= MAX_PATH) return { ok: false, message: `no path to a trust anchor within ${MAX_PATH} certificates` };
    let next: pkijs.Certificate | undefined;
    let reachedAnchor = false;
    for (const a of anchors) {
      if (current.issuer.isEqual(a.subject) && (await signedBy(current, a))) {
        next = a;
        reachedAnchor = true;
        break;
      }
    }
    if (!next) {
      for (const c of intermediates) {
        if (path.some((p) => sameTbs(p, c)) || !isCa(c) || !current.issuer.isEqual(c.subject)) continue;
        if (await signedBy(current, c)) {
          next = c;
          break;
        }
      }
    }
    if (!next) return { ok: false, message: `no trusted issuer found for ${formatName(current.subject)}` };
    if (!isCa(next)) return { ok: false, message: `issuer ${formatName(next.subject)} is not a CA certificate` };
    path.push(next);
    current = next;
    if (reachedAnchor) break;
  }
  const stale = path.find((c) => !validAt(c, at));
  if (stale) {
    return {
      ok: false,
      timeOnly: true,
      path,
      message: `certificate ${formatName(stale.subject)} is not valid at ${at.toISOString()} (valid ${describeValidity(stale)})`,
    };
  }
  return { ok: true, path };
}

let systemRoots: pkijs.Certificate[] | undefined;
/** Node's bundled Mozilla root store, parsed once (used to trust public timestamping authorities). */
export function systemRootCertificates(): pkijs.Certificate[] {
  if (!systemRoots) {
    systemRoots = [];
    for (const pem of rootCertificates) {
      try {
        systemRoots.push(...parsePemCertificates(pem));
      } catch {
        // a root pkijs cannot parse simply cannot anchor anything
      }
    }
  }
  return systemRoots;
}
