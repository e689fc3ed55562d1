/**
 * A group-call room's SIP URI on a real server: sip:ROOM@DOMAIN of a live room is answered with
 * 302 Moved Temporarily whose Contact is the room's page, https://DOMAIN:PORT/group.html?room=ROOM
 * (RFC 3261 §8.3 redirect server, §20.10 non-SIP URI in a 3xx Contact), with a Warning a phone
 * can show. sip.js over WSS (the web client's library, signed in as a local user, so challenged
 * first) and a bare UDP phone from another domain both get it; OPTIONS gets the same (§11.2),
 * MESSAGE 405 with Allow (§21.4.6); a name that is no room, or a room that closed, is what it
 * was before: an unknown user (404).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inviter, SessionState, UserAgent } from 'sip.js';
import { randomBytes } from 'node:crypto';
import { createNodeUserAgent } from '../helpers/sipjs-node.ts';
import { httpsJson, signIn } from '../helpers/room-client.ts';
import { RawUa, type RawMessage } from '../helpers/raw-ua.ts';
import { HAVE_NETNS, startTestServer, type TestServer } from '../helpers/server.ts';
import { takeRedirectContacts } from '../../web-client/src/sip/group-redirect.ts';

const BASE = 38060;
const HTTPS = BASE + 3;
const DOMAIN = 'localhost';
const USERS = { alice: 'alice-room-uri-1', bob: 'bob-room-uri-22' };
const LINK = `https://${DOMAIN}:${HTTPS}/group.html?room=standup`;

describe.skipIf(!HAVE_NETNS)('sip:ROOM@DOMAIN of a live room (real server, sip.js over WSS, a UDP phone)', () => {
  let server: TestServer;
  let ua: UserAgent;
  let phone: RawUa;
  const log: string[] = [];
  /** Contact values the web client's hook lifted out of 3xx responses (sip.js cannot parse them). */
  const lifted = new Map<string, string[]>();

  beforeAll(async () => {
    server = await startTestServer({
      basePort: BASE,
      users: USERS,
      // sip.js 0.21 answers only an MD5 challenge.
      overrides: { auth: { algorithms: ['MD5'] }, sfu: { workers: 1, port: 38110, rtcMinPort: 38200, rtcMaxPort: 38299, logLevel: 'error' } },
    });
    const token = await signIn(HTTPS, 'bob', USERS.bob);
    const res = await httpsJson(HTTPS, 'POST', '/api/rooms', { name: 'standup' }, token);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    ua = createNodeUserAgent({ server: `wss://127.0.0.1:${HTTPS}`, user: 'alice', password: USERS.alice, domain: DOMAIN, rtpPort: 38300, log });
    // The web client's own hook (web-client/src/sip/phone.ts does the same).
    const transport = ua.transport;
    const deliver = transport.onMessage;
    transport.onMessage = (message: string) => {
      const taken = takeRedirectContacts(message);
      if (taken.redirect) lifted.set(taken.redirect.callId, taken.redirect.contacts);
      deliver?.(taken.message);
    };
    await ua.start();
    phone = await new RawUa('phone').bind();
  });

  afterAll(async () => {
    phone?.close();
    await Promise.race([ua?.stop().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    await server?.stop();
  });

  /** sip.js INVITEs `user`; resolves with the final response and what was lifted for it. */
  async function sipjsCall(user: string): Promise<{ status: number; raw: string; contacts: string[]; state: SessionState }> {
    const inviter = new Inviter(ua, UserAgent.makeURI(`sip:${user}@${DOMAIN}`)!);
    const final = new Promise<{ message: { statusCode?: number } }>((resolve) => {
      void inviter.invite({ requestDelegate: { onRedirect: resolve, onReject: resolve, onAccept: resolve } });
    });
    const res = await Promise.race([final, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no final response\n${log.slice(-20).join('\n')}`)), 5000))]);
    const callId = inviter.request.callId;
    const received = log.filter((l) => l.includes('Received WebSocket text message:') && l.includes(`Call-ID: ${callId}`));
    return { status: res.message.statusCode ?? 0, raw: received.at(-1) ?? '', contacts: lifted.get(callId) ?? [], state: inviter.state };
  }

  /** A bare phone of another domain sends `method` to `user` over UDP; resolves with the final response (ACKed if INVITE). */
  async function phoneRequest(method: string, user: string): Promise<RawMessage> {
    const callId = `room-${randomBytes(4).toString('hex')}`;
    const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
    const head = (m: string) => [
      `${m} sip:${user}@${DOMAIN} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:deskphone@elsewhere.example>;tag=ph1`,
    ];
    phone.send(
      [...head(method), `To: <sip:${user}@${DOMAIN}>`, `Call-ID: ${callId}`, `CSeq: 1 ${method}`, `Contact: <sip:deskphone@127.0.0.1:${phone.port}>`, 'Content-Length: 0', '', ''].join('\r\n'),
      BASE,
    );
    const res = await phone.next((m) => m.status !== undefined && m.status >= 200 && m.header('call-id') === callId);
    if (method === 'INVITE') {
      // §17.1.1.3: the ACK for a non-2xx carries the response's To (with its tag) and the INVITE's branch.
      phone.send([...head('ACK'), `To: ${res.header('to')}`, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'), BASE);
    }
    return res;
  }

  it('redirects sip.js (a local user, challenged first) to the room page; the web client’s hook finds it', async () => {
    const r = await sipjsCall('standup');
    expect(r.status).toBe(302);
    expect(r.state).toBe(SessionState.Terminated);
    expect(r.raw).toMatch(/SIP\/2\.0 302 Moved Temporarily/);
    expect(r.raw).toContain(`Contact: <${LINK}>`);
    expect(r.raw).toMatch(/Warning: 399 localhost "standup is an end-to-end encrypted group call: open https:\/\/localhost:\d+\/group\.html\?room=standup in a web browser"/);
    expect(r.contacts).toEqual([`<${LINK}>`]);
    // The INVITE was challenged (407) before: a local user must authenticate to call anything.
    const sentInvites = log.filter((l) => l.includes('Sending WebSocket message:') && /INVITE sip:standup@/.test(l));
    expect(sentInvites).toHaveLength(2);
    expect(sentInvites[1]).toMatch(/Proxy-Authorization: Digest /);
  });

  it('redirects a desk phone from another domain (no credentials needed, nothing relayed)', async () => {
    const res = await phoneRequest('INVITE', 'standup');
    expect(res.status).toBe(302);
    expect(res.header('contact')).toBe(`<${LINK}>`);
    expect(res.header('warning')).toMatch(/^399 localhost "standup is an end-to-end encrypted group call/);
    expect(res.startLine).toBe('SIP/2.0 302 Moved Temporarily (group call: join in a web browser)');
  });

  it('OPTIONS gets the same 302 (§11.2) with Allow; MESSAGE gets 405 with Allow (§21.4.6)', async () => {
    const options = await phoneRequest('OPTIONS', 'standup');
    expect(options.status).toBe(302);
    expect(options.header('contact')).toBe(`<${LINK}>`);
    expect(options.header('allow')).toBe('INVITE, ACK, CANCEL, OPTIONS');
    const message = await phoneRequest('MESSAGE', 'standup');
    expect(message.status).toBe(405);
    expect(message.header('allow')).toBe('INVITE, ACK, CANCEL, OPTIONS');
  });

  it('an unknown name is still an unknown user (404), for sip.js and the phone', async () => {
    expect((await sipjsCall('no-such-room')).status).toBe(404);
    expect((await phoneRequest('INVITE', 'no-such-room')).status).toBe(404);
  });

  it('a room that closed is forgotten at once', async () => {
    server.rooms!.rooms.get('standup')!.close();
    expect((await phoneRequest('INVITE', 'standup')).status).toBe(404);
  });
});
