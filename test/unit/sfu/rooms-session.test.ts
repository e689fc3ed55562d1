import { describe, expect, it } from 'vitest';
import { computeHa1 } from '../../../server/src/auth/password.ts';
import { SessionTokens, verifyPassword } from '../../../server/src/http/rooms-session.ts';

describe('group-call session tokens (HMAC-SHA256)', () => {
  const tokens = new SessionTokens(60_000, Buffer.alloc(32, 7));

  it('verifies its own token until it expires', () => {
    const { token, expiresAt } = tokens.issue('alice', 1_000);
    expect(expiresAt).toBe(61_000);
    expect(tokens.verify(token, 1_001)).toBe('alice');
    expect(tokens.verify(token, 60_999)).toBe('alice');
    expect(tokens.verify(token, 61_000)).toBeNull();
  });

  it('two tokens for one user differ (random nonce)', () => {
    expect(tokens.issue('alice').token).not.toBe(tokens.issue('alice').token);
  });

  it('refuses tampered, foreign and malformed tokens', () => {
    const { token } = tokens.issue('alice', 0);
    const [payload, mac] = token.split('.') as [string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ u: 'admin', e: 9e15, n: 'x' })).toString('base64url');
    const other = new SessionTokens(60_000, Buffer.alloc(32, 8));
    for (const bad of [
      `${forgedPayload}.${mac}`,
      // The first character: the last one of a 32-byte base64url MAC carries 2 padding bits, so
      // changing it may decode to the same bytes (and did, 1 run in 16).
      `${payload}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`,
      `${payload}`,
      `${payload}..${mac}`,
      '',
      'a'.repeat(600),
      other.issue('alice', 0).token,
    ]) {
      expect(tokens.verify(bad, 1)).toBeNull();
    }
  });
});

describe('sign-in password check against the stored HA1 (RFC 7616 §3.4.2)', () => {
  const realm = 'example.org';
  const users = {
    getHa1: (u: string) => (u === 'alice' ? computeHa1('SHA-256', 'alice', realm, 'correct horse') : undefined),
  };

  it('accepts the password the HA1 was made from, nothing else', () => {
    expect(verifyPassword(users, realm, 'alice', 'correct horse')).toBe(true);
    expect(verifyPassword(users, realm, 'alice', 'correct horse ')).toBe(false);
    expect(verifyPassword(users, 'other.realm', 'alice', 'correct horse')).toBe(false);
    expect(verifyPassword(users, realm, 'bob', 'correct horse')).toBe(false);
    expect(verifyPassword(users, realm, 'bob', '')).toBe(false);
  });
});
