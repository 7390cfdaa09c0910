/**
 * "Did this mutation leave the signed content unchanged?" — per format, written from the format's
 * own rules (what minisign reads, what an OpenPGP signature hashes, what a bundle decodes to), so
 * that a mutation judged valid is only excused when it really is a no-op.
 */
import { Bundle } from '@sigstore/protobuf-specs';
import * as openpgp from 'openpgp';
import { isDeepStrictEqual } from 'node:util';

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/**
 * minisign reads four lines (a trailing "\r" stripped, the final newline optional); only the
 * untrusted comment (line 1 after its prefix) is unsigned.
 */
export function minisignEquivalent(original: Uint8Array, mutated: Uint8Array): boolean {
  if (sameBytes(original, mutated)) return true;
  const lines = (b: Uint8Array) => {
    const ls = Buffer.from(b).toString('latin1').split('\n');
    if (ls[ls.length - 1] === '') ls.pop();
    return ls.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  };
  const o = lines(original);
  const m = lines(mutated);
  return m.length === 4 && m[0]!.startsWith('untrusted comment: ') && m[1] === o[1] && m[2] === o[2] && m[3] === o[3];
}

/** Tauri: base64 (one optional trailing line ending) of a minisign signature text. */
export function tauriEquivalent(original: Uint8Array, mutated: Uint8Array): boolean {
  if (sameBytes(original, mutated)) return true;
  const decode = (b: Uint8Array) => {
    const t = Buffer.from(b)
      .toString('latin1')
      .replace(/\r?\n$/, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) return undefined;
    return Buffer.from(t, 'base64');
  };
  const o = decode(original);
  const m = decode(mutated);
  return !!o && !!m && minisignEquivalent(o, m);
}

/**
 * OpenPGP: a signature packet's signed content is its hashed part (version, type, algorithms,
 * hashed subpackets) and the signature values; the unhashed subpackets, the armor (headers,
 * checksum, line breaks) and the packet framing are not signed.
 */
export async function openpgpEquivalent(original: Uint8Array, mutated: Uint8Array): Promise<boolean> {
  if (sameBytes(original, mutated)) return true;
  const read = async (b: Uint8Array) => {
    const text = Buffer.from(b).toString('latin1');
    const sig = /^\s*-----BEGIN PGP SIGNATURE-----/.test(text)
      ? await openpgp.readSignature({ armoredSignature: Buffer.from(b).toString('utf8') })
      : await openpgp.readSignature({ binarySignature: b });
    return [...sig.packets].map((p) => {
      const sp = p as openpgp.SignaturePacket & { signatureData: Uint8Array; params: Record<string, Uint8Array> };
      return {
        data: Buffer.from(sp.signatureData).toString('hex'),
        params: Object.fromEntries(Object.entries(sp.params ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('hex')])),
      };
    });
  };
  try {
    return isDeepStrictEqual(await read(original), await read(mutated));
  } catch {
    return false;
  }
}

/** Drops default-valued fields ({} / [] / "" …), which protobuf treats as absent. */
function pruneDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(pruneDefaults);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const p = pruneDefaults(x);
    const empty =
      p === undefined ||
      p === null ||
      p === '' ||
      p === 0 ||
      p === '0' ||
      p === false ||
      (Array.isArray(p) && p.length === 0) ||
      (typeof p === 'object' && p !== null && Object.keys(p).length === 0);
    if (!empty) out[k] = p;
  }
  return out;
}

/**
 * Sigstore: the bundle as decoded (protobuf JSON mapping, default-valued fields aside) is unchanged.
 * A DSSE signature's `keyid` is an unsigned, optional hint (DSSE spec: "MUST NOT" be relied on for
 * security), so it does not count.
 */
export function sigstoreEquivalent(original: Uint8Array, mutated: Uint8Array): boolean {
  if (sameBytes(original, mutated)) return true;
  try {
    const dropKeyIds = (j: unknown) => {
      const sigs = (j as { dsseEnvelope?: { signatures?: { keyid?: string }[] } }).dsseEnvelope?.signatures ?? [];
      for (const s of sigs) delete s.keyid;
      return j;
    };
    const norm = (b: Uint8Array) => pruneDefaults(dropKeyIds(Bundle.toJSON(Bundle.fromJSON(JSON.parse(Buffer.from(b).toString('utf8'))))));
    return isDeepStrictEqual(norm(original), norm(mutated));
  } catch {
    return false;
  }
}
