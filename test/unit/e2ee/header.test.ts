import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  encodeHeader,
  headerLength,
  MAX_FIELD_VALUE,
  MAX_HEADER_LENGTH,
  SFrameHeaderError,
} from '../../../web-client/src/e2ee/sframe/header.ts';
import { hex, toHex } from './helpers.ts';

/**
 * RFC 9605 Appendix C.1 "Header Encoding/Decoding" vectors, copied verbatim (kid, ctr, header)
 * from the RFC text; the same values are published by the working group as JSON in
 * https://github.com/sframe-wg/sframe, test-vectors/test-vectors.json (key "header").
 * The RFC lists the full 17 x 17 cross product of KIDs and CTRs; this table takes every CTR for
 * KID 0 and, for every other KID in the RFC, the first and the longest cases plus a few more, so
 * each KID length (0-8 bytes) and each CTR length (0-8 bytes) appears.
 */
const VECTORS: readonly [kid: string, ctr: string, header: string][] = [
  ['0x0000000000000000', '0x0000000000000000', '00'],
  ['0x0000000000000000', '0x0000000000000001', '01'],
  ['0x0000000000000000', '0x00000000000000ff', '08ff'],
  ['0x0000000000000000', '0x0000000000000100', '090100'],
  ['0x0000000000000000', '0x000000000000ffff', '09ffff'],
  ['0x0000000000000000', '0x0000000000010000', '0a010000'],
  ['0x0000000000000000', '0x0000000000ffffff', '0affffff'],
  ['0x0000000000000000', '0x0000000001000000', '0b01000000'],
  ['0x0000000000000000', '0x00000000ffffffff', '0bffffffff'],
  ['0x0000000000000000', '0x0000000100000000', '0c0100000000'],
  ['0x0000000000000000', '0x000000ffffffffff', '0cffffffffff'],
  ['0x0000000000000000', '0x0000010000000000', '0d010000000000'],
  ['0x0000000000000000', '0x0000ffffffffffff', '0dffffffffffff'],
  ['0x0000000000000000', '0x0001000000000000', '0e01000000000000'],
  ['0x0000000000000000', '0x00ffffffffffffff', '0effffffffffffff'],
  ['0x0000000000000000', '0x0100000000000000', '0f0100000000000000'],
  ['0x0000000000000000', '0xffffffffffffffff', '0fffffffffffffffff'],
  ['0x0000000000000001', '0x0000000000000000', '10'],
  ['0x0000000000000001', '0x0000000000000001', '11'],
  ['0x0000000000000001', '0x00000000000000ff', '18ff'],
  ['0x0000000000000001', '0xffffffffffffffff', '1fffffffffffffffff'],
  ['0x00000000000000ff', '0x0000000000000000', '80ff'],
  ['0x00000000000000ff', '0x0000000000000001', '81ff'],
  ['0x00000000000000ff', '0x00000000000000ff', '88ffff'],
  ['0x00000000000000ff', '0x0000000000000100', '89ff0100'],
  ['0x00000000000000ff', '0xffffffffffffffff', '8fffffffffffffffffff'],
  ['0x0000000000000100', '0x0000000000000000', '900100'],
  ['0x0000000000000100', '0x0000000000000001', '910100'],
  ['0x0000000000000100', '0x00000000000000ff', '980100ff'],
  ['0x0000000000000100', '0x0000000000000100', '9901000100'],
  ['0x0000000000000100', '0xffffffffffffffff', '9f0100ffffffffffffffff'],
  ['0x000000000000ffff', '0x0000000000000000', '90ffff'],
  ['0x000000000000ffff', '0x000000000000ffff', '99ffffffff'],
  ['0x0000000000010000', '0x0000000000000000', 'a0010000'],
  ['0x0000000000010000', '0x0000000000010000', 'aa010000010000'],
  ['0x0000000000ffffff', '0x0000000000000000', 'a0ffffff'],
  ['0x0000000000ffffff', '0xffffffffffffffff', 'afffffffffffffffffffffff'],
  ['0x0000000001000000', '0x0000000000000000', 'b001000000'],
  ['0x0000000001000000', '0x0000000001000000', 'bb0100000001000000'],
  ['0x00000000ffffffff', '0x0000000000000000', 'b0ffffffff'],
  ['0x00000000ffffffff', '0x00000000ffffffff', 'bbffffffffffffffff'],
  ['0x0000000100000000', '0x0000000000000000', 'c00100000000'],
  ['0x0000000100000000', '0x0000000100000000', 'cc01000000000100000000'],
  ['0x000000ffffffffff', '0x0000000000000000', 'c0ffffffffff'],
  ['0x000000ffffffffff', '0xffffffffffffffff', 'cfffffffffffffffffffffffffff'],
  ['0x0000010000000000', '0x0000000000000000', 'd0010000000000'],
  ['0x0000010000000000', '0x0000010000000000', 'dd010000000000010000000000'],
  ['0x0000ffffffffffff', '0x0000000000000000', 'd0ffffffffffff'],
  ['0x0000ffffffffffff', '0xffffffffffffffff', 'dfffffffffffffffffffffffffffff'],
  ['0x0001000000000000', '0x0000000000000000', 'e001000000000000'],
  ['0x0001000000000000', '0x0001000000000000', 'ee0100000000000001000000000000'],
  ['0x00ffffffffffffff', '0x0000000000000000', 'e0ffffffffffffff'],
  ['0x00ffffffffffffff', '0xffffffffffffffff', 'efffffffffffffffffffffffffffffff'],
  ['0x0100000000000000', '0x0000000000000000', 'f00100000000000000'],
  ['0x0100000000000000', '0x0100000000000000', 'ff01000000000000000100000000000000'],
  ['0x0100000000000000', '0xffffffffffffffff', 'ff0100000000000000ffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000000000000', 'f0ffffffffffffffff'],
  ['0xffffffffffffffff', '0x0000000000000001', 'f1ffffffffffffffff'],
  ['0xffffffffffffffff', '0x00000000000000ff', 'f8ffffffffffffffffff'],
  ['0xffffffffffffffff', '0x0100000000000000', 'ffffffffffffffffff0100000000000000'],
  ['0xffffffffffffffff', '0xffffffffffffffff', 'ffffffffffffffffffffffffffffffffff'],
];

