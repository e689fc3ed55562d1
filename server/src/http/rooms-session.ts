/**
 * Sessions for the web client's group calls: the page exchanges the user's SIP username and
 * password (the same accounts as SIP) for a short-lived token, which it presents in the room
 * signalling's `join`. Pure apart from node:crypto; tested in test/unit/sfu/rooms-session.test.ts.
 *
 * The password is checked against the stored HA1 (server/src/auth/password.ts): the store keeps
 * only HA1 = H(username:realm:password), so hashing what the user typed the same way and comparing
 * in constant time checks it without the server ever storing the password. An unknown user costs
 * the same hash and comparison as a known one, so the timing does not tell which accounts exist.
 *
 * Token = base64url(payload) "." base64url(HMAC-SHA256(key, "sotto room session v1\0" payload)),
 * payload = JSON { u: username, e: expiry (ms since epoch) , n: 96-bit nonce }. The key is random
 * per server process: a restart signs everyone out of group calls (not out of SIP), which is
 * acceptable for tokens that live an hour. Tokens are never logged (the logger redacts `token`).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { computeHa1, DIGEST_HEX_LENGTH } from '../auth/password.ts';

export interface Ha1Source {
  getHa1(username: string, algorithm: 'SHA-256'): string | undefined;
}

const LABEL = 'sotto room session v1\0';
const MAX_TOKEN_LENGTH = 512;

export class SessionTokens {
  readonly #key: Buffer;
  readonly #ttlMs: number;

  constructor(ttlMs: number, key: Buffer = randomBytes(32)) {
    if (!(ttlMs > 0)) throw new RangeError('session lifetime must be positive');
    this.#key = key;
    this.#ttlMs = ttlMs;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  issue(username: string, now = Date.now()): { token: string; expiresAt: number } {
    const expiresAt = now + this.#ttlMs;
    const payload = Buffer.from(JSON.stringify({ u: username, e: expiresAt, n: randomBytes(12).toString('base64url') })).toString('base64url');
    return { token: `${payload}.${this.#mac(payload).toString('base64url')}`, expiresAt };
  }

  /** The username of a valid, unexpired token this server issued; null for anything else. */
  verify(token: string, now = Date.now()): string | null {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null;
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
    const payload = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = this.#mac(payload);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return null;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    const { u, e } = (body ?? {}) as { u?: unknown; e?: unknown };
    if (typeof u !== 'string' || typeof e !== 'number' || !(e > now)) return null;
    return u;
  }

  #mac(payload: string): Buffer {
    return createHmac('sha256', this.#key).update(LABEL).update(payload).digest();
  }
}

/** A stand-in HA1 so that unknown users cost the same comparison as known ones. */
const DUMMY_HA1 = '0'.repeat(DIGEST_HEX_LENGTH['SHA-256']);

/** Whether `password` is the user's SIP password, checked against the stored SHA-256 HA1. */
export function verifyPassword(users: Ha1Source, realm: string, username: string, password: string): boolean {
  const stored = users.getHa1(username, 'SHA-256');
  const computed = Buffer.from(computeHa1('SHA-256', username, realm, password), 'utf8');
  const reference = Buffer.from(stored ?? DUMMY_HA1, 'utf8');
  const same = computed.length === reference.length && timingSafeEqual(computed, reference);
  return same && stored !== undefined;
}
