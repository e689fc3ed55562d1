import { describe, expect, it } from 'vitest';
import {
  formatNameAddr,
  formatVia,
  getTag,
  HeaderValueError,
  isToken,
  parseAuthParams,
  parseContact,
  parseCSeq,
  parseNameAddr,
  parseParams,
  parseVia,
  quoteString,
  unquoteParam,
  type NameAddr,
} from '../../../server/src/sip/header-values.ts';

const map = (entries: [string, string | null][]) => new Map(entries);

describe('parseVia (RFC 3261 §20.42, §25.1 via-parm)', () => {
  it.each([
    ['SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds', { protocol: 'SIP/2.0', transport: 'UDP', host: 'pc33.atlanta.com', params: [['branch', 'z9hG4bK776asdhds']] }],
    ['SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74b43', { transport: 'TCP', host: 'client.atlanta.example.com', port: 5060 }],
    ['SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207;branch=z9hG4bK77asjd', { host: '192.0.2.1', port: 5060, params: [['received', '192.0.2.207'], ['branch', 'z9hG4bK77asjd']] }],
    ['SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bKx', { params: [['rport', null], ['branch', 'z9hG4bKx']] }], // RFC 3581 flag
    ['SIP/2.0/ws df7jal23ls0d.invalid;branch=z9hG4bKasudf;rport', { transport: 'WS', host: 'df7jal23ls0d.invalid' }], // RFC 7118 §5.2
    ['SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks', { transport: 'WSS' }],
    ['SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=2001:db8::9:255', { host: '[2001:db8::9:1]', port: 5070, params: [['branch', 'z9hG4bKas3-111'], ['received', '2001:db8::9:255']] }], // RFC 5118 §4.5
    ['SIP/2.0/UDP [2001:db8::9:1];maddr=[2001:db8::9:2]', { params: [['maddr', '[2001:db8::9:2]']] }],
    // RFC 4475 §3.1.1.1 wsinv, after unfolding: LWS around the slashes, the colon and the '='
    ['SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw', { protocol: 'SIP/2.0', transport: 'UDP', host: '192.0.2.2', params: [['branch', '390skdjuw']] }],
    ['SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8', { transport: 'TCP', host: 'spindle.example.com', params: [['branch', 'z9hG4bK9ikj8']] }],
    ['SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239', { host: '192.168.255.111', params: [['branch', 'z9hG4bK30239']] }],
    ['SIP/2.0/UDP host : 5061 ;branch=x', { host: 'host', port: 5061 }], // COLON = SWS ":" SWS
    // RFC 4475 §3.1.1.2 intmeth: every token character in a branch
    ["SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~", { params: [['branch', "z9hG4bK-.!%66*_+`'~"]] }],
    // RFC 4475 §3.1.1.10 transports: unknown transports are tokens like any other
    ['SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en', { transport: 'UNKNOWN' }],
    ['SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf', { transport: 'SCTP' }],
    // RFC 4475 §3.1.2.16 badvers: the Via parses, the version is the start line's problem
    ['SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw', { protocol: 'SIP/7.0' }],
    ['SIP/2.0/UDP h;x="a;b\\"c"', { params: [['x', '"a;b\\"c"']] }], // quoted values keep their quotes
    ['SIP/2.0/UDP H;BRANCH=AbC', { params: [['branch', 'AbC']] }], // names lower-cased, values kept
  ] as [string, Record<string, unknown> & { params?: [string, string | null][] }][])('%s', (input, exp) => {
    const v = parseVia(input);
    const { params, ...rest } = exp;
    for (const [k, val] of Object.entries(rest)) expect(v[k as keyof typeof v], k).toEqual(val);
    if (params) expect([...v.params]).toEqual(params);
  });

  it('has no port key without a port', () => {
    expect('port' in parseVia('SIP/2.0/UDP h;branch=z9hG4bK1')).toBe(false);
  });

  it.each([
    '',
    'SIP/2.0/UDP',
    'SIP/2.0/UDP ',
    'SIP/2.0 UDP host',
    'SIP/2.0/UDPhost',
    'SIP//UDP host',
    '/2.0/UDP host',
    'SIP/2.0/UDP 192.0.2.15;;', // RFC 4475 §3.1.2.1 badinv01
    'SIP/2.0/UDP 192.0.2.15;', // parameter without a name
    'SIP/2.0/UDP host;branch=', // gen-value may not be empty
    'SIP/2.0/UDP host:', // empty port
    'SIP/2.0/UDP host:99999',
    'SIP/2.0/UDP host:5060:5061',
    'SIP/2.0/UDP [2001:db8::1',
    'SIP/2.0/UDP [2001:db8::1::2]',
    'SIP/2.0/UDP ,host',
    'SIP/2.0/UDP ho st',
    'SIP/2.0/UDP host;branch=a, SIP/2.0/UDP other', // one value only: split the field first
    'SIP/2.0/UDP host;x="unterminated',
    'SIP/2.0/UDP host extra',
  ])('refuses %j', (input) => {
    expect(() => parseVia(input)).toThrow(HeaderValueError);
  });

  it.each([
    'SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
    'SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK1;rport=5061;received=2001:db8::2',
    'SIP/2.0/WSS h.invalid;branch=z9hG4bK1;rport',
  ])('formatVia round-trips %s', (input) => {
    expect(formatVia(parseVia(input))).toBe(input);
  });

  it('formatVia writes what a proxy builds', () => {
    const via = parseVia('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport');
    via.params.set('rport', '5062');
    via.params.set('received', '192.0.2.1');
    expect(formatVia(via)).toBe('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport=5062;received=192.0.2.1');
  });
});

