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
import { errorMessage, UsageError } from '../core/errors';
import { readBoundedFile } from '../formats/bounded-read';
import type { CliContext, CliFlag } from '../formats/schemes/scheme';
import { companionOf, SCHEME_NAMES, SIGNATURE_SCHEMES, findScheme } from '../formats/schemes/registry';
import { verifySignature } from '../formats/signature';
import type { DirectSignaturePolicy, SignatureResult } from '../formats/types';
import { neutralise, safeJson } from '../core/text/neutralise';

const HELP = `usage: release-verifier check-signature --scheme <${SCHEME_NAMES.join('|')}>
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
${SIGNATURE_SCHEMES.flatMap((s) => (s.cli.help ? [s.cli.help] : [])).join('\n')}
exit codes: 0 valid, 1 invalid (unsigned, wrong signer, tampered), 2 could not check, 3 usage error`;

/**
 * Every scheme's flags (formats/schemes/<scheme>.ts `cli.flags`), for parseArgs; a flag two schemes
 * share (--key, --cert-sha256) must mean the same kind of value in both.
 */
function schemeFlags(): Map<string, { flag: CliFlag; schemes: string[] }> {
  const flags = new Map<string, { flag: CliFlag; schemes: string[] }>();
  const add = (name: string, flag: CliFlag, scheme: string) => {
    const known = flags.get(name);
    if (known && (known.flag.type !== flag.type || !known.flag.multiple !== !flag.multiple))
      throw new Error(`check-signature: --${name} is declared differently by two schemes`);
    if (known) known.schemes.push(scheme);
    else flags.set(name, { flag, schemes: [scheme] });
  };
  for (const s of SIGNATURE_SCHEMES) for (const [name, flag] of Object.entries(s.cli.flags)) add(name, flag, s.name);
  // a detached scheme takes --signature (its default: a file beside --file with one of its suffixes)
  for (const s of SIGNATURE_SCHEMES) if (s.cli.signatureSuffixes.length > 0) add('signature', { type: 'string' }, s.name);
  return flags;
}

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

type Values = Record<string, string | boolean | string[] | undefined>;
type SchemeFlags = ReturnType<typeof schemeFlags>;

/** One line (or JSON object) for the verdict, then the notes the scheme collected. */
function printOutput(out: Output, json: boolean, notes: string[]): void {
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
}

