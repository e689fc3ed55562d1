/**
 * Byte-string helpers shared by the E2EE modules. Web-standard only (the browser bundle and the
 * E2EE worker import this file), so no `node:` imports and no Buffer.
 *
 * Every buffer handed to WebCrypto must be backed by a plain ArrayBuffer (not a
 * SharedArrayBuffer); `Bytes` names that type so TypeScript checks it at the call sites.
 */
export type Bytes = Uint8Array<ArrayBuffer>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Concatenates byte strings into one new buffer (the `+` of RFC 9605's pseudocode). */
export function concatBytes(...parts: readonly Uint8Array[]): Bytes {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Big-endian encoding of a non-negative integer in exactly `length` bytes
 * (RFC 9605's `encode_big_endian(x, n)`). Throws if the value does not fit.
 */
export function encodeBigEndian(value: bigint, length: number): Bytes {
  if (value < 0n) throw new RangeError('encodeBigEndian: negative value');
  const out = new Uint8Array(length);
  if (value <= MAX_SAFE) {
    // Every frame's nonce comes through here (RFC 9605 §4.4.3): with a number, not a bigint, the
    // loop allocates nothing. Exact up to 2^53 - 1; counters beyond take the bigint path.
    let n = Number(value);
    for (let i = length - 1; i >= 0 && n > 0; i--) {
      out[i] = n % 256;
      n = Math.floor(n / 256);
    }
    if (n !== 0) throw new RangeError(`encodeBigEndian: value does not fit in ${length} bytes`);
    return out;
  }
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`encodeBigEndian: value does not fit in ${length} bytes`);
  return out;
}

/**
 * Compares two byte strings in time that depends only on their lengths, not on where they
 * differ, so a forger learns nothing from how long a tag check took (RFC 9605 §4.5.1
 * `constant_time_equal`).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** A copy of `bytes` backed by its own ArrayBuffer (safe to hand to WebCrypto or to transfer). */
export function copyBytes(bytes: Uint8Array): Bytes {
  return new Uint8Array(bytes);
}

const TEXT = new TextEncoder();

/** UTF-8 bytes of a string (labels such as "SFrame 1.0 Secret key "). */
export function utf8(text: string): Bytes {
  return TEXT.encode(text) as Bytes;
}