describe('parseParams (RFC 3261 §25.1 generic-param, §7.3.1 case-insensitive names)', () => {
  it.each([
    ['', []],
    [';tag=1', [['tag', '1']]],
    [' ; TAG = AbC ; lr ;x="q;u,o\\"te"', [['tag', 'AbC'], ['lr', null], ['x', '"q;u,o\\"te"']]],
    [';received=2001:db8::1;maddr=[::1]', [['received', '2001:db8::1'], ['maddr', '[::1]']]],
    [';a=1;a=2', [['a', '1']]],
  ] as [string, [string, string | null][]][])('%j', (input, exp) => {
    expect([...parseParams(input)]).toEqual(exp);
  });
  it.each([';', ';;', 'tag=1', ';tag=', ';tag=a,b', ';ta g=1', ';x="open', ';=1', ';tag=<x>'])('refuses %j', (input) => {
    expect(() => parseParams(input)).toThrow(HeaderValueError);
  });
  it('unquoteParam strips quotes and escapes', () => {
    expect(unquoteParam('"<urn:uuid:1>"')).toBe('<urn:uuid:1>');
    expect(unquoteParam('"a\\"b"')).toBe('a"b');
    expect(unquoteParam('plain')).toBe('plain');
    expect(unquoteParam(null)).toBeUndefined();
    expect(unquoteParam(undefined)).toBeUndefined();
  });
});

