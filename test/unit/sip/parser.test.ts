import { describe, expect, it } from 'vitest';
import { getHeader, getHeaderLines, getHeaderValues, type SipRequest, type SipResponse } from '../../../server/src/sip/message.ts';
import { canonicalHeaderName, DEFAULT_PARSE_LIMITS, parseMessage, SipParseError, type ParseLimits } from '../../../server/src/sip/parser.ts';

const CRLF = '\r\n';

/** Minimal valid request headers; `over` replaces or removes (undefined) fields by name. */
function request(startLine = 'OPTIONS sip:bob@example.com SIP/2.0', over: Record<string, string | undefined> = {}, body = '', extra: string[] = []): Buffer {
  const base: Record<string, string | undefined> = {
    Via: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds',
    'Max-Forwards': '70',
    To: '<sip:bob@example.com>',
    From: '"Alice" <sip:alice@example.com>;tag=1928301774',
    'Call-ID': 'a84b4c76e66710@pc33.example.com',
    CSeq: `314159 ${startLine.split(' ')[0]}`,
    ...over,
  };
  const lines = [startLine];
  for (const [k, v] of Object.entries(base)) if (v !== undefined) lines.push(`${k}: ${v}`);
  lines.push(...extra);
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF + body);
}

function response(statusLine = 'SIP/2.0 200 OK', over: Record<string, string | undefined> = {}): Buffer {
  return request(statusLine, { 'Max-Forwards': undefined, CSeq: '314159 INVITE', ...over });
}

function raw(text: string): Buffer {
  return Buffer.from(text.replace(/\n/g, CRLF));
}

function fails(buf: Buffer, limits?: Partial<ParseLimits>): SipParseError {
  try {
    parseMessage(buf, limits);
  } catch (err) {
    if (!(err instanceof SipParseError)) throw err;
    return err;
  }
  throw new Error('expected SipParseError');
}

