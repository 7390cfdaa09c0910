/**
 * `.app` bundles inside a zip / tar / tar.gz release archive (issue 12). The archive is scanned
 * once (every entry's SHA-256, streamed and bounded: archive/scan.ts); only what must be parsed —
 * Info.plist, CodeResources, executables — is extracted, to generated names in a scratch directory.
 *
 * A bundle verifies when its main executable's signature verifies with the bundle's Info.plist and
 * CodeResources bound in its special slots, and every other entry of the bundle is accounted for
 * by the resource seal: a sealed file with its SHA-256, a sealed symlink with its target, a path a
 * rule omits, or nested code (a Mach-O file or a bundle) whose cdhash the seal records — verified
 * the same way, recursively (bounded depth). One cdhash binds one slice: of universal nested code,
 * one slice must have the sealed cdhash, every other slice must carry the same identifier and
 * team ID, and each slice is judged against the pin too. The identifier and team a sealed
 * requirement names (`identifier "…" and … leaf[subject.OU] = "…"`) must be the code's. Anything else (an unsealed file, a
 * sealed file missing, unsealed content outside the content directory) makes the bundle invalid.
 * Stapled notarization tickets (Contents/CodeResources) are reported as present, never verified.
 *
 * Order matters: a seal (and the regular expressions of its rules) is read only after the
 * signature binding it is authentic — the pinned signer's CMS for a top-level bundle, the outer
 * seal's cdhash for nested code — so an attacker's CodeResources is never evaluated.
 */
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parsePlist, parseBinary } from 'plist';
import { FormatError } from '../../base/errors';
import type { ArchiveKind } from '../archive/detect';
import { extractEntries, scanArchive, type ArchiveEntry } from '../archive/scan';
import { CSSLOT_INFOSLOT, CSSLOT_RESOURCEDIR } from '../macho/codesign';
import { cdHash, isStrongCodeDirectory, verifyCodeSignatureCms } from './cms';
import type { CodeUnit, JudgeOptions } from './judge';
import { readMachoSignatures, type SliceSignature } from './macho';
import { parseCodeResources, requirementClauses, ruleFor, type ResourceSeal, type SealedEntry } from './resources';

const MAX_BUNDLES = 8;
const MAX_NESTED_DEPTH = 3;
const MAX_NESTED_CODE = 1024;
const MAX_PLIST_BYTES = 4 * 1024 * 1024;
const MAX_PREFETCH = 10_000;
const BUNDLE_EXTENSIONS = /\.(app|framework|appex|xpc|bundle|plugin|kext|dext|systemextension|qlgenerator|mdimporter|prefPane|saver)$/;

interface Layout {
  /** archive path of the bundle directory, with a trailing "/" */
  root: string;
  /** the directory the seal's paths are relative to ("X.app/Contents/", "X.framework/Versions/A/") */
  content: string;
  infoPlist: string;
  kind: 'app' | 'framework';
}

class BundleArchive {
  readonly byName = new Map<string, ArchiveEntry>();
  private extracted = new Map<string, string>();
  private counter = 0;

  constructor(
    readonly path: string,
    readonly kind: ArchiveKind,
    entries: ArchiveEntry[],
    readonly scratch: string,
  ) {
    for (const e of entries) this.byName.set(e.name.replace(/\/+$/, ''), e);
  }

  /** Extracts the named entries (one pass over the archive) and returns their scratch paths. */
  async extract(names: string[]): Promise<Map<string, string>> {
    const wanted = new Map<string, string>();
    for (const n of names) if (!this.extracted.has(n) && this.byName.has(n)) wanted.set(n, join(this.scratch, `e${this.counter++}`));
    await extractEntries(this.path, this.kind, wanted);
    for (const [n, p] of wanted) this.extracted.set(n, p);
    return new Map(names.filter((n) => this.extracted.has(n)).map((n) => [n, this.extracted.get(n)!]));
  }

  async bytes(name: string, max: number): Promise<Buffer> {
    const entry = this.byName.get(name);
    if (entry?.type !== 'file') throw new FormatError('apple', `${name} is missing or not a file`);
    if (entry.size > max) throw new FormatError('apple', `${name} is larger than ${max} bytes`);
    const p = (await this.extract([name])).get(name)!;
    return readFile(p);
  }

