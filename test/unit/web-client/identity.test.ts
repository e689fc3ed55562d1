/** Caller identity as shown: RFC 3323 §4.1.1.3 anonymous callers, unsafe display names. */
import { describe, expect, it } from 'vitest';
import { cleanDisplayName, identityOf } from '../../../web-client/src/sip/identity.ts';

const uri = (user: string | undefined, host: string) => ({ scheme: 'sip', user, host });

describe('identityOf', () => {
  it('shows the display name, keeping the full URI', () => {
    expect(identityOf('Alice Liddell', uri('alice', 'example.org'), 'example.org')).toEqual({
      label: 'Alice Liddell',
      uri: 'sip:alice@example.org',
      user: 'alice',
      anonymous: false,
    });
  });

  it('falls back to the user part for our own domain, to user@host for others', () => {
    expect(identityOf(undefined, uri('bob', 'example.org'), 'example.org').label).toBe('bob');
    expect(identityOf('', uri('bob', 'elsewhere.net'), 'example.org')).toMatchObject({ label: 'bob@elsewhere.net', user: '' });
  });

  it.each([
    ['"Anonymous" <sip:anonymous@anonymous.invalid>', 'Anonymous', uri('anonymous', 'anonymous.invalid')],
    ['anonymous.invalid host only', 'Someone', uri('x', 'anonymous.invalid')],
    ['anonymous user part', undefined, uri('anonymous', 'example.org')],
    ['display name "anonymous"', 'anonymous', uri('mallory', 'example.org')],
  ])('%s is Anonymous, with nothing else shown', (_what, name, u) => {
    expect(identityOf(name, u, 'example.org')).toEqual({ label: 'Anonymous', uri: '', user: '', anonymous: true });
  });
});

describe('cleanDisplayName', () => {
  it('removes bidi overrides, controls and zero-width characters', () => {
    expect(cleanDisplayName('\u202eevil\u202c\u0000 \u200bname')).toBe('evil name');
  });
  it('collapses white space and cuts long names', () => {
    expect(cleanDisplayName('  a \t b  ')).toBe('a b');
    const long = cleanDisplayName('x'.repeat(200));
    expect(long).toHaveLength(64);
    expect(long.endsWith('…')).toBe(true);
  });
});
