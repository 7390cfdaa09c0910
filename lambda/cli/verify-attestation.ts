/**
 * `release-verifier verify-attestation --envelope FILE (--public-key PEM | --kms-key-arn ARN) [--json]`
 *
 * Checks a run's DSSE envelope (the detailed attestation.dsse.json or the SLSA VSA vsa.dsse.json):
 * an ECDSA P-256 / SHA-256 signature (DER, as KMS returns it) over the DSSE PAE by the pinned key,
 * then prints what the statement says — subjects, predicate type, verdict / verificationResult.
 * With --kms-key-arn the public key comes from KMS GetPublicKey (the caller's AWS credentials).
 *
 * Exit codes (a contract): 0 valid signature and PASSED (VSA) / VERIFIED (detailed predicate);
 * 1 invalid signature, malformed envelope or statement, FAILED or any other verdict, unknown
 * predicate type; 2 could not check (unreadable file, unusable key, KMS unreachable); 3 usage.
 * `--json` prints {"valid", "passed", "predicateType", "result", "subjects", "keyid", "reason"}.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { GetPublicKeyCommandOutput } from '@aws-sdk/client-kms';
import {
  assertAttestationKey,
  envelopeSignedBy,
  ENVELOPE_LIMITS,
  MalformedEnvelopeError,
  parseEnvelope,
  statementOutcome,
  type StatementOutcome,
} from '../core/attestation';
import { errorMessage, UsageError } from '../core/errors';
import { neutralise, safeJson } from '../core/text/neutralise';
import { VSA_PREDICATE_TYPE } from '../core/vsa';
import { readBoundedFile } from '../formats/bounded-read';
import { awsClientOptions } from './stack-commands';

const HELP = `usage: release-verifier verify-attestation --envelope FILE (--public-key PEM | --kms-key-arn ARN) [--json]
  --envelope FILE       a DSSE envelope the stack wrote (runs/<runId>/vsa.dsse.json or attestation.dsse.json)
  --public-key PEM      the attestation key's public half (PEM, e.g. from aws kms get-public-key)
  --kms-key-arn ARN     read the public key with KMS GetPublicKey instead (needs kms:GetPublicKey)
  --json                print {"valid", "passed", "predicateType", "result", "subjects", "keyid", "reason"}
exit codes: 0 valid and PASSED/VERIFIED, 1 invalid signature or FAILED (or any other verdict),
            2 could not check, 3 usage error`;

const MAX_KEY_FILE = 64 * 1024;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(key|alias)\/[A-Za-z0-9/_+=,.@-]+$/;

interface Output {
  valid: boolean;
  passed: boolean;
  predicateType: string | null;
  result: string | null;
  subjects: { name: string; sha256: string }[];
  keyid: string | null;
  reason: string | null;
}

/** Could not check (exit 2): the verdict is unknown, not "invalid". */
class CannotCheckError extends Error {}

async function readFileBounded(path: string, max: number, what: string): Promise<Buffer> {
  let read: Awaited<ReturnType<typeof readBoundedFile>>;
  try {
    read = await readBoundedFile(path, max);
  } catch (err) {
    throw new CannotCheckError(`cannot read ${what} ${path}: ${errorMessage(err)}`);
  }
  if ('tooLarge' in read) throw new MalformedEnvelopeError(`${what} ${path} is ${read.size} bytes, larger than ${max}`);
  return read.bytes;
}

async function pemKey(path: string): Promise<KeyObject> {
  const bytes = await readFileBounded(path, MAX_KEY_FILE, 'the public key');
  let key: KeyObject;
  try {
    key = createPublicKey(bytes.toString('utf8'));
  } catch (err) {
    throw new CannotCheckError(`${path} is not a PEM public key: ${errorMessage(err)}`);
  }
  try {
    assertAttestationKey(key);
  } catch (err) {
    throw new CannotCheckError(errorMessage(err));
  }
  return key;
}