describe('parseCSeq (RFC 3261 §20.16, §8.1.1.5)', () => {
  it.each([
    ['4711 INVITE', 4711, 'INVITE'],
    ['  1   REGISTER  ', 1, 'REGISTER'],
    ['0009 INVITE', 9, 'INVITE'], // RFC 4475 wsinv: leading zeros
    ['0 ACK', 0, 'ACK'],
    ['4294967295 OPTIONS', 4294967295, 'OPTIONS'],
    ['000000000000042 BYE', 42, 'BYE'], // leading zeros do not count against the 32-bit limit
    ["139122385 !interesting-Method0123456789_*+`.%indeed'~", 139122385, "!interesting-Method0123456789_*+`.%indeed'~"], // intmeth
    ['29344 RE%47IST%45R', 29344, 'RE%47IST%45R'], // esc02: % is not an escape in a method
  ] as [string, number, string][])('%j', (input, seq, method) => {
    expect(parseCSeq(input)).toEqual({ seq, method });
  });
  it.each([
    '',
    'INVITE',
    '1',
    '1INVITE',
    '-1 INVITE',
    '1.5 INVITE',
    '4294967296 INVITE', // §8.1.1.5: must fit in 32 bits
    '36893488147419103232 REGISTER', // RFC 4475 §3.1.2.4 scalar02
    '9292394834772304023312 OPTIONS', // RFC 4475 §3.1.2.5 scalarlg
    '1 INVITE extra',
    '1 INV/ITE',
  ])('refuses %j', (input) => {
    expect(() => parseCSeq(input)).toThrow(HeaderValueError);
  });
});

