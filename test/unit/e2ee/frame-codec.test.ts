import { describe, expect, it } from 'vitest';
import {
  FrameCodecError,
  frameMetadata,
  H264_SLICE_HEADER_CLEAR_BYTES,
  joinPlainFrame,
  joinProtectedFrame,
  layoutFor,
  splitPlainFrame,
  splitProtectedFrame,
  VP8_DELTA_CLEAR_BYTES,
  VP8_KEYFRAME_CLEAR_BYTES,
} from '../../../web-client/src/e2ee/frame-codec.ts';
import { escape, findNalUnits, trailingZeros, unescape } from '../../../web-client/src/e2ee/h264.ts';
import { hex, pseudoRandomBytes, toHex } from './helpers.ts';

/** True if `data` contains 00 00 00, 00 00 01 or 00 00 02 anywhere. */
function hasStartCodeEmulation(data: Uint8Array): boolean {
  for (let i = 0; i + 2 < data.length; i++) if (data[i] === 0 && data[i + 1] === 0 && data[i + 2]! <= 2) return true;
  return false;
}

/** Random bytes with many zeros, so start-code patterns are frequent. */
function zeroHeavyBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const r = pseudoRandomBytes(length, seed);
  return r.map((b) => (b < 128 ? 0 : b & 3));
}

describe('layoutFor: which bytes a codec keeps clear', () => {
  it.each([
    ['audio', 'audio/opus', 'full'],
    ['audio', undefined, 'full'],
    ['video', 'video/VP8', 'vp8'],
    ['video', 'video/vp8', 'vp8'],
    ['video', 'video/H264', 'h264'],
    ['video', 'video/VP9', 'full'],
    ['video', 'video/AV1', 'full'],
    ['video', undefined, 'full'],
  ] as const)('%s %s -> %s', (kind, mime, layout) => {
    expect(layoutFor(kind, mime)).toBe(layout);
  });
});

describe('VP8 layout: payload header clear (RFC 6386 §9.1; findings: mediasoup reads it)', () => {
  const keyframe = Uint8Array.of(0x50, 0x2d, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, ...pseudoRandomBytes(200));
  const delta = Uint8Array.of(0x31, 0x0a, 0x00, ...pseudoRandomBytes(50));

  it('keeps 10 bytes clear on keyframes (P bit 0) and 3 on delta frames', () => {
    expect(splitPlainFrame('vp8', keyframe).clear.length).toBe(VP8_KEYFRAME_CLEAR_BYTES);
    expect(splitPlainFrame('vp8', delta).clear.length).toBe(VP8_DELTA_CLEAR_BYTES);
    const { clear, body } = splitPlainFrame('vp8', keyframe);
    expect(toHex(joinPlainFrame(clear, body))).toBe(toHex(keyframe));
  });

  it('puts the SFrame ciphertext right after the clear bytes and splits it back', () => {
    for (const frame of [keyframe, delta]) {
      const { clear } = splitPlainFrame('vp8', frame);
      const sframe = pseudoRandomBytes(80, 3);
      const wire = joinProtectedFrame('vp8', clear, sframe);
      expect(toHex(wire)).toBe(toHex(clear) + toHex(sframe));
      const back = splitProtectedFrame('vp8', wire);
      expect(toHex(back.clear)).toBe(toHex(clear));
      expect(toHex(back.body)).toBe(toHex(sframe));
    }
  });

  it('refuses frames shorter than their clear bytes, and wire frames with nothing after them', () => {
    expect(() => splitPlainFrame('vp8', keyframe.slice(0, 9))).toThrow(FrameCodecError);
    expect(() => splitPlainFrame('vp8', new Uint8Array(0))).toThrow(FrameCodecError);
    expect(() => splitProtectedFrame('vp8', keyframe.slice(0, 10))).toThrow(FrameCodecError);
    expect(() => splitProtectedFrame('vp8', delta.slice(0, 3))).toThrow(FrameCodecError);
  });
});

describe('full layout: audio and unknown codecs are entirely encrypted', () => {
  it('keeps nothing clear', () => {
    const frame = pseudoRandomBytes(160);
    expect(splitPlainFrame('full', frame).clear.length).toBe(0);
    const sframe = pseudoRandomBytes(180, 2);
    expect(toHex(joinProtectedFrame('full', new Uint8Array(0), sframe))).toBe(toHex(sframe));
    expect(toHex(splitProtectedFrame('full', sframe).body)).toBe(toHex(sframe));
  });
});

describe('frameMetadata: the clear bytes and the layout are authenticated', () => {
  it('prefixes the clear bytes with a layout id, different per layout', () => {
    const clear = hex('0102');
    expect(toHex(frameMetadata('full', new Uint8Array(0)))).toBe('00');
    expect(toHex(frameMetadata('vp8', clear))).toBe('010102');
    expect(toHex(frameMetadata('h264', clear))).toBe('020102');
  });
});

