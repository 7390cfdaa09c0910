/**
 * MSI digest, verification and comparison on MSIs built here with wixl and signed with osslsigncode.
 * The digest must agree with what `osslsigncode verify` calculates; the stream listing is cross-checked
 * against the `cfb` package; crafted containers (loops) are refused quickly instead of hanging.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import CFB from 'cfb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuthenticode } from '../../../lambda/formats/authenticode/verify';
import { msiComparer } from '../../../lambda/formats/msi/compare';
import { decodeMsiName } from '../../../lambda/formats/msi/cfb';
import { readMsi } from '../../../lambda/formats/msi/digest';
import { run, toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

const WXS = (payloadName: string) => `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="12345678-1234-1234-1234-123456789012" Name="RV Test" Language="1033" Version="1.0.0"
           Manufacturer="Example" UpgradeCode="87654321-4321-4321-4321-210987654321">
    <Package InstallerVersion="200" Compressed="yes" Comments="release-verifier test" />
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="RVTest">
          <Component Id="Main" Guid="11111111-2222-3333-4444-555555555555">
            <File Id="payload" Name="payload.txt" Source="${payloadName}" KeyPath="yes" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
`;

function buildMsi(dir: string, name: string, payload: string): string {
  const build = join(dir, `msi-${name}`);
  mkdirSync(build, { recursive: true });
  writeFileSync(join(build, 'payload.txt'), payload);
  writeFileSync(join(build, 'app.wxs'), WXS('payload.txt'));
  const out = join(dir, `${name}.msi`);
  run('wixl', ['-o', out, 'app.wxs'], { cwd: build });
  return out;
}

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS, 'wixl'))('MSI (wixl + osslsigncode)', () => {
  let dir: string;
  let pki: F.Pki;
  let unsigned: string;
  let signed: string;
  let policy: { scheme: 'authenticode'; certSha256: string[] };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rv-msi-'));
    pki = F.makePki(dir);
    unsigned = buildMsi(dir, 'app', 'hello payload\n');
    signed = F.sign(unsigned, join(dir, 'app-signed.msi'), pki.leaf);
    policy = { scheme: 'authenticode', certSha256: [pki.leaf.sha256] };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('computes the digest osslsigncode calculates, for the signed and the unsigned MSI', async () => {
    const out = F.osslVerify(signed, pki.ca.cert.crt);
    expect(out.ok).toBe(true);
    const calculated = F.osslCalculatedDigest(out.output, 'Calculated DigitalSignature');
    const current = F.osslCalculatedDigest(out.output, 'Current DigitalSignature');
    expect(calculated).toMatch(/^[0-9a-f]{64}$/);
    expect(current).toBe(calculated);
    expect((await readMsi(signed)).digest('sha256').toString('hex')).toBe(calculated);
    expect((await readMsi(unsigned)).digest('sha256').toString('hex')).toBe(calculated);
  });

  it('lists the same streams as the cfb package', async () => {
    const ours = (await readMsi(signed)).scan.items
      .filter((i) => i.kind === 'stream')
      .map((i) => i.path)
      .sort();
    const container = CFB.read(readFileSync(signed), { type: 'buffer' });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: MSI signature stream names begin with \u0005 (the CFB property-set prefix), matched on purpose
    const theirs = container.FileIndex.filter((e) => e.type === 2 && e.size > 0 && !/^\u0005(DigitalSignature|MsiDigitalSignatureEx)$/.test(e.name))
      .map((e) => decodeMsiName(e.name))
      .sort();
    expect(ours).toEqual(theirs);
    expect(ours.length).toBeGreaterThan(5);
  });

  it('the signed MSI matches its unsigned build', async () => {
    expect(msiComparer.detect(readFileSync(signed).subarray(0, 4096))).toBe(true);
    const r = await msiComparer.compare(signed, unsigned, {});
    expect(r.differences).toEqual([]);
    expect(r).toMatchObject({ method: 'msi', match: true });
    const pub = r.details?.published as Record<string, unknown>;
    const rebuilt = r.details?.rebuilt as Record<string, unknown>;
    expect(pub.signedDigest).toBe(rebuilt.computedDigest);
  });

  it('a different MSI mismatches, naming the differing streams', async () => {
    const other = buildMsi(dir, 'other', 'a different payload\n');
    const r = await msiComparer.compare(signed, other, {});
    expect(r.match).toBe(false);
    const wheres = r.differences.map((d) => d.where);
    expect(wheres).toContain('MSI digest');
    expect(wheres).toContain('stream app.cab');
  });

  it('verifies the signed MSI against the pinned signer; unsigned, impostor and tampered are invalid', async () => {
    const ok = await verifyAuthenticode({ assetPath: signed, policy });
    expect(ok).toMatchObject({ valid: true, details: expect.objectContaining({ format: 'msi' }) });

    expect(F.osslVerify(unsigned, pki.ca.cert.crt).ok).toBe(false);
    expect(await verifyAuthenticode({ assetPath: unsigned, policy })).toMatchObject({ valid: false, unsigned: true });

    const impostor = F.sign(unsigned, join(dir, 'impostor.msi'), pki.impostor);
    expect(F.osslVerify(impostor, pki.ca.cert.crt).ok).toBe(false);
    expect(await verifyAuthenticode({ assetPath: impostor, policy })).toMatchObject({ valid: false, unpinnedSigner: true });

    // flip a byte inside the embedded cabinet's data
    const bytes = Buffer.from(readFileSync(signed));
    const cab = bytes.indexOf(Buffer.from('MSCF'));
    expect(cab).toBeGreaterThan(0);
    bytes[cab + 80] ^= 0xff;
    const tampered = join(dir, 'tampered.msi');
    writeFileSync(tampered, bytes);
    expect(F.osslVerify(tampered, pki.ca.cert.crt).ok).toBe(false);
    const bad = await verifyAuthenticode({ assetPath: tampered, policy });
    expect(bad.valid).toBe(false);
    expect(bad.reason).toMatch(/differs from the signed digest/);
    const cmp = await msiComparer.compare(tampered, unsigned, {});
    expect(cmp.match).toBe(false);
    expect(cmp.differences.map((d) => d.where)).toContain('stream app.cab');
  });

  it('refuses MsiDigitalSignatureEx signatures it cannot confirm (osslsigncode accepts them)', async () => {
    const ex = join(dir, 'ex.msi');
    run('osslsigncode', ['sign', '-certs', pki.leaf.crt, '-key', pki.leaf.key, '-h', 'sha256', '-add-msi-dse', '-in', unsigned, '-out', ex]);
    expect(F.osslVerify(ex, pki.ca.cert.crt).ok).toBe(true);
    const r = await verifyAuthenticode({ assetPath: ex, policy });
    expect(r.valid).toBe(false);
    expect(r.reason).toMatch(/MsiDigitalSignatureEx/);
    expect((await msiComparer.compare(ex, unsigned, {})).match).toBe(false);
  });

  it('refuses crafted containers with loops quickly (no hang)', async () => {
    const base = readFileSync(signed);
    const firstDir = base.readUInt32LE(0x30);
    const dirAt = (firstDir + 1) * 512;

    const siblingLoop = Buffer.from(base);
    siblingLoop.writeUInt32LE(1, dirAt + 128 + 0x44); // entry 1's left sibling is itself
    const fatLoop = Buffer.from(base);
    const fatSector = base.readUInt32LE(0x4c);
    fatLoop.writeUInt32LE(firstDir, (fatSector + 1) * 512 + 4 * firstDir); // directory chain points to itself

    for (const [name, bytes] of [
      ['sibling-loop.msi', siblingLoop],
      ['fat-loop.msi', fatLoop],
    ] as const) {
      const f = join(dir, name);
      writeFileSync(f, bytes);
      const t = Date.now();
      const r = await verifyAuthenticode({ assetPath: f, policy });
      expect(r.valid, name).toBe(false);
      expect(r.reason, name).toMatch(/malformed compound file/);
      expect((await msiComparer.compare(f, unsigned, {})).match, name).toBe(false);
      expect(Date.now() - t).toBeLessThan(5000);
    }
  });
});
