import { describe, expect, it } from 'vitest';
import { parseStrictDerSequence } from '../../lambda/formats/der';

const fail = (m: string) => new Error(m);
const seq = (...children: number[][]) => {
  const body = children.flat();
  return Uint8Array.from([0x30, body.length, ...body]);
};

describe('strict DER', () => {
  it('accepts a definite-length SEQUENCE whose children fill it exactly', () => {
    expect(() => parseStrictDerSequence(seq([0x02, 0x01, 0x05], [0x04, 0x02, 0x61, 0x62]), fail)).not.toThrow();
  });

  it.each([
    ['trailing bytes', Uint8Array.from([...seq([0x02, 0x01, 0x05]), 0x00]), /after the DER value/],
    ['a non-SEQUENCE outer value', Uint8Array.from([0x31, 0x03, 0x02, 0x01, 0x05]), /not a SEQUENCE/],
    ['an indefinite length', Uint8Array.from([0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00]), /indefinite|not DER/],
    ['a constructed string kept unsplit by asn1js (found by fuzzing: used to crash)', seq([0x2c, 0x03, 0x04, 0x01, 0x41]), /unparsed content|not DER|declared/],
    ['a constructed value whose children do not fill it', seq([0x2a, 0x03, 0x04, 0x01, 0x41]), /declared|unparsed|not DER/],
    ['garbage', Uint8Array.from([0xff, 0xff]), /not DER|SEQUENCE|after/],
  ])('rejects %s with a typed error, never a crash', (_name, bytes, message) => {
    expect(() => parseStrictDerSequence(bytes, fail)).toThrow(message);
  });
});
