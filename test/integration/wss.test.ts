/**
 * A browser-style SIP client (sip.js, the web client's library, in Node with a signalling-only
 * SessionDescriptionHandler) on SIP over secure WebSocket (RFC 7118) registers with digest auth,
 * calls a UDP phone (sipp UAS) and is called by one (sipp UAC) through Sotto's proxy. The calls
 * cross transports, so the proxy double Record-Routes (RFC 5658) and puts flow tokens
 * (RFC 5626 §5.2) in its entries: requests later in the dialog must reach the browser over the
 * WebSocket it registered on, whatever its *.invalid Contact says. When that WebSocket closes,
 * its binding goes with it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inviter, Registerer, RegistererState, SessionState, UserAgent, type Invitation } from 'sip.js';
import { createNodeUserAgent, type SdhRecord } from '../helpers/sipjs-node.ts';
import { runSipp, startSipp } from '../helpers/sipp.ts';
import { HAVE_NETNS, startTestServer, type TestServer } from '../helpers/server.ts';

const BASE = 27060;
const TARGET = `127.0.0.1:${BASE}`;
const WSS_URL = `wss://127.0.0.1:${BASE + 3}`;
const UAS_PORT = 27110;
const UAC_PORT = 27120;
const DOMAIN = 'localhost';
const USERS = { alice: 'alice-wss-secret-1', bob: 'bob-udp-secret-22', uas: 'uas-secret-333' };

let server: TestServer;
let ua: UserAgent;
let registerer: Registerer;
/** sip.js's log: every SIP message it sent and received (traceSip), printed when a case fails. */
const log: string[] = [];
const sdh: SdhRecord[] = [];
const invitations: Invitation[] = [];

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- sip.js log (last 40) ---\n${log.slice(-40).join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The SIP messages sip.js sent (or received) over the WebSocket, as it logged them. */
function traced(direction: 'Sending WebSocket message' | 'Received WebSocket text message'): string[] {
  return log.filter((l) => l.includes(`${direction}:`)).map((l) => l.slice(l.indexOf(':\n\n') + 3).trimStart());
}

/** Header values of one name in a raw SIP message (as logged by sip.js or sipp). */
function headerValues(raw: string, name: string): string[] {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  return head
    .split(/\r?\n/)
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(name.length + 1).trim());
}

/** The messages sipp wrote with -trace_msg, split at its "----" separators. */
function sippMessages(file: string): string[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split(/^-{10,}.*$/m)
    .map((m) => m.replace(/^\s*(UDP|TCP) message (received|sent).*$/m, '').trim())
    .filter((m) => /^(SIP\/2\.0 \d{3}|[A-Z]+ \S+ SIP\/2\.0)/m.test(m));
}

function traceArgs(): { file: string; extra: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-msg-'));
  const file = join(dir, 'messages.log');
  return { file, extra: ['-trace_msg', '-message_file', file] };
}

const ROUTE_WSS = new RegExp(`^<sip:[A-Za-z0-9_-]+@127\\.0\\.0\\.1:${BASE + 3};transport=wss;lr>$`);
const ROUTE_UDP_PLAIN = `<sip:127.0.0.1:${BASE};transport=udp;lr>`;
const ROUTE_UDP_TOKEN = new RegExp(`^<sip:[A-Za-z0-9_-]+@127\\.0\\.0\\.1:${BASE};transport=udp;lr>$`);

