/**
 * Apple code signing (issue 12, scheme `apple`): the signature embedded in a Mach-O file (thin or
 * universal), in the `.app` bundles of a zip / tar / tar.gz archive, or in a DMG's own trailer.
 * What is checked, and in which module:
 * - code-signature.ts: page hashes of every CodeDirectory, special slots;
 * - macho.ts / bundle.ts / dmg.ts: what the CodeDirectories cover (slices, the bundle's sealed
 *   resources and nested code, the disk image);
 * - cms.ts: the CMS signature, cdhashes, chain to the pinned Apple roots, Developer ID, the pin;
 * - judge.ts: ad-hoc counts as unsigned, every unit must pass.
 * A stapled notarization ticket is reported as present, never verified.
 */
import { open } from 'node:fs/promises';
import type * as pkijs from 'pkijs';
import { VerifierError, errorMessage } from '../../base/errors';
import type { SignatureInput, SignatureResult } from '../types';
import { readAt } from '../compare/read-at';
import { machoKind } from '../macho/parse';
import { archiveKind } from '../archive/detect';
import { appleRootCertificates } from './roots';
import { appleInvalid, judgeUnits, type CodeUnit, type JudgeOptions } from './judge';
import { readMachoSignatures } from './macho';
import { verifyBundles } from './bundle';
import { isDmg, readDmgSignature } from './dmg';

export interface VerifyAppleOptions {
  /** trust anchors replacing the pinned Apple roots — tests only (a test CA mimicking Apple's structure) */
  testAnchors?: pkijs.Certificate[];
}

function isIoError(err: unknown): boolean {
  return !(err instanceof VerifierError) && typeof (err as { syscall?: unknown })?.syscall === 'string';
}

export async function verifyApple(input: SignatureInput, options: VerifyAppleOptions = {}): Promise<SignatureResult> {
  const policy = input.policy;
  if (policy.scheme !== 'apple') return appleInvalid(`policy scheme "${policy.scheme}" is not apple`);
  const judge: JudgeOptions = {
    pin: { teamId: policy.teamId, certSha256: policy.certSha256, requireDeveloperId: policy.requireDeveloperId },
    anchors: options.testAnchors ?? appleRootCertificates(),
    now: input.now ?? new Date(),
  };
  const fh = await open(input.assetPath, 'r'); // unreadable file: throws — "could not check"
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, Math.min(size, 4096));
    const notes: string[] = [];
    const details: Record<string, unknown> = {};
    let units: CodeUnit[];
    if (machoKind(head)) {
      details.format = 'mach-o';
      const { kind, slices } = await readMachoSignatures(input.assetPath, fh, size);
      details.machoKind = kind;
      units = slices.map((s) => ({
        name: kind === 'fat' ? `slice ${s.arch}` : `Mach-O (${s.arch})`,
        parsed: 'parsed' in s ? s.parsed : undefined,
        unsigned: 'unsigned' in s ? s.unsigned : undefined,
        problem: s.problem,
        details: s.details,
      }));
    } else if (archiveKind(head)) {
      details.format = `${archiveKind(head)} archive`;
      const bundles = await verifyBundles(input.assetPath, archiveKind(head)!, judge);
      units = bundles.units;
      notes.push(...bundles.notes);
      details.bundles = bundles.details;
    } else if (await isDmg(fh, size)) {
      details.format = 'dmg';
      const dmg = await readDmgSignature(input.assetPath, fh, size);
      units = [dmg.unit];
      notes.push(...dmg.notes);
    } else if (head.subarray(0, 4).toString('latin1') === 'xar!') {
      return appleInvalid(
        'a flat installer package (.pkg, xar) carries an installer signature, which the apple scheme does not check (Mach-O, .app archives and DMGs only)',
      );
    } else {
      return appleInvalid('not a Mach-O file, an archive holding a .app bundle, or a DMG: no Apple code signature to check', { unsigned: true });
    }
    return await judgeUnits(units, judge, notes, details);
  } catch (err) {
    if (isIoError(err)) throw err;
    return appleInvalid(errorMessage(err));
  } finally {
    await fh.close();
  }
}
