/**
 * Strict DER. asn1js is lenient: a child may run past its parent's declared length, and BER forms
 * (indefinite lengths) are accepted. Signatures and certificates are DER, so edited framing must not
 * be able to hide or shift data behind a verifying signature: insist on definite lengths whose
 * children exactly fill each constructed value, and on nothing after the outer value.
 */
import * as asn1js from 'asn1js';

const MAX_DEPTH = 64;

/** Checks an already-parsed ASN.1 tree; `fail` builds the caller's typed error. */
export function assertStrictEncoding(root: asn1js.AsnType, fail: (message: string) => Error): void {
  const stack: Array<{ block: asn1js.BaseBlock; depth: number }> = [{ block: root as asn1js.BaseBlock, depth: 0 }];
  while (stack.length) {
    const { block, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) throw fail(`ASN.1 nesting deeper than ${MAX_DEPTH}`);
    const len = block.lenBlock;
    if (block.error || len.isIndefiniteForm) throw fail(`not DER: ${block.error || 'indefinite length'}`);
    if (block.valueBeforeDecodeView.length !== block.idBlock.blockLength + len.blockLength + len.length) {
      throw fail(`ASN.1 ${block.constructor.name} at depth ${depth} does not match its declared length`);
    }
    if (block.idBlock.isConstructed) {
      const value = (block.valueBlock as unknown as { value?: unknown }).value ?? [];
      // asn1js keeps some constructed forms (e.g. of string types it reads specially) unsplit
      if (!Array.isArray(value)) throw fail(`ASN.1 ${block.constructor.name} at depth ${depth}: constructed value with unparsed content`);
      const children = value as asn1js.BaseBlock[];
      const sum = children.reduce((n, c) => n + c.valueBeforeDecodeView.length, 0);
      if (sum !== len.length) throw fail(`ASN.1 ${block.constructor.name} at depth ${depth}: content ${sum} bytes, declared ${len.length}`);
      for (const c of children) stack.push({ block: c, depth: depth + 1 });
    }
  }
}

/** Parses `bytes` as exactly one strict-DER value whose outer tag is a universal SEQUENCE. */
export function parseStrictDerSequence(bytes: Uint8Array, fail: (message: string) => Error): asn1js.Sequence {
  const asn = asn1js.fromBER(bytes);
  if (asn.offset === -1) throw fail(`not DER (${asn.result.error || 'parse error'})`);
  if (asn.offset !== bytes.byteLength) throw fail(`${bytes.byteLength - asn.offset} byte(s) after the DER value`);
  if (!(asn.result instanceof asn1js.Sequence)) throw fail('outer value is not a SEQUENCE');
  assertStrictEncoding(asn.result, fail);
  return asn.result;
}
