/**
 * The SFrame header (RFC 9605 §4.3): a config byte, then the KID and the CTR as compact
 * big-endian unsigned integers.
 *
 *    0 1 2 3 4 5 6 7
 *   +-+-+-+-+-+-+-+-+---------------------------------+---------------------------------+
 *   |X|  K  |Y|  C  |   KID... (length=K+1 if X=1)    |   CTR... (length=C+1 if Y=1)    |
 *   +-+-+-+-+-+-+-+-+---------------------------------+---------------------------------+
 *
 * "If the value of one of these fields is in the range 0-7, then the value is carried in the
 * corresponding bits of the config byte (K or C) and the corresponding flag (X or Y) is set to
 * zero. Otherwise, the value MUST be encoded with the minimum number of bytes required and
 * appended after the config byte, with the KID first and CTR second." (§4.3)
 *
 * KID and CTR are 64-bit unsigned values, so they are `bigint` here: a `number` would silently
 * lose the low bits of counters above 2^53.
 */

/** The largest value a KID or CTR can take: the extended forms carry at most 8 bytes. */
export const MAX_FIELD_VALUE = (1n << 64n) - 1n;

/** Config byte + 8-byte KID + 8-byte CTR. */
export const MAX_HEADER_LENGTH = 17;

export interface SFrameHeader {
  readonly kid: bigint;
  readonly ctr: bigint;
}

export interface DecodedHeader extends SFrameHeader {
  /** How many bytes the header occupies; the ciphertext starts right after it. */
  readonly length: number;
}

/** A header that cannot be encoded or decoded; the message says which rule it broke. */
export class SFrameHeaderError extends Error {
  override name = 'SFrameHeaderError';
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes needed for `value` in the extended form (1-8), or 0 when it fits in the config byte. */
function extendedLength(value: bigint): number {
  if (value < 8n) return 0;
  if (value <= MAX_SAFE) {
    // Number arithmetic for the values every frame has (no bigint allocated per step).
    let n = 0;
    for (let v = Number(value); v > 0; v = Math.floor(v / 256)) n++;
    return n;
  }
  let n = 0;
  for (let v = value; v > 0n; v >>= 8n) n++;
  return n;
}

function checkField(name: string, value: bigint): void {
  if (typeof value !== 'bigint') throw new SFrameHeaderError(`${name} must be a bigint`);
  if (value < 0n || value > MAX_FIELD_VALUE) throw new SFrameHeaderError(`${name} ${value} is outside 0..2^64-1`);
}

/** Length in bytes of the header that `encodeHeader(kid, ctr)` would produce. */
export function headerLength(kid: bigint, ctr: bigint): number {
  return 1 + extendedLength(kid) + extendedLength(ctr);
}

/** Encodes the header with the minimal form for each field (§4.3). */
export function encodeHeader(kid: bigint, ctr: bigint): Uint8Array<ArrayBuffer> {
  checkField('KID', kid);
  checkField('CTR', ctr);
  const kidLen = extendedLength(kid);
  const ctrLen = extendedLength(ctr);
  const out = new Uint8Array(1 + kidLen + ctrLen);
  const k = kidLen === 0 ? Number(kid) << 4 : 0x80 | ((kidLen - 1) << 4);
  const c = ctrLen === 0 ? Number(ctr) : 0x08 | (ctrLen - 1);
  out[0] = k | c;
  writeBigEndian(out, 1, kid, kidLen);
  writeBigEndian(out, 1 + kidLen, ctr, ctrLen);
  return out;
}

function writeBigEndian(out: Uint8Array, offset: number, value: bigint, length: number): void {
  if (value <= MAX_SAFE) {
    let n = Number(value);
    for (let i = offset + length - 1; i >= offset; i--) {
      out[i] = n % 256;
      n = Math.floor(n / 256);
    }
    return;
  }
  let v = value;
  for (let i = offset + length - 1; i >= offset; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readField(bytes: Uint8Array, offset: number, length: number, name: string): bigint {
  if (offset + length > bytes.length) {
    throw new SFrameHeaderError(`truncated header: ${name} needs ${length} bytes, ${bytes.length - offset} left`);
  }
  // §4.3 requires the minimum number of bytes, so a leading zero byte (or an extended value
  // below 8) is a non-canonical header. Refusing it keeps exactly one encoding per (KID, CTR).
  if (bytes[offset] === 0) throw new SFrameHeaderError(`non-minimal ${name}: leading zero byte`);
  let v: bigint;
  if (length <= 6) {
    // Up to 48 bits fit a number exactly: one bigint per field instead of one per byte.
    let n = 0;
    for (let i = 0; i < length; i++) n = n * 256 + bytes[offset + i]!;
    v = BigInt(n);
  } else {
    v = 0n;
    for (let i = 0; i < length; i++) v = (v << 8n) | BigInt(bytes[offset + i]!);
  }
  if (v < 8n) throw new SFrameHeaderError(`non-minimal ${name}: ${v} fits in the config byte`);
  return v;
}

/**
 * Decodes the header at `offset` of `bytes`. Throws SFrameHeaderError on an empty or truncated
 * buffer and on non-minimal encodings.
 */
export function decodeHeader(bytes: Uint8Array, offset = 0): DecodedHeader {
  if (offset >= bytes.length) throw new SFrameHeaderError('empty header: no config byte');
  const config = bytes[offset]!;
  const x = (config & 0x80) !== 0;
  const k = (config >> 4) & 0x07;
  const y = (config & 0x08) !== 0;
  const c = config & 0x07;
  let pos = offset + 1;
  let kid = BigInt(k);
  if (x) {
    kid = readField(bytes, pos, k + 1, 'KID');
    pos += k + 1;
  }
  let ctr = BigInt(c);
  if (y) {
    ctr = readField(bytes, pos, c + 1, 'CTR');
    pos += c + 1;
  }
  return { kid, ctr, length: pos - offset };
}
