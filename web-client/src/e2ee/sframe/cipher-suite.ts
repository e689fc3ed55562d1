/**
 * SFrame cipher suites (RFC 9605 §4.5, Table 1, IANA registry §8.1).
 *
 *   | Name                       | Nh | Nka | Nk | Nn | Nt |
 *   | AES_128_CTR_HMAC_SHA256_80 | 32 | 16  | 48 | 12 | 10 |   0x0001
 *   | AES_128_CTR_HMAC_SHA256_64 | 32 | 16  | 48 | 12 | 8  |   0x0002
 *   | AES_128_CTR_HMAC_SHA256_32 | 32 | 16  | 48 | 12 | 4  |   0x0003
 *   | AES_128_GCM_SHA256_128     | 32 | n/a | 16 | 12 | 16 |   0x0004
 *   | AES_256_GCM_SHA512_128     | 64 | n/a | 32 | 12 | 16 |   0x0005
 *
 * Nh: hash output size, Nka: AES key size inside the CTR+HMAC compound key, Nk: AEAD key size,
 * Nn: nonce size, Nt: tag size (bytes). Sotto uses AES_128_GCM_SHA256_128 by default: it is
 * native in every browser's WebCrypto and has the full 128-bit tag. The CTR+HMAC suites trade tag
 * length for bandwidth (§7.5 discusses the forgery risk of short tags).
 */

export type CipherSuiteId = 1 | 2 | 3 | 4 | 5;

export interface CipherSuite {
  readonly id: CipherSuiteId;
  readonly name: string;
  /** WebCrypto name of the suite's hash (HKDF and, for CTR suites, HMAC). */
  readonly hash: 'SHA-256' | 'SHA-512';
  /** Which AEAD construction: native AES-GCM, or AES-CTR + truncated HMAC (§4.5.1). */
  readonly aead: 'aes-gcm' | 'aes-ctr-hmac';
  readonly nh: number;
  /** 0 for the GCM suites, where the whole key is the AES key. */
  readonly nka: number;
  readonly nk: number;
  readonly nn: number;
  readonly nt: number;
}

export const AES_128_CTR_HMAC_SHA256_80 = 1;
export const AES_128_CTR_HMAC_SHA256_64 = 2;
export const AES_128_CTR_HMAC_SHA256_32 = 3;
export const AES_128_GCM_SHA256_128 = 4;
export const AES_256_GCM_SHA512_128 = 5;

/** The suite Sotto uses unless configured otherwise. */
export const DEFAULT_CIPHER_SUITE: CipherSuiteId = AES_128_GCM_SHA256_128;

const SUITES: Readonly<Record<CipherSuiteId, CipherSuite>> = {
  1: { id: 1, name: 'AES_128_CTR_HMAC_SHA256_80', hash: 'SHA-256', aead: 'aes-ctr-hmac', nh: 32, nka: 16, nk: 48, nn: 12, nt: 10 },
  2: { id: 2, name: 'AES_128_CTR_HMAC_SHA256_64', hash: 'SHA-256', aead: 'aes-ctr-hmac', nh: 32, nka: 16, nk: 48, nn: 12, nt: 8 },
  3: { id: 3, name: 'AES_128_CTR_HMAC_SHA256_32', hash: 'SHA-256', aead: 'aes-ctr-hmac', nh: 32, nka: 16, nk: 48, nn: 12, nt: 4 },
  4: { id: 4, name: 'AES_128_GCM_SHA256_128', hash: 'SHA-256', aead: 'aes-gcm', nh: 32, nka: 0, nk: 16, nn: 12, nt: 16 },
  5: { id: 5, name: 'AES_256_GCM_SHA512_128', hash: 'SHA-512', aead: 'aes-gcm', nh: 64, nka: 0, nk: 32, nn: 12, nt: 16 },
};

export function isCipherSuiteId(id: unknown): id is CipherSuiteId {
  return id === 1 || id === 2 || id === 3 || id === 4 || id === 5;
}

/** The constants of a suite; throws on an identifier this implementation does not support. */
export function cipherSuite(id: number): CipherSuite {
  if (!isCipherSuiteId(id)) throw new RangeError(`unsupported SFrame cipher suite ${id}`);
  return SUITES[id];
}
