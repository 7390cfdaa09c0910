/**
 * Assets nobody verified: a release link the configuration does not cover — not an artifact the
 * checker downloads, not a signature or manifest it reads — is a file users can download that no
 * one checked. Each is reported as UNVERIFIED_ASSET (INCOMPLETE) unless an `ignoreAssets` glob
 * names it (changelogs, source tarballs). Judged at planning time from the release the plan fixes,
 * so the CLI and the AWS launcher (both call planRun) report the same.
 *
 * Link names are the forge's choice: a name with a path separator, a control/bidi/format
 * character or a letter that only looks like ASCII (Cyrillic "а" in "pаyload.exe") is named as
 * such, and such a name is reported even when a glob matches it — a glob written for "CHANGELOG*"
 * must not hide "CHANGELOG\u202e.exe".
 */
import picomatch from 'picomatch';
import type { AssetSource, SignaturePolicy } from './config/schema';
import { finding, type Finding } from './findings';
import { companionOf } from '../formats/schemes/registry';
import type { PlannedTarget } from './run/run-plan';
import type { Release, ReleaseLink } from './ports';
import { hasUnsafeCharacters, neutralise } from './text/neutralise';

/** Names of the companion files (signatures, manifests) a policy makes the checker read. */
function companionNames(policy: SignaturePolicy): string[] {
  if (policy.scheme === 'none') return [];
  if (policy.scheme === 'sha256sums') return [policy.manifestAsset, ...companionNames(policy.manifestSignature)];
  // the scheme's detached file (formats/schemes/); embedded signatures have none
  const companion = companionOf(policy);
  return companion ? [companion.name] : [];
}

interface Coverage {
  /** release link names the checker downloads (artifacts and companions from release links) */
  linkNames: Set<string>;
  /** generic-package files the checker downloads, as `name/version/file` */
  packageFiles: Set<string>;
}

function packageKey(packageName: string, packageVersion: string, fileName: string): string {
  return JSON.stringify([packageName, packageVersion, fileName]);
}

function coverage(targets: readonly PlannedTarget[]): Coverage {
  const linkNames = new Set<string>();
  const packageFiles = new Set<string>();
  const add = (source: AssetSource, name: string) => {
    if (source.type === 'release-link') linkNames.add(name);
    // the checker reads companions of a generic-package asset from the same package (companionSource)
    else if (source.type === 'generic-package') packageFiles.add(packageKey(source.packageName, source.packageVersion, name));
  };
  for (const t of targets)
    for (const a of t.artifacts) {
      add(a.source, a.source.type === 'generic-package' ? (a.source.fileName ?? a.asset) : a.asset);
      for (const c of companionNames(a.signature)) add(a.source, c);
    }
  return { linkNames, packageFiles };
}

/**
 * A link whose URL is a generic-package file the checker downloads from the same GitLab serves the
 * same bytes: covered. Anything else (another host, a job artifact, a path that does not parse) is not.
 */
function linksToCoveredPackageFile(link: ReleaseLink, gitlabUrl: string, files: Set<string>): boolean {
  if (files.size === 0) return false;
  let url: URL;
  try {
    url = new URL(link.url);
  } catch {
    return false;
  }
  if (url.origin !== new URL(gitlabUrl).origin || url.search || url.hash) return false;
  const m = /\/api\/v4\/projects\/[^/]+\/packages\/generic\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
  if (!m) return false;
  try {
    return files.has(packageKey(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), decodeURIComponent(m[3]!)));
  } catch {
    return false;
  }
}

/**
 * Letters that look like ASCII letters but are not: the common Cyrillic, Greek and Armenian
 * homoglyphs. Compatibility forms (fullwidth "ａ", mathematical "𝐚", ligatures) are caught by
 * NFKC below, so they need no entry here.
 */
const LOOKALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a',
  в: 'b',
  е: 'e',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  х: 'x',
  і: 'i',
  ј: 'j',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  һ: 'h',
  ӏ: 'l',
  ɡ: 'g',
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  Х: 'X',
  У: 'Y',
  І: 'I',
  Ј: 'J',
  Ѕ: 'S',
  Ԛ: 'Q',
  Ԝ: 'W',
  Ү: 'Y',
  Ӏ: 'I',
  // Greek
  α: 'a',
  ο: 'o',
  ν: 'v',
  ρ: 'p',
  ι: 'i',
  κ: 'k',
  υ: 'u',
  τ: 't',
  χ: 'x',
  γ: 'y',
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Ζ: 'Z',
  Η: 'H',
  Ι: 'I',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Υ: 'Y',
  Χ: 'X',
  // Armenian and Latin extensions
  օ: 'o',
  ս: 'u',
  հ: 'h',
  ո: 'n',
  ց: 'g',
  ı: 'i',
  ȷ: 'j',
  ƅ: 'b',
  ɑ: 'a',
  ʏ: 'y',
};

const hex = (ch: string) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/** What is suspicious about a link name, in words; empty when nothing is. */
export function suspiciousNameReasons(name: string): string[] {
  const reasons: string[] = [];
  const separators = [...new Set([...name].filter((c) => c === '/' || c === '\\'))];
  if (separators.length) reasons.push(`contains a path separator (${separators.map((s) => `"${s}"`).join(', ')})`);
  if (hasUnsafeCharacters(name)) {
    const chars = [...new Set([...name].filter((c) => hasUnsafeCharacters(c)))].slice(0, 8);
    reasons.push(`contains control or invisible characters (${chars.map(hex).join(', ')})`);
  }
  if (name === '.' || name === '..' || name.split(/[\\/]/).includes('..')) reasons.push('contains a ".." path segment');
  const lookalikes: string[] = [];
  for (const ch of new Set(name)) {
    if (ch.charCodeAt(0) < 0x80) continue;
    const ascii = LOOKALIKES[ch] ?? (/^[\x21-\x7e]+$/.test(ch.normalize('NFKC')) ? ch.normalize('NFKC') : undefined);
    if (ascii !== undefined) lookalikes.push(`${hex(ch)} looks like "${ascii}"`);
  }
  if (lookalikes.length) reasons.push(`contains lookalike Unicode (${lookalikes.slice(0, 8).join(', ')})`);
  return reasons;
}

/** UNVERIFIED_ASSET findings for the release's links the plan does not cover. */
export function unverifiedAssetFindings(
  release: Pick<Release, 'tag' | 'links'>,
  targets: readonly PlannedTarget[],
  options: { ignoreAssets?: readonly string[]; gitlabUrl: string },
): Finding[] {
  const covered = coverage(targets);
  const globs = options.ignoreAssets ?? [];
  const ignored = globs.length ? picomatch([...globs], { dot: true, nonegate: true }) : () => false;
  const findings: Finding[] = [];
  for (const link of release.links) {
    if (covered.linkNames.has(link.name)) continue; // the checker downloads exactly this link
    const suspicious = suspiciousNameReasons(link.name);
    if (linksToCoveredPackageFile(link, options.gitlabUrl, covered.packageFiles) && suspicious.length === 0) continue;
    const matchedIgnore = ignored(link.name);
    if (matchedIgnore && suspicious.length === 0) continue;
    const shown = JSON.stringify(neutralise(link.name));
    const why = suspicious.length ? `; the name ${suspicious.join('; ')}${matchedIgnore ? ' (reported although an ignoreAssets glob matches it)' : ''}` : '';
    findings.push(
      finding(
        'UNVERIFIED_ASSET',
        `release ${release.tag} links ${shown}, which no artifact, signature or manifest in the configuration covers: nobody verified it${why}`,
        {
          artifact: link.name,
          evidence: {
            link: link.name,
            url: link.url,
            ...(link.directAssetUrl ? { directAssetUrl: link.directAssetUrl } : {}),
            ...(suspicious.length ? { suspiciousName: suspicious } : {}),
            fix: suspicious.length ? 'remove or rename the link' : 'verify it as an artifact, or add a glob matching it to ignoreAssets',
          },
        },
      ),
    );
  }
  return findings;
}