describe('SFrame header: RFC 9605 Appendix C.1 vectors (§4.3 encoding)', () => {
  it.each(VECTORS)('kid %s ctr %s <-> %s', (kidText, ctrText, header) => {
    const kid = BigInt(kidText);
    const ctr = BigInt(ctrText);
    expect(toHex(encodeHeader(kid, ctr))).toBe(header);
    expect(headerLength(kid, ctr)).toBe(header.length / 2);
    expect(decodeHeader(hex(header))).toEqual({ kid, ctr, length: header.length / 2 });
  });

  it('decodes a header followed by ciphertext, reporting where the ciphertext starts', () => {
    const bytes = hex('9901234567' + 'deadbeef');
    expect(decodeHeader(bytes)).toEqual({ kid: 0x123n, ctr: 0x4567n, length: 5 });
  });

  it('decodes at an offset (a clear codec prefix before the header)', () => {
    const bytes = hex('aabbcc' + '1a010000' + '00');
    expect(decodeHeader(bytes, 3)).toEqual({ kid: 1n, ctr: 0x10000n, length: 4 });
  });

  it('round-trips values around every length boundary', () => {
    const values: bigint[] = [0n, 7n, 8n, MAX_FIELD_VALUE];
    for (let bits = 8n; bits < 64n; bits += 8n) values.push((1n << bits) - 1n, 1n << bits);
    for (const kid of values) {
      for (const ctr of values) {
        const encoded = encodeHeader(kid, ctr);
        expect(encoded.length).toBeLessThanOrEqual(MAX_HEADER_LENGTH);
        expect(decodeHeader(encoded)).toEqual({ kid, ctr, length: encoded.length });
      }
    }
  });
});

describe('SFrame header: limits and malformed input (§4.3)', () => {
  it('refuses values that do not fit in 64 bits or are negative', () => {
    expect(() => encodeHeader(MAX_FIELD_VALUE + 1n, 0n)).toThrow(SFrameHeaderError);
    expect(() => encodeHeader(0n, MAX_FIELD_VALUE + 1n)).toThrow(/CTR/);
    expect(() => encodeHeader(-1n, 0n)).toThrow(/KID/);
  });

  it('refuses an empty buffer or an offset past the end', () => {
    expect(() => decodeHeader(new Uint8Array(0))).toThrow(/empty/);
    expect(() => decodeHeader(hex('00'), 1)).toThrow(SFrameHeaderError);
  });

  it.each([
    ['08', 'CTR length 1, no CTR byte'],
    ['0f01020304050607', 'CTR length 8, 7 bytes'],
    ['80', 'KID length 1, no KID byte'],
    ['f0ffffffffffffff', 'KID length 8, 7 bytes'],
    ['88ff', 'KID present, CTR missing'],
  ])('refuses a truncated header %s (%s)', (header) => {
    expect(() => decodeHeader(hex(header))).toThrow(/truncated/);
  });

  it.each([
    ['0807', 'CTR 7 in the extended form'],
    ['090001', 'CTR with a leading zero byte'],
    ['8005', 'KID 5 in the extended form'],
    ['900012', 'KID with a leading zero byte'],
  ])('refuses a non-minimal header %s (%s): §4.3 "MUST be encoded with the minimum number of bytes"', (header) => {
    expect(() => decodeHeader(hex(header))).toThrow(/non-minimal/);
  });
});
