/**
 * The integrity half of an Apple code signature, shared by Mach-O slices and DMGs: every
 * CodeDirectory's page hashes match the bytes they cover (streamed, each CodeDirectory hashed on
 * its own — an alternate SHA-256 CodeDirectory never stands in for a wrong SHA-1 one), and every
 * special slot is consistent: a bound item must be present with that hash, an item present in the
 * signature (requirements, entitlements) must be bound, and an unbound slot must be empty.
 * Who signed is cms.ts's job.
 */
import { createHash } from 'node:crypto';
import { FormatError } from '../../base/errors';
import {
  CS_ADHOC,
  CSSLOT_APPLICATION,
  CSSLOT_CODEDIRECTORY,
  CSSLOT_ENTITLEMENTS,
  CSSLOT_ENTITLEMENTS_DER,
  CSSLOT_INFOSLOT,
  CSSLOT_REP_SPECIFIC,
  CSSLOT_REQUIREMENTS,
  CSSLOT_RESOURCEDIR,
  CSSLOT_SIGNATURESLOT,
  CSSLOT_TICKETSLOT,
  HASH_TYPES,
  PageHasher,
  parseEmbeddedSignature,
  type CodeDirectory,
  type EmbeddedSignature,
} from '../macho/codesign';

const SLOT_NAMES: Record<number, string> = {
  [CSSLOT_INFOSLOT]: 'Info.plist',
  [CSSLOT_REQUIREMENTS]: 'requirements',
  [CSSLOT_RESOURCEDIR]: 'resources (CodeResources)',
  [CSSLOT_APPLICATION]: 'application-specific data',
  [CSSLOT_ENTITLEMENTS]: 'entitlements',
  [CSSLOT_REP_SPECIFIC]: 'representation-specific data',
  [CSSLOT_ENTITLEMENTS_DER]: 'DER entitlements',
};
/** the special slots a CodeDirectory can bind; anything beyond is refused */
const MAX_SPECIAL_SLOT = 7;

export interface ParsedCodeSignature {
  sig: EmbeddedSignature;
  /** slot 0 first, then the alternates in slot order */
  cds: CodeDirectory[];
  /** the CMS blob's payload (empty for ad-hoc) */
  cms: Buffer;
  adhoc: boolean;
  /** a stapled notarization ticket is in the SuperBlob (reported, not verified) */
  ticket: boolean;
}

/** Parses the SuperBlob and the blobs verification needs. Throws FormatError when malformed. */
export function parseCodeSignature(data: Buffer): ParsedCodeSignature {
  const sig = parseEmbeddedSignature(data);
  const slots = new Set<number>();
  for (const b of sig.blobs) {
    if (slots.has(b.slot)) throw new FormatError('apple', `SuperBlob has slot 0x${b.slot.toString(16)} twice`);
    slots.add(b.slot);
  }
  const cds = [...sig.codeDirectories].sort((a, b) => a.slot - b.slot);
  if (cds[0]?.slot !== CSSLOT_CODEDIRECTORY) throw new FormatError('apple', 'no primary CodeDirectory');
  for (const cd of cds) {
    if (cd.scatterOffset !== 0) throw new FormatError('apple', 'CodeDirectory with a scatter vector is not supported');
    if (cd.nSpecialSlots > MAX_SPECIAL_SLOT)
      throw new FormatError('apple', `CodeDirectory has ${cd.nSpecialSlots} special slots (at most ${MAX_SPECIAL_SLOT} are defined)`);
  }
  const cmsBlob = blobOf(data, sig, CSSLOT_SIGNATURESLOT);
  const cms = cmsBlob ? cmsBlob.subarray(8) : Buffer.alloc(0);
  return { sig, cds, cms, adhoc: cds.some((cd) => (cd.flags & CS_ADHOC) !== 0) || cms.length === 0, ticket: slots.has(CSSLOT_TICKETSLOT) };
}

/** The whole blob (header included) stored at `slot`, if any. */
export function blobOf(data: Buffer, sig: EmbeddedSignature, slot: number): Buffer | undefined {
  const b = sig.blobs.find((x) => x.slot === slot);
  return b ? data.subarray(b.offset, b.offset + b.length) : undefined;
}

