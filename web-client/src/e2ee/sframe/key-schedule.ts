/**
 * SFrame key schedule: from a base_key labelled by a KID to the AEAD key and salt (RFC 9605
 * §4.4.2), the per-frame nonce (§4.4.3) and the sender-key ratchet (§5.1).
 *
 *   def derive_key_salt(KID, base_key):
 *     sframe_secret = HKDF-Extract("", base_key)
 *     sframe_key_label = "SFrame 1.0 Secret key " + KID + cipher_suite
 *     sframe_key = HKDF-Expand(sframe_secret, sframe_key_label, AEAD.Nk)
 *     sframe_salt_label = "SFrame 1.0 Secret salt " + KID + cipher_suite
 *     sframe_salt = HKDF-Expand(sframe_secret, sframe_salt_label, AEAD.Nn)
 *
 * "The KID value is encoded as an 8-byte big-endian integer, not the compressed form used in
 * the SFrame header. The cipher_suite value is a 2-byte big-endian integer." (§4.4.2)
 *
 * WebCrypto's HKDF performs Extract then Expand in one call, which is exactly this shape; an
 * empty salt is the "" of the pseudocode (RFC 5869 §2.2 pads it to HashLen zero bytes, as HMAC
 * does with any short key).
 */
import { concatBytes, encodeBigEndian, utf8, type Bytes } from '../bytes.ts';
import type { CipherSuite } from './cipher-suite.ts';
import { MAX_FIELD_VALUE } from './header.ts';

const KEY_LABEL = utf8('SFrame 1.0 Secret key ');
const SALT_LABEL = utf8('SFrame 1.0 Secret salt ');
const RATCHET_LABEL = utf8('SFrame 1.0 Ratchet');
const EMPTY_SALT = new Uint8Array(0);

/**
 * Shortest base_key accepted. RFC 9605 sets no minimum, but anything shorter than an AES-128 key
 * cannot carry 128 bits of secret, so it is refused as a likely bug (a truncated or empty key).
 */
export const MIN_BASE_KEY_LENGTH = 16;

export interface KeySalt {
  /** sframe_key: Nk bytes (for CTR suites, the AES key followed by the HMAC key, §4.5.1). */
  readonly key: Bytes;
  /** sframe_salt: Nn bytes, XORed with the CTR to form each nonce. */
  readonly salt: Bytes;
}

function checkKid(kid: bigint): void {
  if (kid < 0n || kid > MAX_FIELD_VALUE) throw new RangeError(`KID ${kid} is outside 0..2^64-1`);
}

function checkBaseKey(baseKey: Uint8Array): void {
  if (baseKey.length < MIN_BASE_KEY_LENGTH) {
    throw new RangeError(`base_key must be at least ${MIN_BASE_KEY_LENGTH} bytes, got ${baseKey.length}`);
  }
}

/** "SFrame 1.0 Secret key " + KID (8 bytes, big-endian) + cipher_suite (2 bytes, big-endian). */
export function sframeKeyLabel(kid: bigint, suite: CipherSuite): Bytes {
  checkKid(kid);
  return concatBytes(KEY_LABEL, encodeBigEndian(kid, 8), encodeBigEndian(BigInt(suite.id), 2));
}

/** "SFrame 1.0 Secret salt " + KID (8 bytes, big-endian) + cipher_suite (2 bytes, big-endian). */
export function sframeSaltLabel(kid: bigint, suite: CipherSuite): Bytes {
  checkKid(kid);
  return concatBytes(SALT_LABEL, encodeBigEndian(kid, 8), encodeBigEndian(BigInt(suite.id), 2));
}

async function hkdf(suite: CipherSuite, ikm: Uint8Array, info: Bytes, length: number): Promise<Bytes> {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: suite.hash, salt: EMPTY_SALT, info }, key, length * 8);
  return new Uint8Array(bits);
}

/** derive_key_salt(KID, base_key) of §4.4.2. */
export async function deriveKeySalt(suite: CipherSuite, kid: bigint, baseKey: Uint8Array): Promise<KeySalt> {
  checkBaseKey(baseKey);
  const [key, salt] = await Promise.all([
    hkdf(suite, baseKey, sframeKeyLabel(kid, suite), suite.nk),
    hkdf(suite, baseKey, sframeSaltLabel(kid, suite), suite.nn),
  ]);
  return { key, salt };
}

/**
 * The nonce for a frame: sframe_salt XOR CTR, with CTR encoded big-endian in Nn bytes (§4.4.3).
 * Because CTR is at most 2^64-1 and Nn is 12, distinct counters always give distinct nonces.
 */
export function frameNonce(salt: Uint8Array, ctr: bigint, nn: number): Bytes {
  if (salt.length !== nn) throw new RangeError(`salt must be ${nn} bytes`);
  const nonce = encodeBigEndian(ctr, nn);
  for (let i = 0; i < nn; i++) nonce[i]! ^= salt[i]!;
  return nonce;
}

/**
 * One step of the sender-key ratchet (§5.1), which gives forward secrecy inside a key generation:
 *
 *   base_key[i+1] = HKDF-Expand(HKDF-Extract("", base_key[i]), "SFrame 1.0 Ratchet", CipherSuite.Nh)
 */
export async function ratchetBaseKey(suite: CipherSuite, baseKey: Uint8Array): Promise<Bytes> {
  checkBaseKey(baseKey);
  return hkdf(suite, baseKey, RATCHET_LABEL, suite.nh);
}
