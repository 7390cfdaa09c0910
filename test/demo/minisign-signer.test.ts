/** The demo signs with its own minimal minisign signer; the real minisign must accept what it writes. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateMinisignKey, minisignSign } from '../../demo/minisign-signer';
import { status, toolsAvailable } from '../support/tools';

describe.skipIf(!toolsAvailable('minisign'))('demo minisign signer', () => {
  it('writes signatures the real minisign verifies, and a tampered file fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-ms-'));
    const key = generateMinisignKey();
    const data = Buffer.from('release bytes\n');
    writeFileSync(join(dir, 'k.pub'), key.publicKeyFile);
    writeFileSync(join(dir, 'f'), data);
    writeFileSync(join(dir, 'f.minisig'), minisignSign(key, data, 'timestamp:1\tfile:f'));
    expect(status('minisign', ['-V', '-p', join(dir, 'k.pub'), '-m', join(dir, 'f'), '-q'])).toBe(0);
    writeFileSync(join(dir, 'f'), 'release bytez\n');
    expect(status('minisign', ['-V', '-p', join(dir, 'k.pub'), '-m', join(dir, 'f'), '-q'])).not.toBe(0);
  });
});
