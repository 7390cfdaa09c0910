/**
 * apt source files committed to the repository (`*.list`, deb822 `*.sources`) that name an archive
 * other than the distribution's own. The same test as shell.ts applies to `echo "deb …"` lines in
 * Dockerfiles and scripts.
 */
import { shellHits } from './shell';
import { hit, type HygieneHit } from './types';

export function isAptSourceFile(path: string): boolean {
  return /(?:^|\/)sources\.list$/.test(path) || /(?:^|\/)(?:sources\.list\.d|apt)\/[^/]+\.(?:list|sources)$/.test(path);
}

export function aptSourceHits(file: string, source: string): HygieneHit[] {
  const hits: HygieneHit[] = [];
  const lines = source.split(/\r?\n/);
  lines.forEach((l, i) => {
    if (/^\s*#/.test(l)) return;
    // one-line format is judged by the shell rule; deb822 has URIs: lines
    const m = /^\s*URIs:\s*(.+)$/i.exec(l);
    if (m) {
      for (const uri of m[1]!.split(/\s+/)) {
        const h = shellHits([{ line: i + 1, text: `deb ${uri} x main` }], { file });
        if (h.some((x) => x.code === 'HYGIENE_APT_SOURCE')) {
          hits.push(hit('HYGIENE_APT_SOURCE', file, i + 1, l, "remove the apt source; use only the distribution's own archive"));
          break;
        }
      }
    } else if (/^\s*deb(?:-src)?\s/.test(l)) {
      hits.push(...shellHits([{ line: i + 1, text: l }], { file }).filter((h) => h.code === 'HYGIENE_APT_SOURCE'));
    }
  });
  return hits;
}
