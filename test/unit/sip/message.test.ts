import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../server/src/sip/parser.ts';
import {
  cloneMessage,
  countHeaderValues,
  cseqOf,
  firstHeaderValue,
  fromOf,
  getHeaderLines,
  getHeaderValues,
  releaseViews,
  requestUri,
  splitHeaderValues,
  toOf,
  topVia,
  uriOf,
  type SipMessage,
  type SipRequest,
} from '../../../server/src/sip/message.ts';
import { parseCSeq, parseNameAddr, parseVia } from '../../../server/src/sip/header-values.ts';
import { parseUri } from '../../../server/src/sip/uri.ts';

const REGISTER = Buffer.from(
  'REGISTER sip:example.org SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport\r\n' +
    'Max-Forwards: 70\r\n' +
    'From: "Alice" <sip:alice@example.org>;tag=a1\r\n' +
    'To: <sip:alice@example.org>\r\n' +
    'Call-ID: c1@192.0.2.10\r\n' +
    'CSeq: 7 REGISTER\r\n' +
    'Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n' +
    'Content-Length: 0\r\n\r\n',
);

function parse(): SipRequest {
  return parseMessage(REGISTER) as SipRequest;
}

describe('parsed views of a message', () => {
  it('are what parsing the header values gives, computed once', () => {
    const m = parse();
    expect(topVia(m)).toEqual(parseVia('SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport'));
    expect(topVia(m)).toBe(topVia(m));
    expect(cseqOf(m)).toEqual(parseCSeq('7 REGISTER'));
    expect(cseqOf(m)).toBe(cseqOf(m));
    expect(fromOf(m)).toEqual(parseNameAddr('"Alice" <sip:alice@example.org>;tag=a1'));
    expect(toOf(m)).toEqual(parseNameAddr('<sip:alice@example.org>'));
    expect(requestUri(m)).toEqual(parseUri('sip:example.org'));
    expect(requestUri(m)).toBe(requestUri(m));
    const contact = 'sip:alice@192.0.2.10:5060;transport=udp';
    expect(uriOf(m, contact)).toEqual(parseUri(contact));
    expect(uriOf(m, contact)).toBe(uriOf(m, contact));
  });

  it('follow changes to the message', () => {
    const m = parse();
    const before = topVia(m);
    m.headers[0]!.value = 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1;rport=5060;received=198.51.100.1';
    expect(topVia(m)).not.toBe(before);
    expect(topVia(m).params.get('received')).toBe('198.51.100.1');
    m.headers = m.headers.filter((h) => h.name !== 'CSeq');
    expect(() => cseqOf(m)).toThrow(TypeError);
    m.uri = 'sip:other.example.org';
    expect(requestUri(m).host).toBe('other.example.org');
    m.headers.unshift({ name: 'To', value: '<sip:bob@example.org>;tag=x' });
    expect(toOf(m)!.params.get('tag')).toBe('x');
  });

  it('are recomputed after releaseViews, and work on messages built in code', () => {
    const m = parse();
    const via = topVia(m);
    releaseViews(m);
    expect(topVia(m)).not.toBe(via);
    expect(topVia(m)).toEqual(via);
    const plain: SipRequest = cloneMessage(m);
    expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
    expect(plain).toEqual({ kind: 'request', method: 'REGISTER', uri: 'sip:example.org', headers: m.headers, body: m.body });
    expect(topVia(plain)).toEqual(via);
    expect(fromOf({ ...plain, headers: [] })).toBeUndefined();
    expect(() => topVia({ ...plain, headers: [] })).toThrow(TypeError);
  });

  it('keep a parsed message looking like a plain one', () => {
    const m = parse();
    expect(Object.keys(m).sort()).toEqual(['body', 'headers', 'kind', 'method', 'uri']);
    expect({ ...m }).toEqual({ kind: 'request', method: 'REGISTER', uri: 'sip:example.org', headers: m.headers, body: m.body });
  });
});

describe('header value helpers', () => {
  const lines = [
    '<sip:a@x>',
    ' <sip:b@x> , <sip:c@x>',
    '',
    ',, ',
    '"q, r" <sip:d@x>;p="1,2"',
    '<sip:e@x;a=1,2>',
    '  padded  ',
  ];
  const naive = (msg: SipMessage, name: string) => getHeaderLines(msg, name).flatMap((l) => splitHeaderValues(l));
  const cases: SipMessage[] = [];
  for (let i = 0; i < lines.length; i++) {
    for (let j = 0; j < lines.length; j++) {
      cases.push({
        kind: 'request',
        method: 'INVITE',
        uri: 'sip:x',
        body: Buffer.alloc(0),
        headers: [
          { name: 'Route', value: lines[i]! },
          { name: 'X', value: 'y' },
          { name: j % 2 ? 'route' : 'ROUTE', value: lines[j]! },
        ],
      });
    }
  }

  it('getHeaderValues, firstHeaderValue and countHeaderValues agree with splitting every line', () => {
    for (const m of cases) {
      const all = naive(m, 'Route');
      expect(getHeaderValues(m, 'Route')).toEqual(all);
      expect(getHeaderValues(m, 'route')).toEqual(all);
      expect(firstHeaderValue(m, 'Route')).toBe(all[0]);
      expect(countHeaderValues(m, 'Route')).toBe(all.length);
      expect(Math.min(countHeaderValues(m, 'Route', 2), 2)).toBe(Math.min(all.length, 2));
    }
  });
});
