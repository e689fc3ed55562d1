/**
 * The AEAD of an SFrame cipher suite, over WebCrypto: native AES-GCM for suites 4-5, and the
 * AES-CTR + HMAC compound of RFC 9605 §4.5.1 for suites 1-3.
 *
 * As in RFC 5116 (and §4.4), the tag is part of the ciphertext: seal() returns ct || tag and
 * open() takes ct || tag. Keys are imported once, non-extractable, when a KID is installed, so
 * the per-frame path does no key import and the raw key bytes can be dropped by the caller.
 */
import { concatBytes, constantTimeEqual, encodeBigEndian, type Bytes } from '../bytes.ts';
import type { CipherSuite } from './cipher-suite.ts';

export interface Aead {
  readonly suite: CipherSuite;
  /** AEAD.Encrypt(key, nonce, aad, pt): returns ct || tag. */
  seal(nonce: Bytes, aad: Bytes, plaintext: Bytes): Promise<Bytes>;
  /**
   * AEAD.Decrypt(key, nonce, aad, ct || tag): the plaintext, or null when the tag does not verify
   * (or the input is shorter than a tag). Null rather than an exception because a forged or
   * corrupted frame is an expected event on this path, counted by the caller.
   */
  open(nonce: Bytes, aad: Bytes, ciphertext: Bytes): Promise<Bytes | null>;
}

/** Imports sframe_key (Nk bytes) for the suite's AEAD. */
export async function importAead(suite: CipherSuite, key: Uint8Array): Promise<Aead> {
  if (key.length !== suite.nk) throw new RangeError(`${suite.name} needs a ${suite.nk}-byte key, got ${key.length}`);
  return suite.aead === 'aes-gcm' ? importGcm(suite, key) : importCtrHmac(suite, key);
}

async function importGcm(suite: CipherSuite, key: Uint8Array): Promise<Aead> {
  const aesKey = await crypto.subtle.importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const tagLength = suite.nt * 8;
  return {
    suite,
    async seal(nonce, aad, plaintext) {
      const out = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength }, aesKey, plaintext);
      return new Uint8Array(out);
    },
    async open(nonce, aad, ciphertext) {
      if (ciphertext.length < suite.nt) return null;
      try {
        const out = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength }, aesKey, ciphertext);
        return new Uint8Array(out);
      } catch {
        // WebCrypto reports a tag mismatch as an OperationError; nothing else can fail here
        // with a valid key and a 12-byte IV.
        return null;
      }
    },
  };
}

/**
 * §4.5.1 AES-CTR with SHA2:
 *
 *   enc_key = sframe_key[..Nka]; auth_key = sframe_key[Nka..]
 *   def compute_tag(auth_key, nonce, aad, ct):
 *     aad_len = encode_big_endian(len(aad), 8)
 *     ct_len = encode_big_endian(len(ct), 8)
 *     tag_len = encode_big_endian(Nt, 8)
 *     auth_data = aad_len + ct_len + tag_len + nonce + aad + ct
 *     tag = HMAC(auth_key, auth_data)
 *     return truncate(tag, Nt)
 *   AEAD.Encrypt: initial_counter = nonce + 0x00000000; ct = AES-CTR(enc_key, initial_counter, pt)
 *
 * Encrypt-then-MAC: open() checks the tag before decrypting anything.
 */
async function importCtrHmac(suite: CipherSuite, key: Uint8Array): Promise<Aead> {
  const encKey = await crypto.subtle.importKey('raw', key.slice(0, suite.nka), 'AES-CTR', false, ['encrypt', 'decrypt']);
  const authKey = await crypto.subtle.importKey('raw', key.slice(suite.nka), { name: 'HMAC', hash: suite.hash }, false, ['sign']);
  const tagLen = encodeBigEndian(BigInt(suite.nt), 8);

  // The 16-byte AES-CTR block: the 12-byte nonce, then a 32-bit block counter starting at zero.
  const ctrParams = (nonce: Bytes) => ({ name: 'AES-CTR', counter: concatBytes(nonce, new Uint8Array(4)), length: 32 });

  async function computeTag(nonce: Bytes, aad: Uint8Array, ct: Uint8Array): Promise<Bytes> {
    const authData = concatBytes(
      encodeBigEndian(BigInt(aad.length), 8),
      encodeBigEndian(BigInt(ct.length), 8),
      tagLen,
      nonce,
      aad,
      ct,
    );
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', authKey, authData));
    return mac.slice(0, suite.nt);
  }

  return {
    suite,
    async seal(nonce, aad, plaintext) {
      const ct = new Uint8Array(await crypto.subtle.encrypt(ctrParams(nonce), encKey, plaintext));
      return concatBytes(ct, await computeTag(nonce, aad, ct));
    },
    async open(nonce, aad, ciphertext) {
      if (ciphertext.length < suite.nt) return null;
      const inner = ciphertext.subarray(0, ciphertext.length - suite.nt);
      const tag = ciphertext.subarray(ciphertext.length - suite.nt);
      if (!constantTimeEqual(tag, await computeTag(nonce, aad, inner))) return null;
      return new Uint8Array(await crypto.subtle.decrypt(ctrParams(nonce), encKey, inner));
    },
  };
}
