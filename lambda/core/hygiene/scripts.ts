/** Script files in the repository (`*.sh`, `*.bash`, Makefiles): the shell rules over their lines. */
import { shellHits, shellLines } from './shell';
import type { HygieneHit } from './types';

export function isScriptFile(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return /\.(?:sh|bash|zsh|ksh)$/i.test(base) || /^(?:GNUmakefile|Makefile|makefile)$/.test(base) || /\.mk$/.test(base);
}

export function scriptHits(file: string, source: string): HygieneHit[] {
  const base = file.slice(file.lastIndexOf('/') + 1);
  let text = source;
  // Makefile recipes: a leading tab and an optional @/-/+ prefix are make's, not the shell's
  if (/^(?:GNUmakefile|Makefile|makefile)$|\.mk$/.test(base)) text = source.replace(/^\t[@+-]*/gm, '');
  return shellHits(shellLines(text), { file });
}
