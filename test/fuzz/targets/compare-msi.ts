/**
 * MSI comparer: a wixl-built MSI signed by osslsigncode against the unsigned wixl output. Signing
 * rewrites the compound file, so the transparent part is logical, as msi/compare.ts documents:
 * everything but the signed content — every stream's name and bytes and every storage's CLSID
 * (read with the independent `cfb` package) — and, inside the \x05DigitalSignature stream, the
 * Authenticode digest it carries (which must equal the rebuild's).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, osslCalculatedDigest, osslVerify, sign } from '../../formats/support/authenticode-fixtures';
import { run } from '../../support/tools';
import { compareCase, occurrences } from '../compare-support';
import { msiContent, sameModel } from '../content-oracles';
import type { FuzzTarget } from '../fuzz-target';

const WXS = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="12345678-1234-1234-1234-123456789012" Name="RV Fuzz" Language="1033" Version="1.0.0"
           Manufacturer="Example" UpgradeCode="87654321-4321-4321-4321-210987654321">
    <Package InstallerVersion="200" Compressed="yes" Comments="release-verifier fuzz" />
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFilesFolder">
        <Directory Id="INSTALLDIR" Name="RVFuzz">
          <Component Id="Main" Guid="11111111-2222-3333-4444-555555555555">
            <File Id="payload" Name="payload.txt" Source="payload.txt" KeyPath="yes" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
`;

const target: FuzzTarget = {
  name: 'compare-msi',
  async setup(dir) {
    const build = join(dir, 'msi-build');
    mkdirSync(build);
    writeFileSync(join(build, 'payload.txt'), 'hello payload\n');
    writeFileSync(join(build, 'app.wxs'), WXS);
    const unsigned = join(dir, 'app.msi');
    run('wixl', ['-o', unsigned, 'app.wxs'], { cwd: build });
    const pki = makePki(dir);
    const signedPath = sign(unsigned, join(dir, 'app-signed.msi'), pki.leaf);
    const signed = readFileSync(signedPath);
    const digest = osslCalculatedDigest(osslVerify(signedPath, pki.ca.cert.crt).output, 'Calculated DigitalSignature');
    if (!digest) throw new Error('osslsigncode printed no calculated digest');
    const genuine = msiContent(signed);
    if (!genuine?.signature) throw new Error('the cfb package finds no \\x05DigitalSignature stream');
    const digestAt = occurrences(genuine.signature, Buffer.from(digest, 'hex'));
    if (digestAt.length !== 1) throw new Error(`expected the digest once in the signature stream, found it ${digestAt.length} times`);
    const transparent = (m: Uint8Array) => {
      const c = msiContent(m);
      if (!c?.signature || !sameModel(c.model, genuine.model)) return false;
      // the signature stream may change anywhere but in the digest it carries
      return c.signature.length === genuine.signature!.length && c.signature.subarray(digestAt[0]!, digestAt[0]! + 32).equals(Buffer.from(digest, 'hex'));
    };
    return [compareCase({ published: signed, rebuiltPath: unsigned, dir, name: 'app.msi', transparent })];
  },
};
export default target;
