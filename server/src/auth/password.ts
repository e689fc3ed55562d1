/**
 * Digest hash primitives and HA1 computation (RFC 7616 §3.4.2, RFC 8760 §2.1).
 *
 * Sotto never stores a password: the user store keeps only HA1 = H(username ":" realm ":"
 * password) for every algorithm it may challenge with. HA1 is password-equivalent for that
 * realm (anyone holding it can answer a challenge), so it must be protected like a password
 * and never logged. It also depends on the realm: changing the realm invalidates every HA1.
 *
 * This module is pure (node:crypto only, no I/O).
 */
import { hash } from 'node:crypto';

/**
 * The Digest algorithms Sotto implements, by their RFC 7616 §6.1 registry names. RFC 8760
 * §2.1 adds SHA-256 and SHA-512/256 (token "SHA-512-256") to SIP; MD5 stays for the many UAs
 * that know nothing else. The "-sess" variants are not implemented.
 */
export type DigestAlgorithm = 'SHA-256' | 'SHA-512-256' | 'MD5';

/** All implemented algorithms in server preference order (RFC 8760 §2.3: most preferred first). */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze(['SHA-256', 'SHA-512-256', 'MD5']);

/** node:crypto (OpenSSL) names of the hash functions. */
const NODE_HASH: Readonly<Record<DigestAlgorithm, string>> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
};

/** Length of H() output in lower-case hex characters (RFC 8760 §2.2). */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = {
  MD5: 32,
  'SHA-256': 64,
  'SHA-512-256': 64,
};

/**
 * Map an algorithm token as received (RFC 7616 §3.3: the token is case-insensitive) to the
 * implemented algorithm, or undefined ("-sess" variants, unknown names).
 */
export function parseDigestAlgorithm(token: string): DigestAlgorithm | undefined {
  switch (token.toUpperCase()) {
    case 'MD5':
      return 'MD5';
    case 'SHA-256':
      return 'SHA-256';
    case 'SHA-512-256':
      return 'SHA-512-256';
    default:
      return undefined;
  }
}

/** H(data) of RFC 7616 §3.4: the hash of the UTF-8 bytes of `data`, as lower-case hex. */
export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return hash(NODE_HASH[algorithm], data, 'hex');
}

/**
 * HA1 = H(username ":" realm ":" password) (RFC 7616 §3.4.2 for a non "-sess" algorithm,
 * RFC 3261 §22.4 for SIP). Strings are hashed as UTF-8, as RFC 7616 §4 prescribes.
 */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** HA1 for every implemented algorithm, for storing alongside an account. */
export function computeAllHa1(username: string, realm: string, password: string): Record<DigestAlgorithm, string> {
  return {
    'SHA-256': computeHa1('SHA-256', username, realm, password),
    'SHA-512-256': computeHa1('SHA-512-256', username, realm, password),
    MD5: computeHa1('MD5', username, realm, password),
  };
}
