/**
 * compareArtifacts chooses the comparer by content, never by name; both files must be the same
 * kind; identical bytes match without parsing; a format anomaly is a mismatch, an I/O error throws.
 * PE and MSI are routed to the Authenticode/MSI comparers (signed release vs unsigned rebuild →
 * match; appended data → mismatch).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArtifacts, comparerFor } from '../../../lambda/formats/compare/index';
import { run, toolsAvailable } from '../../support/tools';
import * as F from '../support/authenticode-fixtures';

let dir: string;
const p = (n: string) => join(dir, n);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rv-dispatch-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dispatch by content', () => {
  it('knows the magic numbers', () => {
    const head = (s: string, pad = 600) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(pad)]);
    expect(comparerFor(head('PK\x03\x04')).method).toBe('archive');
    expect(comparerFor(Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0, 0, 1, ...Array(40).fill(0)])).method).toBe('macho');
    expect(comparerFor(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2, ...Array(40).fill(0)])).method).toBe('macho');
    expect(comparerFor(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52, ...Array(40).fill(0)])).method).toBe('bytes'); // Java class
    expect(comparerFor(head('just text')).method).toBe('bytes');
  });

  it('a zip named .exe is compared as an archive; a published archive vs a non-archive is a format mismatch', async () => {
    run('sh', ['-c', `cd "${dir}" && mkdir -p t && echo hi > t/a && tar -cf x.tar t`]);
    copyFileSync(p('x.tar'), p('setup.exe'));
    copyFileSync(p('x.tar'), p('setup2.exe'));
    const same = await compareArtifacts(p('setup.exe'), p('setup2.exe'));
    expect(same).toMatchObject({ method: 'archive', match: true, details: { identical: true } });
    writeFileSync(p('text.exe'), 'not an archive at all');
    const r = await compareArtifacts(p('setup.exe'), p('text.exe'));
    expect(r.match).toBe(false);
    expect(r.method).toBe('archive');
    expect(r.differences).toEqual([{ where: 'format', detail: 'the published file is an archive (zip, tar, tar.gz), the rebuilt one is not' }]);
    expect((r.details!.published as { sha256: string }).sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('known digests from the caller are used for the identical fast path', async () => {
    const sha = run('sha256sum', [p('x.tar')]).split(' ')[0]!;
    const r = await compareArtifacts(p('x.tar'), p('setup.exe'), { publishedSha256: sha, rebuiltSha256: sha });
    expect(r).toMatchObject({ match: true, details: { identical: true, published: { sha256: sha } } });
  });

  it('an unreadable file throws (could not compare), never a verdict', async () => {
    await expect(compareArtifacts(p('x.tar'), p('missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    mkdirSync(p('a-dir'));
    await expect(compareArtifacts(p('a-dir'), p('x.tar'))).rejects.toBeTruthy();
  });
});

describe.skipIf(!toolsAvailable(...F.REQUIRED_TOOLS, 'wixl'))('PE and MSI are routed to their signature-transparent comparers', () => {
  it('signed PE release vs unsigned rebuild → authenticode match; appended bytes → mismatch', async () => {
    const pki = F.makePki(p('pki-pe'));
    const a = F.buildPe(p('pe-a'), 'hello', F.HELLO_C);
    const b = F.buildPe(p('pe-b'), 'hello', F.HELLO_C);
    const signed = F.sign(a, p('hello-signed.exe'), pki.leaf);
    const r = await compareArtifacts(signed, b);
    expect(r).toMatchObject({ method: 'authenticode', match: true, differences: [] });
    writeFileSync(p('hello-appended.exe'), F.appended(readFileSync(signed)));
    const bad = await compareArtifacts(p('hello-appended.exe'), b);
    expect(bad).toMatchObject({ method: 'authenticode', match: false });
  });

  it('signed MSI release vs unsigned rebuild → msi match', async () => {
    const pki = F.makePki(p('pki-msi'));
    const build = p('msi');
    mkdirSync(build, { recursive: true });
    writeFileSync(join(build, 'payload.txt'), 'payload\n');
    writeFileSync(
      join(build, 'app.wxs'),
      `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="12345678-1234-1234-1234-123456789012" Name="RV Dispatch" Language="1033" Version="1.0.0" Manufacturer="Example" UpgradeCode="87654321-4321-4321-4321-210987654321">
    <Package InstallerVersion="200" Compressed="yes" />
    <Media Id="1" Cabinet="app.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir"><Directory Id="ProgramFilesFolder"><Directory Id="INSTALLDIR" Name="RVDispatch">
      <Component Id="Main" Guid="11111111-2222-3333-4444-555555555555"><File Id="payload" Name="payload.txt" Source="payload.txt" KeyPath="yes" /></Component>
    </Directory></Directory></Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
`,
    );
    run('wixl', ['-o', p('app.msi'), 'app.wxs'], { cwd: build });
    const signed = F.sign(p('app.msi'), p('app-signed.msi'), pki.leaf);
    const r = await compareArtifacts(signed, p('app.msi'));
    expect(r).toMatchObject({ method: 'msi', match: true });
  });
});