describe('start line (RFC 3261 §7.1 Request-Line, §7.2 Status-Line)', () => {
  it('parses a request line', () => {
    const m = parseMessage(request('INVITE sip:bob@example.com;transport=tcp SIP/2.0')) as SipRequest;
    expect(m).toMatchObject({ kind: 'request', method: 'INVITE', uri: 'sip:bob@example.com;transport=tcp' });
  });

  it.each(['REGISTER', 'ACK', 'BYE', 'CANCEL', 'SUBSCRIBE', 'NOTIFY', 'MESSAGE', 'PUBLISH', 'INFO', 'PRACK', 'UPDATE', 'REFER', 'X-Custom.1'])(
    'accepts method %s (methods are tokens, §7.1)',
    (method) => {
      const m = parseMessage(request(`${method} sip:bob@example.com SIP/2.0`)) as SipRequest;
      expect(m.method).toBe(method);
    },
  );

  it('is case-insensitive about SIP-Version (§7.1)', () => {
    expect(parseMessage(request('OPTIONS sip:bob@example.com sip/2.0')).kind).toBe('request');
    expect(parseMessage(response('sip/2.0 200 OK')).kind).toBe('response');
  });

  it.each([
    ['SIP/2.0 180 Ringing', 180, 'Ringing'],
    ['SIP/2.0 200 OK', 200, 'OK'],
    ['SIP/2.0 699 Whatever it is', 699, 'Whatever it is'],
    ['SIP/2.0 100', 100, ''], // tolerated: no SP before the empty reason
    ['SIP/2.0 100 ', 100, ''],
    ['SIP/2.0 404  Not  Found ', 404, ' Not  Found '], // the reason is taken as is
    ['SIP/2.0 486 Busy: ×', 486, 'Busy: ×'],
  ] as [string, number, string][])('parses status line %j', (line, status, reason) => {
    const m = parseMessage(response(line)) as SipResponse;
    expect(m).toMatchObject({ kind: 'response', status, reason });
  });

  it.each([
    'SIP/2.0 099 Too low',
    'SIP/2.0 700 Too high',
    'SIP/2.0 20 OK',
    'SIP/2.0 2000 OK',
    'SIP/2.0 2x0 OK',
    'SIP/2.0  200 OK',
    'SIP/2.0',
    'SIP/2.0-200 OK',
    'SIP/2 200 OK',
    'SIP/ 200 OK',
  ])('refuses status line %j, never answerable', (line) => {
    const e = fails(response(line));
    expect(e.reason).toBe('Bad Status-Line');
    expect(e.canRespond).toBe(false);
  });

  it.each(['SIP/3.0 200 OK', 'SIP/2.0200 OK'])('refuses %j (another SIP version: 505, nothing to answer)', (line) => {
    const e = fails(response(line));
    expect([e.reason, e.status, e.versionNotSupported, e.canRespond]).toEqual(['Version Not Supported', 505, true, false]);
  });

  it.each([
    ['OPTIONS sip:bob@example.com SIP/3.0', 'Version Not Supported', 505],
    ['OPTIONS sip:bob@example.com SIP/1.0', 'Version Not Supported', 505],
    ['OPTIONS sip:bob@example.com SIP/2.00', 'Version Not Supported', 505],
    ['OPTIONS sip:bob@example.com SIP/2', 'Bad Request-Line', 400],
    ['OPTIONS sip:bob@example.com HTTP/1.1', 'Bad Request-Line', 400],
    ['OPTIONS sip:bob@example.com', 'Bad Request-Line', 400],
    ['OPTIONS  sip:bob@example.com SIP/2.0', 'Bad Request-Line', 400],
    ['OPTIONS sip:bob@example.com  SIP/2.0', 'Bad Request-Line', 400],
    ['OPTIONS sip:bob@example.com SIP/2.0 ', 'Bad Request-Line', 400],
    ['OPTIONS sip:bob@example.com\tSIP/2.0', 'Bad Request-Line', 400],
  ] as [string, string, number][])('refuses request line %j (%s) but can still answer', (line, reason, status) => {
    const e = fails(request(line));
    expect([e.reason, e.status, e.canRespond]).toEqual([reason, status, true]);
  });

  it.each(['', ' OPTIONS sip:bob@example.com SIP/2.0', 'OPTIONS\tsip:bob@example.com\tSIP/2.0', 'OPT:IONS sip:bob@example.com SIP/2.0', 'ÖPTIONS sip:a@b SIP/2.0', 'OPTIONS'])(
    'refuses %j without an answer (not even a request)',
    (line) => {
      const e = fails(request(line));
      expect(e.reason).toBe('Bad Request-Line');
      expect(e.canRespond).toBe(false);
    },
  );

  it('skips CRLFs before the start line (§7.5)', () => {
    const m = parseMessage(Buffer.concat([Buffer.from('\r\n\r\n\r\n'), request()]));
    expect(m.kind).toBe('request');
  });

  it.each(['', '\r\n', '\r\n\r\n', '\r\n\r\n\r\n\r\n'])('refuses an empty message %j', (text) => {
    expect(fails(Buffer.from(text)).reason).toBe('Empty Message');
  });
});

describe('Request-URI (RFC 3261 §8.2.1, §19.1.1 table 1, §25.1 Request-URI)', () => {
  it.each([
    'sip:bob@example.com',
    'sips:bob@example.com:5061;transport=tls',
    'sip:[2001:db8::1]:5060',
    'tel:+1-201-555-0123',
    'urn:service:sos',
    'mailto:bob@example.com',
    'SIP:BOB@EXAMPLE.COM',
    'x-custom+scheme.1-2:anything/goes?here',
  ])('accepts %s', (uri) => {
    expect((parseMessage(request(`OPTIONS ${uri} SIP/2.0`)) as SipRequest).uri).toBe(uri);
  });

  it.each([
    ['<sip:bob@example.com>', 'Malformed Request-URI'],
    ['sip:', 'Malformed Request-URI'],
    ['*', 'Malformed Request-URI'],
    ['/index.html', 'Malformed Request-URI'],
    ['bob@example.com', 'Malformed Request-URI'],
    ['1sip:bob@example.com', 'Malformed Request-URI'],
    ['sip:bob@exa_mple..com', 'Malformed Request-URI'],
    ['sip:bob@example.com:99999', 'Malformed Request-URI'],
    ['sip:b%zzob@example.com', 'Malformed Request-URI'],
    ['sip:"bob"@example.com', 'Malformed Request-URI'],
    ['tel:', 'Malformed Request-URI'],
    ['sip:bob@example.com?Subject=hi', 'Headers Not Allowed in Request-URI'],
    ['http://example.com/<x>', 'Malformed Request-URI'],
  ])('refuses %j', (uri, reason) => {
    const e = fails(request(`OPTIONS ${uri} SIP/2.0`));
    expect(e.reason).toBe(reason);
    expect(e.canRespond).toBe(true);
  });
});

