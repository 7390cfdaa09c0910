import { describe, expect, it } from 'vitest';
import { cargoLockHits, cargoTomlHits } from '../../../lambda/core/hygiene/cargo';
import { packageJsonHits, packageLockHits, specKind } from '../../../lambda/core/hygiene/npm';
import { toolchainHits } from '../../../lambda/core/hygiene/toolchain';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const CK = 'c'.repeat(64);
const at = (r: { hits: { code: string; line: number }[] }) => r.hits.map((h) => `${h.code}@${h.line}`);

describe('Cargo.toml: HYGIENE_GIT_DEP_NOT_PINNED, HYGIENE_LOCKFILE_MISSING', () => {
  const manifest = [
    '[package]',
    'name = "app"',
    '',
    '[dependencies]',
    'serde = "1"',
    'foo = { git = "https://github.com/o/foo", branch = "main" }',
    `pinned = { git = "https://github.com/o/pinned", rev = "${SHA}" }`,
    'short = { git = "https://github.com/o/short", rev = "abc123" }',
    '',
    "[target.'cfg(windows)'.dependencies.winstuff]",
    'git = "https://github.com/o/winstuff"',
    'tag = "v1"',
    '',
    '[patch.crates-io]',
    'bar = { git = "https://github.com/o/bar" }',
  ].join('\n');
  it('git dependencies without a full rev in every table, with their lines', () => {
    expect(at(cargoTomlHits('Cargo.toml', manifest, true))).toEqual([
      'HYGIENE_GIT_DEP_NOT_PINNED@6',
      'HYGIENE_GIT_DEP_NOT_PINNED@8',
      'HYGIENE_GIT_DEP_NOT_PINNED@11',
      'HYGIENE_GIT_DEP_NOT_PINNED@15',
    ]);
  });
  it('no Cargo.lock: flagged when there are dependencies', () => {
    expect(at(cargoTomlHits('Cargo.toml', '[package]\nname="a"\n[dependencies]\nserde="1"\n', false))).toEqual(['HYGIENE_LOCKFILE_MISSING@1']);
    expect(at(cargoTomlHits('Cargo.toml', '[package]\nname="a"\n', false))).toEqual([]);
    expect(at(cargoTomlHits('Cargo.toml', '[package]\nname="a"\n[dependencies]\nserde="1"\n', true))).toEqual([]);
  });
  it('not TOML: an error, no crash', () => {
    expect(cargoTomlHits('Cargo.toml', '[package\nname=', true).error).toMatch(/not TOML/);
  });
});

describe('Cargo.lock: entries without a checksum', () => {
  it('registry entries need a checksum (v3) or a [metadata] line (v1); git and path entries do not', () => {
    const lock = [
      'version = 3',
      '[[package]]',
      'name = "app"',
      'version = "0.1.0"',
      '[[package]]',
      'name = "serde"',
      'version = "1.0.0"',
      'source = "registry+https://github.com/rust-lang/crates.io-index"',
      `checksum = "${CK}"`,
      '[[package]]',
      'name = "evil"',
      'version = "0.1.0"',
      'source = "registry+https://github.com/rust-lang/crates.io-index"',
      '[[package]]',
      'name = "foo"',
      'version = "0.1.0"',
      `source = "git+https://github.com/o/foo#${SHA}"`,
    ].join('\n');
    expect(at(cargoLockHits('Cargo.lock', lock))).toEqual(['HYGIENE_LOCKFILE_MISSING@11']);
    const v1 = [
      '[[package]]',
      'name = "evil"',
      'version = "0.1.0"',
      'source = "registry+https://github.com/rust-lang/crates.io-index"',
      '[metadata]',
      `"checksum evil 0.1.0 (registry+https://github.com/rust-lang/crates.io-index)" = "${CK}"`,
    ].join('\n');
    expect(at(cargoLockHits('Cargo.lock', v1))).toEqual([]);
  });
});

