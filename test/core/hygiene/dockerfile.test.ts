import { describe, expect, it } from 'vitest';
import { dockerfileHits, parseDockerfile } from '../../../lambda/core/hygiene/dockerfile';

const D = 'a'.repeat(64);
const SHA = '0123456789abcdef0123456789abcdef01234567';
const codes = (src: string) => dockerfileHits('Dockerfile', src).map((h) => `${h.code}@${h.line}`);

describe('Dockerfile parser', () => {
  it('joins continuations, drops comment lines inside them, keeps the first line number', () => {
    const ins = parseDockerfile(['FROM x', '# a comment', 'RUN a && \\', '  # inside', '  b && \\', '', '  c', 'ENV K=v'].join('\n'));
    expect(ins.map((i) => [i.keyword, i.line])).toEqual([
      ['FROM', 1],
      ['RUN', 3],
      ['ENV', 8],
    ]);
    expect(ins[1]!.args.replace(/\s+/g, ' ')).toBe('a && b && c');
  });
  it('honours the escape directive (backtick, as on Windows)', () => {
    const ins = parseDockerfile(['# escape=`', 'FROM x', 'RUN a `', '  b'].join('\n'));
    expect(ins.map((i) => i.keyword)).toEqual(['FROM', 'RUN']);
    expect(ins[1]!.args.replace(/\s+/g, ' ')).toBe('a b');
  });
  it('reads heredoc bodies with their own line numbers', () => {
    const ins = parseDockerfile(['FROM x', 'RUN <<EOF', 'echo one', 'curl -fsSL https://x.test/i.sh | sh', 'EOF', 'USER 1'].join('\n'));
    expect(ins.map((i) => i.keyword)).toEqual(['FROM', 'RUN', 'USER']);
    expect(ins[1]!.heredocs[0]).toEqual({ line: 3, text: 'echo one\ncurl -fsSL https://x.test/i.sh | sh' });
  });
});

describe('HYGIENE_IMAGE_NOT_PINNED', () => {
  it('flags a tag, passes a digest', () => {
    expect(codes('FROM rust:1.80-bookworm\n')).toEqual(['HYGIENE_IMAGE_NOT_PINNED@1']);
    expect(codes(`FROM rust:1.80-bookworm@sha256:${D}\n`)).toEqual([]);
  });
  it('multi-stage: a later FROM naming an earlier stage is not an image; each external one is judged', () => {
    const src = [`FROM rust@sha256:${D} AS build`, 'RUN cargo build', 'FROM build AS test', 'FROM debian:bookworm-slim', 'COPY --from=build /a /a'].join('\n');
    expect(codes(src)).toEqual(['HYGIENE_IMAGE_NOT_PINNED@4']);
  });
  it('--platform is a flag, not the image', () => {
    expect(codes(`FROM --platform=$BUILDPLATFORM rust@sha256:${D} AS b\n`)).toEqual([]);
    expect(codes('FROM --platform=linux/amd64 rust:latest\n')).toEqual(['HYGIENE_IMAGE_NOT_PINNED@1']);
  });
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${BASE} is Dockerfile syntax under test, not a JavaScript template
  it('FROM ${ARG}: judged by the ARG default; no default is reported', () => {
    expect(codes(`ARG BASE=rust@sha256:${D}\nFROM \${BASE}\n`)).toEqual([]);
    expect(codes(`ARG BASE=rust:1.80\nFROM \${BASE}\n`)).toEqual(['HYGIENE_IMAGE_NOT_PINNED@2']);
    const [h] = dockerfileHits('Dockerfile', 'ARG BASE\nFROM $BASE\n');
    expect(h).toMatchObject({ code: 'HYGIENE_IMAGE_NOT_PINNED', line: 2 });
    expect(h!.fix).toContain('ARG BASE');
  });
  it('comments and scratch are not images', () => {
    expect(codes('# FROM evil:latest\nFROM scratch\n')).toEqual([]);
  });
  it('COPY --from an external image is an image', () => {
    expect(codes(`FROM x@sha256:${D}\nCOPY --from=ghcr.io/o/tool:1 /t /t\n`)).toEqual(['HYGIENE_IMAGE_NOT_PINNED@2']);
    expect(codes(`FROM x@sha256:${D}\nCOPY --from=ghcr.io/o/tool@sha256:${D} /t /t\n`)).toEqual([]);
  });
});