  /** A symlink's target (tar: the header; zip: the entry content). */
  async linkTarget(name: string): Promise<string> {
    const e = this.byName.get(name)!;
    if (this.kind !== 'zip') return e.linkname ?? '';
    const p = (await this.extract([name])).get(name)!;
    return (await readFile(p)).toString('utf8');
  }

  /** Entries strictly below `dir` (with trailing "/"), directories excluded. */
  below(dir: string): ArchiveEntry[] {
    const out: ArchiveEntry[] = [];
    for (const [n, e] of this.byName) if (n.startsWith(dir) && e.type !== 'directory') out.push(e);
    return out;
  }
}

function parseInfoPlist(bytes: Buffer, name: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = bytes.subarray(0, 8).toString('latin1') === 'bplist00' ? parseBinary(bytes) : parsePlist(bytes.toString('utf8'));
  } catch (err) {
    throw new FormatError('apple', `${name} does not parse: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError('apple', `${name} is not a dictionary`);
  return v as Record<string, unknown>;
}

function executableName(info: Record<string, unknown>, where: string): string {
  const exe = info.CFBundleExecutable;
  if (typeof exe !== 'string' || exe === '' || exe.includes('/') || exe === '.' || exe === '..')
    throw new FormatError('apple', `${where}: CFBundleExecutable missing or not a plain file name`);
  return exe;
}

interface BundleCheck {
  units: CodeUnit[];
  notes: string[];
  /** the cdhashes (20-byte, of every CodeDirectory) of the thin main executable, for an outer seal */
  cdhashes: Buffer[];
  details: Record<string, unknown>;
}

async function layoutOf(archive: BundleArchive, root: string): Promise<Layout> {
  if (archive.byName.has(`${root}Contents/Info.plist`)) return { root, content: `${root}Contents/`, infoPlist: `${root}Contents/Info.plist`, kind: 'app' };
  const current = `${root}Versions/Current`;
  if (archive.byName.get(current)?.type === 'symlink') {
    const target = await archive.linkTarget(current);
    if (!/^[^/]+$/.test(target) || target === '..' || target === '.') throw new FormatError('apple', `${current} points outside Versions/`);
    const content = `${root}Versions/${target}/`;
    return { root, content, infoPlist: `${content}Resources/Info.plist`, kind: 'framework' };
  }
  throw new FormatError('apple', `${root.slice(0, -1)}: unsupported bundle layout (no Contents/Info.plist, no Versions/Current)`);
}

/** Content of a framework outside its current version: only Versions/Current and top-level symlinks into it. */
async function checkFrameworkOutside(archive: BundleArchive, l: Layout): Promise<string | undefined> {
  for (const e of archive.below(l.root)) {
    const n = e.name.replace(/\/+$/, '');
    if (n.startsWith(l.content)) continue;
    if (n === `${l.root}Versions/Current`) continue;
    const top = n.slice(l.root.length);
    if (e.type === 'symlink' && !top.includes('/') && (await archive.linkTarget(n)).startsWith('Versions/Current/')) continue;
    return `${n} lies outside the framework's signed version directory and is not a symlink into it: not sealed`;
  }
  return undefined;
}

/**
 * Decides whether a bundle's main executable is authentic before its seal is read: CodeResources
 * (and the regular expressions of its rules) is only trusted once the signature binding it is —
 * by the pinned signer's CMS at the top, by the outer seal's cdhash for nested code. `ok: false`
 * without a problem leaves the verdict to the judge (which then names the signer problem).
 */
type Authenticate = (units: CodeUnit[], cdhashes: Buffer[], kind: 'fat' | 'thin') => Promise<{ ok: true } | { ok: false; problem?: string }>;