describe('H.264 emulation prevention (ITU-T H.264 §7.4.1)', () => {
  it.each([
    ['000001', '00000301'],
    ['000000', '00000300'],
    ['000002', '00000302'],
    ['000003', '00000303'],
    ['000004', '000004'],
    ['0000000000', '00000300000300'],
    ['00', '00'],
  ])('escape(%s) = %s and back', (input, escaped) => {
    expect(toHex(escape(hex(input)))).toBe(escaped);
    expect(toHex(unescape(hex(escaped))!)).toBe(input);
  });

  it('never leaves a start-code pattern, and round-trips, on zero-heavy random data', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const data = zeroHeavyBytes(1 + (seed % 97), seed);
      const e = escape(data);
      expect(hasStartCodeEmulation(e)).toBe(false);
      expect(toHex(unescape(e)!)).toBe(toHex(data));
    }
  });

  it('continues the zero count from the bytes before it', () => {
    expect(trailingZeros(hex('0500'))).toBe(1);
    expect(trailingZeros(hex('000000'))).toBe(2);
    expect(trailingZeros(hex('05'))).toBe(0);
    expect(toHex(escape(hex('0001'), 1))).toBe('000301');
    expect(toHex(unescape(hex('000301'), 1)!)).toBe('0001');
  });

  it.each([
    ['000001', 'a start code'],
    ['000000', 'three zeros'],
    ['00000305', 'an emulation prevention byte before a byte > 3'],
    ['000003', 'an emulation prevention byte at the end'],
  ])('unescape refuses %s (%s), which escape never produces', (input) => {
    expect(unescape(hex(input))).toBeNull();
  });
});

describe('H.264 layout: NAL structure clear up to the first slice header, rest escaped', () => {
  const sps = hex('00000001' + '6742c01e' + 'da0280bfe5c04040');
  const pps = hex('00000001' + '68ce3c80');
  const idr = hex('00000001' + '65' + 'b8' + '41' + 'deadbeef000001cafe');
  const slice2 = hex('000001' + '65' + '0a' + 'c2' + '00112233');
  const frame = new Uint8Array([...sps, ...pps, ...idr, ...slice2]);
  const clearLength = sps.length + pps.length + 4 + 1 + H264_SLICE_HEADER_CLEAR_BYTES;

  it('keeps start codes, SPS, PPS, the first slice NAL header and 2 slice-header bytes clear', () => {
    const { clear, body } = splitPlainFrame('h264', frame);
    expect(clear.length).toBe(clearLength);
    expect(toHex(clear)).toBe(toHex(frame.subarray(0, clearLength)));
    expect(toHex(joinPlainFrame(clear, body))).toBe(toHex(frame));
  });

  it('emits no start code inside the ciphertext and ends with the stop byte', () => {
    const { clear } = splitPlainFrame('h264', frame);
    // An SFrame ciphertext full of start-code patterns, starting and ending with zeros.
    const sframe = hex('00000001' + '000000' + '0000020000' + '00');
    const wire = joinProtectedFrame('h264', clear, sframe);
    expect(wire[wire.length - 1]).toBe(0x80);
    expect(hasStartCodeEmulation(wire.subarray(clearLength - 2))).toBe(false);
    // A parser sees exactly the clear NAL units: SPS, PPS, one IDR slice.
    expect(findNalUnits(wire).map((u) => u.type)).toEqual([7, 8, 5]);
    const back = splitProtectedFrame('h264', wire);
    expect(toHex(back.clear)).toBe(toHex(clear));
    expect(toHex(back.body)).toBe(toHex(sframe));
  });

  it('does not form a start code across the clear/ciphertext boundary', () => {
    const frameEndingInZero = hex('00000001' + '41' + '9a00' + '55');
    const { clear } = splitPlainFrame('h264', frameEndingInZero);
    expect(clear[clear.length - 1]).toBe(0);
    const wire = joinProtectedFrame('h264', clear, hex('0001ff'));
    expect(findNalUnits(wire)).toHaveLength(1);
    expect(toHex(splitProtectedFrame('h264', wire).body)).toBe('0001ff');
  });

  it('round-trips random SFrame ciphertexts', () => {
    const { clear } = splitPlainFrame('h264', frame);
    for (let seed = 1; seed <= 50; seed++) {
      const sframe = zeroHeavyBytes(20 + seed, seed);
      const wire = joinProtectedFrame('h264', clear, sframe);
      expect(findNalUnits(wire).map((u) => u.type)).toEqual([7, 8, 5]);
      expect(toHex(splitProtectedFrame('h264', wire).body)).toBe(toHex(sframe));
    }
  });

  it('refuses frames without a slice, slices too short, and wire frames without stop byte or with bad escaping', () => {
    expect(() => splitPlainFrame('h264', new Uint8Array([...sps, ...pps]))).toThrow(/without a slice/);
    expect(() => splitPlainFrame('h264', hex('0000000165b8'))).toThrow(FrameCodecError);
    const { clear } = splitPlainFrame('h264', frame);
    const wire = joinProtectedFrame('h264', clear, hex('aabbcc'));
    expect(() => splitProtectedFrame('h264', wire.subarray(0, wire.length - 1))).toThrow(/stop byte/);
    expect(() => splitProtectedFrame('h264', clear)).toThrow(/stop byte/);
    expect(() => splitProtectedFrame('h264', new Uint8Array([...clear, 0x11, 0, 0, 3, 9, 0x80]))).toThrow(/emulation/);
  });
});
