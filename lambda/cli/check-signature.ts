/**
 * `release-verifier check-signature --scheme <minisign|tauri|openpgp|authenticode|sigstore|apple>
 *    --file ASSET [--signature SIGFILE] [--key KEYFILE] [--cert-sha256 HEX] [--team-id ID] [--json]`
 *
 * Exit codes (a contract): 0 valid, 1 invalid (unsigned, wrong signer, tampered, malformed
 * signature), 2 could not check (unreadable input, unusable key), 3 usage error (as every command).
 * `--json` prints exactly {"valid": bool, "scheme": "...", "signer": "..."|null, "reason": "..."|null}.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SignaturePolicySchema, type DirectSignaturePolicy } from '../core/config/schema';
import { errorMessage, UsageError } from '../core/errors';
import { readBoundedFile } from '../formats/bounded-read';
import { verifySignature } from '../formats/signature';
import type { SignatureResult } from '../formats/types';
import { neutralise, safeJson } from '../core/text/neutralise';

const SCHEMES = ['minisign', 'tauri', 'openpgp', 'authenticode', 'sigstore', 'apple'] as const;
type Scheme = (typeof SCHEMES)[number];
const MAX_KEY_FILE = 1024 * 1024;
const MAX_TRUSTED_ROOT = 4 * 1024 * 1024;

const HELP = `usage: release-verifier check-signature --scheme <minisign|tauri|openpgp|authenticode|sigstore|apple>
         --file ASSET [--signature SIGFILE] [--key KEYFILE] [--cert-sha256 HEX] [--team-id ID] [--json]
  --file ASSET          the signed file
  --signature SIGFILE   detached signature / bundle (default: ASSET.minisig, ASSET.sig,
                        ASSET.asc or ASSET.sig, ASSET.sigstore.json by scheme; none for the
                        embedded schemes authenticode and apple)
  --key KEYFILE         minisign .pub file or "RW…" line; Tauri updater pubkey (base64 of the
                        .pub file, as in tauri.conf.json) or the .pub file itself;
                        OpenPGP public key or keyring (armored or binary; with several keys,
                        --fingerprint names the pinned one)
  --cert-sha256 HEX     authenticode, apple: pinned signer (leaf) certificate SHA-256 (repeatable)
  --team-id ID          apple: pinned Apple Team ID (the signing certificate's OU); give it
                        and/or --cert-sha256 (with both, the signer must match both).
                        --file: a Mach-O file (every slice), a zip/tar
                        holding .app bundles, or a DMG; a stapled notarization ticket is
                        reported as present, not verified
  --json                print {"valid", "scheme", "signer", "reason"} as JSON
 scheme-specific:
  --prehashed-only      minisign: refuse legacy non-prehashed "Ed" signatures (minisign -V -H);
                        by default they are accepted, as minisign -V and Tauri's updater do
  --allow-legacy        minisign: accepted for older scripts (legacy signatures are the default)
  --fingerprint HEX     openpgp: pinned primary key fingerprint (default: the key file's own)
  --ca-cert FILE        authenticode: pinned issuing CA (PEM), with --subject
  --subject DN          authenticode: required signer subject when pinning by CA
  --tsa-cert FILE       authenticode: trusted timestamping CA / TSA certificate(s), PEM
                        (repeatable), for RFC 3161 tokens and legacy countersignatures,
                        besides Node's bundled root store
  --signatures WHICH    authenticode: "primary" (default: the first signature must verify) or
                        "any-pinned" (a nested signature by the pinned signer also counts, e.g.
                        the SHA-256 one of a SHA-1 + SHA-256 dual-signed file)
  --text                openpgp: accept a text-mode (0x01) signature, for text files such as
                        SHA256SUMS (line endings are then not signed)
  --cleartext           openpgp: --file is cleartext-signed (gpg --clearsign); no --signature.
                        Text outside the signed block is not covered: a warning on stderr
                        (and "unsignedTextOutsideBlock": true with --json) when there is any
  --any-apple-identity  apple: accept any Apple-issued code signing certificate, not only
                        Developer ID Application (the default)
  --trusted-root FILE   sigstore: pinned trusted_root.json
  --issuer URL          sigstore: OIDC issuer, compared exactly
  --san STRING          sigstore: certificate SAN, compared exactly
  --public-key FILE     sigstore: pinned signing key (PEM, e.g. cosign.pub) for key-based
                        bundles (cosign sign-blob --key … --bundle); instead of --issuer/--san
exit codes: 0 valid, 1 invalid (unsigned, wrong signer, tampered), 2 could not check, 3 usage error`;

const DEFAULT_SIGNATURE_SUFFIXES: Record<Exclude<Scheme, 'authenticode' | 'apple'>, string[]> = {
  minisign: ['.minisig'],
  tauri: ['.sig'],
  openpgp: ['.asc', '.sig'],
  sigstore: ['.sigstore.json'],
};

interface Output {
  valid: boolean;
  scheme: string | null;
  signer: string | null;
  reason: string | null;
  /** --cleartext only, and only when true: the file has text outside the signed block */
  unsignedTextOutsideBlock?: true;
}