async function checkBundle(
  archive: BundleArchive,
  root: string,
  depth: number,
  budget: { nested: number },
  authenticate: Authenticate,
  pinned: Authenticate,
): Promise<BundleCheck> {
  const label = root.slice(0, -1);
  const l = await layoutOf(archive, root);
  const info = parseInfoPlist(await archive.bytes(l.infoPlist, MAX_PLIST_BYTES), l.infoPlist);
  const exe = executableName(info, l.infoPlist);
  const exeRel = l.kind === 'app' ? `MacOS/${exe}` : exe;
  const exeName = l.content + exeRel;
  const sealName = `${l.content}_CodeSignature/CodeResources`;
  const details: Record<string, unknown> = { bundle: label, identifier: info.CFBundleIdentifier, executable: exeRel };
  const notes: string[] = [];
  const fail = (problem: string): BundleCheck => ({ units: [{ name: label, problem: `${label}: ${problem}`, details }], notes, cdhashes: [], details });

  // one pass over the archive for this level's main executable (plists and links are prefetched)
  await archive.extract([exeName]);
  const exeEntry = archive.byName.get(exeName);
  if (exeEntry?.type !== 'file')
    return { units: [{ name: label, unsigned: true, problem: `main executable ${exeRel} is missing`, details }], notes, cdhashes: [], details };
  const sealEntry = archive.byName.get(sealName);
  const sealBytes = sealEntry ? await archive.bytes(sealName, MAX_PLIST_BYTES) : null;
  const infoBytes = await archive.bytes(l.infoPlist, MAX_PLIST_BYTES);

  // 1. The main executable, with Info.plist and CodeResources as its bound special slots.
  const { kind, units, cdhashes } = await readMainExecutable(archive, exeName, label, infoBytes, sealBytes);
  if (units.some((u) => u.unsigned || u.problem || u.parsed?.adhoc)) return { units, notes, cdhashes, details };
  const gate = await authenticate(units, cdhashes, kind);
  if (!gate.ok) return gate.problem ? fail(gate.problem) : { units, notes, cdhashes, details };

  // 2. Everything else in the bundle is accounted for by the seal.
  const outside = await contentOutsideProblem(archive, l);
  if (outside) return fail(outside);
  const seal: ResourceSeal | undefined = sealBytes ? parseCodeResources(sealBytes) : undefined;
  const sealed = await checkSealCoverage(archive, l, label, exeRel, seal, notes, details);
  if ('problem' in sealed) return fail(sealed.problem);
  const { nestedBundles, nestedFiles } = sealed;

  // 3. Nested code, bound by its cdhash.
  if (nestedBundles.size + nestedFiles.length > 0 && depth >= MAX_NESTED_DEPTH) return fail(`nested code deeper than ${MAX_NESTED_DEPTH} levels`);
  budget.nested += nestedBundles.size + nestedFiles.length;
  if (budget.nested > MAX_NESTED_CODE) return fail(`more than ${MAX_NESTED_CODE} nested code items`);
  const nestedDetails: Record<string, unknown>[] = [];
  const filesProblem = await checkNestedFiles(archive, l, label, seal!, nestedFiles, units, nestedDetails);
  if (filesProblem) return fail(filesProblem);
  for (const rel of nestedBundles) {
    const inner = await checkNestedBundle(archive, l, rel, seal!.files2.get(rel)!, depth, budget, pinned);
    notes.push(...inner.notes);
    const bad = inner.units.find((u) => u.unsigned || u.problem || u.parsed?.adhoc);
    // the inner problem names the nested bundle by its archive path already
    if (bad)
      return {
        units: [
          {
            name: label,
            problem: bad.problem ? (bad.unsigned ? `${bad.name}: ${bad.problem}` : bad.problem) : `${bad.name}: ad-hoc signed (nested code must be signed)`,
            details,
          },
        ],
        notes,
        cdhashes: [],
        details,
      };
    if (!inner.cdhashes.length) units.push(...inner.units); // universal: judged again, and reported, with the rest
    nestedDetails.push({ code: rel, kind: 'bundle', ...inner.details });
  }
  details.nested = nestedDetails;
  return { units, notes, cdhashes, details };
}

/** The main executable's slices as code units, and (thin only) its cdhashes for an outer seal. */
async function readMainExecutable(
  archive: BundleArchive,
  exeName: string,
  label: string,
  infoBytes: Buffer,
  sealBytes: Buffer | null,
): Promise<{ kind: 'fat' | 'thin'; units: CodeUnit[]; cdhashes: Buffer[] }> {
  const exePath = (await archive.extract([exeName])).get(exeName)!;
  const fh = await open(exePath, 'r');
  let slices: Awaited<ReturnType<typeof readMachoSignatures>>['slices'];
  let kind: 'fat' | 'thin';
  try {
    ({ kind, slices } = await readMachoSignatures(exePath, fh, (await stat(exePath)).size, { [CSSLOT_INFOSLOT]: infoBytes, [CSSLOT_RESOURCEDIR]: sealBytes }));
  } finally {
    await fh.close();
  }
  const units: CodeUnit[] = slices.map((s) => ({
    name: `${label} (${s.arch})`,
    parsed: 'parsed' in s ? s.parsed : undefined,
    unsigned: 'unsigned' in s ? s.unsigned : undefined,
    problem: s.problem && !('unsigned' in s) ? `${label}: ${s.problem}` : s.problem,
    details: s.details,
  }));
  const signed = slices.filter((s): s is SliceSignature => 'parsed' in s);
  const cdhashes = kind === 'thin' && signed[0] ? signed[0].parsed.cds.filter(isStrongCodeDirectory).map((cd) => cdHash(cd).subarray(0, 20)) : [];
  return { kind, units, cdhashes };
}

