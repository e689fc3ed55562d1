/**
 * Which bytes of an encoded frame stay clear, and how an encrypted frame is laid out on the wire.
 *
 * SFrame is applied per frame (RFC 9605 §4.1) inside the browser's encoded-transform API, so the
 * output still goes through Chrome's codec-specific packetizer and through mediasoup, and both read
 * codec bytes (measured in /work/shared/e2ee-sfu-findings.md):
 *  - VP8: mediasoup decides "keyframe" from the VP8 payload header, and reads the frame size on
 *    keyframes. The first 10 bytes of a keyframe (3-byte frame tag, start code, width, height;
 *    RFC 6386 §9.1) and the first 3 bytes of a delta frame (the frame tag) stay clear. The
 *    keyframe flag is the low bit of byte 0, 0 meaning keyframe (RFC 6386 §9.1, "P" bit).
 *  - H.264: Chrome's packetizer splits the frame at start codes and reads NAL headers, and its
 *    receiver parses SPS/PPS and the start of the slice header (for the PPS id). Everything up to
 *    and including the first slice's NAL header and H264_SLICE_HEADER_CLEAR_BYTES bytes of its
 *    slice header stays clear: that is the start codes, SPS, PPS, and any other non-picture NAL
 *    units the encoder put first (AUD, SEI). The rest of the frame (the rest of that slice and any
 *    further slices) is encrypted as one ciphertext, escaped so that it contains no start code.
 *  - Audio (Opus) and any other codec: fully encrypted. Unknown video codecs are fully encrypted
 *    too: never sending clear is the safe default, at worst the SFU forwards them less smartly.
 *
 * The clear bytes are authenticated: the SFrame metadata (part of the AAD, §4.4.3) is
 *
 *     metadata = layout id (1 byte) || clear bytes
 *
 * so the SFU can read them but cannot change them, nor make a frame be read with another layout.
 *
 * Wire layouts (`sframe` = SFrame header || ciphertext || tag, §4.4.3):
 *
 *     full:  sframe
 *     vp8:   clear (10 bytes on keyframes, 3 on delta frames) || sframe
 *     h264:  clear (up to first slice header, see above) || escape(sframe) || 0x80
 *
 * The trailing 0x80 (an rbsp_stop_one_bit with its alignment, H.264 §7.3.2.11) keeps the last
 * NAL unit from ending in 0x00, which Annex B parsers would take for part of a following start
 * code; escape() is H.264 emulation prevention (see h264.ts).
 *
 * Sender and receiver must pick the same layout for a track: both take it from the frames'
 * mimeType (or the track's configured one). If they disagree, the layout id in the metadata makes
 * every frame fail authentication (dropped, counted as `auth`), never decode garbage.
 *
 * Empty frames (no bytes) carry nothing to protect and are passed through by the transformer.
 */
import { concatBytes, type Bytes } from './bytes.ts';
import { escape, findNalUnits, NAL_IDR_SLICE, NAL_SLICE, trailingZeros, unescape } from './h264.ts';

export type FrameLayout = 'full' | 'vp8' | 'h264';

/** Layout ids in the metadata; fixed forever, a change would break interop between versions. */
const LAYOUT_ID: Readonly<Record<FrameLayout, number>> = { full: 0, vp8: 1, h264: 2 };

export const VP8_KEYFRAME_CLEAR_BYTES = 10;
export const VP8_DELTA_CLEAR_BYTES = 3;

/**
 * Slice-header bytes kept clear after the slice's NAL header. Chrome's H.264 receiver reads
 * first_mb_in_slice, slice_type and pic_parameter_set_id, three Exp-Golomb codes that for the
 * first slice of a frame (first_mb_in_slice = 0, slice_type <= 9, small PPS id) take at most
 * 1 + 7 + 3 = 11 bits, so 2 bytes. To be confirmed in the browser tests.
 */
export const H264_SLICE_HEADER_CLEAR_BYTES = 2;

/** Stop byte ending an escaped H.264 ciphertext. */
const H264_STOP_BYTE = 0x80;

/** A frame that cannot be split with its layout; the transformer drops it and counts it. */
export class FrameCodecError extends Error {
  override name = 'FrameCodecError';
}

/** A frame split into its clear bytes and the rest (plaintext or SFrame ciphertext). */
export interface SplitFrame {
  readonly clear: Bytes;
  readonly body: Bytes;
}

