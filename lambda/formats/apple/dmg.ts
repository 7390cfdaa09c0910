/**
 * A DMG's own code signature (issue 12). The last 512 bytes of a UDIF image are the "koly"
 * trailer; codesign stores the signature SuperBlob's offset and size in it (bytes 0x128 and
 * 0x130, big-endian), and its CodeDirectory hashes the image from byte 0 up to the SuperBlob (the
 * code limit) as one page, and the trailer itself in the representation-specific special slot,
 * hashed with the size field zeroed (the size is not known before signing). Layout as
 * apple-codesign (rcodesign) documents it in src/dmg.rs.
 *
 * The image content (HFS+/APFS) is not read: a signed DMG is checked as one signed blob, an
 * unsigned DMG is reported as unsigned — the app inside cannot be verified from here.
 */
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FormatError } from '../../base/errors';
import { readAt } from '../compare/read-at';
import { CSSLOT_APPLICATION, CSSLOT_INFOSLOT, CSSLOT_REP_SPECIFIC, CSSLOT_RESOURCEDIR } from '../macho/codesign';
import { checkCodePages, checkSpecialSlots, describeSignature, parseCodeSignature } from './code-signature';
import type { CodeUnit } from './judge';
import { MAX_SIGNATURE_BYTES } from './macho';

export const KOLY_SIZE = 512;
const KOLY_PLIST_OFFSET = 0xd8;
const KOLY_PLIST_LENGTH = 0xe0;
const KOLY_SIG_OFFSET = 0x128;
const KOLY_SIG_SIZE = 0x130;

export async function isDmg(fh: FileHandle, size: number): Promise<boolean> {
  if (size < KOLY_SIZE) return false;
  const magic = await readAt(fh, size - KOLY_SIZE, 4);
  return magic.toString('latin1') === 'koly';
}

export async function readDmgSignature(path: string, fh: FileHandle, size: number): Promise<{ unit: CodeUnit; notes: string[] }> {
  const koly = await readAt(fh, size - KOLY_SIZE, KOLY_SIZE);
  const name = 'disk image';
  const offset = koly.readBigUInt64BE(KOLY_SIG_OFFSET);
  const length = koly.readBigUInt64BE(KOLY_SIG_SIZE);
  if (offset === 0n || length === 0n) {
    return {
      unit: {
        name,
        unsigned: true,
        problem: 'the DMG carries no code signature of its own (the image content — HFS+/APFS — is not read here, so an app inside cannot be verified)',
        details: {},
      },
      notes: [],
    };
  }
  const trailerStart = size - KOLY_SIZE;
  if (length > BigInt(MAX_SIGNATURE_BYTES) || offset + length > BigInt(trailerStart))
    throw new FormatError('apple', 'DMG code signature lies outside the image or is too large');
  const sigOffset = Number(offset);
  const sigLength = Number(length);
  const data = await readAt(fh, sigOffset, sigLength);
  const parsed = parseCodeSignature(data);
  const details: Record<string, unknown> = { ...describeSignature(parsed), signatureOffset: sigOffset, signatureSize: sigLength };
  const notes = parsed.ticket ? ['a notarization ticket is stapled to the DMG (present; not verified)'] : [];
  details.notarizationTicket = parsed.ticket ? 'stapled (present, not verified)' : 'none';
  const unit: CodeUnit = { name, parsed, details };
  if (sigOffset + sigLength !== trailerStart)
    return {
      unit: { ...unit, problem: `DMG: ${trailerStart - sigOffset - sigLength} bytes between the code signature and the trailer are not covered by it` },
      notes,
    };
  for (const cd of parsed.cds) {
    if (cd.codeLimit !== sigOffset)
      return { unit: { ...unit, problem: `DMG: CodeDirectory covers ${cd.codeLimit} bytes, the code signature starts at ${sigOffset}` }, notes };
  }
  const pages = await checkCodePages(parsed.cds, async (update) => {
    if (sigOffset === 0) return;
    for await (const chunk of createReadStream(path, { start: 0, end: sigOffset - 1, highWaterMark: 1024 * 1024 })) update(chunk as Buffer);
  });
  if (pages) return { unit: { ...unit, problem: `DMG: ${pages}` }, notes };
  // The trailer as hashed: size zeroed. rcodesign also writes the offset as "just after the XML
  // plist"; both spellings are tried — the offset is pinned anyway, by the code limit above.
  const trailer = Buffer.from(koly);
  trailer.writeBigUInt64BE(0n, KOLY_SIG_SIZE);
  const afterPlist = Buffer.from(trailer);
  afterPlist.writeBigUInt64BE(koly.readBigUInt64BE(KOLY_PLIST_OFFSET) + koly.readBigUInt64BE(KOLY_PLIST_LENGTH), KOLY_SIG_OFFSET);
  const others = { [CSSLOT_INFOSLOT]: null, [CSSLOT_RESOURCEDIR]: null, [CSSLOT_APPLICATION]: null };
  const special = checkSpecialSlots(parsed, data, { ...others, [CSSLOT_REP_SPECIFIC]: trailer });
  if (special && checkSpecialSlots(parsed, data, { ...others, [CSSLOT_REP_SPECIFIC]: afterPlist }))
    return { unit: { ...unit, problem: `DMG: ${special}` }, notes };
  return { unit, notes };
}