describe('header fields (RFC 3261 §7.3)', () => {
  it('keeps every field in wire order with trimmed raw values', () => {
    const m = parseMessage(request(undefined, {}, '', ['X-A:  one  ', 'X-B:two', 'X-A: three', 'Empty:', 'Spaces:    ', 'Colon: a:b:c']));
    expect(m.headers.slice(-6)).toEqual([
      { name: 'X-A', value: 'one' },
      { name: 'X-B', value: 'two' },
      { name: 'X-A', value: 'three' },
      { name: 'Empty', value: '' },
      { name: 'Spaces', value: '' },
      { name: 'Colon', value: 'a:b:c' },
    ]);
    expect(getHeaderLines(m, 'x-a')).toEqual(['one', 'three']);
  });

  it('allows whitespace before the colon (HCOLON, §25.1)', () => {
    const m = parseMessage(request(undefined, {}, '', ['Subject \t : hello']));
    expect(getHeader(m, 'Subject')).toBe('hello');
  });

  it('keeps comma-separated values in one field; splitting is on demand (§7.3.1)', () => {
    const m = parseMessage(
      request(undefined, { Via: 'SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com;branch=z9hG4bK2' }, '', [
        'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
        'Route: <sip:p3.example.com;lr>',
      ]),
    );
    expect(getHeaderLines(m, 'Via')).toHaveLength(1);
    expect(getHeaderValues(m, 'Via')).toHaveLength(2);
    expect(getHeaderValues(m, 'Route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>']);
  });

  it('keeps the value of unknown headers untouched, whatever it looks like (RFC 4475 wsinv)', () => {
    const m = parseMessage(request(undefined, {}, '', ['X-Odd: ;;,,;;,; "unbalanced <quote', 'X-Utf8: Ünïcödé ☎']));
    expect(getHeader(m, 'X-Odd')).toBe(';;,,;;,; "unbalanced <quote');
    expect(getHeader(m, 'X-Utf8')).toBe('Ünïcödé ☎');
  });

  it.each([
    ['Bad Name: x', 'Malformed Header'],
    ['NoColon', 'Malformed Header'],
    [': no name', 'Malformed Header'],
    ['Na"me: x', 'Malformed Header'],
    ['Näme: x', 'Malformed Header'],
  ])('refuses header line %j', (line, reason) => {
    const e = fails(request(undefined, {}, '', [line]));
    expect(e.reason).toBe(reason);
    expect(e.canRespond).toBe(true); // the mandatory headers are all there
  });

  it('refuses a continuation line right after the start line', () => {
    const e = fails(raw('OPTIONS sip:b@example.com SIP/2.0\n folded: x\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\n'));
    expect(e.reason).toBe('Bad Header Folding');
  });
});

describe('line folding (RFC 3261 §7.3.1)', () => {
  it.each([
    ['Subject: I know you\'re there,\n                   pick up the phone\n                   and talk to me!', "I know you're there, pick up the phone and talk to me!"],
    ['Subject:\n hello', 'hello'],
    ['Subject: a\n\tb', 'a b'],
    ['Subject: a   \n   b   ', 'a b'],
    ['Subject: a\n \n b', 'a b'], // a whitespace-only continuation adds nothing
    ['Subject:\n \n ', ''],
    ['Subject: "quoted\n string"', '"quoted string"'],
  ])('%j', (fold, value) => {
    const m = parseMessage(raw(`OPTIONS sip:b@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:b@example.com>\nFrom: <sip:a@example.com>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\n${fold}\nMax-Forwards: 70\n\n`));
    expect(getHeader(m, 'Subject')).toBe(value);
    expect(getHeader(m, 'Max-Forwards')).toBe('70');
  });

  it('unfolds mandatory headers before checking them', () => {
    const m = parseMessage(raw('OPTIONS sip:b@example.com SIP/2.0\nVia: SIP/2.0/UDP\n h;branch=z9hG4bK1\nTo:\n\t<sip:b@example.com>\nFrom: <sip:a@example.com>\n ;tag=1\nCall-ID:\n x\nCSeq: 1\n OPTIONS\nContent-Length:\n 0\n\n'));
    expect(getHeader(m, 'Via')).toBe('SIP/2.0/UDP h;branch=z9hG4bK1');
    expect(getHeader(m, 'CSeq')).toBe('1 OPTIONS');
  });
});

