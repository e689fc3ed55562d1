/**
 * An unknown user must cost exactly what a wrong password costs, so that neither the result nor
 * the time to compute it tells which usernames exist. Counted here as the crypto operations the
 * digest module performs (node:crypto wrapped with counters).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ hash: 0, createHmac: 0, timingSafeEqual: 0 }));

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    hash: ((...args: Parameters<typeof real.hash>) => {
      calls.hash++;
      return real.hash(...args);
    }) as typeof real.hash,
    createHmac: ((...args: Parameters<typeof real.createHmac>) => {
      calls.createHmac++;
      return real.createHmac(...args);
    }) as typeof real.createHmac,
    timingSafeEqual: ((...args: Parameters<typeof real.timingSafeEqual>) => {
      calls.timingSafeEqual++;
      return real.timingSafeEqual(...args);
    }) as typeof real.timingSafeEqual,
  };
});

const { DigestAuthenticator, parseDigestCredentials, computeDigestResponse } = await import('../../../server/src/auth/digest.ts');
const { computeHa1 } = await import('../../../server/src/auth/password.ts');

const REALM = 'sotto.example';
const T0 = 1_750_000_000_000;
const HA1_ALICE = computeHa1('SHA-256', 'alice', REALM, 'correct horse battery');

function credentials(challenge: string, username: string, ha1: string): string {
  const nonce = parseDigestCredentials(challenge)!.get('nonce')!;
  const response = computeDigestResponse({
    algorithm: 'SHA-256',
    ha1,
    nonce,
    nc: '00000001',
    cnonce: 'c0ffee',
    qop: 'auth',
    method: 'REGISTER',
    uri: 'sip:sotto.example',
  });
  return `Digest username="${username}", realm="${REALM}", nonce="${nonce}", uri="sip:sotto.example", response="${response}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c0ffee"`;
}

describe('unknown user vs wrong password', () => {
  let lookups: string[];
  let auth: InstanceType<typeof DigestAuthenticator>;
  beforeEach(() => {
    lookups = [];
    auth = new DigestAuthenticator({
      realm: REALM,
      lookupHa1: (u) => {
        lookups.push(u);
        return u === 'alice' ? HA1_ALICE : undefined;
      },
    });
  });

  function measure(header: string) {
    calls.hash = calls.createHmac = calls.timingSafeEqual = 0;
    const result = auth.verify({ method: 'REGISTER', uri: 'sip:sotto.example', credentials: [header] }, T0);
    return { result, ...calls };
  }

  it('same result, same lookups, same crypto work', () => {
    const wrongHa1 = computeHa1('SHA-256', 'x', REALM, 'not the password');
    const challenge = auth.challenges(T0)[0]!;
    const wrongPassword = measure(credentials(challenge, 'alice', wrongHa1));
    const unknownUser = measure(credentials(challenge, 'nobody', wrongHa1));
    expect(wrongPassword.result).toEqual({ kind: 'failed', reason: 'bad-credentials' });
    expect(unknownUser).toEqual(wrongPassword);
    expect(lookups).toEqual(['alice', 'nobody']);
    // And the successful path does the same work too.
    const ok = measure(credentials(challenge, 'alice', HA1_ALICE));
    expect(ok.result).toMatchObject({ kind: 'ok' });
    expect({ ...ok, result: null }).toEqual({ ...wrongPassword, result: null });
    // HA2 + response, one HMAC for the nonce (two hashes), two constant-time compares (nonce MAC, response).
    expect(wrongPassword).toMatchObject({ hash: 4, createHmac: 0, timingSafeEqual: 2 });
  });

  it('with an expired nonce too', () => {
    const challenge = auth.challenges(T0 - 400_000)[0]!;
    const a = measure(credentials(challenge, 'alice', computeHa1('SHA-256', 'x', REALM, 'nope nope')));
    const b = measure(credentials(challenge, 'nobody', computeHa1('SHA-256', 'x', REALM, 'nope nope')));
    expect(a).toEqual(b);
    expect(a.result).toEqual({ kind: 'failed', reason: 'bad-credentials' });
  });
});