/** The key's public half from KMS: it must be the kind of key the stack signs with. */
async function kmsKey(arn: string): Promise<KeyObject> {
  const { KMSClient, GetPublicKeyCommand } = await import('@aws-sdk/client-kms');
  const region = KMS_KEY_ARN.exec(arn)![1]!;
  let out: GetPublicKeyCommandOutput;
  try {
    out = await new KMSClient(awsClientOptions(region)).send(new GetPublicKeyCommand({ KeyId: arn }));
  } catch (err) {
    throw new CannotCheckError(`KMS GetPublicKey ${arn} failed: ${errorMessage(err)}`);
  }
  if (out.KeySpec !== 'ECC_NIST_P256' || out.KeyUsage !== 'SIGN_VERIFY' || !out.SigningAlgorithms?.includes('ECDSA_SHA_256')) {
    throw new CannotCheckError(
      `KMS key ${arn} is ${out.KeySpec ?? '?'} ${out.KeyUsage ?? '?'} (${(out.SigningAlgorithms ?? []).join(', ') || 'no signing algorithms'}), not an ECC_NIST_P256 SIGN_VERIFY key with ECDSA_SHA_256`,
    );
  }
  if (!out.PublicKey?.byteLength) throw new CannotCheckError(`KMS returned no public key for ${arn}`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
    assertAttestationKey(key);
  } catch (err) {
    throw new CannotCheckError(`KMS returned an unusable public key for ${arn}: ${errorMessage(err)}`);
  }
  return key;
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      envelope: { type: 'string' },
      'public-key': { type: 'string' },
      'kms-key-arn': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return { help: true as const };
  if (!values.envelope) throw new UsageError('--envelope is required');
  if (!values['public-key'] === !values['kms-key-arn']) throw new UsageError('give exactly one of --public-key and --kms-key-arn');
  if (values['kms-key-arn'] && !KMS_KEY_ARN.test(values['kms-key-arn']))
    throw new UsageError('--kms-key-arn must be a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>)');
  return { help: false as const, envelope: values.envelope, publicKey: values['public-key'], kmsKeyArn: values['kms-key-arn'], json: values.json! };
}

function print(out: Output, json: boolean): void {
  if (json) {
    process.stdout.write(safeJson(out) + '\n');
    return;
  }
  const lines = [`signature: ${out.valid ? `valid${out.keyid ? ` (keyid ${out.keyid})` : ''}` : 'INVALID'}`];
  if (out.predicateType) lines.push(`predicate: ${out.predicateType}`);
  if (out.result !== null || out.predicateType)
    lines.push(`result:    ${out.result ?? '(unknown predicate type: no result read)'}${out.passed ? '' : ' — not passed'}`);
  if (out.subjects.length) lines.push('subjects:', ...out.subjects.map((s) => `  ${s.sha256}  ${s.name}`));
  if (out.reason) lines.push(`reason:    ${out.reason}`);
  // the envelope is someone else's text: nothing in it reaches the terminal raw
  process.stdout.write(lines.map((l) => neutralise(l)).join('\n') + '\n');
}

export async function run(argv: string[]): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    process.stderr.write(`release-verifier verify-attestation: ${errorMessage(err)}\n\n${HELP}\n`);
    return 3;
  }
  if (args.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const empty: Output = { valid: false, passed: false, predicateType: null, result: null, subjects: [], keyid: null, reason: null };
  try {
    const key = args.publicKey ? await pemKey(args.publicKey) : await kmsKey(args.kmsKeyArn!);
    const envelope = parseEnvelope((await readFileBounded(args.envelope, ENVELOPE_LIMITS.maxBytes, 'the envelope')).toString('utf8'));
    const signed = envelopeSignedBy(envelope, key);
    if (!signed.valid) {
      print(
        {
          ...empty,
          reason: `no signature in the envelope verifies with the ${args.publicKey ? `key ${args.publicKey}` : `KMS key ${args.kmsKeyArn}`} (ECDSA P-256 SHA-256 over the DSSE PAE)`,
        },
        args.json,
      );
      return 1;
    }
    // only a payload whose signature verified is read
    let outcome: StatementOutcome;
    try {
      outcome = statementOutcome(envelope, VSA_PREDICATE_TYPE);
    } catch (err) {
      if (!(err instanceof MalformedEnvelopeError)) throw err;
      print({ ...empty, valid: true, keyid: signed.keyid || null, reason: err.message }, args.json);
      return 1;
    }
    const out: Output = {
      valid: true,
      passed: outcome.passed,
      predicateType: outcome.predicateType,
      result: outcome.result,
      subjects: outcome.subjects.map((s) => ({ name: s.name, sha256: s.digest.sha256 })),
      keyid: signed.keyid || null,
      reason:
        outcome.kind === 'unknown'
          ? `unknown predicate type ${outcome.predicateType}: neither the SLSA VSA nor release-verifier's verification predicate`
          : outcome.passed
            ? null
            : `the statement records ${outcome.result}`,
    };
    print(out, args.json);
    return out.passed ? 0 : 1;
  } catch (err) {
    if (err instanceof MalformedEnvelopeError) {
      print({ ...empty, reason: err.message }, args.json);
      return 1;
    }
    if (err instanceof CannotCheckError) {
      if (args.json) print({ ...empty, reason: err.message }, true);
      process.stderr.write(`release-verifier verify-attestation: could not check: ${neutralise(err.message)}\n`);
      return 2;
    }
    process.stderr.write(`release-verifier verify-attestation: could not check: ${neutralise(errorMessage(err))}\n`);
    return 2;
  }
}
