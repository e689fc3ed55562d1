import { describe, expect, it } from 'vitest';
import type { SipMessage, SipRequest, SipResponse } from '../../../server/src/sip/message.ts';
import { parseMessage } from '../../../server/src/sip/parser.ts';
import { serializeMessage, SipSerializeError } from '../../../server/src/sip/serializer.ts';
import { ACCEPTED } from './rfc4475.fixtures.ts';

function reqMsg(headers: [string, string][], body = ''): SipRequest {
  return { kind: 'request', method: 'MESSAGE', uri: 'sip:bob@example.com', headers: headers.map(([name, value]) => ({ name, value })), body: Buffer.from(body) };
}

const BASE: [string, string][] = [
  ['Via', 'SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1'],
  ['From', '<sip:alice@example.com>;tag=1'],
  ['To', '<sip:bob@example.com>'],
  ['Call-ID', 'c1@example.com'],
  ['CSeq', '1 MESSAGE'],
];

/** What must survive a round trip: everything but the Content-Length value, which is recomputed. */
function shape(m: SipMessage) {
  const { headers, body, ...line } = m;
  return { line, headers: headers.filter((h) => h.name !== 'Content-Length'), body: body.toString('latin1') };
}

describe('serializeMessage: wire form (RFC 3261 §7)', () => {
  it('writes the request line, CRLF-terminated headers, an empty line and the body', () => {
    const out = serializeMessage(reqMsg(BASE, 'hi'));
    expect(out.toString()).toBe(
      'MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1@example.com\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi',
    );
  });

  it('writes a status line, with an empty reason phrase when there is none (§7.2, RFC 4475 noreason)', () => {
    const res: SipResponse = { kind: 'response', status: 100, reason: '', headers: [], body: Buffer.alloc(0) };
    expect(serializeMessage(res).toString()).toBe('SIP/2.0 100 \r\nContent-Length: 0\r\n\r\n');
    expect(serializeMessage({ ...res, status: 486, reason: 'Busy Here' }).toString()).toBe('SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n');
  });

  it('always writes Content-Length from the body length (§20.14, §18.3)', () => {
    expect(serializeMessage(reqMsg(BASE)).toString()).toContain('\r\nContent-Length: 0\r\n\r\n');
    const body = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]);
    const out = serializeMessage({ ...reqMsg(BASE), body });
    expect(out.toString('latin1')).toContain('Content-Length: 8\r\n\r\n');
    expect(out.subarray(out.length - 8).equals(body)).toBe(true);
  });

  it('replaces every Content-Length (long or compact form) by one, where the first one was', () => {
    const m = reqMsg([BASE[0]!, ['Content-Length', '999'], ...BASE.slice(1), ['l', '5'], ['content-length', '7']], 'abc');
    const text = serializeMessage(m).toString();
    expect(text.match(/Content-Length/gi)).toHaveLength(1);
    expect(text.split('\r\n')[2]).toBe('Content-Length: 3');
  });

  it('writes UTF-8', () => {
    const m = reqMsg([...BASE, ['Subject', 'Grüße ☎ 👋']], 'é');
    const out = serializeMessage(m);
    expect(out.includes(Buffer.from('Subject: Grüße ☎ 👋\r\n', 'utf8'))).toBe(true);
    expect(out.toString('utf8')).toContain('Content-Length: 2\r\n'); // octets, not characters
  });

  it.each([
    ['a CRLF in a value', reqMsg([...BASE, ['Subject', 'a\r\nVia: injected']])],
    ['a bare LF in a value', reqMsg([...BASE, ['Subject', 'a\nb']])],
    ['a bare CR in a value', reqMsg([...BASE, ['Subject', 'a\rb']])],
    ['a colon in a name', reqMsg([...BASE, ['Sub:ject', 'x']])],
    ['a space in a name', reqMsg([...BASE, ['Sub ject', 'x']])],
    ['an empty name', reqMsg([...BASE, ['', 'x']])],
    ['a non-token method', { ...reqMsg(BASE), method: 'MES SAGE' }],
    ['a Request-URI with a space', { ...reqMsg(BASE), uri: 'sip:bob@example.com SIP/2.0\r\nX:' }],
    ['an empty Request-URI', { ...reqMsg(BASE), uri: '' }],
    ['a CR in a reason phrase', { kind: 'response', status: 200, reason: 'OK\r\nX: y', headers: [], body: Buffer.alloc(0) } as SipResponse],
    ['status 99', { kind: 'response', status: 99, reason: 'x', headers: [], body: Buffer.alloc(0) } as SipResponse],
    ['status 700', { kind: 'response', status: 700, reason: 'x', headers: [], body: Buffer.alloc(0) } as SipResponse],
    ['status 200.5', { kind: 'response', status: 200.5, reason: 'x', headers: [], body: Buffer.alloc(0) } as SipResponse],
  ] as [string, SipMessage][])('refuses %s (it would change the message at the next hop)', (_what, msg) => {
    expect(() => serializeMessage(msg)).toThrow(SipSerializeError);
  });
});

describe('serializeMessage ∘ parseMessage round trips (RFC 3261 §7, RFC 4475 §3.1.1)', () => {
  it.each(Object.entries(ACCEPTED))('%s', (_name, buf) => {
    const parsed = parseMessage(buf);
    const wire = serializeMessage(parsed);
    const again = parseMessage(wire);
    expect(shape(again)).toEqual(shape(parsed));
    // Serializing is stable once the message is in canonical form.
    expect(serializeMessage(again).equals(wire)).toBe(true);
  });

  it('is byte-exact for a canonical message', () => {
    const text =
      'INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\nMax-Forwards: 70\r\nFrom: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\nTo: Bob <sip:bob@biloxi.example.com>\r\nCall-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n';
    expect(serializeMessage(parseMessage(Buffer.from(text))).toString()).toBe(text);
  });

  it('expands compact forms and unfolds lines, keeping the meaning', () => {
    const text = 'OPTIONS sip:b@example.com SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nt: <sip:b@example.com>\r\nf: <sip:a@example.com>\r\n ;tag=1\r\ni: x\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n';
    expect(serializeMessage(parseMessage(Buffer.from(text))).toString()).toBe(
      'OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@example.com>\r\nFrom: <sip:a@example.com> ;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
    );
  });

  it('drops datagram octets past Content-Length and writes the true length (RFC 4475 dblreq)', () => {
    const out = serializeMessage(parseMessage(ACCEPTED.dblreq!)).toString();
    expect(out.endsWith('Content-Length: 0\r\n\r\n')).toBe(true);
    expect(out).not.toContain('INVITE');
  });

  it('adds the Content-Length an RFC 2543 datagram left out (RFC 4475 inv2543)', () => {
    const m = parseMessage(ACCEPTED.inv2543!);
    expect(serializeMessage(m).toString()).toContain(`\r\nContent-Length: ${m.body.length}\r\n\r\nv=0`);
  });
});
