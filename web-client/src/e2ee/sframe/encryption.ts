/**
 * SFrame encryption and decryption with one installed key (RFC 9605 §4.4.3, §4.4.4).
 *
 *   def encrypt(CTR, KID, metadata, plaintext):
 *     sframe_key, sframe_salt = key_store[KID]
 *     nonce = xor(sframe_salt, encode_big_endian(CTR, AEAD.Nn))
 *     header = encode_sframe_header(CTR, KID)
 *     aad = header + metadata
 *     ciphertext = AEAD.Encrypt(sframe_key, nonce, aad, plaintext)
 *     return header + ciphertext
 *
 * `metadata` is the application's authenticated-but-clear data; Sotto puts the codec bytes that
 * the SFU and the packetizer must read there (see frame-codec.ts), so they cannot be altered.
 *
 * Which CTR to use and whether a CTR was already seen are the callers' business (context.ts):
 * these functions are the pure transform.
 */
import { concatBytes, type Bytes } from '../bytes.ts';
import { importAead, type Aead } from './aead.ts';
import { cipherSuite, type CipherSuite, type CipherSuiteId } from './cipher-suite.ts';
import { encodeHeader, type DecodedHeader } from './header.ts';
import { deriveKeySalt, frameNonce } from './key-schedule.ts';

/** A base_key made ready for one KID: the imported AEAD key and the salt. */
export interface SFrameKey {
  readonly kid: bigint;
  readonly suite: CipherSuite;
  readonly salt: Bytes;
  readonly aead: Aead;
}

/** Derives sframe_key and sframe_salt for `kid` (§4.4.2) and imports the AEAD key. */
export async function createSFrameKey(suiteId: CipherSuiteId, kid: bigint, baseKey: Uint8Array): Promise<SFrameKey> {
  const suite = cipherSuite(suiteId);
  const { key, salt } = await deriveKeySalt(suite, kid, baseKey);
  const aead = await importAead(suite, key);
  // The raw sframe_key is no longer needed once imported (non-extractable); wipe our copy.
  key.fill(0);
  return { kid, suite, salt, aead };
}

const NO_PREFIX = new Uint8Array(0);

/**
 * encrypt(CTR, KID, metadata, plaintext) of §4.4.3: returns header || ciphertext || tag, after
 * `prefix` when one is given. WebCrypto hands back the ciphertext in a new buffer, so one copy is
 * needed to put the header in front; a caller that also needs bytes before the SFrame ciphertext
 * (a codec's clear header, frame-codec.ts) passes them here and gets the whole frame from that
 * one copy instead of a second one (bench/sframe: each copy of a frame costs about as much as
 * the encryption itself in Chromium).
 */
export async function sframeEncrypt(key: SFrameKey, ctr: bigint, metadata: Bytes, plaintext: Bytes, prefix: Uint8Array = NO_PREFIX): Promise<Bytes> {
  const header = encodeHeader(key.kid, ctr);
  const nonce = frameNonce(key.salt, ctr, key.suite.nn);
  const sealed = await key.aead.seal(nonce, metadata.length === 0 ? header : concatBytes(header, metadata), plaintext);
  return concatBytes(prefix, header, sealed);
}

/**
 * decrypt(metadata, sframe_ciphertext) of §4.4.4 for an already parsed header whose KID selected
 * `key`. Returns the plaintext, or null when authentication fails.
 */
export async function sframeDecrypt(
  key: SFrameKey,
  header: DecodedHeader,
  sframeCiphertext: Bytes,
  metadata: Bytes,
): Promise<Bytes | null> {
  if (header.kid !== key.kid) throw new Error(`key for KID ${key.kid} used on a frame with KID ${header.kid}`);
  const headerBytes = sframeCiphertext.subarray(0, header.length);
  const nonce = frameNonce(key.salt, header.ctr, key.suite.nn);
  return key.aead.open(nonce, metadata.length === 0 ? headerBytes : concatBytes(headerBytes, metadata), sframeCiphertext.subarray(header.length));
}