/** Entries of the bundle outside the directory its seal covers (a framework's version, an app's Contents/). */
async function contentOutsideProblem(archive: BundleArchive, l: Layout): Promise<string | undefined> {
  if (l.kind === 'framework') return checkFrameworkOutside(archive, l);
  for (const e of archive.below(l.root)) if (!e.name.startsWith(l.content)) return `${e.name} lies outside Contents/: not sealed`;
  return undefined;
}

/**
 * Every entry of the content directory against the seal (files by SHA-256, symlinks by target,
 * omitted by a rule, nested code collected for step 3), then every sealed entry must be present.
 */
async function checkSealCoverage(
  archive: BundleArchive,
  l: Layout,
  label: string,
  exeRel: string,
  seal: ResourceSeal | undefined,
  notes: string[],
  details: Record<string, unknown>,
): Promise<{ problem: string } | { nestedBundles: Set<string>; nestedFiles: string[] }> {
  const seen = new Set<string>();
  const nestedBundles = new Set<string>();
  const nestedFiles: string[] = [];
  for (const e of archive.below(l.content)) {
    const rel = e.name.replace(/\/+$/, '').slice(l.content.length);
    if (rel === exeRel || rel.startsWith('_CodeSignature/')) continue;
    if (l.kind === 'app' && rel === 'CodeResources') {
      notes.push(`${label}: a notarization ticket is stapled (present; not verified)`);
      details.notarizationTicket = 'stapled (present, not verified)';
      continue;
    }
    if (!seal) return { problem: `${rel} is not sealed: the bundle has no _CodeSignature/CodeResources` };
    const owner = nestedBundleOwner(seal, rel);
    if (owner) {
      nestedBundles.add(owner);
      seen.add(owner);
      continue;
    }
    const sealed = seal.files2.get(rel);
    if (!sealed) {
      const rule = ruleFor(seal, rel);
      if (rule?.omit) continue;
      return { problem: `${rel} is not sealed by CodeResources (added or renamed after signing)${rule ? '' : ' and no rule covers it'}` };
    }
    seen.add(rel);
    const problem = await sealedEntryProblem(archive, e, rel, sealed);
    if (problem) return { problem };
    if (e.type === 'file' && sealed.cdhash) nestedFiles.push(rel);
  }
  for (const [k, v] of seal?.files2 ?? []) {
    if (!seen.has(k) && !v.optional) return { problem: `${k} is sealed by CodeResources but missing from the archive` };
  }
  return { nestedBundles, nestedFiles };
}

/** Inside a nested bundle the seal records by cdhash? Its outermost such directory. */
function nestedBundleOwner(seal: ResourceSeal, rel: string): string | undefined {
  const parts = rel.split('/');
  let owner: string | undefined;
  for (let i = parts.length - 1; i >= 1; i--) {
    const dir = parts.slice(0, i).join('/');
    if (seal.files2.get(dir)?.cdhash && BUNDLE_EXTENSIONS.test(dir)) owner = dir;
  }
  return owner;
}

/** One entry against its seal record: a symlink's target, a file's SHA-256 (nested code: checked later). */
async function sealedEntryProblem(archive: BundleArchive, e: ArchiveEntry, rel: string, sealed: SealedEntry): Promise<string | undefined> {
  if (e.type === 'symlink') {
    if (sealed.symlink === undefined) return `${rel} is a symlink, sealed as something else`;
    if ((await archive.linkTarget(e.name)) !== sealed.symlink) return `${rel}: symlink target differs from the sealed one (${JSON.stringify(sealed.symlink)})`;
  } else if (e.type === 'file') {
    if (sealed.cdhash) return undefined;
    if (!sealed.hash2) return `${rel} is a file, sealed as something else`;
    if (!e.sha256 || !Buffer.from(e.sha256, 'hex').equals(sealed.hash2)) return `${rel} does not match its sealed SHA-256: modified after signing`;
  } else {
    return `${rel} is a ${e.type} entry, which a bundle seal cannot cover`;
  }
  return undefined;
}

