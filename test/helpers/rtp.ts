/**
 * RTP (RFC 3550 §5.1) and RTCP PLI (RFC 4585 §6.3.1) packets built and read by hand, so tests can
 * feed a media server exact bytes and check exactly what it sent on. No dependency.
 */

export interface RtpFields {
  payloadType: number;
  ssrc: number;
  seq: number;
  timestamp: number;
  marker?: boolean;
  payload: Buffer;
}

export interface RtpPacket extends Required<RtpFields> {
  /** Header extension (RFC 3550 §5.3.1) profile and data, when the X bit is set. */
  extension?: { profile: number; data: Buffer };
  csrcs: number[];
}

/** A 12-byte fixed header (version 2, no padding, extension or CSRCs) followed by the payload. */
export function buildRtp(f: RtpFields): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (f.marker ? 0x80 : 0) | (f.payloadType & 0x7f);
  h.writeUInt16BE(f.seq & 0xffff, 2);
  h.writeUInt32BE(f.timestamp >>> 0, 4);
  h.writeUInt32BE(f.ssrc >>> 0, 8);
  return Buffer.concat([h, f.payload]);
}

/**
 * Reads an RTP packet, skipping CSRCs and a header extension and removing padding: a forwarding
 * server may add extensions (e.g. its own abs-send-time), which must not be mistaken for payload.
 */
export function parseRtp(buf: Buffer): RtpPacket {
  if (buf.length < 12) throw new Error(`RTP packet too short: ${buf.length} bytes`);
  if (buf[0]! >> 6 !== 2) throw new Error(`not RTP version 2 (first byte 0x${buf[0]!.toString(16)})`);
  const padding = (buf[0]! & 0x20) !== 0;
  const hasExtension = (buf[0]! & 0x10) !== 0;
  const csrcCount = buf[0]! & 0x0f;
  let off = 12;
  const csrcs: number[] = [];
  for (let i = 0; i < csrcCount; i++, off += 4) csrcs.push(buf.readUInt32BE(off));
  let extension: RtpPacket['extension'];
  if (hasExtension) {
    const profile = buf.readUInt16BE(off);
    const words = buf.readUInt16BE(off + 2);
    extension = { profile, data: buf.subarray(off + 4, off + 4 + words * 4) };
    off += 4 + words * 4;
  }
  let end = buf.length;
  if (padding) end -= buf[buf.length - 1]!;
  if (end < off) throw new Error('RTP header, extension or padding longer than the packet');
  const packet: RtpPacket = {
    payloadType: buf[1]! & 0x7f,
    marker: (buf[1]! & 0x80) !== 0,
    seq: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcs,
    payload: buf.subarray(off, end),
  };
  if (extension) packet.extension = extension;
  return packet;
}

/**
 * RTP and RTCP share one port with rtcp-mux; RFC 5761 §4 tells them apart by the second byte:
 * RTCP packet types 192-223 fall where RTP would have the marker bit and payload types 64-95.
 */
export function isRtcp(buf: Buffer): boolean {
  return buf.length >= 2 && buf[1]! >= 192 && buf[1]! <= 223;
}

/** RTCP payload-specific feedback (PT 206) with FMT 1: Picture Loss Indication. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x80 | 1;
  b[1] = 206;
  b.writeUInt16BE(2, 2); // length in 32-bit words minus one
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  return b;
}

/** The media SSRCs of every PLI in a (possibly compound) RTCP packet. */
export function pliMediaSsrcs(buf: Buffer): number[] {
  const found: number[] = [];
  for (let off = 0; off + 4 <= buf.length; ) {
    const fmt = buf[off]! & 0x1f;
    const pt = buf[off + 1]!;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (pt === 206 && fmt === 1 && off + 12 <= buf.length) found.push(buf.readUInt32BE(off + 8));
    off += len;
  }
  return found;
}
