/**
 * rust-toolchain / rust-toolchain.toml naming a channel (stable, beta, nightly, or a minor version
 * like 1.80 that moves with patch releases) rather than an exact version (1.80.1,
 * nightly-2024-05-01). smol-toml for the TOML form; the legacy file is one line.
 */
import { parse } from 'smol-toml';
import { lineWith } from './text-lines';
import { hit, type HygieneHit } from './types';

const EXACT = /^(?:\d+\.\d+\.\d+|(?:nightly|beta|stable)-\d{4}-\d{2}-\d{2}|\d+\.\d+\.\d+-beta\.\d+)(?:-[a-z0-9_]+(?:-[a-z0-9_]+)*)?$/;

function judge(file: string, line: number, channel: string): HygieneHit[] {
  if (EXACT.test(channel)) return [];
  return [
    hit('HYGIENE_TOOLCHAIN_NOT_PINNED', file, line, `channel = "${channel}"`, 'name an exact toolchain: channel = "1.80.1" (or a dated nightly-YYYY-MM-DD)'),
  ];
}

export function toolchainHits(file: string, source: string): { hits: HygieneHit[]; error?: string } {
  const base = file.slice(file.lastIndexOf('/') + 1);
  const looksToml = base.endsWith('.toml') || /^\s*\[toolchain\]/m.test(source);
  if (!looksToml) {
    const lines = source.split(/\r?\n/);
    const i = lines.findIndex((l) => l.trim() && !l.trim().startsWith('#'));
    return { hits: i < 0 ? [] : judge(file, i + 1, lines[i]!.trim()) };
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(source) as Record<string, unknown>;
  } catch (err) {
    return { hits: [], error: `not TOML: ${(err as Error).message.split('\n')[0]}` };
  }
  const tc = doc.toolchain as Record<string, unknown> | undefined;
  const channel = typeof tc?.channel === 'string' ? tc.channel : undefined;
  if (channel === undefined) {
    if (tc && typeof tc.path === 'string') return { hits: [] }; // a custom local toolchain
    return {
      hits: [
        hit(
          'HYGIENE_TOOLCHAIN_NOT_PINNED',
          file,
          lineWith(source, ['[toolchain]']),
          '[toolchain] without a channel',
          'set channel = "<exact version>" (without it rustup uses its default toolchain)',
        ),
      ],
    };
  }
  return { hits: judge(file, lineWith(source, ['channel']), channel) };
}