/** Feeds [0, codeLimit) to one PageHasher per CodeDirectory and compares; returns a problem or undefined. */
export async function checkCodePages(cds: CodeDirectory[], feed: (update: (chunk: Buffer) => void) => Promise<void>): Promise<string | undefined> {
  // page hashes are compared as they complete: constant memory whatever the code size
  const firstBad: Array<number | undefined> = cds.map(() => undefined);
  const hashers = cds.map(
    (cd, k) =>
      new PageHasher(HASH_TYPES[cd.hashType]!.algorithm, cd.hashSize, cd.pageSize, cd.codeLimit, (p, hash) => {
        if (firstBad[k] === undefined && !hash.equals(cd.codeHashes.subarray(p * cd.hashSize, (p + 1) * cd.hashSize))) firstBad[k] = p;
      }),
  );
  await feed((chunk) => {
    for (const h of hashers) h.update(chunk);
  });
  for (let k = 0; k < cds.length; k++) {
    const cd = cds[k]!;
    hashers[k]!.finish();
    const p = firstBad[k];
    if (p !== undefined)
      return `code page ${p} (offset ${cd.pageSize ? p * cd.pageSize : 0}) does not match its ${cd.hashName} hash in CodeDirectory slot 0x${cd.slot.toString(16)}: modified after signing`;
    const count = hashers[k]!.pageCount;
    if (count !== cd.nCodeSlots) return `file ends before the code limit of CodeDirectory slot 0x${cd.slot.toString(16)} (${count} of ${cd.nCodeSlots} pages)`;
  }
  return undefined;
}

/**
 * Checks the special slots of every CodeDirectory. `external` gives the bytes of items that live
 * outside the signature (Info.plist, CodeResources, the DMG trailer): a Buffer when present, null
 * when known absent. Items stored in the SuperBlob (requirements, entitlements) are read from it.
 */
export function checkSpecialSlots(parsed: ParsedCodeSignature, data: Buffer, external: Partial<Record<number, Buffer | null>>): string | undefined {
  for (let slot = 1; slot <= MAX_SPECIAL_SLOT; slot++) {
    const internal = slot === CSSLOT_REQUIREMENTS || slot === CSSLOT_ENTITLEMENTS || slot === CSSLOT_ENTITLEMENTS_DER;
    const content = internal ? (blobOf(data, parsed.sig, slot) ?? null) : external[slot];
    for (const cd of parsed.cds) {
      const stored = slot <= cd.nSpecialSlots ? cd.specialHashes[slot - 1]! : undefined;
      const bound = !!stored && stored.some((b) => b !== 0);
      const name = `${SLOT_NAMES[slot]} (special slot -${slot}) in CodeDirectory slot 0x${cd.slot.toString(16)}`;
      if (!bound) {
        if (content)
          return `${SLOT_NAMES[slot]} is present but not bound by the signature (special slot -${slot} empty in CodeDirectory slot 0x${cd.slot.toString(16)})`;
        continue;
      }
      if (content === undefined) return `${name} is bound, but that item is not available here (verify the whole bundle or image, not a file taken out of it)`;
      if (content === null) return `${name} is bound, but the item is missing`;
      const actual = createHash(HASH_TYPES[cd.hashType]!.algorithm).update(content).digest().subarray(0, cd.hashSize);
      if (!actual.equals(stored)) return `${name} does not match: modified after signing`;
    }
  }
  return undefined;
}

export function describeSignature(parsed: ParsedCodeSignature): Record<string, unknown> {
  const cd = parsed.cds[0]!;
  return {
    identifier: cd.identifier,
    ...(cd.teamId ? { cdTeamId: cd.teamId } : {}),
    flags: `0x${cd.flags.toString(16)}`,
    codeDirectories: parsed.cds.map((c) => ({
      slot: `0x${c.slot.toString(16)}`,
      hashType: c.hashName,
      version: `0x${c.version.toString(16)}`,
      pages: c.nCodeSlots,
      codeLimit: c.codeLimit,
    })),
    blobs: parsed.sig.blobs.map((b) => `0x${b.slot.toString(16)}`),
  };
}
