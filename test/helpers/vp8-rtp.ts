/**
 * Synthetic VP8 RTP packets for tests and benchmarks that feed mediasoup without a browser.
 *
 * As Chromium sends them (RFC 7741 §4.2): the extended payload descriptor with a 15-bit
 * PictureID, TL0PICIDX and TID (mediasoup parses only extended descriptors), the S bit on the
 * frame's first packet, then the VP8 payload header: bit 0 clear and the start code 9d 01 2a on
 * keyframes (RFC 6386 §9.1), which is what mediasoup looks at to find keyframes.
 */
import { randomBytes } from 'node:crypto';

const DESCRIPTOR_BYTES = 6;

export interface Vp8PacketFields {
  ssrc: number;
  seq: number;
  /** RTP timestamp (90 kHz). */
  timestamp: number;
  pictureId: number;
  /** First / last packet of the frame (S bit; RTP marker). */
  first: boolean;
  last: boolean;
  keyframe: boolean;
  /** Bytes after the descriptor (random). */
  payloadBytes: number;
  payloadType?: number;
}

export function vp8Packet(f: Vp8PacketFields): Buffer {
  const p = randomBytes(12 + DESCRIPTOR_BYTES + f.payloadBytes);
  p[0] = 0x80;
  p[1] = (f.last ? 0x80 : 0) | (f.payloadType ?? 96);
  p.writeUInt16BE(f.seq & 0xffff, 2);
  p.writeUInt32BE(f.timestamp >>> 0, 4);
  p.writeUInt32BE(f.ssrc >>> 0, 8);
  const pictureId = f.pictureId & 0x7fff;
  p[12] = 0x80 | (f.first ? 0x10 : 0x00); // X, S, partition 0
  p[13] = 0x80 | 0x40 | 0x20; // I (PictureID), L (TL0PICIDX), T (TID)
  p[14] = 0x80 | ((pictureId >> 8) & 0x7f); // M: 15-bit PictureID
  p[15] = pictureId & 0xff;
  p[16] = pictureId & 0xff; // TL0PICIDX (every frame is temporal layer 0)
  p[17] = 0x00; // TID 0
  if (f.first) {
    p[18] = f.keyframe ? 0x10 : 0x11;
    if (f.keyframe) {
      p[21] = 0x9d;
      p[22] = 0x01;
      p[23] = 0x2a;
    }
  }
  return p;
}
