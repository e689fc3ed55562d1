/**
 * RFC 8760 §2.4 / RFC 3261 §7.3.1: several digest challenges in one 401/407, reordered so that
 * sip.js 0.21 (which keeps only the last one and computes only MD5) keeps the MD5 one.
 */
import { describe, expect, it } from 'vitest';
import { challengeAlgorithm, preferAnswerableChallenge } from '../../../web-client/src/sip/digest-challenges.ts';

const SHA = 'WWW-Authenticate: Digest realm="localhost", nonce="n1", qop="auth", algorithm=SHA-256';
const MD5 = 'WWW-Authenticate: Digest realm="localhost", nonce="n2", qop="auth", algorithm=MD5';

function response(status: string, ...fields: string[]): string {
  return [`SIP/2.0 ${status}`, 'Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1', 'Call-ID: c1', 'CSeq: 1 REGISTER', ...fields, 'Content-Length: 0', '', ''].join('\r\n');
}

/** The challenges of a message in order, as sip.js would see them one after another. */
function challenges(raw: string): string[] {
  return raw.split('\r\n').filter((l) => /^(www|proxy)-authenticate:/i.test(l));
}

describe('challengeAlgorithm', () => {
  it.each([
    ['Digest realm="a", nonce="b", algorithm=SHA-256', 'SHA-256'],
    ['Digest realm="a", algorithm="md5", nonce="b"', 'MD5'],
    ['Digest algorithm=SHA-512-256,realm="a"', 'SHA-512-256'],
    ['Digest realm="a", nonce="b"', 'MD5'],
  ])('%s → %s', (value, algorithm) => {
    expect(challengeAlgorithm(value)).toBe(algorithm);
  });
});

describe('preferAnswerableChallenge', () => {
  it('moves the MD5 challenge of a 401 last, after SHA-256, keeping everything else', () => {
    const raw = response('401 Unauthorized', MD5, SHA);
    const out = preferAnswerableChallenge(raw);
    expect(challenges(out)).toEqual([SHA, MD5]);
    expect(out.split('\r\n').sort()).toEqual(raw.split('\r\n').sort());
    expect(out.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
  });

  it('does the same for Proxy-Authenticate in a 407', () => {
    const p = (s: string) => s.replace('WWW-Authenticate', 'Proxy-Authenticate');
    const out = preferAnswerableChallenge(response('407 Proxy Authentication Required', p(MD5), p(SHA)));
    expect(challenges(out)).toEqual([p(SHA), p(MD5)]);
  });

  it('treats a challenge without algorithm as MD5 (RFC 2617 §3.2.1)', () => {
    const bare = 'WWW-Authenticate: Digest realm="localhost", nonce="n3"';
    expect(challenges(preferAnswerableChallenge(response('401 Unauthorized', bare, SHA)))).toEqual([SHA, bare]);
  });

  it('unfolds a challenge folded over two lines before moving it', () => {
    const raw = response('401 Unauthorized', 'WWW-Authenticate: Digest realm="localhost",\r\n  nonce="n2", algorithm=MD5', SHA);
    expect(challenges(preferAnswerableChallenge(raw))).toEqual([SHA, 'WWW-Authenticate: Digest realm="localhost", nonce="n2", algorithm=MD5']);
  });

  it.each([
    ['an order that already suits sip.js', response('401 Unauthorized', SHA, MD5)],
    ['a single challenge', response('401 Unauthorized', SHA)],
    ['no MD5 challenge at all', response('401 Unauthorized', SHA, SHA.replace('SHA-256', 'SHA-512-256'))],
    ['a response that is not 401/407', response('200 OK', MD5, SHA)],
    ['a request', 'INVITE sip:bob@localhost SIP/2.0\r\n' + MD5 + '\r\n' + SHA + '\r\n\r\n'],
  ])('leaves %s as it is', (_what, raw) => {
    const out = preferAnswerableChallenge(raw);
    expect(challenges(out)).toEqual(challenges(raw));
  });

  it('keeps the body after the header section untouched', () => {
    const raw = response('401 Unauthorized', MD5, SHA).replace(/\r\n\r\n$/, '\r\n\r\nbody\r\n\r\nmore');
    expect(preferAnswerableChallenge(raw).endsWith('\r\n\r\nbody\r\n\r\nmore')).toBe(true);
  });
});