describe('header names: compact forms and canonical spelling (RFC 3261 §7.3.3, §20)', () => {
  it.each([
    ['a', 'Accept-Contact'],
    ['b', 'Referred-By'],
    ['c', 'Content-Type'],
    ['d', 'Request-Disposition'],
    ['e', 'Content-Encoding'],
    ['f', 'From'],
    ['i', 'Call-ID'],
    ['j', 'Reject-Contact'],
    ['k', 'Supported'],
    ['l', 'Content-Length'],
    ['m', 'Contact'],
    ['n', 'Identity-Info'],
    ['o', 'Event'],
    ['r', 'Refer-To'],
    ['s', 'Subject'],
    ['t', 'To'],
    ['u', 'Allow-Events'],
    ['v', 'Via'],
    ['x', 'Session-Expires'],
    ['y', 'Identity'],
  ])('compact %s → %s (either case)', (c, full) => {
    expect(canonicalHeaderName(c)).toBe(full);
    expect(canonicalHeaderName(c.toUpperCase())).toBe(full);
  });

  it.each([
    ['call-id', 'Call-ID'],
    ['CALL-ID', 'Call-ID'],
    ['cseq', 'CSeq'],
    ['www-authenticate', 'WWW-Authenticate'],
    ['proxy-authorization', 'Proxy-Authorization'],
    ['mime-version', 'MIME-Version'],
    ['sip-etag', 'SIP-ETag'],
    ['rack', 'RAck'],
    ['rseq', 'RSeq'],
    ['min-se', 'Min-SE'],
    ['record-route', 'Record-Route'],
    ['p-asserted-identity', 'P-Asserted-Identity'],
    ['X-Custom-Header', 'X-Custom-Header'], // unknown: as received
    ['x-custom-header', 'x-custom-header'],
    ['q', 'q'], // no compact form registered for q
    ['C%6Fntact', 'C%6Fntact'],
  ])('%s → %s', (name, canonical) => {
    expect(canonicalHeaderName(name)).toBe(canonical);
  });

  it('applies them while parsing', () => {
    const m = parseMessage(raw('OPTIONS sip:b@example.com SIP/2.0\nv: SIP/2.0/UDP h;branch=z9hG4bK1\nt: <sip:b@example.com>\nf: <sip:a@example.com>;tag=1\ni: x@y\nCSEQ: 1 OPTIONS\nk: path\nl: 0\n\n'));
    expect(m.headers.map((h) => h.name)).toEqual(['Via', 'To', 'From', 'Call-ID', 'CSeq', 'Supported', 'Content-Length']);
  });
});

