import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  computeDigestResponse,
  DigestAuthenticator,
  type DigestAlgorithm,
  type DigestOptions,
  DigestParseError,
  HmacSha256,
  NonceCountTracker,
  parseDigestCredentials,
} from '../../../server/src/auth/digest.ts';
import { computeAllHa1, computeHa1, digestHash, parseDigestAlgorithm } from '../../../server/src/auth/password.ts';
import { getHeaderLines, type SipRequest } from '../../../server/src/sip/message.ts';

/* ---------------------------------------------------------------------------------------- */
/* A UA written independently of the server code: plain createHash, no shared helpers.      */
/* ---------------------------------------------------------------------------------------- */

const NODE_HASH: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };
const H = (alg: string, s: string) => createHash(NODE_HASH[alg]!).update(s, 'utf8').digest('hex');

interface Answer {
  challenge: string;
  username?: string;
  password?: string;
  method?: string;
  uri?: string;
  digestUri?: string;
  nc?: string;
  cnonce?: string;
  realm?: string;
  qop?: string | null;
  algorithmParam?: string | null;
  nonce?: string;
  opaque?: string | null;
  response?: string;
}

/** Build an Authorization value answering `challenge` the way a SIP UA does (RFC 3261 §22.4, RFC 7616 §3.4). */
function answer(a: Answer): string {
  const ch = parseDigestCredentials(a.challenge)!;
  const algorithm = ch.get('algorithm') ?? 'MD5';
  const realm = a.realm ?? ch.get('realm')!;
  const username = a.username ?? 'alice';
  const password = a.password ?? PASSWORD;
  const nonce = a.nonce ?? ch.get('nonce')!;
  const uri = a.digestUri ?? a.uri ?? REQUEST_URI;
  const method = a.method ?? 'REGISTER';
  const nc = a.nc ?? '00000001';
  const cnonce = a.cnonce ?? '0a4f113b';
  const qop = a.qop === undefined ? 'auth' : a.qop;
  const ha1 = H(algorithm, `${username}:${realm}:${password}`);
  const ha2 = H(algorithm, `${method}:${uri}`);
  const response =
    a.response ?? (qop === null ? H(algorithm, `${ha1}:${nonce}:${ha2}`) : H(algorithm, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`));
  const parts = [`username="${username}"`, `realm="${realm}"`, `nonce="${nonce}"`, `uri="${uri}"`, `response="${response}"`];
  const alg = a.algorithmParam === undefined ? algorithm : a.algorithmParam;
  if (alg !== null) parts.push(`algorithm=${alg}`);
  if (qop !== null) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  const opaque = a.opaque === undefined ? ch.get('opaque') : a.opaque;
  if (opaque !== null && opaque !== undefined) parts.push(`opaque="${opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

const REALM = 'sotto.example';
const PASSWORD = 'correct horse battery';
const REQUEST_URI = 'sip:sotto.example';
const SECRET = Buffer.alloc(32, 7);
const T0 = 1_750_000_000_000;

function setup(options: Partial<DigestOptions> = {}) {
  const users = new Map([['alice', PASSWORD]]);
  const lookups: string[] = [];
  const auth = new DigestAuthenticator({
    realm: REALM,
    secret: SECRET,
    lookupHa1: (username, algorithm) => {
      lookups.push(`${username}/${algorithm}`);
      const pw = users.get(username);
      return pw === undefined ? undefined : computeHa1(algorithm, username, REALM, pw);
    },
    ...options,
  });
  const verify = (credentials: string[], now = T0, uri = REQUEST_URI, method = 'REGISTER') =>
    auth.verify({ method, uri, credentials }, now);
  return { auth, lookups, verify, users };
}

/** The challenge for one algorithm out of a challenge set. */
function challengeFor(challenges: string[], algorithm: DigestAlgorithm): string {
  const c = challenges.find((v) => parseDigestCredentials(v)!.get('algorithm') === algorithm);
  if (!c) throw new Error(`no ${algorithm} challenge`);
  return c;
}

/* ---------------------------------------------------------------------------------------- */

describe('RFC 7616 §3.9.1 example (Mufasa / "Circle of Life", http-auth@example.org)', () => {
  // The Authorization values printed in RFC 7616 §3.9.1 (GET /dir/index.html).
  const common = {
    realm: 'http-auth@example.org',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: '00000001',
    qop: 'auth',
    method: 'GET',
    uri: '/dir/index.html',
  };
  const rfcHeader = (alg: string, response: string) =>
    `Digest username="Mufasa",\r\n    realm="http-auth@example.org",\r\n    uri="/dir/index.html",\r\n    algorithm=${alg},\r\n` +
    `    nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n    nc=00000001,\r\n` +
    `    cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",\r\n    qop=auth,\r\n    response="${response}",\r\n` +
    `    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;

  it.each([
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ] as const)('%s response is the one printed in the RFC', (algorithm, printed) => {
    const ha1 = computeHa1(algorithm, 'Mufasa', common.realm, 'Circle of Life');
    expect(computeDigestResponse({ algorithm, ha1, ...common })).toBe(printed);
    // And the RFC's header, folded over lines as printed, parses to the same values.
    const params = parseDigestCredentials(rfcHeader(algorithm, printed))!;
    expect(params.get('response')).toBe(printed);
    expect(params.get('nonce')).toBe(common.nonce);
    expect(params.get('uri')).toBe(common.uri);
  });

  it('the server recognises the right password but refuses the foreign nonce as stale', () => {
    const auth = new DigestAuthenticator({
      realm: 'http-auth@example.org',
      algorithms: ['SHA-256', 'MD5'],
      uriMatch: 'exact',
      lookupHa1: (u, a) => (u === 'Mufasa' ? computeHa1(a, u, 'http-auth@example.org', 'Circle of Life') : undefined),
    });
    const req = { method: 'GET', uri: '/dir/index.html' };
    const sha = rfcHeader('SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    const md5 = rfcHeader('MD5', '8ca523f5e9506fed4657c9700eebdbec');
    // The digest is right, the nonce and opaque were not issued by this server: stale, never ok.
    expect(auth.verify({ ...req, credentials: [sha] }, T0)).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    expect(auth.verify({ ...req, credentials: [md5] }, T0)).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    const wrong = rfcHeader('MD5', '8ca523f5e9506fed4657c9700eebdbee');
    expect(auth.verify({ ...req, credentials: [wrong] }, T0)).toEqual({ kind: 'failed', reason: 'bad-credentials' });
  });
});

describe('hand-computed SIP REGISTER example', () => {
  // alice / "correct horse battery" in realm sotto.example, REGISTER sip:sotto.example,
  // nonce 4sQ3dGh1c2V0aGlzbm9uY2U, nc 00000001, cnonce 0a4f113b, qop auth.
  // Values computed with the openssl command line, independently of this code base:
  //   printf '%s' 'alice:sotto.example:correct horse battery' | openssl dgst -sha256 -r
  const expected = {
    MD5: {
      ha1: '2d6874933efe3c549a44511cc9a1d929',
      ha2: 'f315dd5f6174160390cabc2d02aadb49',
      response: '26940812d4c621e5ab7c83a48006daf7',
    },
    'SHA-256': {
      ha1: '2a9ed9867ff77d0ac8b9f2bb010d4b21ec523594452091c0607b4a6e85160445',
      ha2: '0b97bd6816c275b9fa4ae723f1e4ad60bc7b480829ad69df02d8078d5734b66a',
      response: '1602bfbc1e5bc8527b90846689e5881c7cbe7a93b6a4c76fc4a914d9ebbcfd01',
    },
    'SHA-512-256': {
      ha1: 'd72b53c675c15b43c18901878d6db98769510af5b4bc11dc639a0ca2a6921be9',
      ha2: '33a3a2675204cac2652bb4ab63f2057a89780dd3bd2b5daed2702fee05aabc8e',
      response: '5c50ef56ad0a6d305a4ff5c596c9ac2bd2cb366cda4159599d1deeeb6398cb3f',
    },
  } as const;

  it.each(Object.entries(expected))('%s', (alg, v) => {
    const algorithm = alg as DigestAlgorithm;
    expect(computeHa1(algorithm, 'alice', 'sotto.example', 'correct horse battery')).toBe(v.ha1);
    expect(digestHash(algorithm, 'REGISTER:sip:sotto.example')).toBe(v.ha2);
    expect(
      computeDigestResponse({
        algorithm,
        ha1: v.ha1,
        nonce: '4sQ3dGh1c2V0aGlzbm9uY2U',
        nc: '00000001',
        cnonce: '0a4f113b',
        qop: 'auth',
        method: 'REGISTER',
        uri: 'sip:sotto.example',
      }),
    ).toBe(v.response);
    expect(computeAllHa1('alice', 'sotto.example', 'correct horse battery')[algorithm]).toBe(v.ha1);
  });

  it('SHA-512/256 is the FIPS 180-4 function (not truncated SHA-512)', () => {
    expect(digestHash('SHA-512-256', 'abc')).toBe('53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
  });

  it('algorithm tokens are case-insensitive; -sess and unknown ones are not implemented', () => {
    expect(parseDigestAlgorithm('sha-256')).toBe('SHA-256');
    expect(parseDigestAlgorithm('md5')).toBe('MD5');
    expect(parseDigestAlgorithm('SHA-512-256')).toBe('SHA-512-256');
    expect(parseDigestAlgorithm('MD5-sess')).toBeUndefined();
    expect(parseDigestAlgorithm('SHA-1')).toBeUndefined();
  });
});

describe('challenges (RFC 3261 §22.1, RFC 7616 §3.3, RFC 8760 §2.3)', () => {
  it('one challenge per algorithm, SHA-256 first, with realm, nonce, opaque and qop="auth"', () => {
    const { auth } = setup();
    const values = auth.challenges(T0);
    expect(values).toHaveLength(2);
    const [first, second] = values.map((v) => parseDigestCredentials(v)!);
    expect(first!.get('algorithm')).toBe('SHA-256');
    expect(second!.get('algorithm')).toBe('MD5');
    for (const p of [first!, second!]) {
      expect(p.get('realm')).toBe(REALM);
      expect(p.get('qop')).toBe('auth');
      expect(p.get('opaque')).toMatch(/^[A-Za-z0-9_-]{16}$/);
      expect(p.get('nonce')).toMatch(/^[A-Za-z0-9_-]{35}$/);
      expect(p.has('stale')).toBe(false);
    }
    expect(first!.get('nonce')).toBe(second!.get('nonce'));
    expect(values[0]).toMatch(/^Digest realm="sotto\.example", nonce="[^"]+", opaque="[^"]+", algorithm=SHA-256, qop="auth"$/);
  });

  it('emits one challenge per configured algorithm in the configured order (RFC 8760 §2.4: the UA takes the first it supports)', () => {
    const { auth } = setup({ algorithms: ['MD5', 'SHA-512-256', 'SHA-256', 'MD5'] });
    expect(auth.algorithms).toEqual(['MD5', 'SHA-512-256', 'SHA-256']);
    expect(auth.challenges(T0).map((v) => parseDigestCredentials(v)!.get('algorithm'))).toEqual(['MD5', 'SHA-512-256', 'SHA-256']);
    expect(setup().auth.algorithms).toEqual(['SHA-256', 'MD5']);
  });

  it('accepts a digest-uri the configured matcher accepts, and refuses others', () => {
    const { auth, verify } = setup({ uriMatch: (d: string) => d === 'sip:proxy.example.org' });
    const challenge = challengeFor(auth.challenges(T0), 'MD5');
    expect(verify([answer({ challenge, digestUri: 'sip:proxy.example.org' })]).kind).toBe('ok');
    expect(verify([answer({ challenge, digestUri: 'sip:other.example.org', nc: '00000002' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
  });

  it('every challenge carries a fresh nonce', () => {
    const { auth } = setup();
    const nonces = new Set(Array.from({ length: 100 }, () => parseDigestCredentials(auth.challenges(T0)[0]!)!.get('nonce')));
    expect(nonces.size).toBe(100);
  });

  it('stale=true when asked', () => {
    const { auth } = setup();
    for (const v of auth.challenges(T0, { stale: true })) expect(parseDigestCredentials(v)!.get('stale')).toBe('true');
  });

  it('401 carries WWW-Authenticate, 407 Proxy-Authenticate', () => {
    const { auth } = setup();
    expect(auth.challengeHeaders(401, T0).map((h) => h.name)).toEqual(['WWW-Authenticate', 'WWW-Authenticate']);
    expect(auth.challengeHeaders(407, T0).map((h) => h.name)).toEqual(['Proxy-Authenticate', 'Proxy-Authenticate']);
    const res = auth.challengeResponse(registerRequest([]), 401, T0);
    expect(res.status).toBe(401);
    expect(res.reason).toBe('Unauthorized');
    expect(getHeaderLines(res, 'WWW-Authenticate')).toHaveLength(2);
    expect(getHeaderLines(res, 'Call-ID')).toEqual(['c1@ua']);
  });

  it('escapes the realm in the quoted-string', () => {
    const auth = new DigestAuthenticator({ realm: 'a "quoted" \\ realm', lookupHa1: () => undefined });
    expect(parseDigestCredentials(auth.challenges(T0)[0]!)!.get('realm')).toBe('a "quoted" \\ realm');
    expect(() => new DigestAuthenticator({ realm: 'bad\r\nrealm', lookupHa1: () => undefined })).toThrow(TypeError);
    expect(() => new DigestAuthenticator({ realm: 'r', lookupHa1: () => undefined, secret: Buffer.alloc(16) })).toThrow(RangeError);
  });
});

function registerRequest(authorization: string[], header = 'Authorization'): SipRequest {
  return {
    kind: 'request',
    method: 'REGISTER',
    uri: REQUEST_URI,
    headers: [
      { name: 'Via', value: 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds' },
      { name: 'From', value: '<sip:alice@sotto.example>;tag=1928301774' },
      { name: 'To', value: '<sip:alice@sotto.example>' },
      { name: 'Call-ID', value: 'c1@ua' },
      { name: 'CSeq', value: '2 REGISTER' },
      ...authorization.map((value) => ({ name: header, value })),
    ],
    body: Buffer.alloc(0),
  };
}

describe('verify', () => {
  it('missing credentials → missing; a good answer → ok, for every algorithm', () => {
    const { auth, verify } = setup({ algorithms: ['SHA-256', 'SHA-512-256', 'MD5'] });
    expect(verify([])).toEqual({ kind: 'missing' });
    expect(verify(['Basic YWxpY2U6cGFzc3dvcmQ='])).toEqual({ kind: 'missing' });
    // One nonce per challenge set; each algorithm answered on its own nonce.
    const c = auth.challenges(T0);
    expect(verify([answer({ challenge: challengeFor(c, 'SHA-256') })])).toMatchObject({ kind: 'ok', algorithm: 'SHA-256' });
    const c2 = auth.challenges(T0);
    expect(verify([answer({ challenge: challengeFor(c2, 'SHA-512-256') })])).toMatchObject({ kind: 'ok', algorithm: 'SHA-512-256' });
    const c3 = auth.challenges(T0);
    expect(verify([answer({ challenge: challengeFor(c3, 'MD5') })])).toMatchObject({ kind: 'ok', algorithm: 'MD5' });
  });

  it('verifyRequest reads Authorization, or Proxy-Authorization for a proxy', () => {
    const { auth } = setup();
    const challenge = auth.challenges(T0)[0]!;
    expect(auth.verifyRequest(registerRequest([answer({ challenge })]), T0)).toMatchObject({ kind: 'ok', username: 'alice' });
    const proxied = registerRequest([answer({ challenge, nc: '00000002' })], 'Proxy-Authorization');
    expect(auth.verifyRequest(proxied, T0)).toEqual({ kind: 'missing' });
    expect(auth.verifyRequest(proxied, T0, 'Proxy-Authorization')).toMatchObject({ kind: 'ok' });
  });

  it('wrong password → failed(bad-credentials)', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    expect(verify([answer({ challenge, password: 'correct horse battery!' })])).toEqual({ kind: 'failed', reason: 'bad-credentials' });
  });

  it('unknown user → the same failed(bad-credentials), after the same HA1 lookup', () => {
    const { auth, verify, lookups } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const wrongPassword = verify([answer({ challenge, password: 'nope nope nope' })]);
    const unknownUser = verify([answer({ challenge, username: 'mallory', password: 'nope nope nope' })]);
    expect(unknownUser).toEqual(wrongPassword);
    expect(lookups).toEqual(['alice/SHA-256', 'mallory/SHA-256']);
    // Even a response that happens to be "right" for a user that does not exist never passes.
    const { auth: a2, verify: v2, users } = setup();
    users.delete('alice');
    expect(v2([answer({ challenge: a2.challenges(T0)[0]! })])).toEqual({ kind: 'failed', reason: 'bad-credentials' });
  });

  it('credentials for another realm are someone else\'s (RFC 3261 §22.3): ignored', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const other = answer({ challenge, realm: 'other.example' });
    expect(verify([other])).toEqual({ kind: 'missing' });
    expect(verify([other, answer({ challenge })])).toMatchObject({ kind: 'ok' });
  });

  it('digest-uri must designate the Request-URI (RFC 7616 §3.4.6)', () => {
    const { auth, verify } = setup();
    const c = () => auth.challenges(T0)[0]!;
    expect(verify([answer({ challenge: c(), digestUri: 'sip:evil.example' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    expect(verify([answer({ challenge: c(), digestUri: 'sips:sotto.example' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    expect(verify([answer({ challenge: c(), digestUri: 'sip:sotto.example:5060' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    // 'equivalent' (default): RFC 3261 §19.1.4 equivalence, e.g. host case and an unknown parameter.
    expect(verify([answer({ challenge: c(), digestUri: 'SIP:Sotto.Example' })])).toMatchObject({ kind: 'ok' });
    expect(verify([answer({ challenge: c(), digestUri: 'sip:sotto.example;foo=bar' })])).toMatchObject({ kind: 'ok' });
    expect(verify([answer({ challenge: c(), digestUri: 'sip:sotto.example;transport=tcp' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    expect(verify([answer({ challenge: c(), digestUri: 'sip:alice@sotto.example' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    expect(verify([answer({ challenge: c(), digestUri: 'not a uri' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    // Escaping and parameter order do not matter either.
    const ruri = 'sip:%61lice@sotto.example;transport=tcp;lr';
    expect(verify([answer({ challenge: c(), digestUri: 'sip:alice@SOTTO.example;lr;Transport=TCP' })], T0, ruri)).toMatchObject({ kind: 'ok' });
  });

  it("uriMatch 'exact' and 'off'", () => {
    const exact = setup({ uriMatch: 'exact' });
    expect(exact.verify([answer({ challenge: exact.auth.challenges(T0)[0]!, digestUri: 'SIP:Sotto.Example' })])).toEqual({ kind: 'failed', reason: 'uri-mismatch' });
    expect(exact.verify([answer({ challenge: exact.auth.challenges(T0)[0]! })])).toMatchObject({ kind: 'ok' });
    const off = setup({ uriMatch: 'off' });
    // The response is computed over the digest-uri the UA sent, whatever the Request-URI.
    expect(off.verify([answer({ challenge: off.auth.challenges(T0)[0]!, digestUri: 'sip:elsewhere.example' })])).toMatchObject({ kind: 'ok' });
  });

  it('expired nonce → stale(expired) with the right password, failed otherwise', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    expect(verify([answer({ challenge })], T0 + 299_999)).toMatchObject({ kind: 'ok' });
    expect(verify([answer({ challenge, nc: '00000002' })], T0 + 300_000)).toEqual({ kind: 'stale', reason: 'expired' });
    expect(verify([answer({ challenge, nc: '00000003', password: 'wrong password' })], T0 + 300_000)).toEqual({ kind: 'failed', reason: 'bad-credentials' });
    // A UA answering a stale challenge with its fresh nonce gets in.
    const fresh = auth.challenges(T0 + 300_000, { stale: true })[0]!;
    expect(verify([answer({ challenge: fresh })], T0 + 300_001)).toMatchObject({ kind: 'ok' });
  });

  it('nonceTtlMs is configurable', () => {
    const { auth, verify } = setup({ nonceTtlMs: 10_000 });
    const challenge = auth.challenges(T0)[0]!;
    expect(verify([answer({ challenge })], T0 + 10_000)).toEqual({ kind: 'stale', reason: 'expired' });
  });

  it('each (nonce, nc) is accepted once and nc must increase', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const first = answer({ challenge });
    expect(verify([first])).toMatchObject({ kind: 'ok' });
    expect(verify([first], T0 + 1)).toEqual({ kind: 'stale', reason: 'replayed' });
    expect(verify([answer({ challenge, nc: '00000002' })], T0 + 2)).toMatchObject({ kind: 'ok' });
    // Gaps are fine (a lost request), going back is not.
    expect(verify([answer({ challenge, nc: '0000000a' })], T0 + 3)).toMatchObject({ kind: 'ok' });
    expect(verify([answer({ challenge, nc: '00000009' })], T0 + 4)).toEqual({ kind: 'stale', reason: 'replayed' });
    expect(verify([answer({ challenge, nc: '0000000A' })], T0 + 5)).toEqual({ kind: 'stale', reason: 'replayed' });
    expect(verify([answer({ challenge, nc: '0000000B' })], T0 + 6)).toMatchObject({ kind: 'ok' });
    // A replay with a wrong response is just a failure, and does not advance the count.
    expect(verify([answer({ challenge, nc: '000000ff', password: 'guess guess' })], T0 + 7)).toEqual({ kind: 'failed', reason: 'bad-credentials' });
    expect(verify([answer({ challenge, nc: '0000000c' })], T0 + 8)).toMatchObject({ kind: 'ok' });
    // The same nc on another nonce is independent.
    expect(verify([answer({ challenge: auth.challenges(T0)[0]! })], T0 + 9)).toMatchObject({ kind: 'ok' });
  });

  it('tampered nonce: a MAC failure is never accepted', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const nonce = parseDigestCredentials(challenge)!.get('nonce')!;
    const flipped = nonce.slice(0, 3) + (nonce[3] === 'A' ? 'B' : 'A') + nonce.slice(4);
    const original = parseDigestCredentials(answer({ challenge }))!.get('response')!;
    // An attacker who changes the nonce but cannot recompute the response.
    expect(verify([answer({ challenge, nonce: flipped, response: original })])).toEqual({ kind: 'failed', reason: 'bad-credentials' });
    // A UA that knows the password and answers over a nonce we did not sign (or whose time was altered).
    expect(verify([answer({ challenge, nonce: flipped })])).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    expect(verify([answer({ challenge, nonce: `${nonce}A` })])).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    expect(verify([answer({ challenge, nonce: 'short' })])).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    expect(verify([answer({ challenge, opaque: 'not-ours' })])).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    // Opaque left out by the UA is tolerated (the nonce carries its own MAC).
    expect(verify([answer({ challenge, opaque: null })])).toMatchObject({ kind: 'ok' });
  });

  it('nonces signed with another secret, or for another realm, are invalid', () => {
    const { verify } = setup();
    const otherSecret = setup({ secret: Buffer.alloc(32, 8) }).auth.challenges(T0)[0]!;
    expect(verify([answer({ challenge: otherSecret })])).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    const otherRealm = new DigestAuthenticator({ realm: 'other.example', secret: SECRET, lookupHa1: () => undefined });
    const nonce = parseDigestCredentials(otherRealm.challenges(T0)[0]!)!.get('nonce')!;
    expect(verify([answer({ challenge: setup().auth.challenges(T0)[0]!, nonce, opaque: null })])).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
  });

  it('a nonce from the future is invalid', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0 + 60_000)[0]!;
    expect(verify([answer({ challenge })], T0)).toEqual({ kind: 'stale', reason: 'invalid-nonce' });
    expect(verify([answer({ challenge })], T0 + 56_000)).toMatchObject({ kind: 'ok' });
  });

  it('refuses RFC 2069 credentials, auth-int, -sess, algorithms not offered, userhash', () => {
    const { auth, verify } = setup();
    const c = () => auth.challenges(T0)[0]!;
    expect(verify([answer({ challenge: c(), qop: null })])).toEqual({ kind: 'failed', reason: 'missing-qop' });
    expect(verify([answer({ challenge: c(), qop: 'auth-int' })])).toEqual({ kind: 'failed', reason: 'unsupported-qop' });
    expect(verify([answer({ challenge: c(), algorithmParam: 'MD5-sess' })])).toEqual({ kind: 'failed', reason: 'unsupported-algorithm' });
    expect(verify([answer({ challenge: c(), algorithmParam: 'SHA-512-256' })])).toEqual({ kind: 'failed', reason: 'unsupported-algorithm' });
    expect(verify([answer({ challenge: c() }).replace('Digest ', 'Digest userhash=true, ')])).toEqual({ kind: 'failed', reason: 'unsupported-userhash' });
  });

  it('no algorithm parameter means MD5 (RFC 7616 §3.4), refused if MD5 is not offered', () => {
    const md5 = setup();
    expect(md5.verify([answer({ challenge: challengeFor(md5.auth.challenges(T0), 'MD5'), algorithmParam: null })])).toMatchObject({ kind: 'ok', algorithm: 'MD5' });
    const shaOnly = setup({ algorithms: ['SHA-256'] });
    const c = shaOnly.auth.challenges(T0);
    expect(c).toHaveLength(1);
    const md5Answer = answer({ challenge: c[0]!.replace('algorithm=SHA-256', 'algorithm=MD5'), algorithmParam: null });
    expect(shaOnly.verify([md5Answer])).toEqual({ kind: 'failed', reason: 'unsupported-algorithm' });
  });

  it('malformed credentials → failed(malformed)', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const good = answer({ challenge });
    expect(verify(['Digest'])).toEqual({ kind: 'failed', reason: 'malformed' });
    expect(verify(['Digest username="alice", realm="sotto.example"'])).toEqual({ kind: 'failed', reason: 'malformed' });
    expect(verify([good.replace('nc=00000001', 'nc=1')])).toEqual({ kind: 'failed', reason: 'malformed' });
    expect(verify([good.replace('nc=00000001', 'nc=00000000')])).toEqual({ kind: 'failed', reason: 'malformed' });
    expect(verify([good.replace(/response="[0-9a-f]+"/, 'response="abc"')])).toEqual({ kind: 'failed', reason: 'malformed' });
    expect(verify([good.replace('cnonce="0a4f113b"', 'cnonce=""')])).toEqual({ kind: 'failed', reason: 'malformed' });
    expect(verify([`${good}, nc=00000002`])).toEqual({ kind: 'failed', reason: 'malformed' });
  });

  it('tolerates upper-case hex in the response and a quoted qop', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const good = answer({ challenge });
    const upper = good.replace(/response="([0-9a-f]+)"/, (_m, r: string) => `response="${r.toUpperCase()}"`);
    expect(verify([upper])).toMatchObject({ kind: 'ok' });
    expect(verify([answer({ challenge, nc: '00000002' }).replace('qop=auth', 'qop="auth"')])).toMatchObject({ kind: 'ok' });
  });

  it('several credentials for our realm: the first acceptable wins; the number checked is capped', () => {
    const { auth, verify, lookups } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const bad = answer({ challenge, password: 'wrong password' });
    expect(verify([bad, answer({ challenge })])).toMatchObject({ kind: 'ok' });
    lookups.length = 0;
    const many = Array.from({ length: 10 }, (_, k) => answer({ challenge, nc: (100 + k).toString(16).padStart(8, '0'), password: 'guess' }));
    expect(verify([...many, answer({ challenge, nc: '00000fff' })])).toEqual({ kind: 'failed', reason: 'bad-credentials' });
    expect(lookups).toHaveLength(4);
  });

  it('results never carry secrets', () => {
    const { auth, verify } = setup();
    const challenge = auth.challenges(T0)[0]!;
    const header = answer({ challenge });
    const p = parseDigestCredentials(header)!;
    const secrets = [p.get('nonce')!, p.get('response')!, p.get('cnonce')!, PASSWORD, computeHa1('SHA-256', 'alice', REALM, PASSWORD)];
    const results = [verify([header]), verify([header]), verify([answer({ challenge, password: 'x' })]), verify([header], T0 + 400_000)];
    for (const r of results) for (const s of secrets) expect(JSON.stringify(r)).not.toContain(s);
  });
});

describe('nonce-count map memory bounds', () => {
  it('never holds more than maxTrackedNonces, and dropped state never lets a replay through', () => {
    const { auth, verify } = setup({ maxTrackedNonces: 3 });
    const challenges = Array.from({ length: 6 }, (_, k) => auth.challenges(T0 + k)[0]!);
    for (const [k, challenge] of challenges.entries()) {
      expect(verify([answer({ challenge })], T0 + 10 + k)).toMatchObject({ kind: 'ok' });
      expect(auth.trackedNonces).toBeLessThanOrEqual(3);
    }
    // The first three were pushed out: replaying them, or even continuing them, is refused.
    for (const challenge of challenges.slice(0, 3)) {
      expect(verify([answer({ challenge })], T0 + 20)).toEqual({ kind: 'stale', reason: 'replayed' });
      expect(verify([answer({ challenge, nc: '00000002' })], T0 + 20)).toEqual({ kind: 'stale', reason: 'replayed' });
    }
    // The last three are still tracked.
    expect(verify([answer({ challenge: challenges[5]! })], T0 + 21)).toEqual({ kind: 'stale', reason: 'replayed' });
    expect(verify([answer({ challenge: challenges[5]!, nc: '00000002' })], T0 + 21)).toMatchObject({ kind: 'ok' });
    // Nonces issued after the drop work normally.
    expect(verify([answer({ challenge: auth.challenges(T0 + 30)[0]! })], T0 + 31)).toMatchObject({ kind: 'ok' });
    expect(auth.trackedNonces).toBeLessThanOrEqual(3);
  });

  it('expired entries are swept without timers', () => {
    const tracker = new NonceCountTracker(1000, 300_000);
    for (let k = 0; k < 100; k++) expect(tracker.accept(`n${k}`, T0 + k, 1, T0 + k)).toBe(true);
    expect(tracker.size).toBe(100);
    expect(tracker.accept('late', T0 + 300_050, 1, T0 + 300_050)).toBe(true);
    expect(tracker.size).toBe(50);
    expect(tracker.accept('later', T0 + 700_000, 1, T0 + 700_000)).toBe(true);
    expect(tracker.size).toBe(1);
  });

  it('stays bounded under a flood of distinct nonces', () => {
    const tracker = new NonceCountTracker(500, 300_000);
    for (let k = 0; k < 20_000; k++) tracker.accept(`n${k}`, T0 + k, 1, T0 + k);
    expect(tracker.size).toBe(500);
    // Everything older than the kept window is refused, the kept ones continue.
    expect(tracker.accept('n0', T0, 2, T0 + 20_000)).toBe(false);
    expect(tracker.accept('n19999', T0 + 19_999, 2, T0 + 20_000)).toBe(true);
    expect(tracker.accept('n19999', T0 + 19_999, 2, T0 + 20_000)).toBe(false);
  });
});

describe('parseDigestCredentials (RFC 3261 §25.1, RFC 7616 §3.4)', () => {
  it('parses quoted-strings with escapes, tokens, and LWS anywhere', () => {
    const p = parseDigestCredentials(
      ' digest\tusername = "al\\"ice" ,realm="a\\\\b",\r\n nonce="n,o=n\\ce" , uri="sip:x;lr", nc = 00000001,qop=auth , Algorithm=SHA-256',
    )!;
    expect(Object.fromEntries(p)).toEqual({
      username: 'al"ice',
      realm: 'a\\b',
      nonce: 'n,o=nce',
      uri: 'sip:x;lr',
      nc: '00000001',
      qop: 'auth',
      algorithm: 'SHA-256',
    });
  });

  it('accepts an unquoted URI value (lenient)', () => {
    expect(parseDigestCredentials('Digest uri=sip:host.example;transport=tcp, nc=00000001')!.get('uri')).toBe('sip:host.example;transport=tcp');
  });

  it('returns undefined for other schemes', () => {
    expect(parseDigestCredentials('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==')).toBeUndefined();
    expect(parseDigestCredentials('DigestX a=b')).toBeUndefined();
    expect(parseDigestCredentials('')).toBeUndefined();
  });

  it.each([
    ['Digest'],
    ['Digest '],
    ['Digest,username="a"'],
    ['Digest username'],
    ['Digest username="a'],
    ['Digest username="a\\'],
    ['Digest username="a" realm="b"'],
    ['Digest username="a",'],
    ['Digest username="a", username="b"'],
    ['Digest username='],
    ['Digest username=,realm=x'],
    ['Digest =x'],
  ])('rejects %j', (value) => {
    expect(() => parseDigestCredentials(value)).toThrow(DigestParseError);
  });

  it('caps the number of parameters', () => {
    const many = Array.from({ length: 40 }, (_, k) => `p${k}=v`).join(', ');
    expect(() => parseDigestCredentials(`Digest ${many}`)).toThrow(DigestParseError);
  });
});

describe('HmacSha256 (RFC 2104 on one-shot hashes)', () => {
  it('equals node:crypto HMAC-SHA-256', () => {
    for (const keyLength of [0, 1, 32, 63, 64]) {
      const key = randomBytes(keyLength);
      const mac = new HmacSha256(key, 10);
      for (let k = 0; k < 20; k++) {
        const m = randomBytes(10);
        expect(mac.digest(m).equals(createHmac('sha256', key).update(m).digest())).toBe(true);
      }
    }
  });

  it('RFC 4231 test case 2 ("Jefe")', () => {
    const m = Buffer.from('what do ya want for nothing?');
    expect(new HmacSha256(Buffer.from('Jefe'), m.length).digest(m).toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('refuses keys over one block and other message lengths', () => {
    expect(() => new HmacSha256(Buffer.alloc(65), 10)).toThrow(RangeError);
    expect(() => new HmacSha256(Buffer.alloc(32), 10).digest(Buffer.alloc(9))).toThrow(RangeError);
  });
});
