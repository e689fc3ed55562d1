/**
 * A group-call room's sip:ROOM@DOMAIN (server/src/proxy/room-uri.ts): the pure answer per method,
 * the directory, and the proxy core answering instead of looking the name up, with its policy
 * for local callers (407 first) and accounts taking precedence over rooms.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FlowTokens } from '../../../server/src/proxy/flow-token.ts';
import { Locator } from '../../../server/src/proxy/locator.ts';
import { ProxyCore, type IncomingRequest } from '../../../server/src/proxy/proxy-core.ts';
import { RoomDirectory, roomAnswer, ROOM_ALLOW, type RoomTarget } from '../../../server/src/proxy/room-uri.ts';
import { LocationStore } from '../../../server/src/registrar/location-store.ts';
import { getHeader, type Peer, type SipRequest, type SipResponse } from '../../../server/src/sip/message.ts';
import { parseMessage } from '../../../server/src/sip/parser.ts';
import { createResponse } from '../../../server/src/sip/response.ts';

const target: RoomTarget = { room: 'standup', link: 'https://example.org:8443/group.html?room=standup', agent: 'example.org' };

describe('roomAnswer: a room URI answered as a redirect server (RFC 3261 §8.3)', () => {
  it('INVITE: 302 with the page in name-addr form (§20.10) and a Warning 399 a phone can show (§20.43)', () => {
    const a = roomAnswer('INVITE', false, target);
    expect(a.status).toBe(302);
    expect(a.authenticate).toBe(true);
    expect(a.reason).toMatch(/^Moved Temporarily/);
    expect(a.headers).toEqual([
      { name: 'Contact', value: '<https://example.org:8443/group.html?room=standup>' },
      { name: 'Warning', value: '399 example.org "standup is an end-to-end encrypted group call: open https://example.org:8443/group.html?room=standup in a web browser"' },
    ]);
  });

  it('OPTIONS gets what an INVITE would (§11.2), with Allow', () => {
    const a = roomAnswer('OPTIONS', false, target);
    expect(a.status).toBe(302);
    expect(a.headers.find((h) => h.name === 'Contact')?.value).toBe(`<${target.link}>`);
    expect(a.headers.find((h) => h.name === 'Allow')?.value).toBe(ROOM_ALLOW);
  });

  it.each([
    ['MESSAGE', false, 405],
    ['SUBSCRIBE', false, 405],
    ['REFER', false, 405],
    ['PUBLISH', false, 405],
    ['NOTIFY', false, 405],
    ['BYE', false, 481],
    ['PRACK', false, 481],
    ['UPDATE', false, 481],
    ['INFO', false, 481],
    ['INVITE', true, 481],
    ['MESSAGE', true, 481],
  ] as const)('%s (in dialog: %s) → %i, no credentials asked', (method, inDialog, status) => {
    const a = roomAnswer(method, inDialog, target);
    expect(a.status).toBe(status);
    expect(a.authenticate).toBe(false);
    // §21.4.6: a 405 MUST list the allowed methods.
    if (status === 405) expect(a.headers).toEqual([{ name: 'Allow', value: ROOM_ALLOW }]);
    expect(a.headers.some((h) => h.name === 'Contact')).toBe(false);
  });
});

describe('RoomDirectory', () => {
  it('knows nothing until the HTTPS port is known, then links to https://DOMAIN:PORT', () => {
    const d = new RoomDirectory('example.org');
    d.add('standup');
    expect(d.lookup('standup')).toBeUndefined();
    d.setHttpsPort(8443);
    expect(d.lookup('standup')).toEqual(target);
    d.setHttpsPort(443);
    expect(d.lookup('standup')?.link).toBe('https://example.org/group.html?room=standup');
  });

  it('compares user parts case-sensitively (§19.1.4), forgets closed rooms, takes snapshots', () => {
    const d = new RoomDirectory('example.org');
    d.setHttpsPort(8443);
    d.add('standup');
    expect(d.lookup('Standup')).toBeUndefined();
    d.remove('standup');
    expect(d.lookup('standup')).toBeUndefined();
    d.reset(['a-room', 'b-room']);
    expect(d.size).toBe(2);
    expect(d.lookup('a-room')?.room).toBe('a-room');
    d.reset([]);
    expect(d.lookup('a-room')).toBeUndefined();
  });
});

describe('ProxyCore: requests for a room URI', () => {
  const source: Peer = { transport: 'udp', address: '192.0.2.1', port: 5062 };

  function setup(o: { users?: string[]; authenticate?: (req: SipRequest) => { ok: true } | { ok: false; response: SipResponse } } = {}) {
    const rooms = new RoomDirectory('example.org');
    rooms.setHttpsPort(8443);
    rooms.add('standup');
    const sent: SipRequest[] = [];
    const authenticated: string[] = [];
    const proxy = new ProxyCore({
      logger: pino({ level: 'silent' }),
      port: { sendRequest: (req) => void sent.push(req), sendStateless: () => true, local: () => ({ host: '203.0.113.5', port: 5060 }) },
      location: new LocationStore(),
      flowTokens: new FlowTokens(),
      locator: new Locator({ resolveNaptr: async () => [], resolveSrv: async () => [], resolve4: async () => [], resolve6: async () => [] }),
      isMyself: (host) => host === 'example.org',
      isLocalDomain: (host) => host === 'example.org',
      userExists: (u) => (o.users ?? ['bob']).includes(u),
      authenticate: (req) => {
        authenticated.push(req.method);
        return o.authenticate ? o.authenticate(req) : { ok: true };
      },
      timerC: 0,
      rooms,
    });
    return { proxy, sent, authenticated };
  }

  function request(method: string, user: string, from = 'sip:carol@elsewhere.example', toTag = ''): { stx: IncomingRequest; responses: SipResponse[] } {
    const req = parseMessage(
      Buffer.from(
        `${method} sip:${user}@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK-${method}\r\nMax-Forwards: 70\r\n` +
          `From: <${from}>;tag=f1\r\nTo: <sip:${user}@example.org>${toTag}\r\nCall-ID: c-${method}@192.0.2.1\r\nCSeq: 1 ${method}\r\n` +
          'Contact: <sip:carol@192.0.2.1:5062>\r\nContent-Length: 0\r\n\r\n',
      ),
    ) as SipRequest;
    const responses: SipResponse[] = [];
    return { stx: { request: req, source, respond: (res) => void responses.push(res) }, responses };
  }

  it('redirects an INVITE from another domain at once, forwarding nothing', () => {
    const { proxy, sent, authenticated } = setup();
    const { stx, responses } = request('INVITE', 'standup');
    proxy.handleRequest(stx);
    expect(sent).toEqual([]);
    expect(authenticated).toEqual([]);
    expect(responses.map((r) => r.status)).toEqual([302]);
    expect(getHeader(responses[0]!, 'Contact')).toBe('<https://example.org:8443/group.html?room=standup>');
    expect(getHeader(responses[0]!, 'Warning')).toMatch(/^399 example\.org "standup is an end-to-end encrypted group call/);
    expect(proxy.activeContexts).toBe(0);
  });

  it('challenges a caller whose From is one of our users before redirecting (407, as for a local call)', () => {
    const challenge = (req: SipRequest) => ({ ok: false as const, response: createResponse(req, 407) });
    const { proxy, authenticated } = setup({ authenticate: challenge });
    const { stx, responses } = request('INVITE', 'standup', 'sip:alice@example.org');
    proxy.handleRequest(stx);
    expect(authenticated).toEqual(['INVITE']);
    expect(responses.map((r) => r.status)).toEqual([407]);
  });

  it('refuses MESSAGE with 405 + Allow and an in-dialog request with 481, without credentials', () => {
    const { proxy, authenticated } = setup({ authenticate: (req) => ({ ok: false, response: createResponse(req, 407) }) });
    const m = request('MESSAGE', 'standup', 'sip:alice@example.org');
    proxy.handleRequest(m.stx);
    expect(m.responses.map((r) => r.status)).toEqual([405]);
    expect(getHeader(m.responses[0]!, 'Allow')).toBe(ROOM_ALLOW);
    const bye = request('BYE', 'standup', 'sip:alice@example.org', ';tag=t1');
    proxy.handleRequest(bye.stx);
    expect(bye.responses.map((r) => r.status)).toEqual([481]);
    expect(authenticated).toEqual([]);
  });

  it('leaves unknown names as they were (404), and an account of the same name wins over a room', () => {
    const { proxy } = setup({ users: ['bob', 'standup'] });
    const unknown = request('INVITE', 'no-such-room');
    proxy.handleRequest(unknown.stx);
    expect(unknown.responses.map((r) => r.status)).toEqual([404]);
    const user = request('INVITE', 'standup');
    proxy.handleRequest(user.stx);
    // The account "standup" has no registration: 480, as for any offline user.
    expect(user.responses.map((r) => r.status)).toEqual([480]);
  });
});