/** Reports an error that stopped the check: exit 3 for a usage error, 2 otherwise. */
function couldNotCheck(err: unknown, usage: boolean, json: boolean, scheme: string | null): number {
  const message = errorMessage(err);
  if (json) process.stdout.write(safeJson({ valid: false, scheme, signer: null, reason: `could not check: ${message}` }) + '\n');
  process.stderr.write(
    `release-verifier check-signature: ${usage ? `${neutralise(message)}\n(run \`release-verifier check-signature --help\` for the options)` : `could not check: ${neutralise(message)}`}\n`,
  );
  return usage ? 3 : 2;
}

function parseCheckSignatureArgs(argv: string[], flags: SchemeFlags): Values {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scheme: { type: 'string' },
      file: { type: 'string' },
      json: { type: 'boolean', default: false },
      ...Object.fromEntries(
        [...flags].map(([name, { flag }]) => [
          name,
          flag.type === 'boolean' ? { type: 'boolean' as const, default: false } : { type: 'string' as const, multiple: flag.multiple === true },
        ]),
      ),
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}

/** The scheme's CLI context: how its `cli.policy` reads files and flags and reports notes. */
function cliContext(values: Values, scheme: string, notes: string[]): CliContext {
  return {
    values,
    readText,
    readBytes: async (path, max, what) => {
      const read = await readBoundedFile(path, max);
      if ('tooLarge' in read) throw new UsageError(`${what} ${path} is larger than ${max} bytes`);
      return read.bytes;
    },
    required: (flag) => {
      const value = values[flag];
      if (typeof value !== 'string' || !value) throw new UsageError(`--${flag} is required for --scheme ${scheme}`);
      return value;
    },
    usage: (message) => new UsageError(message),
    note: (message) => notes.push(message),
  };
}

/** The detached signature file: --signature, or the first file beside --file with one of the scheme's suffixes. */
function resolveSignaturePath(values: Values, suffixes: readonly string[], notes: string[]): string {
  const given = values.signature as string | undefined;
  if (given) return given;
  const candidates = suffixes.map((suffix) => values.file + suffix);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new UsageError(`no --signature given and ${candidates.join(' / ')} not found`);
  notes.push(`signature file: ${found}`);
  return found;
}

/**
 * The scheme, its validated policy and the signature file from the flags. `state.scheme` is set as
 * soon as the scheme is known, so an error after that still names it in the JSON answer.
 */
async function resolveRequest(
  values: Values,
  flags: SchemeFlags,
  notes: string[],
  state: { scheme: string | null },
): Promise<{ policy: DirectSignaturePolicy; signaturePath: string | undefined }> {
  if (!values.scheme) throw new UsageError('--scheme is required');
  const definition = findScheme(values.scheme as string);
  if (!definition) throw new UsageError(`--scheme must be one of ${SCHEME_NAMES.join(', ')}`);
  const s = definition.name;
  state.scheme = s;
  if (!values.file) throw new UsageError('--file is required');
  // Options that do not belong to the scheme are a usage error: a pin the user believes is in
  // force but is silently ignored would be worse than refusing.
  for (const [flag, { schemes }] of flags) {
    const v = values[flag];
    if (v !== undefined && v !== false && !schemes.includes(s)) throw new UsageError(`--${flag} does not apply to --scheme ${s}`);
  }

  const { raw, extra } = await definition.cli.policy(cliContext(values, s, notes));
  const parsed = definition.policySchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.') || s}: ${i.message}`).join('; '));
  }
  const policy = (extra ? { ...parsed.data, ...extra } : parsed.data) as DirectSignaturePolicy;

  const suffixes = definition.cli.signatureSuffixes;
  const signaturePath = suffixes.length > 0 && companionOf(policy) !== undefined ? resolveSignaturePath(values, suffixes, notes) : undefined;
  return { policy, signaturePath };
}

export async function run(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  const state: { scheme: string | null } = { scheme: null };
  const notes: string[] = [];

  const flags = schemeFlags();
  let values: Values;
  try {
    values = parseCheckSignatureArgs(argv, flags);
  } catch (err) {
    return couldNotCheck(err, true, json, state.scheme);
  }
  json = values.json === true;
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }

  let policy: DirectSignaturePolicy;
  let signaturePath: string | undefined;
  try {
    ({ policy, signaturePath } = await resolveRequest(values, flags, notes, state));
  } catch (err) {
    return couldNotCheck(err, err instanceof UsageError, json, state.scheme);
  }

  let result: SignatureResult;
  try {
    result = await verifySignature({ assetPath: values.file as string, signaturePath, policy });
  } catch (err) {
    return couldNotCheck(err, false, json, state.scheme);
  }
  const valid = result.valid === true;
  // A cleartext signature covers its block only: lines before or after it (which `sha256sum -c`
  // would read too) are nobody's word. Said on every VALID answer where the file has any.
  const outside = valid && state.scheme === 'openpgp' && values.cleartext ? await textOutsideSignedBlock(values.file as string) : 0;
  if (outside > 0)
    process.stderr.write(
      `release-verifier check-signature: WARNING — ${outside} non-blank line(s) outside the signed block are NOT covered by the signature; use only the signed text\n`,
    );
  printOutput(
    {
      valid,
      scheme: result.scheme,
      signer: result.signer ?? null,
      reason: result.reason ?? (valid ? null : 'invalid signature'),
      ...(outside > 0 ? { unsignedTextOutsideBlock: true } : {}),
    },
    json,
    notes,
  );
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
