/**
 * The stateful proxy (RFC 3261 §16) against bare UDP endpoints: validation, policy (no open
 * relay, 407 for local callers), parallel forking with CANCEL of the losing branches, CANCEL from
 * the caller, Record-Route and in-dialog routing, and loop detection.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawUa, respondTo, type RawMessage } from '../helpers/raw-ua.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const PORT = 27060;
const USERS = { alice: 'alice-secret-1', bob: 'bob-secret-22', carol: 'carol-secret-3' };
let server: TestServer;
const uas: RawUa[] = [];

async function ua(user: keyof typeof USERS | string): Promise<RawUa> {
  const u = await new RawUa(user, (USERS as Record<string, string>)[user] ?? '').bind();
  uas.push(u);
  return u;
}

function invite(from: RawUa, to: string, opts: { maxForwards?: number; auth?: string; callId?: string; cseq?: number; extra?: string[]; branch?: string } = {}): string {
  const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  return [
    `INVITE ${to} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${from.port};branch=${opts.branch ?? `z9hG4bK${randomBytes(6).toString('hex')}`};rport`,
    `Max-Forwards: ${opts.maxForwards ?? 70}`,
    `From: <sip:${from.user}@localhost>;tag=f${from.port}`,
    `To: <${to}>`,
    `Call-ID: ${opts.callId ?? `call-${randomBytes(4).toString('hex')}`}`,
    `CSeq: ${opts.cseq ?? 1} INVITE`,
    `Contact: <sip:${from.user}@127.0.0.1:${from.port}>`,
    ...(opts.auth ? [`Proxy-Authorization: ${opts.auth}`] : []),
    ...(opts.extra ?? []),
    'Content-Type: application/sdp',
    `Content-Length: ${sdp.length}`,
    '',
    sdp,
  ].join('\r\n');
}

/** Send an INVITE, answer the 407 (ACKing it, §17.1.1.3), and return the branch and Call-ID used. */
async function authedInvite(from: RawUa, to: string): Promise<{ callId: string; branch: string; text: string }> {
  const callId = `call-${randomBytes(4).toString('hex')}`;
  from.send(invite(from, to, { callId }), PORT);
  const challenge = await from.next((m) => m.status === 407);
  from.send(ackFor(challenge, to), PORT);
  const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
  const text = invite(from, to, { callId, cseq: 2, branch, auth: from.answer(challenge.header('Proxy-Authenticate')!, 'INVITE', to) });
  from.send(text, PORT);
  return { callId, branch, text };
}