describe('parseNameAddr (RFC 3261 §20.10, §20.20, §20.39, §25.1 name-addr / addr-spec)', () => {
  const cases: [string, NameAddr][] = [
    ['<sip:alice@atlanta.com>;tag=1928301774', { uri: 'sip:alice@atlanta.com', params: map([['tag', '1928301774']]) }],
    ['Bob <sip:bob@biloxi.com>', { displayName: 'Bob', uri: 'sip:bob@biloxi.com', params: map([]) }],
    ['"Alice Smith" <sip:alice@atlanta.com> ; tag = 88sja8x', { displayName: 'Alice Smith', uri: 'sip:alice@atlanta.com', params: map([['tag', '88sja8x']]) }],
    ['"" <sip:x@y>', { displayName: '', uri: 'sip:x@y', params: map([]) }],
    ['"quoted \\" name" <sip:q@example.com>', { displayName: 'quoted " name', uri: 'sip:q@example.com', params: map([]) }],
    ['"back\\\\slash" <sip:q@example.com>', { displayName: 'back\\slash', uri: 'sip:q@example.com', params: map([]) }],
    ['"Zoë ☎" <sip:z@example.com>', { displayName: 'Zoë ☎', uri: 'sip:z@example.com', params: map([]) }],
    // Bare addr-spec: what follows ';' are header parameters, not URI parameters (§20.10)
    ['sip:+12125551212@phone2net.com;tag=887s', { uri: 'sip:+12125551212@phone2net.com', params: map([['tag', '887s']]) }],
    ['sip:+19725552222@gw1.example.net;unknownparam', { uri: 'sip:+19725552222@gw1.example.net', params: map([['unknownparam', null]]) }], // RFC 4475 §3.3.12 cparam01
    ['<sip:+19725552222@gw1.example.net;unknownparam>', { uri: 'sip:+19725552222@gw1.example.net;unknownparam', params: map([]) }], // §3.3.13 cparam02
    ['<sip:user@example.com?Route=%3Csip:sip.example.com%3E>', { uri: 'sip:user@example.com?Route=%3Csip:sip.example.com%3E', params: map([]) }], // §3.3.14 regescrt
    // RFC 4475 §3.1.1.1 wsinv (unfolded)
    ['sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n', { uri: 'sip:vivekg@chair-dnrc.example.com', params: map([['tag', '1918181833n']]) }],
    ['"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8', { displayName: 'J Rosenberg \\"', uri: 'sip:jdrosen@example.com', params: map([['tag', '98asjd8']]) }],
    // RFC 4475 §3.1.1.6 lwsdisp: no LWS between display name and <
    ['caller<sip:caller@example.com>;tag=323', { displayName: 'caller', uri: 'sip:caller@example.com', params: map([['tag', '323']]) }],
    // RFC 4475 §3.1.1.2 intmeth: token display name with every token character, odd parameters
    [
      "token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";tag=_token~1'+`*%!-.",
      { displayName: "token1~` token2'+_ token3*%!.-", uri: 'sip:mundane@example.com', params: map([["fromparam''~+*_!.-%", '"работающий"'], ['tag', "_token~1'+`*%!-."]]) },
    ],
    // intmeth's To: quoted-pairs escaping BEL, NUL and DEL
    [
      '"BEL:\\\u0007 NUL:\\\u0000 DEL:\\\u007f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
      { displayName: 'BEL:\u0007 NUL:\u0000 DEL:\u007f', uri: "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com", params: map([]) },
    ],
    // RFC 4475 §3.1.2.16 badvers display names: tokens with dots
    ['A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe', { displayName: 'A. Bell', uri: 'sip:a.g.bell@example.com', params: map([['tag', 'qweoiqpe']]) }],
    // RFC 4475 §3.3.4 unksm2: any scheme is an address, deciding about it is the application's job
    ['isbn:2983792873', { uri: 'isbn:2983792873', params: map([]) }],
    ['<http://www.example.com>;tag=3234233', { uri: 'http://www.example.com', params: map([['tag', '3234233']]) }],
    ['<name:John_Smith>', { uri: 'name:John_Smith', params: map([]) }],
    ['<sip:[2001:db8::10]:5060;lr>', { uri: 'sip:[2001:db8::10]:5060;lr', params: map([]) }],
    ['<urn:service:sos>', { uri: 'urn:service:sos', params: map([]) }],
  ];
  it.each(cases)('%j', (input, exp) => {
    const na = parseNameAddr(input);
    expect(na).toEqual(exp);
    if (exp.displayName === undefined) expect('displayName' in na).toBe(false);
  });

  it.each([
    ['', 'empty'],
    ['*', 'the Contact wildcard is not an address'],
    ['"Mr. J. User <sip:j.user@example.com>', 'RFC 4475 §3.1.2.6 quotbal: unterminated quote'],
    ['"Watson, Thomas" < sip:t.watson@example.org >', 'RFC 4475 §3.1.2.14 badaspec: LWS inside <>'],
    ['<sip:t.watson@example.org >', 'LWS before >'],
    ['Bell, Alexander <sip:a.g.bell@example.com>;tag=43', 'RFC 4475 §3.1.2.15 baddn: comma in unquoted display name'],
    ['Watson, Thomas <sip:t.watson@example.org>', 'RFC 4475 baddn To'],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'RFC 4475 §3.1.2.13 regbadct: "?" needs <>'],
    ['sip:a,b@example.com', '"," needs <>'],
    ['<sip:alice@atlanta.com', 'unterminated <'],
    ['<>', 'empty URI'],
    ['<sip:>', 'scheme only'],
    ['<alice@atlanta.com>', 'no scheme'],
    ['<1sip:alice@atlanta.com>', 'scheme must start with a letter'],
    ['"Joe" <sip:joe@example.org>;;;;', 'RFC 4475 §3.1.2.1 badinv01 Contact: empty parameters'],
    ['<sip:a@b>;tag=1, <sip:c@d>', 'two values: split the field first'],
    ['<sip:a@b> junk', 'trailing garbage'],
    ['"Alice" sip:alice@atlanta.com', 'quoted display name needs <>'],
  ])('refuses %j (%s)', (input) => {
    expect(() => parseNameAddr(input)).toThrow(HeaderValueError);
  });

  it.each([
    '<sip:alice@atlanta.com>;tag=1928301774',
    '"Alice Smith" <sip:alice@atlanta.com>;tag=88sja8x',
    '"quoted \\" name" <sip:q@example.com>;x="y z"',
    '<sip:a@b;lr>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"',
  ])('formatNameAddr round-trips %s', (input) => {
    const na = parseNameAddr(input);
    expect(formatNameAddr(na)).toBe(input);
    expect(parseNameAddr(formatNameAddr(na))).toEqual(na);
  });

  it('formatNameAddr quotes token display names and always uses <>', () => {
    expect(formatNameAddr(parseNameAddr('caller<sip:caller@example.com>;tag=323'))).toBe('"caller" <sip:caller@example.com>;tag=323');
    expect(formatNameAddr(parseNameAddr('sip:a@b;tag=1'))).toBe('<sip:a@b>;tag=1');
    expect(formatNameAddr({ displayName: 'a "b" \\ c\r\nd', uri: 'sip:x@y', params: new Map() })).toBe('"a \\"b\\" \\\\ c  d" <sip:x@y>');
    expect(quoteString('plain')).toBe('"plain"');
  });
});