/**
 * The layout for a track: from the encoded frame's mimeType when the browser gives it
 * ("video/VP8", "video/H264", "audio/opus"), else by kind (audio and unknown video: full).
 */
export function layoutFor(kind: 'audio' | 'video', mimeType: string | undefined): FrameLayout {
  if (kind === 'audio') return 'full';
  switch (mimeType?.toLowerCase()) {
    case 'video/vp8':
      return 'vp8';
    case 'video/h264':
      return 'h264';
    default:
      return 'full';
  }
}

/** The SFrame metadata for a frame: layout id || clear bytes. */
export function frameMetadata(layout: FrameLayout, clear: Uint8Array): Bytes {
  return concatBytes(Uint8Array.of(LAYOUT_ID[layout]), clear);
}

function vp8ClearLength(firstByte: number): number {
  return (firstByte & 0x01) === 0 ? VP8_KEYFRAME_CLEAR_BYTES : VP8_DELTA_CLEAR_BYTES;
}

/**
 * End of the H.264 clear prefix: just past the first slice NAL header and the clear slice-header
 * bytes. Depends only on bytes before that point, so sender and receiver find the same offset.
 */
function h264ClearLength(data: Uint8Array): number {
  const slice = findNalUnits(data).find((u) => u.type === NAL_SLICE || u.type === NAL_IDR_SLICE);
  if (!slice) throw new FrameCodecError('H.264 frame without a slice NAL unit');
  return slice.headerOffset + 1 + H264_SLICE_HEADER_CLEAR_BYTES;
}

/** Sender side: the clear bytes and the plaintext to encrypt. */
export function splitPlainFrame(layout: FrameLayout, frame: Bytes): SplitFrame {
  let clearLength = 0;
  if (layout === 'vp8') {
    if (frame.length === 0) throw new FrameCodecError('empty VP8 frame');
    clearLength = vp8ClearLength(frame[0]!);
  } else if (layout === 'h264') {
    clearLength = h264ClearLength(frame);
  }
  if (frame.length < clearLength) {
    throw new FrameCodecError(`${layout} frame of ${frame.length} bytes is shorter than its ${clearLength} clear bytes`);
  }
  return { clear: frame.subarray(0, clearLength), body: frame.subarray(clearLength) };
}

/** Sender side: the wire frame from the clear bytes and the SFrame ciphertext. */
export function joinProtectedFrame(layout: FrameLayout, clear: Uint8Array, sframe: Uint8Array): Bytes {
  if (layout === 'h264') return concatBytes(clear, escape(sframe, trailingZeros(clear)), Uint8Array.of(H264_STOP_BYTE));
  return concatBytes(clear, sframe);
}

/** Receiver side: the clear bytes and the SFrame ciphertext. Throws FrameCodecError if malformed. */
export function splitProtectedFrame(layout: FrameLayout, wire: Bytes): SplitFrame {
  if (layout === 'full') return { clear: wire.subarray(0, 0), body: wire };
  if (layout === 'vp8') {
    if (wire.length === 0) throw new FrameCodecError('empty VP8 frame');
    const clearLength = vp8ClearLength(wire[0]!);
    if (wire.length <= clearLength) throw new FrameCodecError('VP8 frame ends inside its clear bytes');
    return { clear: wire.subarray(0, clearLength), body: wire.subarray(clearLength) };
  }
  const clearLength = h264ClearLength(wire);
  if (wire.length <= clearLength || wire[wire.length - 1] !== H264_STOP_BYTE) {
    throw new FrameCodecError('H.264 frame without an escaped ciphertext and stop byte after its clear bytes');
  }
  const clear = wire.subarray(0, clearLength);
  const body = unescape(wire.subarray(clearLength, wire.length - 1), trailingZeros(clear));
  if (!body) throw new FrameCodecError('H.264 ciphertext with invalid emulation prevention');
  return { clear, body };
}

/** Receiver side: the decrypted frame, clear bytes then plaintext. */
export function joinPlainFrame(clear: Uint8Array, plaintext: Bytes): Bytes {
  // Audio has no clear bytes: the decrypted buffer is the frame, no copy needed.
  if (clear.length === 0) return plaintext;
  return concatBytes(clear, plaintext);
}