async function readText(path: string, max: number, what: string): Promise<string> {
  const read = await readBoundedFile(path, max);
  if ('tooLarge' in read) throw new UsageError(`${what} ${path} is larger than ${max} bytes`);
  return read.bytes.toString('utf8');
}

/** Every --tsa-cert file (PEM, one or more certificates each), as one PEM text. */
async function readTsaCertificates(paths: string[]): Promise<string> {
  const texts: string[] = [];
  for (const p of paths) {
    const text = await readText(p, MAX_KEY_FILE, 'TSA certificate');
    if (!/-----BEGIN CERTIFICATE-----/.test(text)) throw new UsageError(`--tsa-cert ${p} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    texts.push(text.trim());
  }
  return texts.join('\n') + '\n';
}

function required(value: string | undefined, flag: string, scheme: string): string {
  if (!value) throw new UsageError(`--${flag} is required for --scheme ${scheme}`);
  return value;
}

export async function run(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  let scheme: string | null = null;
  const notes: string[] = [];

  const print = (out: Output): void => {
    if (json) {
      process.stdout.write(
        safeJson({
          valid: out.valid,
          scheme: out.scheme,
          signer: out.signer,
          reason: out.reason,
          ...(out.unsignedTextOutsideBlock ? { unsignedTextOutsideBlock: true } : {}),
        }) + '\n',
      );
    } else if (out.valid) {
      // signer names (OpenPGP user ids, certificate subjects) are the signer's choice: neutralised
      process.stdout.write(neutralise(`VALID ${out.scheme} signature${out.signer ? ` by ${out.signer}` : ''}${out.reason ? ` — ${out.reason}` : ''}`) + '\n');
    } else {
      process.stdout.write(neutralise(`INVALID ${out.scheme} signature${out.signer ? ` (signer ${out.signer})` : ''}: ${out.reason ?? 'not valid'}`) + '\n');
    }
    for (const n of notes) (json ? process.stderr : process.stdout).write(`note: ${neutralise(n)}\n`);
  };
  const couldNotCheck = (err: unknown, usage: boolean): number => {
    const message = errorMessage(err);
    if (json) process.stdout.write(safeJson({ valid: false, scheme, signer: null, reason: `could not check: ${message}` }) + '\n');
    process.stderr.write(
      `release-verifier check-signature: ${usage ? `${neutralise(message)}\n(run \`release-verifier check-signature --help\` for the options)` : `could not check: ${neutralise(message)}`}\n`,
    );
    return usage ? 3 : 2;
  };

  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        scheme: { type: 'string' },
        file: { type: 'string' },
        signature: { type: 'string' },
        key: { type: 'string' },
        'cert-sha256': { type: 'string', multiple: true },
        'team-id': { type: 'string' },
        'any-apple-identity': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'allow-legacy': { type: 'boolean', default: false },
        'prehashed-only': { type: 'boolean', default: false },
        fingerprint: { type: 'string' },
        'ca-cert': { type: 'string' },
        'tsa-cert': { type: 'string', multiple: true },
        signatures: { type: 'string' },
        text: { type: 'boolean', default: false },
        cleartext: { type: 'boolean', default: false },
        subject: { type: 'string' },
        'trusted-root': { type: 'string' },
        issuer: { type: 'string' },
        san: { type: 'string' },
        'public-key': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return couldNotCheck(err, true);
  }
  json = values.json!;
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }

  let policy: DirectSignaturePolicy;
  let signaturePath: string | undefined;
  try {
    if (!values.scheme) throw new UsageError('--scheme is required');
    if (!(SCHEMES as readonly string[]).includes(values.scheme)) throw new UsageError(`--scheme must be one of ${SCHEMES.join(', ')}`);
    scheme = values.scheme as Scheme;
    if (!values.file) throw new UsageError('--file is required');
    const s = scheme as Scheme;
    // Options that do not belong to the scheme are a usage error: a pin the user believes is in
    // force but is silently ignored would be worse than refusing.
    const foreign: Array<[keyof typeof values, Scheme[]]> = [
      ['cert-sha256', ['authenticode', 'apple']],
      ['ca-cert', ['authenticode']],
      ['subject', ['authenticode']],
      ['team-id', ['apple']],
      ['any-apple-identity', ['apple']],
      ['tsa-cert', ['authenticode']],
      ['signatures', ['authenticode']],
      ['text', ['openpgp']],
      ['cleartext', ['openpgp']],
      ['allow-legacy', ['minisign']],
      ['prehashed-only', ['minisign']],
      ['fingerprint', ['openpgp']],
      ['trusted-root', ['sigstore']],
      ['issuer', ['sigstore']],
      ['san', ['sigstore']],
      ['public-key', ['sigstore']],
      ['key', ['minisign', 'tauri', 'openpgp']],
      ['signature', ['minisign', 'tauri', 'openpgp', 'sigstore']],
    ];
    for (const [flag, schemes] of foreign) {
      const v = values[flag];
      if (v !== undefined && v !== false && !schemes.includes(s)) throw new UsageError(`--${flag} does not apply to --scheme ${s}`);
    }

    let raw: Record<string, unknown>;
    switch (s) {
      case 'minisign':
        if (values['allow-legacy'] && values['prehashed-only']) throw new UsageError('--allow-legacy and --prehashed-only contradict each other');
        raw = { scheme: s, publicKey: await readText(required(values.key, 'key', s), MAX_KEY_FILE, 'key file'), prehashedOnly: values['prehashed-only'] };
        break;
      case 'tauri':
        raw = { scheme: s, publicKey: (await readText(required(values.key, 'key', s), MAX_KEY_FILE, 'key file')).trim() };
        break;
      case 'openpgp': {
        const keyPath = required(values.key, 'key', s);
        const read = await readBoundedFile(keyPath, MAX_KEY_FILE);
        if ('tooLarge' in read) throw new UsageError(`key file ${keyPath} is larger than ${MAX_KEY_FILE} bytes`);
        // openpgp is loaded only for this scheme (issue 14: startup)
        const { primaryFingerprint, readOpenpgpKeys, selectPinnedKey } = await import('../formats/openpgp');
        const keys = await readOpenpgpKeys(read.bytes);
        let fingerprint = values.fingerprint?.replace(/\s+/g, '');
        if (!fingerprint) {
          if (keys.length !== 1)
            throw new UsageError(
              `key file ${keyPath} holds ${keys.length} keys (${keys.map(primaryFingerprint).join(', ')}): name the pinned one with --fingerprint`,
            );
          fingerprint = primaryFingerprint(keys[0]!);
          notes.push(`no --fingerprint given: pinned the primary fingerprint of ${keyPath} (${fingerprint})`);
        }
        if (values.cleartext && values.signature) throw new UsageError('--cleartext takes no --signature: the signature is inside --file');
        // The pinned key of a keyring (or the one key, which verifyOpenpgp then finds not pinned).
        const key = selectPinnedKey(keys, fingerprint) ?? keys[0]!;
        raw = { scheme: s, publicKey: key.armor(), fingerprint, ...(values.text ? { allowTextMode: true } : {}) };
        break;
      }
      case 'authenticode': {
        if (!values['cert-sha256'] && !values['ca-cert'])
          throw new UsageError('--cert-sha256 (or --ca-cert with --subject) is required for --scheme authenticode');
        if (values['ca-cert'] && !values.subject) throw new UsageError('--ca-cert needs --subject');
        raw = {
          scheme: s,
          ...(values['cert-sha256'] ? { certSha256: values['cert-sha256'].map((h) => h.replace(/[:\s]/g, '')) } : {}),
          ...(values['ca-cert'] ? { caCertificate: await readText(values['ca-cert'], MAX_KEY_FILE, 'CA certificate'), subject: values.subject } : {}),
          ...(values['tsa-cert'] ? { tsaCertificate: await readTsaCertificates(values['tsa-cert']) } : {}),
          ...(values.signatures !== undefined ? { signatures: values.signatures } : {}),
        };
        break;
      }
      case 'apple':
        if (!values['team-id'] && !values['cert-sha256']) throw new UsageError('--team-id and/or --cert-sha256 is required for --scheme apple');
        raw = {
          scheme: s,
          ...(values['team-id'] ? { teamId: values['team-id'] } : {}),
          ...(values['cert-sha256'] ? { certSha256: values['cert-sha256'].map((h) => h.replace(/[:\s]/g, '')) } : {}),
          requireDeveloperId: !values['any-apple-identity'],
        };
        break;
      case 'sigstore': {
        const trustedRoot = await readText(required(values['trusted-root'], 'trusted-root', s), MAX_TRUSTED_ROOT, 'trusted root');
        if (values['public-key'] !== undefined) {
          // key-based bundle (cosign sign-blob --key … --bundle): the key is the pin, not an identity
          if (values.issuer !== undefined || values.san !== undefined)
            throw new UsageError('--public-key pins a key-based bundle: give it instead of --issuer and --san, not with them');
          raw = { scheme: s, trustedRoot, publicKey: await readText(values['public-key'], MAX_KEY_FILE, 'public key') };
        } else {
          raw = { scheme: s, trustedRoot, issuer: required(values.issuer, 'issuer', s), san: required(values.san, 'san', s) };
        }
        break;
      }
    }
    const parsed = SignaturePolicySchema.safeParse(raw);
    if (!parsed.success) {
      throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.') || s}: ${i.message}`).join('; '));
    }
    policy = parsed.data as DirectSignaturePolicy;
    // A cleartext-signed file carries its signature (a manifest-only option in the config schema).
    if (s === 'openpgp' && values.cleartext) policy = { ...policy, cleartext: true } as unknown as DirectSignaturePolicy;

    if (s !== 'authenticode' && s !== 'apple' && !(s === 'openpgp' && values.cleartext)) {
      signaturePath = values.signature;
      if (!signaturePath) {
        const candidates = DEFAULT_SIGNATURE_SUFFIXES[s].map((suffix) => values.file + suffix);
        signaturePath = candidates.find((c) => existsSync(c));
        if (!signaturePath) throw new UsageError(`no --signature given and ${candidates.join(' / ')} not found`);
        notes.push(`signature file: ${signaturePath}`);
      }
    }
  } catch (err) {
    return couldNotCheck(err, err instanceof UsageError);
  }

  let result: SignatureResult;
  try {
    result = await verifySignature({ assetPath: values.file!, signaturePath, policy });
  } catch (err) {
    return couldNotCheck(err, false);
  }
  const valid = result.valid === true;
  // A cleartext signature covers its block only: lines before or after it (which `sha256sum -c`
  // would read too) are nobody's word. Said on every VALID answer where the file has any.
  const outside = valid && scheme === 'openpgp' && values.cleartext ? await textOutsideSignedBlock(values.file!) : 0;
  if (outside > 0)
    process.stderr.write(
      `release-verifier check-signature: WARNING — ${outside} non-blank line(s) outside the signed block are NOT covered by the signature; use only the signed text\n`,
    );
  print({
    valid,
    scheme: result.scheme,
    signer: result.signer ?? null,
    reason: result.reason ?? (valid ? null : 'invalid signature'),
    ...(outside > 0 ? { unsignedTextOutsideBlock: true } : {}),
  });
  return valid ? 0 : 1;
}

const CLEARTEXT_BEGIN = '-----BEGIN PGP SIGNED MESSAGE-----';
const SIGNATURE_END = '-----END PGP SIGNATURE-----';

/** Non-blank lines before the cleartext block's BEGIN line or after its END line (the block
 * formats/openpgp.ts readCleartextBlock verified; the file was already read within its bound). */
async function textOutsideSignedBlock(path: string): Promise<number> {
  const { MAX_CLEARTEXT_BYTES } = await import('../formats/openpgp');
  const read = await readBoundedFile(path, MAX_CLEARTEXT_BYTES);
  // verified already, so never too large here; fail closed (warn) if it somehow is
  if ('tooLarge' in read) return 1;
  const lines = read.bytes
    .toString('utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''));
  const begin = lines.indexOf(CLEARTEXT_BEGIN);
  const end = lines.findIndex((l, i) => i > begin && l === SIGNATURE_END);
  if (begin === -1 || end === -1) return 1;
  return [...lines.slice(0, begin), ...lines.slice(end + 1)].filter((l) => l.trim() !== '').length;
}