/** Nested Mach-O files, each bound by its sealed cdhash; their units are added to `units`. */
async function checkNestedFiles(
  archive: BundleArchive,
  l: Layout,
  label: string,
  seal: ResourceSeal,
  nestedFiles: string[],
  units: CodeUnit[],
  nestedDetails: Record<string, unknown>[],
): Promise<string | undefined> {
  await archive.extract(nestedFiles.map((rel) => l.content + rel));
  for (const rel of nestedFiles) {
    const name = l.content + rel;
    const p = (await archive.extract([name])).get(name)!;
    const nfh = await open(p, 'r');
    let nested: Awaited<ReturnType<typeof readMachoSignatures>>;
    try {
      nested = await readMachoSignatures(p, nfh, (await stat(p)).size);
    } finally {
      await nfh.close();
    }
    const r = bindNested(
      `${label}/${rel}`,
      seal.files2.get(rel)!,
      nested.kind,
      nested.slices.map((s) => ({
        name: `${label}/${rel} (${s.arch})`,
        parsed: 'parsed' in s ? s.parsed : undefined,
        unsigned: 'unsigned' in s ? s.unsigned : undefined,
        problem: s.problem,
        details: s.details,
      })),
    );
    if ('problem' in r) return r.problem;
    units.push(...r.units);
    nestedDetails.push({ code: rel, kind: 'mach-o' });
  }
  return undefined;
}

/** A nested bundle, checked like the outer one but authenticated by its entry in this seal. */
function checkNestedBundle(
  archive: BundleArchive,
  l: Layout,
  rel: string,
  entry: SealedEntry,
  depth: number,
  budget: { nested: number },
  pinned: Authenticate,
): Promise<BundleCheck> {
  // the nested bundle is bound by its entry in this seal (cdhash, identifier, team); a universal
  // one (one cdhash binds one slice) must also carry the pinned signer's signature on each slice
  const bound: Authenticate = async (innerUnits, innerHashes, innerKind) => {
    const problem = bindToSeal(rel, entry, innerUnits);
    if (problem) return { ok: false, problem };
    if (innerKind === 'fat' && !(await pinned(innerUnits, innerHashes, innerKind)).ok)
      return { ok: false, problem: `nested ${rel} is universal and not signed by the pinned signer on every slice` };
    return { ok: true };
  };
  return checkBundle(archive, `${l.content}${rel}/`, depth + 1, budget, bound, pinned);
}

/**
 * Nested code against its entry in the outer seal, as Apple's validation does: the sealed cdhash
 * binds one slice — only by a SHA-256 (or stronger) CodeDirectory, a SHA-1 cdhash could be matched
 * by a collision; the other slices of universal code (which no cdhash binds) must carry that
 * slice's identifier and team ID; and the identifier / team a sealed requirement names must be the
 * code's. `name` is how problems name the code.
 */
function bindToSeal(name: string, entry: SealedEntry, units: CodeUnit[]): string | undefined {
  const want = entry.cdhash!;
  const bound = units.find((u) => u.parsed!.cds.some((cd) => isStrongCodeDirectory(cd) && cdHash(cd).subarray(0, 20).equals(want)));
  if (!bound) {
    return units.length > 1
      ? `nested ${name} is universal and none of its slices has the cdhash sealed by CodeResources (by a SHA-256 CodeDirectory)`
      : `nested ${name}: its cdhash does not match the one sealed by CodeResources (by a SHA-256 CodeDirectory)`;
  }
  const { identifier, teamId } = bound.parsed!.cds[0]!;
  const who = (id: string, team: string | undefined) => `identifier ${JSON.stringify(id)}, team ${team ?? 'none'}`;
  for (const u of units) {
    for (const cd of u.parsed!.cds) {
      if (cd.identifier !== identifier || cd.teamId !== teamId)
        return `nested ${name}: ${u.name} carries ${who(cd.identifier, cd.teamId)}, the slice with the sealed cdhash (${bound.name}) ${who(identifier, teamId)}`;
    }
  }
  const required = requirementClauses(entry.requirement);
  if (required.identifier !== undefined && required.identifier !== identifier)
    return `nested ${name}: identifier ${JSON.stringify(identifier)} is not the one its sealed requirement names (${JSON.stringify(required.identifier)})`;
  if (required.teamId !== undefined && required.teamId !== teamId)
    return `nested ${name}: team ${teamId ?? 'none'} is not the one its sealed requirement names (${required.teamId})`;
  return undefined;
}

