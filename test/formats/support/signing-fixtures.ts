/**
 * Signing fixtures made at test time by the reference tools (minisign, gpg) in a temp directory,
 * and the tools' own verdicts to agree with.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { run, status } from '../../support/tools';

// ---------------------------------------------------------------- minisign

export interface MinisignKey {
  pubPath: string;
  secPath: string;
  /** the whole .pub file text */
  pubText: string;
  /** the "RW…" line */
  keyLine: string;
}

export function minisignKeygen(dir: string, name: string): MinisignKey {
  const pubPath = join(dir, `${name}.pub`);
  const secPath = join(dir, `${name}.key`);
  run('minisign', ['-G', '-W', '-f', '-p', pubPath, '-s', secPath]);
  const pubText = readFileSync(pubPath, 'utf8');
  return { pubPath, secPath, pubText, keyLine: pubText.trim().split('\n')[1]!.trim() };
}

/** `minisign -S` (prehashed unless legacy) → the signature path. */
export function minisignSign(key: MinisignKey, file: string, opts: { legacy?: boolean; trustedComment?: string; out?: string } = {}): string {
  const out = opts.out ?? `${file}.minisig`;
  const args = ['-S', '-s', key.secPath, '-m', file, '-x', out];
  if (opts.legacy) args.push('-l');
  if (opts.trustedComment !== undefined) args.push('-t', opts.trustedComment);
  run('minisign', args);
  return out;
}

/** minisign's own verdict (exit status 0 = valid). Legacy signatures are accepted unless `prehashOnly`. */
export function minisignVerdict(pubPath: string, file: string, sig: string, prehashOnly = false): boolean {
  return status('minisign', ['-V', ...(prehashOnly ? ['-H'] : []), '-q', '-p', pubPath, '-m', file, '-x', sig]) === 0;
}

/** Tauri's encodings: `.sig` = base64(signature text), pubkey = base64(.pub text). */
export function tauriEncode(text: string | Buffer): string {
  return Buffer.from(text).toString('base64');
}

// ---------------------------------------------------------------- gpg

export interface GpgHome {
  home: string;
  env: NodeJS.ProcessEnv;
  gpg(args: string[], fakedTime?: string): string;
  /** stops this home's gpg-agent */
  close(): void;
}

export function gpgHome(dir: string, name: string): GpgHome {
  const home = join(dir, name);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (args: string[], fakedTime?: string) =>
    run(
      'gpg',
      [
        '--batch',
        '--quiet',
        '--no-tty',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        ...(fakedTime ? ['--faked-system-time', `${fakedTime}!`] : []),
        ...args,
      ],
      { env },
    );
  return { home, env, gpg, close: () => void spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env, stdio: 'ignore' }) };
}

export interface GpgKey {
  fingerprint: string;
  subkeyFingerprint?: string;
  armoredPublic: string;
}

/** Ed25519 primary (certify only when a signing subkey is added, else certify+sign). */
export function gpgGenKey(h: GpgHome, uid: string, opts: { signingSubkey?: boolean; fakedTime?: string } = {}): GpgKey {
  h.gpg(['--quick-gen-key', uid, 'ed25519', opts.signingSubkey ? 'cert' : 'sign,cert', '0'], opts.fakedTime);
  const fprs = listFingerprints(h, uid);
  const fingerprint = fprs[0]!;
  let subkeyFingerprint: string | undefined;
  if (opts.signingSubkey) {
    h.gpg(['--quick-add-key', fingerprint, 'ed25519', 'sign', '0'], opts.fakedTime);
    subkeyFingerprint = listFingerprints(h, fingerprint)[1];
  }
  return { fingerprint, subkeyFingerprint, armoredPublic: h.gpg(['--armor', '--export', fingerprint]) };
}

function listFingerprints(h: GpgHome, who: string): string[] {
  const out = run('gpg', ['--batch', '--with-colons', '--list-keys', who], { env: h.env });
  return out
    .split('\n')
    .filter((l) => l.startsWith('fpr:'))
    .map((l) => l.split(':')[9]!);
}

/** Detached signature by `signer` (a fingerprint; "!" forces that exact (sub)key). */
export function gpgSign(
  h: GpgHome,
  file: string,
  out: string,
  opts: { signer?: string; armor?: boolean; textmode?: boolean; fakedTime?: string } = {},
): string {
  const args = ['--yes', '--detach-sign', '-o', out];
  if (opts.signer) args.push('--local-user', `${opts.signer}!`);
  if (opts.armor) args.push('--armor');
  if (opts.textmode) args.push('--textmode');
  h.gpg([...args, file], opts.fakedTime);
  return out;
}

