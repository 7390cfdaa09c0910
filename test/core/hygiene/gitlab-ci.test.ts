import { describe, expect, it } from 'vitest';
import { gitlabCiHits } from '../../../lambda/core/hygiene/gitlab-ci';

const D = 'b'.repeat(64);
const SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const codes = (src: string) => {
  const r = gitlabCiHits('.gitlab-ci.yml', src);
  expect(r.error).toBeUndefined();
  return r.hits.map((h) => `${h.code}@${h.line}`);
};

describe('.gitlab-ci.yml: HYGIENE_IMAGE_NOT_PINNED', () => {
  it('top-level, default:, job image (string and name:), services', () => {
    const src = [
      'image: rust:1.80',
      'default:',
      '  image:',
      '    name: node:20',
      'build:',
      '  image: alpine:3',
      '  services:',
      '    - postgres:16',
      '  script: [make]',
    ].join('\n');
    expect(codes(src)).toEqual(['HYGIENE_IMAGE_NOT_PINNED@1', 'HYGIENE_IMAGE_NOT_PINNED@4', 'HYGIENE_IMAGE_NOT_PINNED@6', 'HYGIENE_IMAGE_NOT_PINNED@8']);
  });
  it('digests pass; a variable resolves through variables:, an unknown variable is reported', () => {
    expect(codes(`image: rust@sha256:${D}\nbuild:\n  script: [make]\n`)).toEqual([]);
    expect(codes(`variables:\n  IMG: rust@sha256:${D}\nbuild:\n  image: $IMG\n  script: [make]\n`)).toEqual([]);
    expect(codes('build:\n  image: $SOMEWHERE_ELSE\n  script: [make]\n')).toEqual(['HYGIENE_IMAGE_NOT_PINNED@2']);
  });
  it('comments are not keys', () => {
    expect(codes(`# image: evil:latest\nimage: rust@sha256:${D}\n`)).toEqual([]);
  });
});

describe('.gitlab-ci.yml: HYGIENE_CI_INCLUDE_NOT_PINNED', () => {
  it('project with a branch or no ref, remote, component by version: flagged; SHA refs and local files pass', () => {
    const src = [
      'include:',
      '  - project: group/ci',
      '    ref: main',
      '    file: /a.yml',
      '  - project: group/ci2',
      '    file: /b.yml',
      '  - remote: https://example.com/ci.yml',
      '  - component: gitlab.com/group/comp/build@1.2.0',
      `  - project: group/pinned`,
      `    ref: ${SHA}`,
      '    file: /c.yml',
      '  - local: /ci/more.yml',
      `  - component: gitlab.com/group/comp/build@${SHA}`,
      '  - template: Security/SAST.gitlab-ci.yml',
    ].join('\n');
    expect(codes(src)).toEqual([
      'HYGIENE_CI_INCLUDE_NOT_PINNED@3',
      'HYGIENE_CI_INCLUDE_NOT_PINNED@5',
      'HYGIENE_CI_INCLUDE_NOT_PINNED@7',
      'HYGIENE_CI_INCLUDE_NOT_PINNED@8',
    ]);
    expect(gitlabCiHits('.gitlab-ci.yml', src).localIncludes).toEqual(['/ci/more.yml']);
  });
  it('a single include string (remote URL vs local path)', () => {
    expect(codes('include: https://example.com/x.yml\n')).toEqual(['HYGIENE_CI_INCLUDE_NOT_PINNED@1']);
    expect(codes('include: /ci/x.yml\n')).toEqual([]);
  });
});

describe('.gitlab-ci.yml: HYGIENE_CI_PUBLISHES_RELEASE', () => {
  it('the release: keyword, release-cli, package uploads', () => {
    const src = [
      `image: alpine@sha256:${D}`,
      'publish:',
      '  script:',
      '    - echo publishing',
      '  release:',
      '    tag_name: $CI_COMMIT_TAG',
      'upload:',
      '  script:',
      '    - \'curl --header "JOB-TOKEN: $CI_JOB_TOKEN" --upload-file app.exe "$CI_API_V4_URL/projects/$CI_PROJECT_ID/packages/generic/app/1/app.exe"\'',
      '    - release-cli create --tag-name $CI_COMMIT_TAG',
    ].join('\n');
    expect(codes(src)).toEqual(['HYGIENE_CI_PUBLISHES_RELEASE@5', 'HYGIENE_CI_PUBLISHES_RELEASE@9', 'HYGIENE_CI_PUBLISHES_RELEASE@10']);
  });
  it('a job that only builds and tests is fine, and a hidden key mentioning release in text is not the keyword', () => {
    expect(codes(`image: alpine@sha256:${D}\ntest:\n  script:\n    - make test\n    - echo "release notes are in CHANGELOG"\n`)).toEqual([]);
  });
});

describe('.gitlab-ci.yml: shell rules in scripts', () => {
  it('curl | sh, unpinned clone and cargo install --git with the line of the script entry, block scalars included', () => {
    const src = [
      `image: rust@sha256:${D}`,
      'build:',
      '  before_script:',
      '    - curl https://sh.rustup.rs -sSf | sh -s -- -y',
      '  script:',
      '    - |',
      '      set -e',
      '      cargo install --git https://github.com/cross-rs/cross cross',
      '    - !reference [.setup, script]',
    ].join('\n');
    expect(codes(src)).toEqual(['HYGIENE_REMOTE_SCRIPT@4', 'HYGIENE_TOOL_NOT_PINNED@8']);
  });
  it('not YAML: an error, no hits, no crash', () => {
    const r = gitlabCiHits('.gitlab-ci.yml', 'build:\n  script: [unclosed\n');
    expect(r.hits).toEqual([]);
    expect(r.error).toBeTruthy();
  });
});