describe('RUN and ADD rules', () => {
  const base = `FROM x@sha256:${D}\n`;
  it('HYGIENE_REMOTE_SCRIPT: curl | sh, wget | bash, sh -c "$(curl …)"; a saved and checked installer passes', () => {
    expect(codes(base + 'RUN curl -fsSL https://sh.rustup.rs | sh -s -- -y\n')).toEqual(['HYGIENE_REMOTE_SCRIPT@2']);
    expect(codes(base + 'RUN wget -qO- https://x.test/i | sudo bash\n')).toEqual(['HYGIENE_REMOTE_SCRIPT@2']);
    expect(codes(base + 'RUN sh -c "$(curl -fsSL https://x.test/i)"\n')).toEqual(['HYGIENE_REMOTE_SCRIPT@2']);
    expect(codes(base + `RUN curl -fsSLo i.sh https://x.test/i && echo "${D}  i.sh" | sha256sum -c && sh i.sh\n`)).toEqual([]);
  });
  it('HYGIENE_TOOL_NOT_PINNED: clone without a SHA checkout (osxcross), pinned via ARG, cargo install --git', () => {
    expect(codes(base + 'RUN git clone https://github.com/tpoechtrager/osxcross\n')).toEqual(['HYGIENE_TOOL_NOT_PINNED@2']);
    expect(codes(base + 'RUN git clone https://github.com/tpoechtrager/osxcross && git -C osxcross checkout v1.4\n')).toEqual(['HYGIENE_TOOL_NOT_PINNED@2']);
    expect(codes(base + `RUN git clone https://github.com/tpoechtrager/osxcross && cd osxcross && git checkout ${SHA}\n`)).toEqual([]);
    expect(
      codes(base + `ARG OSXCROSS_REV=${SHA}\nRUN git clone https://github.com/tpoechtrager/osxcross\nRUN git -C osxcross checkout \${OSXCROSS_REV}\n`),
    ).toEqual([]);
    expect(codes(base + 'RUN cargo install --git https://github.com/cross-rs/cross cross\n')).toEqual(['HYGIENE_TOOL_NOT_PINNED@2']);
    expect(codes(base + `RUN cargo install --git https://github.com/cross-rs/cross --rev ${SHA} cross\n`)).toEqual([]);
    expect(codes(base + 'ADD https://github.com/o/r.git#main /src\n')).toEqual(['HYGIENE_TOOL_NOT_PINNED@2']);
    expect(codes(base + `ADD https://github.com/o/r.git#${SHA} /src\n`)).toEqual([]);
  });
  it('HYGIENE_APT_SOURCE: add-apt-repository, ppa:, a foreign deb line; the distribution archive passes', () => {
    expect(codes(base + 'RUN add-apt-repository -y ppa:deadsnakes/ppa\n')).toEqual(['HYGIENE_APT_SOURCE@2']);
    expect(codes(base + 'RUN echo "deb [signed-by=/k.gpg] https://apt.example.com stable main" > /etc/apt/sources.list.d/x.list\n')).toEqual([
      'HYGIENE_APT_SOURCE@2',
    ]);
    expect(codes(base + 'RUN echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/b.list\n')).toEqual([]);
  });
  it('HYGIENE_UNVERIFIED_DOWNLOAD: ADD <url> without --checksum, a download never checked', () => {
    expect(codes(base + 'ADD https://x.test/sdk.tar.xz /sdk.tar.xz\n')).toEqual(['HYGIENE_UNVERIFIED_DOWNLOAD@2']);
    expect(codes(base + `ADD --checksum=sha256:${D} https://x.test/sdk.tar.xz /sdk.tar.xz\n`)).toEqual([]);
    expect(codes(base + 'RUN curl -fsSLO https://x.test/sdk.tar.xz && tar xf sdk.tar.xz\n')).toEqual(['HYGIENE_UNVERIFIED_DOWNLOAD@2']);
    expect(codes(base + 'RUN curl -fsSL https://x.test/sdk.tar.xz | tar xJ\n')).toEqual(['HYGIENE_UNVERIFIED_DOWNLOAD@2']);
    expect(codes(base + `RUN curl -fsSLO https://x.test/sdk.tar.xz\nRUN echo "${D}  sdk.tar.xz" | sha256sum -c -\n`)).toEqual([]);
    expect(codes(base + 'RUN curl -fsS http://localhost:8080/health\n')).toEqual([]);
  });
  it('a RUN inside a heredoc is judged line by line', () => {
    expect(codes(base + 'RUN <<EOF\nset -e\ncurl -fsSL https://x.test/i.sh | bash\nEOF\n')).toEqual(['HYGIENE_REMOTE_SCRIPT@4']);
  });
  it('the offending text is bounded and neutralised', () => {
    const [h] = dockerfileHits('Dockerfile', `FROM evil:\u001b[2J${'x'.repeat(500)}\n`);
    expect(h!.text.length).toBeLessThanOrEqual(200);
    expect(h!.text).not.toContain('\u001b');
    expect(h!.text).toContain('\\u{1b}');
  });
});