describe('package.json / package-lock.json', () => {
  it('classifies specs: git, GitHub shorthand, URL, registry, local', () => {
    expect(
      ['github:o/r', 'o/r#main', 'git+https://x.test/r.git', 'https://x.test/r.tgz', '^1.2.3', 'npm:other@1', 'file:../x', 'workspace:*'].map(specKind),
    ).toEqual(['git', 'git', 'git', 'url', 'registry', 'registry', 'local', 'local']);
  });
  it('git/GitHub/URL dependencies without a full commit are flagged with their lines; #<sha> passes', () => {
    const pkg = JSON.stringify(
      {
        name: 'web',
        dependencies: { a: 'github:o/a', b: `git+https://x.test/b.git#${SHA}`, c: 'o/c#v1.0', d: '^1.0.0' },
        devDependencies: { e: 'https://x.test/e.tgz' },
      },
      null,
      2,
    );
    expect(at(packageJsonHits('package.json', pkg, true))).toEqual([
      'HYGIENE_GIT_DEP_NOT_PINNED@4',
      'HYGIENE_GIT_DEP_NOT_PINNED@6',
      'HYGIENE_GIT_DEP_NOT_PINNED@10',
    ]);
  });
  it('no lock file: flagged only with dependencies', () => {
    expect(at(packageJsonHits('package.json', '{"dependencies":{"a":"^1"}}', false))).toEqual(['HYGIENE_LOCKFILE_MISSING@1']);
    expect(at(packageJsonHits('package.json', '{"name":"x","scripts":{}}', false))).toEqual([]);
  });
  it('lock entries without integrity (v3 packages and v1 nested dependencies); links and git entries pass', () => {
    const v3 = JSON.stringify(
      {
        lockfileVersion: 3,
        packages: {
          '': { name: 'web' },
          'node_modules/ok': { version: '1.0.0', resolved: 'https://registry.npmjs.org/ok/-/ok-1.0.0.tgz', integrity: 'sha512-AAAA' },
          'node_modules/bad': { version: '1.0.0', resolved: 'https://registry.npmjs.org/bad/-/bad-1.0.0.tgz' },
          'node_modules/gitdep': { version: '1.0.0', resolved: `git+ssh://git@github.com/o/gitdep.git#${SHA}` },
          'node_modules/linked': { resolved: 'packages/linked', link: true },
        },
      },
      null,
      2,
    );
    expect(at(packageLockHits('package-lock.json', v3))).toEqual(['HYGIENE_LOCKFILE_MISSING@12']);
    const v1 = JSON.stringify(
      {
        lockfileVersion: 1,
        dependencies: {
          a: { version: '1', resolved: 'https://r.test/a.tgz', integrity: 'sha1-x', dependencies: { b: { version: '1', resolved: 'https://r.test/b.tgz' } } },
        },
      },
      null,
      2,
    );
    expect(packageLockHits('package-lock.json', v1).hits.map((h) => h.text)).toEqual(['b (https://r.test/b.tgz) has no integrity']);
  });
});

describe('rust-toolchain(.toml): HYGIENE_TOOLCHAIN_NOT_PINNED', () => {
  it('channels and minor versions are flagged; exact versions and dated nightlies pass', () => {
    for (const c of ['stable', 'nightly', 'beta', '1.80', 'stable-x86_64-unknown-linux-gnu']) {
      expect(at(toolchainHits('rust-toolchain.toml', `[toolchain]\nchannel = "${c}"\ncomponents = ["rustfmt"]\n`)), c).toEqual([
        'HYGIENE_TOOLCHAIN_NOT_PINNED@2',
      ]);
    }
    for (const c of ['1.80.1', 'nightly-2024-05-01', '1.80.1-x86_64-unknown-linux-gnu']) {
      expect(at(toolchainHits('rust-toolchain.toml', `[toolchain]\nchannel = "${c}"\n`)), c).toEqual([]);
    }
  });
  it('the legacy one-line file, comments skipped', () => {
    expect(at(toolchainHits('rust-toolchain', '# pinned?\nnightly\n'))).toEqual(['HYGIENE_TOOLCHAIN_NOT_PINNED@2']);
    expect(at(toolchainHits('rust-toolchain', '1.79.0\n'))).toEqual([]);
  });
});