/** ACK for a non-2xx final response: same branch as the INVITE (§17.1.1.3). */
function ackFor(res: RawMessage, ruri: string): string {
  const cseq = res.header('cseq')!.split(' ')[0];
  return [
    `ACK ${ruri} SIP/2.0`,
    `Via: ${res.header('via')}`,
    'Max-Forwards: 70',
    `From: ${res.header('from')}`,
    `To: ${res.header('to')}`,
    `Call-ID: ${res.header('call-id')}`,
    `CSeq: ${cseq} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

beforeAll(async () => {
  server = await startTestServer({ basePort: PORT, users: USERS });
});
afterEach(() => {
  for (const u of uas.splice(0)) u.close();
  // Bindings of closed sockets would add dead branches to the next test's calls.
  for (const user of Object.keys(USERS)) server.sip.location.removeAll(user);
});
afterAll(async () => {
  await server?.stop();
});

describe('request validation and policy (§16.3, §22.3)', () => {
  it('answers 483 when Max-Forwards is 0', async () => {
    const a = await ua('alice');
    a.send(invite(a, 'sip:bob@localhost', { maxForwards: 0 }), PORT);
    expect((await a.next((m) => (m.status ?? 0) >= 200)).status).toBe(483);
  });

  it('answers 420 listing a Proxy-Require it does not support', async () => {
    const a = await ua('alice');
    a.send(invite(a, 'sip:bob@localhost', { extra: ['Proxy-Require: frobnicate'] }), PORT);
    const res = await a.next((m) => (m.status ?? 0) >= 200);
    expect(res.status).toBe(420);
    expect(res.header('unsupported')).toBe('frobnicate');
  });

  it('challenges a local caller without credentials with 407', async () => {
    const a = await ua('alice');
    a.send(invite(a, 'sip:bob@localhost'), PORT);
    const res = await a.next((m) => (m.status ?? 0) >= 200);
    expect(res.status).toBe(407);
    expect(res.header('proxy-authenticate')).toMatch(/^Digest realm="localhost"/);
  });

  it('is no open relay: a foreign caller to a foreign domain gets 403', async () => {
    const x = await ua('mallory');
    const text = invite(x, 'sip:victim@198.51.100.7').replace(/From: <sip:mallory@localhost>/, 'From: <sip:mallory@evil.example>');
    x.send(text, PORT);
    expect((await x.next((m) => (m.status ?? 0) >= 200)).status).toBe(403);
  });

  it('answers 404 for an unknown user and 480 for a known user with no registration', async () => {
    const a = await ua('alice');
    await authedInvite(a, 'sip:nobody@localhost');
    expect((await a.next((m) => (m.status ?? 0) >= 200)).status).toBe(404);
    await authedInvite(a, 'sip:carol@localhost');
    expect((await a.next((m) => (m.status ?? 0) >= 200 && m.header('cseq') === '2 INVITE')).status).toBe(480);
  });

  it('answers OPTIONS addressed to the server itself (§11.2)', async () => {
    const a = await ua('alice');
    a.send(
      `OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bKopt1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=o\r\nTo: <sip:localhost>\r\nCall-ID: opt1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      PORT,
    );
    const res = await a.next();
    expect(res.status).toBe(200);
    expect(res.header('allow')).toMatch(/INVITE/);
  });
});