describe('mandatory headers (RFC 3261 §8.1.1, §20)', () => {
  it.each([
    ['Via', 'Missing Via Header', false],
    ['From', 'Missing From Header', false],
    ['To', 'Missing To Header', false],
    ['Call-ID', 'Missing Call-ID Header', false],
    ['CSeq', 'Missing CSeq Header', false],
  ])('a request without %s is refused (%s)', (name, reason, answerable) => {
    const e = fails(request(undefined, { [name]: undefined }));
    expect(e.reason).toBe(reason);
    expect(e.canRespond).toBe(answerable);
  });

  it('Max-Forwards is optional (RFC 2543 clients, RFC 4475 inv2543)', () => {
    expect(parseMessage(request(undefined, { 'Max-Forwards': undefined })).kind).toBe('request');
  });

  it.each(['0', '70', '255', '0070'])('Max-Forwards %j is fine', (v) => {
    expect(parseMessage(request(undefined, { 'Max-Forwards': v })).kind).toBe('request');
  });

  it.each(['256', '300', '-1', '', 'seventy', '7 0', '1.0', '00000000000000000000001000'])('Max-Forwards %j is refused (§20.22: 0-255)', (v) => {
    const e = fails(request(undefined, { 'Max-Forwards': v }));
    expect(e.reason).toBe('Malformed Max-Forwards Header');
    expect(e.canRespond).toBe(true);
  });

  it('refuses two Max-Forwards', () => {
    expect(fails(request(undefined, {}, '', ['Max-Forwards: 5'])).reason).toBe('Multiple Max-Forwards Headers');
  });

  it.each([
    ['Via', 'SIP/2.0/UDP', 'Malformed Via Header', false],
    ['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1, garbage', 'Malformed Via Header', true], // the top value is fine
    ['Via', 'garbage, SIP/2.0/UDP h;branch=z9hG4bK1', 'Malformed Via Header', false],
    ['Via', 'SIP/2.0/UDP h;;branch=z9hG4bK1', 'Malformed Via Header', true], // sent-by still readable
    ['Via', ',', 'Malformed Via Header', false],
    ['From', '<sip:alice@example.com', 'Malformed From Header', true],
    ['From', 'Alice, Smith <sip:alice@example.com>', 'Malformed From Header', true],
    ['To', '"Bob <sip:bob@example.com>', 'Malformed To Header', true],
    ['To', '*', 'Malformed To Header', true],
    ['Call-ID', 'has space', 'Malformed Call-ID Header', true],
    ['Call-ID', '@x', 'Malformed Call-ID Header', true],
    ['Call-ID', 'x@', 'Malformed Call-ID Header', true],
    ['Call-ID', 'a@b@c', 'Malformed Call-ID Header', true],
    ['Call-ID', '', 'Malformed Call-ID Header', true],
    ['Call-ID', 'caf\u00e9', 'Malformed Call-ID Header', true],
    ['CSeq', 'OPTIONS', 'Malformed CSeq Header', true],
    ['CSeq', '4294967296 OPTIONS', 'Malformed CSeq Header', true],
    ['CSeq', '1 INVITE', 'CSeq Method Mismatch', true],
    ['CSeq', '1 options', 'CSeq Method Mismatch', true], // methods are case-sensitive (§7.1)
  ])('%s: %j → %s', (name, value, reason, answerable) => {
    const e = fails(request(undefined, { [name]: value }));
    expect(e.reason).toBe(reason);
    expect(e.canRespond).toBe(answerable);
  });

  it.each([['ACK'], ['CANCEL']])('%s carries its own method in CSeq (§17.1.1.3, §9.1)', (method) => {
    expect(parseMessage(request(`${method} sip:bob@example.com SIP/2.0`)).kind).toBe('request');
    expect(fails(request(`${method} sip:bob@example.com SIP/2.0`, { CSeq: '314159 INVITE' })).reason).toBe('CSeq Method Mismatch');
  });

  it.each(['Call-ID', 'CSeq', 'To'])('refuses two %s fields (RFC 4475 §3.3.8)', (name) => {
    const value = name === 'CSeq' ? '1 OPTIONS' : name === 'To' ? '<sip:c@example.com>' : 'other@x';
    const e = fails(request(undefined, {}, '', [`${name}: ${value}`]));
    expect(e.reason).toBe(`Multiple ${name} Headers`);
  });

  it('checks responses too, but never offers to answer them', () => {
    expect(parseMessage(response()).kind).toBe('response');
    for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
      const e = fails(response(undefined, { [name]: undefined }));
      expect(e.reason).toBe(`Missing ${name} Header`);
      expect(e.canRespond).toBe(false);
    }
    // A response's CSeq method is the request's, whatever it is; Max-Forwards is not checked.
    expect(parseMessage(response(undefined, { CSeq: '1 BYE', 'Max-Forwards': 'junk' })).kind).toBe('response');
  });

  it('reports the first problem found', () => {
    const e = fails(request('OPTIONS <x> SIP/2.0', { From: undefined, 'Call-ID': 'a b' }));
    expect(e.reason).toBe('Malformed Request-URI');
  });

  it('gives the partial request everything read so far', () => {
    const e = fails(request(undefined, { CSeq: '1 INVITE' }, 'hello', ['Content-Length: 5', 'X-Extra: yes']));
    const p = e.partial!;
    expect(p).toMatchObject({ kind: 'request', method: 'OPTIONS', uri: 'sip:bob@example.com' });
    expect(getHeader(p, 'X-Extra')).toBe('yes');
    expect(p.body.toString()).toBe('hello');
  });
});

