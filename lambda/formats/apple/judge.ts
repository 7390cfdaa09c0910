/**
 * From checked code signatures to a SignatureResult: an unsigned or ad-hoc unit makes the whole
 * file unsigned, a unit whose bytes do not match makes it invalid, and every signed unit (each
 * slice of a universal file, each bundle's main executable) must carry a CMS signature by the
 * pinned signer. One signer is reported: the first unit's.
 */
import type * as pkijs from 'pkijs';
import type { SignatureResult } from '../types';
import type { ParsedCodeSignature } from './code-signature';
import { verifyCodeSignatureCms, type ApplePin } from './cms';

export interface CodeUnit {
  /** "slice arm64", "DevSignedApp.app (arm64)", "disk image" */
  name: string;
  parsed?: ParsedCodeSignature;
  unsigned?: boolean;
  problem?: string;
  details: Record<string, unknown>;
}

export interface JudgeOptions {
  pin: ApplePin;
  anchors: pkijs.Certificate[];
  now: Date;
}

export function appleInvalid(reason: string, extra: Partial<SignatureResult> = {}): SignatureResult {
  return { valid: false, scheme: 'apple', reason, ...extra };
}

export async function judgeUnits(units: CodeUnit[], options: JudgeOptions, notes: string[], details: Record<string, unknown>): Promise<SignatureResult> {
  details.units = units.map((u) => ({ name: u.name, ...u.details }));
  if (units.length === 0) return appleInvalid('nothing signed found', { unsigned: true, details });
  for (const u of units) {
    if (u.unsigned) return appleInvalid(`${u.name}: ${u.problem ?? 'not signed'}`, { unsigned: true, details });
  }
  for (const u of units) {
    if (u.parsed?.adhoc) return appleInvalid(`${u.name} has an ad-hoc signature (no signer, CS_ADHOC): counts as unsigned`, { unsigned: true, details });
  }
  for (const u of units) if (u.problem) return appleInvalid(u.problem, { details });

  let first: { signer?: string; reason?: string } | undefined;
  for (const u of units) {
    const verdict = await verifyCodeSignatureCms(u.parsed!.cms, u.parsed!.cds, options.pin, { anchors: options.anchors, now: options.now });
    Object.assign((details.units as Array<Record<string, unknown>>).find((x) => x.name === u.name)!, { cms: verdict.details });
    if (!verdict.ok) return appleInvalid(`${u.name}: ${verdict.reason}`, { signer: verdict.signer, unpinnedSigner: verdict.unpinned, details });
    if (first?.signer && verdict.signer !== first.signer)
      return appleInvalid(`${u.name} is signed by ${verdict.signer}, ${units[0]!.name} by ${first.signer}`, { signer: first.signer, details });
    first ??= verdict;
  }
  const reason = [first!.reason, ...notes].filter(Boolean).join('; ');
  return { valid: true, scheme: 'apple', signer: first!.signer, reason, details };
}