/**
 * gpg's verdict with only `keyArmored` in a fresh keyring: true when it reports GOODSIG. `atTime`
 * judges key validity at that time (gpg judges at "now"; openpgp.js at the signature's creation),
 * so pass the signature time to compare like with like.
 */
export function gpgVerdict(dir: string, keyArmored: string, file: string, sig: string, atTime?: string): boolean {
  const h = gpgHome(dir, `verify-${Math.random().toString(36).slice(2)}`);
  try {
    const keyFile = join(h.home, 'key.asc');
    writeFileSync(keyFile, keyArmored);
    run('gpg', ['--batch', '--quiet', '--import', keyFile], { env: h.env });
    const r = spawnSync('gpg', ['--batch', '--status-fd', '1', ...(atTime ? ['--faked-system-time', `${atTime}!`] : []), '--verify', sig, file], {
      env: h.env,
      encoding: 'utf8',
    });
    return r.status === 0 && /^\[GNUPG:\] GOODSIG /m.test(r.stdout);
  } finally {
    h.close();
  }
}

/** `gpg --clearsign` by `signer` → the signed file. */
export function gpgClearsign(h: GpgHome, file: string, out: string, opts: { signer?: string; digestAlgo?: string } = {}): string {
  const args = ['--yes', '--clearsign', '-o', out];
  if (opts.signer) args.push('--local-user', `${opts.signer}!`);
  if (opts.digestAlgo) args.push('--digest-algo', opts.digestAlgo);
  h.gpg([...args, file]);
  return out;
}

/** The public keys of `fingerprints` exported as one keyring (armored or binary). */
export function gpgExportKeyring(h: GpgHome, fingerprints: string[], armor = true): Buffer {
  return execFileSync('gpg', ['--batch', '--quiet', ...(armor ? ['--armor'] : []), '--export', ...fingerprints], { env: h.env });
}

/**
 * gpg's verdict over `sig` (detached, or a cleartext-signed file when `file` is undefined) with
 * `keyring` imported into a fresh home: the VALIDSIG primary fingerprint when GOODSIG, else null.
 */
export function gpgValidSigner(dir: string, keyring: string | Buffer, sig: string, file?: string): string | null {
  const h = gpgHome(dir, `verify-${Math.random().toString(36).slice(2)}`);
  try {
    const keyFile = join(h.home, 'keyring.gpg');
    writeFileSync(keyFile, keyring);
    run('gpg', ['--batch', '--quiet', '--import', keyFile], { env: h.env });
    const r = spawnSync('gpg', ['--batch', '--status-fd', '1', '--verify', sig, ...(file ? [file] : [])], { env: h.env, encoding: 'utf8' });
    if (r.status !== 0 || !/^\[GNUPG:\] GOODSIG /m.test(r.stdout)) return null;
    // VALIDSIG <sig-key-fpr> … <primary-key-fpr> (the last field)
    const m = /^\[GNUPG:\] VALIDSIG (.*)$/m.exec(r.stdout);
    return m ? m[1]!.trim().split(' ').at(-1)! : null;
  } finally {
    h.close();
  }
}

/** The text gpg says a cleartext-signed file signed (`gpg --decrypt` output). */
export function gpgSignedText(dir: string, keyring: string | Buffer, signedFile: string): string {
  const h = gpgHome(dir, `text-${Math.random().toString(36).slice(2)}`);
  try {
    const keyFile = join(h.home, 'keyring.gpg');
    writeFileSync(keyFile, keyring);
    run('gpg', ['--batch', '--quiet', '--import', keyFile], { env: h.env });
    return execFileSync('gpg', ['--batch', '--quiet', '--decrypt', signedFile], { env: h.env, stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
  } finally {
    h.close();
  }
}

/** A key of another algorithm (`rsa1024`, `dsa2048`, …), certify+sign, for refused-algorithm cases. */
export function gpgGenKeyAlgo(h: GpgHome, uid: string, algo: string): GpgKey {
  h.gpg(['--quick-gen-key', uid, algo, 'sign,cert', '0']);
  const fingerprint = listFingerprints(h, uid)[0]!;
  return { fingerprint, armoredPublic: h.gpg(['--armor', '--export', fingerprint]) };
}

/** Detached signature with a chosen digest (`--digest-algo SHA1`). */
export function gpgSignDigest(h: GpgHome, file: string, out: string, signer: string, digestAlgo: string): string {
  h.gpg(['--yes', '--detach-sign', '--digest-algo', digestAlgo, '--local-user', `${signer}!`, '-o', out, file]);
  return out;
}