/** Nested Mach-O code: bound by its seal entry; universal code is also judged slice by slice (returned units). */
function bindNested(name: string, entry: SealedEntry, kind: 'fat' | 'thin', units: CodeUnit[]): { units: CodeUnit[] } | { problem: string } {
  const bad = units.find((u) => u.unsigned || u.problem || u.parsed?.adhoc);
  if (bad) return { problem: `nested ${name}: ${bad.problem ?? 'ad-hoc signed (nested code must be signed)'}` };
  const problem = bindToSeal(name, entry, units);
  if (problem) return { problem };
  return { units: kind === 'thin' ? [] : units };
}

/** The top-level .app bundles of an archive, each checked. */
export async function verifyBundles(
  path: string,
  kind: ArchiveKind,
  judge: JudgeOptions,
): Promise<{ units: CodeUnit[]; notes: string[]; details: Record<string, unknown>[] }> {
  const pinned: Authenticate = async (units) => {
    for (const u of units) {
      const v = await verifyCodeSignatureCms(u.parsed!.cms, u.parsed!.cds, judge.pin, { anchors: judge.anchors, now: judge.now });
      if (!v.ok) return { ok: false };
    }
    return { ok: true };
  };
  const scanned = await scanArchive(path, kind);
  const scratch = await mkdtemp(join(tmpdir(), 'rv-apple-'));
  try {
    const archive = new BundleArchive(path, kind, scanned.entries, scratch);
    // One pass for the small files every level reads: plists, seals and (zip) symlink targets.
    await archive.extract(
      scanned.entries
        .filter(
          (e) =>
            e.size <= MAX_PLIST_BYTES &&
            ((e.type === 'file' && /(^|\/)(Info\.plist|_CodeSignature\/CodeResources)$/.test(e.name)) || (kind === 'zip' && e.type === 'symlink')),
        )
        .map((e) => e.name)
        .slice(0, MAX_PREFETCH), // beyond that, read when needed
    );
    const roots = new Set<string>();
    for (const name of archive.byName.keys()) {
      const m = /^((?:[^/]+\/)*?[^/]+\.app\/)Contents\/Info\.plist$/.exec(name);
      if (
        m &&
        !/\.app\/.+\.app\/$/.test(m[1]!) &&
        !m[1]!
          .slice(0, -1)
          .split('/')
          .slice(0, -1)
          .some((p) => p.endsWith('.app'))
      )
        roots.add(m[1]!);
    }
    if (roots.size === 0)
      return {
        units: [{ name: 'archive', unsigned: true, problem: 'the archive holds no .app bundle (Contents/Info.plist) to verify', details: {} }],
        notes: [],
        details: [],
      };
    if (roots.size > MAX_BUNDLES) throw new FormatError('apple', `the archive holds ${roots.size} .app bundles (limit ${MAX_BUNDLES})`);
    // Files beside the bundles are covered by no signature (a user may run them all the same);
    // __MACOSX/ holds the AppleDouble metadata Finder and ditto add, never code that runs.
    const loose = [...archive.byName.values()].find(
      (e) => e.type !== 'directory' && !e.name.startsWith('__MACOSX/') && ![...roots].some((r) => e.name.startsWith(r)),
    );
    if (loose)
      return {
        units: [{ name: 'archive', problem: `${loose.name} lies outside the archive's .app bundles: no signature covers it`, details: {} }],
        notes: [],
        details: [],
      };
    const units: CodeUnit[] = [];
    const notes: string[] = [];
    const details: Record<string, unknown>[] = [];
    const budget = { nested: 0 };
    for (const root of [...roots].sort()) {
      const r = await checkBundle(archive, root, 0, budget, pinned, pinned);
      units.push(...r.units);
      notes.push(...r.notes);
      details.push(r.details);
    }
    return { units, notes, details };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