describe('Content-Length and body (RFC 3261 §7.4, §18.3, §20.14)', () => {
  it('takes exactly Content-Length octets', () => {
    const m = parseMessage(request(undefined, { 'Content-Length': '5' }, 'hello'));
    expect(m.body.toString()).toBe('hello');
  });

  it('discards octets past Content-Length in a datagram (§18.3)', () => {
    const m = parseMessage(request(undefined, { 'Content-Length': '3' }, 'hello world'));
    expect(m.body.toString()).toBe('hel');
  });

  it('runs the body to the end of the datagram without Content-Length', () => {
    const m = parseMessage(request(undefined, {}, 'v=0\r\nbinary\0\xff'));
    expect(m.body.toString('latin1')).toBe('v=0\r\nbinary\0\xc3\xbf'); // the test string was UTF-8 encoded
  });

  it('keeps a body containing CRLFCRLF intact', () => {
    const body = 'a\r\n\r\nb\r\n\r\n';
    expect(parseMessage(request(undefined, { 'Content-Length': String(body.length) }, body)).body.toString()).toBe(body);
  });

  it('returns an empty Buffer without a body', () => {
    const m = parseMessage(request(undefined, { 'Content-Length': '0' }));
    expect(Buffer.isBuffer(m.body)).toBe(true);
    expect(m.body.length).toBe(0);
  });

  it('copies the body so the input buffer can be reused', () => {
    const buf = request(undefined, { 'Content-Length': '5' }, 'hello');
    const m = parseMessage(buf);
    buf.fill(0x78);
    expect(m.body.toString()).toBe('hello');
  });

  it('keeps bodies apart, small or large, however many are parsed', () => {
    const sizes = [1, 7, 8, 9, 100, 4095, 4096, 4097, 20000];
    const bodies = [];
    for (let round = 0; round < 40; round++) {
      for (const n of sizes) {
        const text = String.fromCharCode(0x41 + ((round + n) % 26)).repeat(n);
        const m = parseMessage(request(undefined, { 'Content-Length': String(n) }, text), { maxMessageBytes: 65535 });
        bodies.push({ m, text });
      }
    }
    for (const { m, text } of bodies) expect(m.body.toString()).toBe(text);
  });

  it.each(['0', '5', '00005', ' 5 '])('reads Content-Length %j', (v) => {
    expect(() => parseMessage(request(undefined, { 'Content-Length': v }, 'hello'))).not.toThrow();
  });

  it('accepts the compact form l', () => {
    expect(parseMessage(request(undefined, {}, 'hello', ['l: 2'])).body.toString()).toBe('he');
  });

  it.each([
    ['6', 'Content-Length Exceeds Message'],
    ['99999999999', 'Malformed Content-Length Header'],
    ['-1', 'Malformed Content-Length Header'],
    ['+5', 'Malformed Content-Length Header'],
    ['5.0', 'Malformed Content-Length Header'],
    ['0x5', 'Malformed Content-Length Header'],
    ['', 'Malformed Content-Length Header'],
    ['5, 5', 'Malformed Content-Length Header'],
  ])('refuses Content-Length %j (%s)', (v, reason) => {
    const e = fails(request(undefined, { 'Content-Length': v }, 'hello'));
    expect(e.reason).toBe(reason);
    expect(e.canRespond).toBe(true);
  });

  it('refuses two Content-Length fields, even equal ones (RFC 4475 §3.3.9)', () => {
    expect(fails(request(undefined, { 'Content-Length': '5' }, 'hello', ['l: 5'])).reason).toBe('Multiple Content-Length Headers');
  });

  it('refuses a header section without the empty line, but can answer it', () => {
    const text = request().toString().replace(/\r\n\r\n$/, '\r\n');
    const e = fails(Buffer.from(text));
    expect(e.reason).toBe('Missing Empty Line After Headers');
    expect(e.canRespond).toBe(true);
    expect(getHeader(e.partial!, 'CSeq')).toBe('314159 OPTIONS');
    expect(fails(Buffer.from(text.slice(0, -2))).reason).toBe('Missing Empty Line After Headers');
  });
});

describe('line ends (RFC 3261 §7: CRLF only)', () => {
  it.each([
    ['bare LF between headers', (s: string) => s.replace('\r\nTo:', '\nTo:')],
    ['bare CR between headers', (s: string) => s.replace('\r\nTo:', '\rTo:')],
    ['bare CR inside a value', (s: string) => s.replace('Call-ID: a84b', 'Call-ID: a8\r4b')],
    ['bare LF inside a value', (s: string) => s.replace('Call-ID: a84b', 'Call-ID: a8\n4b')],
    ['LF-only message', (s: string) => s.replace(/\r\n/g, '\n')],
    ['bare LF in the start line', (s: string) => s.replace('OPTIONS sip', 'OPTIONS\nsip')],
    ['bare CR in a folded value', (s: string) => s.replace('X-F: a\r\n b', 'X-F: a\r\n b\rc')],
  ])('refuses %s, without echoing it back', (_what, edit) => {
    const text = edit(request(undefined, {}, '', ['X-F: a', ' b']).toString());
    const e = fails(Buffer.from(text));
    expect(e.canRespond).toBe(false);
    expect(e).toBeInstanceOf(SipParseError);
  });
});