describe('getTag (RFC 3261 §19.3, §20.20, §20.39)', () => {
  it.each([
    ['<sip:alice@atlanta.com>;tag=1928301774', '1928301774'],
    ['Bob <sip:bob@biloxi.com>', undefined],
    ['sip:bob@biloxi.com;tag=a6c85cf', 'a6c85cf'],
    ['<sip:bob@biloxi.com;tag=inside-uri>', undefined], // a URI parameter is not the header's tag
    ['<sip:bob@biloxi.com;tag=inside-uri>;TAG=outside', 'outside'],
    ['"tag=x" <sip:b@c>', undefined],
    ['<sip:b@c>;tag', undefined],
  ] as [string, string | undefined][])('%j → %j', (input, tag) => {
    expect(getTag(input)).toBe(tag);
  });
  it('throws on a malformed value', () => {
    expect(() => getTag('"open <sip:a@b>;tag=1')).toThrow(HeaderValueError);
  });
});

describe('parseContact (RFC 3261 §20.10, §10.2.1.1 expires, §20.10 qvalue)', () => {
  it('accepts the wildcard (§10.2.2)', () => {
    expect(parseContact('*')).toEqual({ star: true });
    expect(parseContact('  *  ')).toEqual({ star: true });
  });
  it('returns the name-addr with expires and q', () => {
    const c = parseContact('"Mr. Watson" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600');
    expect(c).toEqual({
      star: false,
      displayName: 'Mr. Watson',
      uri: 'sip:watson@worcester.bell-telephone.com',
      params: map([['q', '0.7'], ['expires', '3600']]),
      q: 0.7,
      expires: 3600,
    });
  });
  it('omits expires and q when absent', () => {
    const c = parseContact('<sip:a@192.0.2.4>');
    expect(c).toEqual({ star: false, uri: 'sip:a@192.0.2.4', params: map([]) });
  });
  it('parses RFC 4475 §3.1.1.1 wsinv Contact', () => {
    const c = parseContact('"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33');
    expect(c).toMatchObject({ star: false, displayName: 'Quoted string ""', uri: 'sip:jdrosen@example.com', q: 0.33 });
    if (!c.star) expect([...c.params]).toEqual([['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
  });
  it('reads "* <uri>" as a display name, "*" being a token character (§25.1)', () => {
    expect(parseContact('* <sip:a@b>')).toEqual({ star: false, displayName: '*', uri: 'sip:a@b', params: map([]) });
  });
  it('clamps overlarge expires (RFC 4475 §3.1.2.4 scalar02)', () => {
    const c = parseContact('<sip:user@host129.example.com>;expires=280297596632815');
    expect(c.star === false && c.expires).toBe(0xffffffff);
  });
  it('keeps outbound parameters quoted (RFC 5626 §4.2)', () => {
    const c = parseContact('<sip:alice@192.0.2.7;ob>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
    expect(c.star).toBe(false);
    if (!c.star) {
      expect(c.params.get('+sip.instance')).toBe('"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
      expect(unquoteParam(c.params.get('+sip.instance'))).toBe('<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>');
    }
  });
  it.each([
    ['<sip:a@b>;expires=', 'empty value'],
    ['<sip:a@b>;expires', 'flag'],
    ['<sip:a@b>;expires=-1', 'negative'],
    ['<sip:a@b>;expires=1h', 'not digits'],
    ['<sip:a@b>;expires="60"', 'quoted'],
    ['<sip:a@b>;q=1.5', 'q above 1'],
    ['<sip:a@b>;q=0.1234', 'four decimals'],
    ['<sip:a@b>;q=.5', 'no leading digit'],
    ['<sip:a@b>;q=1.001', 'above 1'],
    ['<sip:a@b>;q', 'flag'],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'RFC 4475 §3.1.2.13 regbadct'],
    ['**', 'not a wildcard'],
    ['*;expires=0', 'the wildcard takes no parameters here (Expires: 0 goes in its own header)'],
  ])('refuses %j (%s)', (input) => {
    expect(() => parseContact(input)).toThrow(HeaderValueError);
  });
});

describe('parseAuthParams (RFC 3261 §20.7, §20.27, §20.44, §25.1; RFC 7235 §2.1)', () => {
  it('parses Digest credentials', () => {
    const a = parseAuthParams(
      'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    expect(a.scheme).toBe('Digest');
    expect(Object.fromEntries(a.params)).toEqual({
      username: 'bob',
      realm: 'biloxi.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: 'sip:bob@biloxi.com',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      response: '6629fae49393a05397450978507c4ef1',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    });
    expect(a.token68).toBeUndefined();
  });
  it('parses a challenge with quoted commas and escapes', () => {
    const a = parseAuthParams('DIGEST  Realm = "atlanta.com" ,domain="sip:ss1.carrier.com", qop="auth,auth-int",nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5, x="a\\"b\\\\c"');
    expect(a.scheme).toBe('DIGEST');
    expect(a.params.get('realm')).toBe('atlanta.com');
    expect(a.params.get('qop')).toBe('auth,auth-int');
    expect(a.params.get('opaque')).toBe('');
    expect(a.params.get('stale')).toBe('FALSE');
    expect(a.params.get('x')).toBe('a"b\\c');
  });
  it('parses an unknown scheme (RFC 4475 §3.3.7 regaut01)', () => {
    const a = parseAuthParams('NoOneKnowsThisScheme opaque-data=here');
    expect(a).toEqual({ scheme: 'NoOneKnowsThisScheme', params: new Map([['opaque-data', 'here']]) });
  });
  it('reads a lone word after the scheme as token68 (RFC 7235 §2.1)', () => {
    expect(parseAuthParams('Digest realm').token68).toBe('realm');
    expect(parseAuthParams('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==').token68).toBe('QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
  });
  it('accepts a bare scheme and token68 credentials', () => {
    expect(parseAuthParams('Digest')).toEqual({ scheme: 'Digest', params: new Map() });
    expect(parseAuthParams('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_==')).toEqual({
      scheme: 'Bearer',
      params: new Map(),
      token68: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_==',
    });
  });
  it('tolerates an unquoted uri as sent by some phones, and empty list elements', () => {
    const a = parseAuthParams('Digest username="bob", , uri=sip:bob@biloxi.com,realm="r"');
    expect(a.params.get('uri')).toBe('sip:bob@biloxi.com');
    expect(a.params.get('realm')).toBe('r');
  });
  it.each([
    '',
    '"Digest" a=b',
    'Digest realm, nonce', // neither token68 nor auth-params
    'Digest realm=, nonce="x"',
    'Digest realm="open',
    'Digest realm="a" nonce="b"',
    'Digest realm="a", realm="b"', // ambiguous
    'Digest =x',
  ])('refuses %j', (input) => {
    expect(() => parseAuthParams(input)).toThrow(HeaderValueError);
  });
});

describe('isToken (RFC 3261 §25.1 token)', () => {
  it.each(['INVITE', "!interesting-Method0123456789_*+`.%indeed'~", 'C%6Fntact'])('%j is a token', (s) => expect(isToken(s)).toBe(true));
  it.each(['', 'a b', 'a:b', 'é', 'a/b', 'a"b'])('%j is not', (s) => expect(isToken(s)).toBe(false));
});
