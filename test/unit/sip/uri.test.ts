import { describe, expect, it } from 'vitest';
import { formatUri, isValidHost, parseIPv6, parseUri, SipUriError, uriEquals, type SipUri } from '../../../server/src/sip/uri.ts';

type Expect = Partial<Omit<SipUri, 'params' | 'headers'>> & { params?: [string, string | null][]; headers?: [string, string][] };

describe('parseUri: SIP and SIPS URI components (RFC 3261 §19.1.1, §25.1)', () => {
  const cases: [string, Expect][] = [
    ['sip:alice@atlanta.com', { scheme: 'sip', user: 'alice', host: 'atlanta.com' }],
    ['sip:alice:secretword@atlanta.com;transport=tcp', { user: 'alice', password: 'secretword', host: 'atlanta.com', params: [['transport', 'tcp']] }],
    ['sips:alice@atlanta.com?subject=project%20x&priority=urgent', { scheme: 'sips', headers: [['subject', 'project x'], ['priority', 'urgent']] }],
    ['sip:+1-212-555-1212:1234@gateway.com;user=phone', { user: '+1-212-555-1212', password: '1234', params: [['user', 'phone']] }],
    ['sips:1212@gateway.com', { scheme: 'sips', user: '1212', host: 'gateway.com' }],
    ['sip:alice@192.0.2.4', { host: '192.0.2.4' }],
    ['sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com', { user: undefined, host: 'atlanta.com', params: [['method', 'REGISTER']], headers: [['to', 'alice@atlanta.com']] }],
    ['sip:alice;day=tuesday@atlanta.com', { user: 'alice;day=tuesday', host: 'atlanta.com' }],
    ['SIP:Alice@AtLanTa.CoM:5061', { scheme: 'sip', user: 'Alice', host: 'AtLanTa.CoM', port: 5061 }],
    ['sip:proxy.example.com;lr', { host: 'proxy.example.com', params: [['lr', null]] }],
    ['sip:p.example.com;LR;Transport=TLS;maddr=239.255.255.1;ttl=15', { params: [['lr', null], ['transport', 'TLS'], ['maddr', '239.255.255.1'], ['ttl', '15']] }],
    ['sip:alice@198.51.100.7:53124;transport=ws;ob', { port: 53124, params: [['transport', 'ws'], ['ob', null]] }],
    ['sip:host.example.com.', { host: 'host.example.com.' }],
    ['sip:a@_sip._udp.example.com', { host: '_sip._udp.example.com' }],
    ['sip:a@b:0', { port: 0 }],
    ['sip:a@b:65535', { port: 65535 }],
    // IPv6 references (RFC 5954 §4, RFC 5118 §4.1)
    ['sip:[2001:db8::10]', { host: '[2001:db8::10]' }],
    ['sip:user@[2001:db8::9:1]:5070;transport=udp', { host: '[2001:db8::9:1]', port: 5070 }],
    ['sip:[::ffff:192.0.2.1]', { host: '[::ffff:192.0.2.1]' }],
    ['sip:[2001:db8:0:0:0:0:0:10]', { host: '[2001:db8:0:0:0:0:0:10]' }],
    ['sip:[::1]', { host: '[::1]' }],
    // Escapes in every component (RFC 4475 §3.1.1.3 esc01, §3.1.1.4 escnull)
    ['sip:sips%3Auser%40example.com@example.net', { user: 'sips:user@example.com', host: 'example.net' }],
    ['sip:%75se%72@example.com', { user: 'user' }],
    ['sip:I%20have%20spaces@example.net', { user: 'I have spaces' }],
    ['sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31', { user: 'caller', params: [['lr', null], ['name', 'value%41']] }],
    ['sip:null-%00-null@example.com', { user: 'null-\u0000-null' }],
    ['sip:%00%00@host5.example.com', { user: '\u0000\u0000' }],
    ['sip:%C3%A9l%C3%A8ve@example.com', { user: 'élève' }],
    ['sip:%FF@example.com', { user: '\u00ff' }], // not UTF-8: kept octet per character
    // RFC 4475 §3.1.1.2 intmeth: every user-unreserved and mark character, and a wild password
    [
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
      { user: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", password: "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", host: 'example.com' },
    ],
    // RFC 4475 §3.1.1.9 semiuri: ';' in the user part, escaped '@'
    ['sip:user;par=u%40example.net@example.com', { user: 'user;par=u@example.net', host: 'example.com', params: [] }],
    // RFC 4475 §3.3.14 regescrt: escaped header
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', { headers: [['Route', '<sip:sip.example.com>']] }],
    ['sip:u@h?a=&b=2', { headers: [['a', ''], ['b', '2']] }],
    // First value of a repeated parameter wins
    ['sip:h;transport=tcp;transport=udp', { params: [['transport', 'tcp']] }],
  ];
  it.each(cases)('%s', (input, exp) => {
    const u = parseUri(input);
    const { params, headers, ...rest } = exp;
    for (const [k, v] of Object.entries(rest)) expect(u[k as keyof SipUri], k).toEqual(v);
    if (params) expect([...u.params]).toEqual(params);
    if (headers) expect([...u.headers]).toEqual(headers);
  });

  it('omits absent optional components', () => {
    const u = parseUri('sip:example.com');
    expect(u).toEqual({ scheme: 'sip', host: 'example.com', params: new Map(), headers: new Map() });
    expect('user' in u || 'password' in u || 'port' in u).toBe(false);
  });
});

describe('parseUri: malformed URIs throw SipUriError (RFC 3261 §25.1)', () => {
  const bad = [
    '',
    'sip',
    ':foo',
    'sip:',
    'sip:@example.com', // user = 1*(...)
    'sip:alice@', // no host
    'sip:alice@exa mple.com',
    'sip:alice@example.com:', // empty port
    'sip:alice@example.com:65536',
    'sip:alice@example.com:5x',
    'sip:alice@example.com:1234567',
    'sip:al%2ice@example.com', // bad escape
    'sip:alice%4@example.com', // truncated escape
    'sip:alice%@example.com',
    'sip:al<ice@example.com',
    'sip:alice@example.com;;lr', // empty parameter
    'sip:alice@example.com;transport=', // pvalue = 1*paramchar
    'sip:alice@example.com;a b',
    'sip:alice@example.com?', // header without name
    'sip:alice@example.com?foo', // header without "="
    'sip:alice@example.com?=x',
    'sip:alice@-example.com', // label starting with '-'
    'sip:alice@example-.com',
    'sip:alice@example..com',
    'sip:alice@.example.com',
    'sip:alice@192.0.2.256', // last label numeric: must be IPv4
    'sip:alice@1.2.3',
    'sip:alice@example.123',
    'sip:[2001:db8::10', // unterminated reference
    'sip:[2001:db8::10::1]', // two "::"
    'sip:[2001:db8:0:0:0:0:0:0:10]', // nine groups
    'sip:[12345::1]',
    'sip:[::ffff:192.0.2.300]',
    'sip:2001:db8::10', // IPv6 without brackets
    'sip:[2001:db8:0:0:0:0:0:10:]',
    'http://example.com/', // unsupported scheme
    'sips%3Auser@example.com',
    'tel:', // empty number
    'tel:+', // no digits
    'tel:+1-2+3',
    'tel:+1 234',
  ];
  it.each(bad)('%j', (input) => {
    expect(() => parseUri(input)).toThrow(SipUriError);
  });
});

describe('parseUri: tel URIs, minimal (RFC 3966 §3)', () => {
  it.each([
    ['tel:+1-201-555-0123', '+1-201-555-0123', []],
    ['tel:7042;phone-context=example.com', '7042', [['phone-context', 'example.com']]],
    ['tel:863-1234;phone-context=+1-914-555', '863-1234', [['phone-context', '+1-914-555']]],
    ['TEL:+44(0)20.7946.0000;ext=12', '+44(0)20.7946.0000', [['ext', '12']]],
    ['tel:*67#;phone-context=example.net', '*67#', [['phone-context', 'example.net']]],
  ] as [string, string, [string, string][]][])('%s', (input, number, params) => {
    const u = parseUri(input);
    expect(u.scheme).toBe('tel');
    expect(u.user).toBe(number);
    expect(u.host).toBe('');
    expect([...u.params]).toEqual(params);
  });
  it('refuses headers in a tel URI', () => {
    expect(() => parseUri('tel:+1234?x=y')).toThrow(SipUriError);
  });
});

describe('formatUri: escapes what each component cannot hold (RFC 3261 §19.1.2, §25.1)', () => {
  it.each([
    'sip:alice@atlanta.com',
    'sip:alice:secretword@atlanta.com;transport=tcp',
    'sips:alice@atlanta.com?subject=project%20x&priority=urgent',
    'sip:+1-212-555-1212:1234@gateway.com;user=phone',
    'sip:user@[2001:db8::9:1]:5070;transport=udp;lr',
    'sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com',
    'sip:user;par=u%40example.net@example.com',
    'sip:null-%00-null@example.com',
    "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    'tel:+1-201-555-0123;phone-context=example.com',
  ])('round-trips %s', (input) => {
    const u = parseUri(input);
    const out = formatUri(u);
    expect(out).toBe(input.replace(/^SIP:/, 'sip:'));
    expect(parseUri(out)).toEqual(u);
  });

  it('normalizes needless escapes and escapes what must be', () => {
    expect(formatUri(parseUri('sip:%75se%72@example.com'))).toBe('sip:user@example.com');
    expect(formatUri(parseUri('sip:cal%6Cer@h;%6C%72;n%61me=v%61lue%25%34%31'))).toBe('sip:caller@h;lr;name=value%2541');
    const built: SipUri = {
      scheme: 'sip',
      user: 'a b@c:d',
      password: 'p@ss word',
      host: 'example.com',
      params: new Map([['x y', 'a;b'], ['lr', null]]),
      headers: new Map([['Subject', 'hello & bye'], ['Route', '<sip:p.example.com;lr>']]),
    };
    const s = formatUri(built);
    expect(s).toBe('sip:a%20b%40c%3Ad:p%40ss%20word@example.com;x%20y=a%3Bb;lr?Subject=hello%20%26%20bye&Route=%3Csip:p.example.com%3Blr%3E');
    expect(parseUri(s)).toEqual(built);
  });

  it('escapes non-ASCII as UTF-8', () => {
    const s = formatUri({ scheme: 'sip', user: 'élève☎', host: 'example.com', params: new Map(), headers: new Map() });
    expect(s).toBe('sip:%C3%A9l%C3%A8ve%E2%98%8E@example.com');
    expect(parseUri(s).user).toBe('élève☎');
  });
});

describe('uriEquals: URI comparison (RFC 3261 §19.1.4)', () => {
  // The RFC's own examples of equivalent URIs.
  it.each([
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    // more
    ['SIP:alice@atlanta.com', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com;lr', 'sip:alice@atlanta.com;LR'],
    ['sip:u@[2001:db8::10]', 'sip:u@[2001:DB8:0:0:0:0:0:10]'], // RFC 5118 §4.? IPv6 forms compare equal
    ['sip:u@[::ffff:192.0.2.1]', 'sip:u@[::FFFF:C000:0201]'],
    ['sip:u@h;maddr=239.255.255.1', 'sip:u@h;MADDR=239.255.255.1'],
    ['tel:+1-201-555-0123', 'tel:+1.201.555.0123'],
    ['tel:7042;phone-context=Example.com', 'tel:7042;phone-context=example.com'],
  ])('%s == %s', (a, b) => {
    expect(uriEquals(a, b)).toBe(true);
    expect(uriEquals(b, a)).toBe(true);
  });

  // The RFC's examples of URIs that are not equivalent, plus the parameter rules.
  it.each([
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'], // user differs in case
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'], // can resolve to different ports
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'], // can resolve to different transports
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'], // header component
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'], // no DNS resolution in comparisons
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'], // SIP never equals SIPS
    ['sip:alice@atlanta.com', 'sip:atlanta.com'], // user present in only one
    ['sip:alice:pw@atlanta.com', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com;user=phone', 'sip:alice@atlanta.com'], // user/ttl/method/maddr in only one
    ['sip:alice@atlanta.com', 'sip:alice@atlanta.com;ttl=1'],
    ['sip:alice@atlanta.com;method=INVITE', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com', 'sip:alice@atlanta.com;maddr=192.0.2.1'],
    ['sip:alice@atlanta.com;transport=tcp', 'sip:alice@atlanta.com;transport=udp'], // param in both must match
    ['sip:alice@atlanta.com;foo=1', 'sip:alice@atlanta.com;foo=2'],
    ['sip:alice@atlanta.com;foo', 'sip:alice@atlanta.com;foo=1'],
    ['sip:alice@atlanta.com?a=1', 'sip:alice@atlanta.com?a=2'],
    ['sip:alice@atlanta.com?a=1', 'sip:alice@atlanta.com?b=1'],
    ['sip:u@[2001:db8::10]', 'sip:u@[2001:db8::11]'],
    ['tel:+1-201-555-0123', 'tel:+1-201-555-0124'],
    ['tel:7042;phone-context=example.com', 'tel:7042'],
    ['tel:+12015550123', 'sip:+12015550123@example.com'],
    ['sip:alice@atlanta.com', 'sip:alice@atlanta.com:bad'], // a string that does not parse equals nothing
  ])('%s != %s', (a, b) => {
    expect(uriEquals(a, b)).toBe(false);
    expect(uriEquals(b, a)).toBe(false);
  });

  it('accepts parsed URIs as well as strings', () => {
    expect(uriEquals(parseUri('sip:a@b'), 'sip:a@B')).toBe(true);
  });
});

describe('hosts and IPv6 references (RFC 3261 §25.1 host, RFC 5954 §4.1)', () => {
  it.each(['example.com', 'a', 'a-b.c', '192.0.2.1', '255.255.255.255', '[::1]', '[2001:db8::1]', '[1:2:3:4:5:6:7:8]', '[1:2:3:4:5:6:1.2.3.4]', '[::]', 'x.'])(
    'valid: %s',
    (h) => expect(isValidHost(h)).toBe(true),
  );
  it.each(['', '.', '-a', 'a-', 'a..b', '1.2.3.4.5', '256.0.0.1', '01.2.3', '[1:2:3:4:5:6:7:8:9]', '[1::2::3]', '[:1]', '[1:]', '[g::1]', 'a b', 'a@b', '::1'])(
    'invalid: %j',
    (h) => expect(isValidHost(h)).toBe(false),
  );
  it('expands "::" and embedded IPv4', () => {
    expect(parseIPv6('2001:db8::10')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10]);
    expect(parseIPv6('::ffff:192.0.2.1')).toEqual([0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
    expect(parseIPv6('1:2:3:4:5:6:7::')).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(parseIPv6('1:2:3:4:5:6:7:8::')).toBeNull(); // "::" must stand for at least one group
    expect(parseIPv6('::1.2.3.4:5')).toBeNull(); // IPv4 only at the end
  });
});