describe('limits (ParseLimits)', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_PARSE_LIMITS).toEqual({ maxMessageBytes: 65535, maxHeaders: 100, maxLineLength: 8192 });
  });

  it('refuses a message over maxMessageBytes with 513', () => {
    const buf = request(undefined, {}, 'x'.repeat(100));
    expect(() => parseMessage(buf, { maxMessageBytes: buf.length })).not.toThrow();
    const e = fails(buf, { maxMessageBytes: buf.length - 1 });
    expect([e.reason, e.status, e.canRespond]).toEqual(['Message Too Large', 513, false]);
    expect(fails(Buffer.alloc(70000, 0x41)).status).toBe(513);
  });

  it('refuses more than maxHeaders fields', () => {
    const extra = Array.from({ length: 94 }, (_, i) => `X-H${i}: ${i}`);
    expect(parseMessage(request(undefined, {}, '', extra)).headers).toHaveLength(100);
    const e = fails(request(undefined, {}, '', [...extra, 'X-Last: 1']));
    expect(e.reason).toBe('Too Many Headers');
    expect(fails(request(), { maxHeaders: 5 }).reason).toBe('Too Many Headers');
  });

  it('counts malformed lines against maxHeaders', () => {
    const junk = Array.from({ length: 200 }, () => 'junk');
    expect(fails(request(undefined, {}, '', junk)).reason).toBe('Too Many Headers');
  });

  it('refuses a long header line, folded or not', () => {
    const long = 'x'.repeat(8200);
    expect(fails(request(undefined, {}, '', [`X-Long: ${long}`])).reason).toBe('Header Too Long');
    const folded = Array.from({ length: 100 }, () => ` ${'y'.repeat(100)}`);
    expect(fails(request(undefined, {}, '', ['X-Folded: a', ...folded])).reason).toBe('Header Too Long');
    expect(() => parseMessage(request(undefined, {}, '', [`X-Long: ${long}`]), { maxLineLength: 9000 })).not.toThrow();
  });

  it('refuses a long start line', () => {
    const e = fails(request(`OPTIONS sip:${'a'.repeat(9000)}@example.com SIP/2.0`));
    expect(e.reason).toBe('Start Line Too Long');
    expect(e.canRespond).toBe(false);
  });

  it('merges partial limits with the defaults', () => {
    expect(() => parseMessage(request(undefined, {}, '', ['X-A: ' + 'a'.repeat(100)]), { maxLineLength: 60 })).toThrow(SipParseError);
    expect(() => parseMessage(request(), { maxLineLength: 60 })).not.toThrow();
  });
});

describe('character sets (RFC 3261 §25.1 TEXT-UTF8)', () => {
  it('decodes UTF-8 display names, reason phrases and unknown values', () => {
    const m = parseMessage(request(undefined, { From: '"Zoë Ünal ☎" <sip:zoe@example.com>;tag=1' }, '', ['Subject: Grüße 👋']));
    expect(getHeader(m, 'From')).toBe('"Zoë Ünal ☎" <sip:zoe@example.com>;tag=1');
    expect(getHeader(m, 'Subject')).toBe('Grüße 👋');
    expect((parseMessage(response('SIP/2.0 200 Très bien')) as SipResponse).reason).toBe('Très bien');
  });

  it('never throws on invalid UTF-8 (it becomes U+FFFD)', () => {
    const buf = Buffer.concat([request(undefined, {}, '', ['Subject: x']).subarray(0, 40), Buffer.from([0xff, 0xfe, 0xc3]), request().subarray(40)]);
    expect(() => parseMessage(buf)).toThrow(SipParseError); // the method/URI area is now garbage
    const m = parseMessage(Buffer.concat([Buffer.from('OPTIONS sip:b@example.com SIP/2.0\r\nSubject: '), Buffer.from([0xff, 0xc3]), request().subarray(request().indexOf('\r\n'))]));
    expect(getHeader(m, 'Subject')).toBe('\ufffd\ufffd');
  });
});
