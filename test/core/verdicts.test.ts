import { describe, expect, it } from 'vitest';
import { exitCodeFor, finding, FINDING_CODES, verdictOf, worseOf, type FindingCode } from '../../lambda/core/findings';

describe('verdicts', () => {
  it('orders TAMPERED > MISMATCH > INCOMPLETE > VERIFIED whatever the order of findings', () => {
    const codes: FindingCode[] = ['ARTIFACT_MISMATCH', 'SIGNATURE_INVALID', 'BUILD_FAILED', 'IMAGE_NOT_ENFORCED'];
    for (let i = 0; i < codes.length; i++) {
      const rotated = [...codes.slice(i), ...codes.slice(0, i)].map((c) => finding(c, c));
      expect(verdictOf(rotated, true)).toBe('TAMPERED');
    }
    expect(verdictOf([finding('BUILD_FAILED', 'x'), finding('ARTIFACT_MISMATCH', 'y')], true)).toBe('MISMATCH');
    expect(verdictOf([finding('BUILD_FAILED', 'x')], true)).toBe('INCOMPLETE');
    expect(worseOf('VERIFIED', 'INCOMPLETE')).toBe('INCOMPLETE');
    expect(worseOf('TAMPERED', 'MISMATCH')).toBe('TAMPERED');
  });

  it('is never VERIFIED without a positive check, even with no findings (fail closed)', () => {
    expect(verdictOf([], false)).toBe('INCOMPLETE');
    expect(verdictOf([finding('IMAGE_NOT_ENFORCED', 'notice')], false)).toBe('INCOMPLETE');
    expect(verdictOf([], true)).toBe('VERIFIED');
  });

  it('lets notices inform without changing the verdict', () => {
    expect(verdictOf([finding('IMAGE_NOT_ENFORCED', 'n'), finding('SIGNATURE_NOT_REQUIRED', 'n')], true)).toBe('VERIFIED');
  });

  it('gives every code a fixed level', () => {
    for (const [code, level] of Object.entries(FINDING_CODES)) expect(finding(code as FindingCode, 'm').level).toBe(level);
  });

  it('maps verdicts to the documented exit codes', () => {
    expect(exitCodeFor('VERIFIED')).toBe(0);
    expect(exitCodeFor('MISMATCH')).toBe(1);
    expect(exitCodeFor('TAMPERED')).toBe(1);
    expect(exitCodeFor('INCOMPLETE')).toBe(2);
  });
});