describe.skipIf(!HAVE_NETNS)('sip.js over WSS (RFC 7118) through Sotto to and from UDP phones', () => {
  beforeAll(async () => {
    // sip.js 0.21 answers only MD5, and only the LAST WWW-/Proxy-Authenticate of a response (its
    // parser keeps one value per header name); sipp 3.6.1 only the first. One MD5 challenge
    // suits both.
    server = await startTestServer({ basePort: BASE, users: USERS, overrides: { auth: { algorithms: ['MD5'] } } });
    ua = createNodeUserAgent({
      server: WSS_URL,
      user: 'alice',
      password: USERS.alice,
      domain: DOMAIN,
      rtpPort: 40000,
      log,
      sdh,
      delegate: {
        onInvite: (invitation) => {
          invitations.push(invitation);
          void invitation.accept().catch((err: unknown) => log.push(`[test] accept failed: ${String(err)}`));
        },
      },
    });
    await ua.start();
  });

  afterAll(async () => {
    await Promise.race([ua?.stop().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    await server?.stop();
    // SOTTO_TEST_SIPJS_LOG=<file> keeps sip.js's log (every SIP message it sent and received).
    if (process.env.SOTTO_TEST_SIPJS_LOG) writeFileSync(process.env.SOTTO_TEST_SIPJS_LOG, log.join('\n'));
  });

  it('registers over WSS with digest authentication: the binding keeps the WebSocket flow', async () => {
    registerer = new Registerer(ua);
    await registerer.register();
    await waitFor('registration', () => registerer.state === RegistererState.Registered);
    // The REGISTER was challenged (401) and then accepted with credentials.
    const sent = traced('Sending WebSocket message').filter((m) => m.startsWith('REGISTER sip:'));
    expect(sent.length).toBe(2);
    expect(sent[1]).toMatch(/^Authorization: Digest .*algorithm=MD5/m);
    expect(traced('Received WebSocket text message').some((m) => m.startsWith('SIP/2.0 401 '))).toBe(true);

    const bindings = server.sip.location.lookup('alice');
    expect(bindings).toHaveLength(1);
    const b = bindings[0]!;
    // sip.js registers an unreachable *.invalid Contact: only the recorded flow leads to it.
    expect(b.contact).toMatch(/^sip:[^@]+@[^;]+\.invalid;transport=ws$/);
    expect(b.flow?.transport).toBe('wss');
    expect(b.flow?.connectionId).toBeTruthy();
  });

  it('calls a UDP phone (sipp UAS): 200/ACK through the proxy, then hangs up with BYE', async () => {
    const reg = await runSipp({ scenario: 'register.xml', target: TARGET, transport: 'udp', localPort: UAS_PORT, users: [['uas', USERS.uas]], keys: { domain: DOMAIN } });
    expect(reg.errors).toBe('');
    expect(reg.successful).toBe(1);
    const trace = traceArgs();
    const uas = startSipp({ scenario: 'uas.xml', target: TARGET, transport: 'udp', localPort: UAS_PORT, calls: 1, timeoutS: 30, extra: trace.extra });
    const uasExited = new Promise<void>((r) => uas.child.once('exit', () => r()));
    await new Promise((r) => setTimeout(r, 300));

    let okRecordRoute: string[] = [];
    const inviter = new Inviter(ua, UserAgent.makeURI(`sip:uas@${DOMAIN}`)!);
    const states: SessionState[] = [];
    inviter.stateChange.addListener((s) => states.push(s));
    await inviter.invite({
      requestDelegate: {
        onAccept: (res) => {
          okRecordRoute = res.message.getHeaders('record-route');
        },
      },
    });
    await waitFor('call established', () => inviter.state === SessionState.Established);
    // Half a second of call, then the browser hangs up.
    await new Promise((r) => setTimeout(r, 500));
    let byeStatus = 0;
    await inviter.bye({ requestDelegate: { onAccept: (res) => (byeStatus = res.message.statusCode ?? -1) } });
    await waitFor('200 to BYE', () => byeStatus !== 0);
    expect(byeStatus).toBe(200);
    // sip.js ends the session as it sends the BYE (no Terminating state on this path).
    expect(states).toEqual([SessionState.Establishing, SessionState.Established, SessionState.Terminated]);

    // The UAS ends its scenario on its own (BYE answered, then its 4 s timewait).
    await Promise.race([uasExited, new Promise((r) => setTimeout(r, 12_000))]);
    const uasResult = await uas.stop();
    expect(uasResult.errors).toBe('');
    expect(uasResult.code).toBe(0);
    expect(uasResult.successful).toBe(1);
    expect(uasResult.failed).toBe(0);

    // Double Record-Route (RFC 5658): the UDP entry for the callee on top, the WSS entry
    // carrying the browser's flow token below it.
    expect(okRecordRoute).toHaveLength(2);
    expect(okRecordRoute[0]).toBe(ROUTE_UDP_PLAIN);
    expect(okRecordRoute[1]).toMatch(ROUTE_WSS);
    // sip.js used the reversed route set on ACK and BYE (§12.1.2).
    const sent = traced('Sending WebSocket message');
    const sentAck = sent.findLast((m) => m.startsWith('ACK '));
    const sentBye = sent.find((m) => m.startsWith('BYE '));
    for (const m of [sentAck, sentBye]) expect(headerValues(m ?? '', 'Route')).toEqual([okRecordRoute[1], okRecordRoute[0]]);
    // The UAS saw the same two entries on the INVITE, and received ACK and BYE from the proxy.
    const msgs = sippMessages(trace.file);
    const invite = msgs.find((m) => m.startsWith('INVITE '))!;
    expect(invite).toBeDefined();
    expect(headerValues(invite, 'Record-Route')).toEqual(okRecordRoute);
    expect(msgs.some((m) => m.startsWith('ACK '))).toBe(true);
    expect(msgs.some((m) => m.startsWith('BYE '))).toBe(true);
    // The remote SDP reached the signalling-only handler.
    expect(sdh.at(-1)?.remote[0]).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
  });

  it('is called by a UDP phone (sipp UAC): INVITE, ACK and BYE reach the browser over its WebSocket', async () => {
    const before = invitations.length;
    const trace = traceArgs();
    const uac = await runSipp({
      scenario: 'uac_call.xml',
      target: TARGET,
      transport: 'udp',
      localPort: UAC_PORT,
      users: [['bob', USERS.bob]],
      keys: { domain: DOMAIN, callee: 'alice' },
      timeoutS: 20,
      extra: trace.extra,
    });
    expect(uac.errors).toBe('');
    expect(uac.successful).toBe(1);
    expect(uac.failed).toBe(0);

    expect(invitations.length).toBe(before + 1);
    const inv = invitations.at(-1)!;
    await waitFor('callee session terminated by BYE', () => inv.state === SessionState.Terminated);
    // The browser's INVITE carried two Record-Route entries: WSS with the browser's flow token on
    // top (nearest the callee), UDP below with the caller's flow token (its first hop was us).
    const rr = inv.request.getHeaders('record-route');
    expect(rr).toHaveLength(2);
    expect(rr[0]).toMatch(ROUTE_WSS);
    expect(rr[1]).toMatch(ROUTE_UDP_TOKEN);
    // sip.js received the ACK and the BYE.
    const received = traced('Received WebSocket text message');
    expect(received.some((m) => m.startsWith('ACK sip:'))).toBe(true);
    expect(received.some((m) => m.startsWith('BYE sip:'))).toBe(true);
    // sipp saw the same entries in the 200 and routed its ACK and BYE through them, reversed.
    const msgs = sippMessages(trace.file);
    const ok = msgs.find((m) => m.startsWith('SIP/2.0 200') && /^CSeq:\s*\d+ INVITE/im.test(m))!;
    expect(headerValues(ok, 'Record-Route')).toEqual(rr);
    const ack = msgs.find((m) => m.startsWith('ACK ') && headerValues(m, 'Route').length > 0)!;
    expect(headerValues(ack, 'Route').join(', ')).toBe([rr[1], rr[0]].join(', '));
    expect(sdh.at(-1)?.remote[0]).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
  });

  it('drops the binding when the WebSocket closes, and leaves no proxy state behind', async () => {
    expect(server.sip.location.lookup('alice')).toHaveLength(1);
    // Close the socket without unregistering: the browser tab went away.
    await ua.transport.disconnect();
    await waitFor('binding removal', () => server.sip.location.lookup('alice').length === 0);
    expect(server.sip.location.lookup('alice')).toEqual([]);
    await waitFor('proxy contexts released', () => server.sip.metrics().sotto_sip_proxy_contexts === 0);
    expect(server.sip.metrics().sotto_sip_proxy_contexts).toBe(0);
  });
});

describe.skipIf(!HAVE_NETNS)('a registered browser that stays quiet', () => {
  const base = 27160;
  let idleServer: TestServer;
  let quiet: UserAgent;
  const quietLog: string[] = [];

  beforeAll(async () => {
    idleServer = await startTestServer({
      basePort: base,
      users: { carol: 'carol-wss-secret-4' },
      overrides: { auth: { algorithms: ['MD5'] }, sip: { idleTimeout: 1 } },
    });
    quiet = createNodeUserAgent({ server: `wss://127.0.0.1:${base + 3}`, user: 'carol', password: 'carol-wss-secret-4', domain: DOMAIN, rtpPort: 40002, log: quietLog });
    await quiet.start();
  });
  afterAll(async () => {
    await Promise.race([quiet?.stop().catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
    await idleServer?.stop();
  });

  // sip.idleTimeout closes connections idle this long "with no registration bound to them": a
  // browser that receives no call and sends no keep-alive (sip.js re-registers only after ~594 s
  // of 600 s) must stay reachable over its WebSocket.
  it('keeps its WebSocket and binding past sip.idleTimeout', async () => {
    const registerer = new Registerer(quiet);
    await registerer.register();
    const end = Date.now() + 10_000;
    while (registerer.state !== RegistererState.Registered && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    expect(idleServer.sip.location.lookup('carol')).toHaveLength(1);
    // Two sweep periods (min(idleTimeout, 30 s) = 1 s) with no traffic.
    await new Promise((r) => setTimeout(r, 3000));
    expect(idleServer.sip.location.lookup('carol')).toHaveLength(1);
    expect(quiet.transport.isConnected()).toBe(true);
  });
});