describe('forking and cancellation (§16.6, §16.7, §16.10)', () => {
  it('forks to every contact, passes the first 2xx up and CANCELs the other branch', async () => {
    const a = await ua('alice');
    const b1 = await ua('bob');
    const b2 = await ua('bob');
    expect((await b1.register(PORT)).status).toBe(200);
    expect((await b2.register(PORT)).status).toBe(200);
    expect(server.sip.location.lookup('bob')).toHaveLength(2);

    const { callId } = await authedInvite(a, 'sip:bob@localhost');
    const inv1 = await b1.next((m) => m.method === 'INVITE');
    const inv2 = await b2.next((m) => m.method === 'INVITE');
    expect(inv1.header('call-id')).toBe(callId);
    // §16.6 step 4 and 8: the proxy record-routes and adds its Via on each branch.
    expect(inv1.header('record-route')).toMatch(new RegExp(`127\\.0\\.0\\.1:${PORT};transport=udp;lr`));
    expect(inv1.headers.get('via')!.length).toBe(2);
    expect(inv1.header('max-forwards')).toBe('69');
    expect(inv1.header('proxy-authorization')).toBeUndefined();

    b1.send(respondTo(inv1, 180, 'Ringing', { toTag: 'b1' }), inv1.from.port);
    b2.send(respondTo(inv2, 180, 'Ringing', { toTag: 'b2' }), inv2.from.port);
    expect((await a.next((m) => m.status === 180)).header('to')).toMatch(/tag=b/);
    const contact = `Contact: <sip:bob@127.0.0.1:${b1.port}>`;
    b1.send(respondTo(inv1, 200, 'OK', { toTag: 'b1', extra: [contact] }), inv1.from.port);
    const ok = await a.next((m) => m.status === 200 && m.header('cseq') === '2 INVITE');
    expect(ok.header('to')).toMatch(/tag=b1/);
    expect(ok.headers.get('via')).toHaveLength(1);

    // The losing branch is cancelled (§16.7 step 10 for 2xx).
    const cancel = await b2.next((m) => m.method === 'CANCEL');
    expect(cancel.header('cseq')).toBe(`${inv2.header('cseq')!.split(' ')[0]} CANCEL`);
    b2.send(respondTo(cancel, 200, 'OK', { toTag: 'b2' }), cancel.from.port);
    b2.send(respondTo(inv2, 487, 'Request Terminated', { toTag: 'b2' }), inv2.from.port);
    // The proxy's client transaction ACKs the 487 hop by hop, and alice never sees it.
    expect((await b2.next((m) => m.method === 'ACK')).header('cseq')).toMatch(/ ACK$/);
    expect(await a.nothing((m) => m.status === 487)).toBe(true);

    // ACK and BYE follow the recorded route to b1 (§16.12).
    const rr = ok.header('record-route')!;
    const dialog = (method: string, cseq: number) =>
      [
        `${method} sip:bob@127.0.0.1:${b1.port} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
        'Max-Forwards: 70',
        `Route: ${rr}`,
        `From: ${ok.header('from')}`,
        `To: ${ok.header('to')}`,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    a.send(dialog('ACK', 2), PORT);
    const ack = await b1.next((m) => m.method === 'ACK');
    expect(ack.header('route')).toBeUndefined();
    a.send(dialog('BYE', 3), PORT);
    const bye = await b1.next((m) => m.method === 'BYE');
    b1.send(respondTo(bye, 200, 'OK'), bye.from.port);
    expect((await a.next((m) => m.status === 200 && m.header('cseq') === '3 BYE')).status).toBe(200);
    expect(server.sip.metrics().sotto_sip_proxy_contexts).toBe(0);
  });

  it('CANCEL from the caller cancels the pending branch and the caller gets 487 (§16.10)', async () => {
    const a = await ua('alice');
    const b = await ua('bob');
    expect((await b.register(PORT)).status).toBe(200);
    const { text } = await authedInvite(a, 'sip:bob@localhost');
    const inv = await b.next((m) => m.method === 'INVITE');
    b.send(respondTo(inv, 180, 'Ringing', { toTag: 'bt' }), inv.from.port);
    await a.next((m) => m.status === 180);
    // CANCEL: same Request-URI, Call-ID, From, To, CSeq number and Via as the INVITE (§9.1).
    const cancel = text
      .split('\r\n\r\n')[0]!
      .split('\r\n')
      .filter((l) => !/^(Content-Type|Content-Length|Proxy-Authorization|Contact):/.test(l))
      .map((l) => (l.startsWith('INVITE ') ? l.replace('INVITE', 'CANCEL') : l.startsWith('CSeq:') ? 'CSeq: 2 CANCEL' : l))
      .join('\r\n');
    a.send(`${cancel}\r\nContent-Length: 0\r\n\r\n`, PORT);
    expect((await a.next((m) => m.header('cseq') === '2 CANCEL')).status).toBe(200);
    const down = await b.next((m) => m.method === 'CANCEL');
    b.send(respondTo(down, 200, 'OK', { toTag: 'bt' }), down.from.port);
    b.send(respondTo(inv, 487, 'Request Terminated', { toTag: 'bt' }), inv.from.port);
    expect((await a.next((m) => (m.status ?? 0) >= 300)).status).toBe(487);
  });

  it('answers 482 instead of forwarding to a contact that points back at the proxy (§16.3 step 4)', async () => {
    const a = await ua('alice');
    const c = await ua('carol');
    // Without rport the proxy routes to the registered Contact itself, not to the REGISTER's source.
    expect((await c.register(PORT, { contact: `<sip:carol@127.0.0.1:${PORT}>`, rport: false })).status).toBe(200);
    await authedInvite(a, 'sip:carol@localhost');
    expect((await a.next((m) => (m.status ?? 0) >= 300)).status).toBe(482);
  });
});
