/**
 * The pinned trusted_root.json. @sigstore/verify reads a missing `validFor.start` as "since the
 * beginning of time" and never checks a log key's window when it verifies a checkpoint; here every
 * log, CA and TSA must carry a start (a root without one is refused, as sigstore-go and the
 * sigstore-conformance suite do), and the transparency logs are kept with their windows and
 * signed-note names, so checkpoint signatures can be checked against the one log that is pinned.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { PublicKeyDetails, TrustedRoot, type TimeRange, type TransparencyLogInstance } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type KeyFinderFunc, type TrustMaterial } from '@sigstore/verify';
import { FormatError } from '../../base/errors';

export interface TimeWindow {
  start: Date;
  end?: Date;
}

/** One pinned transparency log, as the checkpoint check needs it. */
export interface PinnedLog {
  baseUrl: string;
  /** the signed-note key name: the base URL without its scheme (e.g. `rekor.sigstore.dev`) */
  name: string;
  /** the log id bundles name (`logId.keyId`) */
  logId: Buffer;
  /** the id whose first 4 bytes are the checkpoint signature's key hint (v2: checkpointKeyId or the C2SP note key id) */
  checkpointKeyId: Buffer;
  key: KeyObject;
  window: TimeWindow;
}

export interface PinnedTrust {
  tlogs: PinnedLog[];
  /** trust material for @sigstore/verify; `keys` resolves a key-based bundle's signing key */
  material(keys?: KeyFinderFunc): TrustMaterial;
}

const fail = (message: string, cause?: unknown) =>
  new FormatError('sigstore', `trusted root unreadable: ${message}`, cause === undefined ? undefined : { cause });

function checkWindow(range: TimeRange | undefined, what: string): TimeWindow {
  const start = range?.start;
  if (!(start instanceof Date) || Number.isNaN(start.getTime()))
    throw fail(`${what} has no validFor.start (a key without a start would be trusted for all time)`);
  const end = range?.end;
  if (end !== undefined && (!(end instanceof Date) || Number.isNaN(end.getTime()) || end < start)) throw fail(`${what} has an unusable validFor.end`);
  return end ? { start, end } : { start };
}

/** The C2SP signed-note key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key). */
function ed25519NoteKeyId(name: string, key: KeyObject): Buffer {
  const raw = key.export({ format: 'der', type: 'spki' }).subarray(-32);
  return createHash('sha256')
    .update(`${name}\n`)
    .update(Buffer.from([0x01]))
    .update(raw)
    .digest();
}

function pinnedLog(t: TransparencyLogInstance, i: number): PinnedLog {
  const what = `tlogs[${i}] (${t.baseUrl || 'no baseUrl'})`;
  if (!t.publicKey?.rawBytes?.length) throw fail(`${what} has no public key`);
  if (!t.logId?.keyId?.length) throw fail(`${what} has no logId`);
  const window = checkWindow(t.publicKey.validFor, `${what} public key`);
  const raw = Buffer.from(t.publicKey.rawBytes);
  const pkcs1 = t.publicKey.keyDetails === PublicKeyDetails.PKCS1_RSA_PKCS1V5;
  const key = createPublicKey({ key: raw, format: 'der', type: pkcs1 ? 'pkcs1' : 'spki' });
  const name = t.baseUrl.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
  if (!name) throw fail(`${what} has no baseUrl`);
  const logId = Buffer.from(t.logId.keyId);
  const checkpointKeyId = t.checkpointKeyId?.keyId?.length
    ? Buffer.from(t.checkpointKeyId.keyId)
    : key.asymmetricKeyType === 'ed25519'
      ? ed25519NoteKeyId(name, key)
      : logId;
  return { baseUrl: t.baseUrl, name, logId, checkpointKeyId, key, window };
}

/** Parses and checks the pinned trusted_root.json. Throws FormatError (a configuration problem). */
export function readTrustedRoot(json: string): PinnedTrust {
  let root: TrustedRoot;
  try {
    const obj: unknown = JSON.parse(json);
    if (
      typeof obj !== 'object' ||
      obj === null ||
      !String((obj as { mediaType?: unknown }).mediaType ?? '').startsWith('application/vnd.dev.sigstore.trustedroot')
    ) {
      throw new Error('not a sigstore trusted root (mediaType application/vnd.dev.sigstore.trustedroot+json…)');
    }
    root = TrustedRoot.fromJSON(obj);
  } catch (err) {
    throw fail((err as Error).message, err);
  }
  let tlogs: PinnedLog[];
  try {
    tlogs = root.tlogs.map(pinnedLog);
    root.ctlogs.forEach((c, i) => {
      checkWindow(c.publicKey?.validFor, `ctlogs[${i}] (${c.baseUrl || 'no baseUrl'}) public key`);
    });
    root.certificateAuthorities.forEach((c, i) => {
      checkWindow(c.validFor, `certificateAuthorities[${i}] (${c.uri || 'no uri'})`);
    });
    root.timestampAuthorities.forEach((c, i) => {
      checkWindow(c.validFor, `timestampAuthorities[${i}] (${c.uri || 'no uri'})`);
    });
    toTrustMaterial(root); // every key and certificate parses
  } catch (err) {
    throw err instanceof FormatError ? err : fail((err as Error).message, err);
  }
  return { tlogs, material: (keys) => toTrustMaterial(root, keys) };
}

/** Parses the pinned trusted_root.json (kept for callers that only want the library's trust material). */
export function parseTrustedRoot(json: string): TrustMaterial {
  return readTrustedRoot(json).material();
}

export function withinWindow(w: TimeWindow, t: Date): boolean {
  return w.start <= t && (w.end === undefined || t <= w.end);
}
