import { describe, expect, it } from 'vitest';
import { getHeader, getHeaderLines, getHeaderValues, type SipMessage, type SipRequest, type SipResponse } from '../../../server/src/sip/message.ts';
import { parseMessage, SipParseError } from '../../../server/src/sip/parser.ts';
import { getTag, HeaderValueError, parseAuthParams, parseContact, parseCSeq, parseNameAddr, parseVia } from '../../../server/src/sip/header-values.ts';
import { parseUri } from '../../../server/src/sip/uri.ts';
import * as T from './rfc4475.fixtures.ts';

function req(buf: Buffer): SipRequest {
  const m = parseMessage(buf);
  expect(m.kind).toBe('request');
  return m as SipRequest;
}

function res(buf: Buffer): SipResponse {
  const m = parseMessage(buf);
  expect(m.kind).toBe('response');
  return m as SipResponse;
}

function parseError(buf: Buffer): SipParseError {
  try {
    parseMessage(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(SipParseError);
    return err as SipParseError;
  }
  throw new Error('expected a SipParseError');
}

function vias(m: SipMessage) {
  return getHeaderValues(m, 'Via').map(parseVia);
}

describe('RFC 4475 §3.1.1: valid messages parse', () => {
  it('§3.1.1.1 wsinv: folding, LWS everywhere, compact and odd-case names, unknown headers', () => {
    const m = req(T.wsinv);
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect([...parseUri(m.uri).params]).toEqual([['unknownparam', null]]);
    expect(m.headers.map((h) => h.name)).toEqual([
      'To', 'From', 'Max-Forwards', 'Call-ID', 'Content-Length', 'CSeq', 'Via', 'Subject', 'NewFangledHeader',
      'UnknownHeaderWithUnusualValue', 'Content-Type', 'Route', 'Via', 'Contact',
    ]);
    const to = parseNameAddr(getHeader(m, 'To')!);
    expect(to.uri).toBe('sip:vivekg@chair-dnrc.example.com');
    expect(getTag(getHeader(m, 'To')!)).toBe('1918181833n');
    const from = parseNameAddr(getHeader(m, 'From')!);
    expect(from.displayName).toBe('J Rosenberg \\"');
    expect(from.params.get('tag')).toBe('98asjd8');
    expect(getHeader(m, 'Max-Forwards')).toBe('0068');
    expect(parseCSeq(getHeader(m, 'CSeq')!)).toEqual({ seq: 9, method: 'INVITE' });
    expect(getHeader(m, 'Subject')).toBe('');
    expect(getHeader(m, 'NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(getHeader(m, 'UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    const v = vias(m);
    expect(v.map((x) => [x.transport, x.host, x.params.get('branch')])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    const c = parseContact(getHeader(m, 'Contact')!);
    expect(c).toMatchObject({ star: false, displayName: 'Quoted string ""', uri: 'sip:jdrosen@example.com', q: 0.33 });
    expect(m.body.length).toBe(150);
    expect(m.body.toString().startsWith('v=0\r\n')).toBe(true);
  });

  it('§3.1.1.2 intmeth: token characters in method, URI, params; quoted NUL; UTF-8', () => {
    const m = req(T.intmeth);
    expect(m.method).toBe(T.INTMETH_METHOD);
    expect(m.uri).toBe(T.INTMETH_URI);
    expect(parseUri(m.uri).password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    expect(parseNameAddr(getHeader(m, 'To')!).displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
    const from = parseNameAddr(getHeader(m, 'From')!);
    expect(from.displayName).toBe("token1~` token2'+_ token3*%!.-");
    expect(from.params.get("fromparam''~+*_!.-%")).toBe('"работающий"');
    expect(from.params.get('tag')).toBe("_token~1'+`*%!-.");
    expect(getHeader(m, 'Call-ID')).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(parseCSeq(getHeader(m, 'CSeq')!).method).toBe(T.INTMETH_METHOD);
    expect(vias(m)[0]!.params.get('branch')).toBe("z9hG4bK-.!%66*_+`'~");
    // An unknown header keeps its name as received and its UTF-8 value.
    expect(m.headers[6]).toEqual({ name: "extensionHeader-!.%*+_`'~", value: '\uFEFF大停電' });
  });

  it('§3.1.1.3 esc01: % escapes in the Request-URI, To, From and Contact; compact i and C', () => {
    const m = req(T.esc01);
    expect(parseUri(m.uri).user).toBe('sips:user@example.com');
    expect(parseUri(parseNameAddr(getHeader(m, 'To')!).uri).user).toBe('user');
    expect(parseUri(parseNameAddr(getHeader(m, 'From')!).uri).user).toBe('I have spaces');
    expect(getHeader(m, 'Call-ID')).toBe('esc01.239409asdfakjkn23onasd0-3234');
    expect(getHeader(m, 'Content-Type')).toBe('application/sdp');
    const contact = parseUri(parseNameAddr(getHeader(m, 'Contact')!).uri);
    expect(contact.user).toBe('caller');
    expect([...contact.params]).toEqual([['lr', null], ['name', 'value%41']]);
    expect(m.body.length).toBe(150);
  });

  it('§3.1.1.4 escnull: %00 in user parts', () => {
    const m = req(T.escnull);
    expect(parseUri(parseNameAddr(getHeader(m, 'To')!).uri).user).toBe('null-\0-null');
    expect(getHeaderValues(m, 'Contact').map((c) => parseUri(parseNameAddr(c).uri).user)).toEqual(['\0', '\0\0']);
    expect(getHeader(m, 'Content-Length')).toBe('0');
  });

  it('§3.1.1.5 esc02: % is not an escape in methods, display names, branches or header names', () => {
    const m = req(T.esc02);
    expect(m.method).toBe('RE%47IST%45R');
    expect(parseNameAddr(getHeader(m, 'To')!).displayName).toBe('%Z%45');
    expect(vias(m)[0]!.params.get('branch')).toBe('z9hG4bK209%fzsnel234');
    // "C%6Fntact" is an unknown header, not a third Contact.
    expect(getHeaderLines(m, 'Contact')).toEqual(['<sip:alias1@host1.example.com>', '<sip:alias3@host3.example.com>']);
    expect(getHeader(m, 'C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
  });

  it('§3.1.1.6 lwsdisp: no LWS between display name and <', () => {
    const m = req(T.lwsdisp);
    expect(parseNameAddr(getHeader(m, 'From')!)).toMatchObject({ displayName: 'caller', uri: 'sip:caller@example.com' });
  });

  it('§3.1.1.7 longreq: long values and 34 Via fields in every letter case', () => {
    const m = req(T.longreq);
    expect(getHeaderLines(m, 'Via')).toHaveLength(T.LONGREQ_VIAS);
    expect(vias(m).map((v) => v.host).slice(0, 3)).toEqual(['sip33.example.com', 'sip32.example.com', 'sip31.example.com']);
    expect(vias(m)[33]!.params.get('branch')).toBe(`very${'long'.repeat(50)}branchvalue`);
    expect(parseNameAddr(getHeader(m, 'From')!).params.get('tag')).toBe(`12${'982'.repeat(50)}424`);
    expect(parseNameAddr(getHeader(m, 'To')!).displayName).toBe(`I have a user name of ${'extreme'.repeat(10)} proportion`);
    expect(getHeader(m, 'Unknown-' + 'Long'.repeat(20) + '-Name')).toMatch(/^unknown-(long){20}-value; /);
    expect(m.body.length).toBe(150);
  });

  it('§3.1.1.8 dblreq: octets after Content-Length in a datagram are discarded (RFC 3261 §18.3)', () => {
    const m = req(T.dblreq);
    expect(m.method).toBe('REGISTER');
    expect(getHeader(m, 'Call-ID')).toBe('dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    expect(m.body.length).toBe(0);
  });

  it('§3.1.1.9 semiuri: ";" in the user part; a folded comma list', () => {
    const m = req(T.semiuri);
    const u = parseUri(m.uri);
    expect(u.user).toBe('user;par=u@example.net');
    expect(u.host).toBe('example.com');
    expect(u.params.size).toBe(0);
    expect(getHeaderValues(m, 'Accept')).toEqual([
      'application/sdp', 'application/pkcs7-mime', 'multipart/mixed', 'multipart/signed', 'message/sip', 'message/sipfrag',
    ]);
  });

  it('§3.1.1.10 transports: unknown transport tokens', () => {
    const m = req(T.transports);
    expect(vias(m).map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
    expect(getHeader(m, 'Call-ID')).toBe('transports.kijh4akdnaqjkwendsasfdj');
  });

  it('§3.1.1.11 mpart01: a binary multipart body is framed by Content-Length only', () => {
    const m = req(T.mpart01);
    expect(m.method).toBe('MESSAGE');
    expect(m.body.equals(T.MPART01_BODY)).toBe(true);
  });

  it('§3.1.1.12 unreason: a UTF-8 reason phrase with odd characters', () => {
    const m = res(T.unreason);
    expect(m.status).toBe(200);
    expect(m.reason).toBe(T.UNREASON_REASON);
    expect(m.body.length).toBe(154);
  });

  it('§3.1.1.13 noreason: an empty reason phrase', () => {
    const m = res(T.noreason);
    expect(m.status).toBe(100);
    expect(m.reason).toBe('');
  });
});

describe('RFC 4475 §3.1.2: invalid messages are refused with a useful SipParseError', () => {
  // [name, reason, answerable (a 400/505 can be sent back), status]
  const cases: [keyof typeof T.REFUSED, string, boolean, number][] = [
    ['badinv01', 'Malformed Via Header', true, 400], // §3.1.2.1: ";;,;,," in Via
    ['clerr', 'Content-Length Exceeds Message', true, 400], // §3.1.2.2: answer 400 over UDP
    ['ncl', 'Malformed Content-Length Header', true, 400], // §3.1.2.3
    ['scalar02', 'Malformed CSeq Header', true, 400], // §3.1.2.4: CSeq beyond 2^32 (Max-Forwards 300 too)
    ['scalarlg', 'Malformed CSeq Header', false, 400], // §3.1.2.5: a response is dropped
    ['quotbal', 'Malformed To Header', true, 400], // §3.1.2.6
    ['ltgtruri', 'Malformed Request-URI', true, 400], // §3.1.2.7
    ['lwsruri', 'Bad Request-Line', true, 400], // §3.1.2.8
    ['lwsstart', 'Bad Request-Line', true, 400], // §3.1.2.9
    ['trws', 'Bad Request-Line', true, 400], // §3.1.2.10
    ['escruri', 'Headers Not Allowed in Request-URI', true, 400], // §3.1.2.11
    ['badaspec', 'Malformed To Header', true, 400], // §3.1.2.14
    ['baddn', 'Malformed From Header', true, 400], // §3.1.2.15
    ['badvers', 'Version Not Supported', true, 505], // §3.1.2.16: 505
    ['mismatch01', 'CSeq Method Mismatch', true, 400], // §3.1.2.17
    ['mismatch02', 'CSeq Method Mismatch', true, 400], // §3.1.2.18
    ['bigcode', 'Bad Status-Line', false, 400], // §3.1.2.19
    ['insuf', 'Missing From Header', false, 400], // §3.3.1: no From/To/Call-ID, nothing to answer with
    ['multi01', 'Multiple From Headers', true, 400], // §3.3.8
    ['mcl01', 'Multiple Content-Length Headers', true, 400], // §3.3.9
  ];
  it.each(cases)('%s → %j', (name, reason, answerable, status) => {
    const err = parseError(T.REFUSED[name]!);
    expect(err.reason).toBe(reason);
    expect(err.status).toBe(status);
    expect(err.canRespond).toBe(answerable);
    expect(err.versionNotSupported).toBe(status === 505);
    if (answerable) {
      // The partial request carries what createResponse copies (§8.2.6.2).
      const p = err.partial!;
      expect(p.kind).toBe('request');
      for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) expect(getHeader(p, h), h).toBeDefined();
    } else {
      expect(err.partial).toBeUndefined();
    }
  });

  it('covers every refused fixture', () => {
    expect(cases.map(([n]) => n).sort()).toEqual(Object.keys(T.REFUSED).sort());
  });
});

describe('RFC 4475 §3.1.2, §3.2-3.4: accepted by the parser, left to the layer that cares', () => {
  it('§3.1.2.12 baddate: Date is not parsed (RFC 3261 §16.6: a proxy forwards it unchanged)', () => {
    const m = req(T.baddate);
    expect(getHeader(m, 'Date')).toBe('Fri, 01 Jan 2010 16:00:00 EST');
  });

  it('§3.1.2.13 regbadct: the registrar refuses the bare Contact with "?" via parseContact', () => {
    const m = req(T.regbadct);
    expect(() => parseContact(getHeader(m, 'Contact')!)).toThrow(HeaderValueError);
  });

  it('§3.2.1 badbranch: a bare magic cookie is still a branch', () => {
    expect(vias(req(T.badbranch))[0]!.params.get('branch')).toBe('z9hG4bK');
  });

  it('§3.3.2-3.3.4 unkscm, novelsc, unksm2: unknown schemes are the application\'s business (416)', () => {
    expect(req(T.unkscm).uri).toBe('nobodyKnowsThisScheme:totallyopaquecontent');
    expect(req(T.novelsc).uri).toBe('soap.beep://192.0.2.103:3002');
    const m = req(T.unksm2);
    expect(parseNameAddr(getHeader(m, 'To')!).uri).toBe('isbn:2983792873');
    expect(parseNameAddr(getHeader(m, 'From')!).uri).toBe('http://www.example.com');
    expect(parseNameAddr(getHeader(m, 'Contact')!).uri).toBe('name:John_Smith');
  });

  it('§3.3.5 bext01: Require and Proxy-Require are kept raw (420 is the core\'s answer)', () => {
    const m = req(T.bext01);
    expect(getHeaderValues(m, 'Proxy-Require')).toEqual(['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
  });

  it('§3.3.6 invut and §3.3.15 sdp01: bodies of any type', () => {
    expect(req(T.invut).body.toString()).toBe('<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n');
    expect(req(T.sdp01).body.length).toBe(150);
  });

  it('§3.3.7 regaut01: an unknown authorization scheme still parses', () => {
    const a = parseAuthParams(getHeader(req(T.regaut01), 'Authorization')!);
    expect(a.scheme).toBe('NoOneKnowsThisScheme');
    expect(a.params.get('opaque-data')).toBe('here');
  });

  it('§3.3.10 bcast: a broadcast Via in a response is the proxy\'s problem, not the parser\'s', () => {
    expect(vias(res(T.bcast))[1]!.host).toBe('255.255.255.255');
  });

  it('§3.3.11 zeromf: Max-Forwards 0 parses (the proxy answers 483)', () => {
    expect(getHeader(req(T.zeromf), 'Max-Forwards')).toBe('0');
  });

  it('§3.3.12-3.3.14 cparam01, cparam02, regescrt: header vs URI parameters, escaped URI headers', () => {
    const c1 = parseContact(getHeader(req(T.cparam01), 'Contact')!);
    const c2 = parseContact(getHeader(req(T.cparam02), 'Contact')!);
    expect(c1.star === false && [c1.uri, [...c1.params.keys()]]).toEqual(['sip:+19725552222@gw1.example.net', ['unknownparam']]);
    expect(c2.star === false && [c2.uri, c2.params.size]).toEqual(['sip:+19725552222@gw1.example.net;unknownparam', 0]);
    const m = req(T.regescrt);
    const c3 = parseContact(getHeader(m, 'Contact')!);
    expect(c3.star === false && [...parseUri(c3.uri).headers]).toEqual([['Route', '<sip:sip.example.com>']]);
    expect(getHeader(m, 'Content-Length')).toBe('0');
  });

  it('§3.4.1 inv2543: RFC 2543 syntax, no Content-Length on a datagram: the body runs to its end', () => {
    const m = req(T.inv2543);
    expect(getHeader(m, 'Max-Forwards')).toBeUndefined();
    expect(vias(m)[0]!.params.has('branch')).toBe(false);
    // In the bare addr-spec form ";user=phone" is a To parameter, not a URI parameter (§20.10).
    expect([...parseNameAddr(getHeader(m, 'To')!).params]).toEqual([['user', 'phone']]);
    expect(m.body.toString()).toMatch(/^v=0\r\n[^]*m=audio 49217 RTP\/AVP 0\r\n$/);
  });
});

describe('RFC 4475 fixtures: Content-Length of each accepted message matches its body', () => {
  it.each(Object.entries(T.ACCEPTED))('%s', (_name, buf) => {
    const m = parseMessage(buf);
    const cl = getHeader(m, 'Content-Length');
    if (cl !== undefined) expect(m.body.length).toBe(Number(cl));
  });
});
