/**
 * The media bridge under load and at its edges, without a browser: sip.js in Node registers over
 * WSS as a WebRTC endpoint (+sip.ice, RFC 5768) and answers with a description shaped like
 * Chromium's (ICE, DTLS fingerprint, BUNDLE, SSRC). It never runs ICE or DTLS, but the server does
 * not know that: for every call it creates the real mediasoup objects, a Router with a
 * WebRtcTransport and a PlainTransport, a Producer and a Consumer each way.
 *
 * - 500 calls from sipp (a desk phone's RTP offer) are set up and torn down; while they run a call's
 *   router holds its two transports, two producers and two consumers; afterwards no router is left
 *   on the bridge's worker, and the memory of the server and of the mediasoup worker is flat.
 * - An offer the bridge cannot serve gets 488 with a Warning; a CANCEL, a failure response and a
 *   re-INVITE (hold) leave the bridge in the state they should.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registerer, RegistererState, UserAgent, type Invitation, type SessionDescriptionHandler, type SessionDescriptionHandlerFactory } from 'sip.js';
import { nodeTransport, testCa, webSocketClass } from '../helpers/sipjs-node.ts';
import { RawUa, type RawMessage } from '../helpers/raw-ua.ts';
import { runSipp } from '../helpers/sipp.ts';
import { HAVE_NETNS, startTestServer, type TestServer } from '../helpers/server.ts';

const BASE = 36460;
const DOMAIN = 'localhost';
const USERS = { alice: 'alice-bulk-secret-1', bob: 'bob-bulk-secret-22', carol: 'carol-bulk-secret-3' };

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

let server: TestServer;
let ua: UserAgent;
/** What the fake browser does with the next INVITE: answer at once, or ring until told. */
let answerMode: 'answer' | 'ring' = 'answer';
let invitationCount = 0;
/** The invitation ringing now (answerMode 'ring'). */
let ringing: Invitation | undefined;
/** The last offers the fake browser got (a few, not all: the bulk test measures memory). */
const offers: string[] = [];
let offerCount = 0;

/** The fake browser's DTLS certificate fingerprint: one per browser, as a real one keeps it. */
const FINGERPRINT = Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

/** A WebRTC answer to a WebRTC offer, as Chromium would write it (RFC 8829 §5.3): same m= lines, mids and codecs. */
function webRtcAnswer(offer: string): string {
  const ssrc = 1 + (randomBytes(4).readUInt32BE() % 0xfffffff0);
  const out = ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0'];
  const group = /^a=group:BUNDLE .*$/m.exec(offer);
  if (group) out.push(group[0]);
  out.push('a=msid-semantic: WMS fake');
  for (const section of offer.split(/\r?\n(?=m=)/).slice(1)) {
    const lines = section.split(/\r?\n/);
    const m = lines[0]!;
    const port = Number(m.split(' ')[1]);
    const mid = lines.find((l) => l.startsWith('a=mid:'));
    if (port === 0) {
      out.push(m, ...(mid ? [mid] : []));
      continue;
    }
    const offered = lines.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l))?.slice(2) ?? 'sendrecv';
    const direction = offered === 'sendonly' ? 'recvonly' : offered === 'recvonly' ? 'sendonly' : offered;
    out.push(m.replace(/ \d+ /, ' 9 '), 'c=IN IP4 127.0.0.1', 'a=ice-ufrag:fake', 'a=ice-pwd:fakefakefakefakefakefake');
    out.push(`a=fingerprint:sha-256 ${FINGERPRINT}`, 'a=setup:active');
    if (mid) out.push(mid);
    out.push(`a=${direction}`, 'a=rtcp-mux', 'a=rtcp-rsize');
    out.push(...lines.filter((l) => /^a=(rtpmap|fmtp):/.test(l)));
    out.push(`a=ssrc:${ssrc} cname:fake`);
  }
  return out.join('\r\n') + '\r\n';
}

const fakeWebRtc: SessionDescriptionHandlerFactory = () => {
  let remote = '';
  const sdh: SessionDescriptionHandler = {
    close: () => undefined,
    getDescription: async () => ({ body: webRtcAnswer(remote), contentType: 'application/sdp' }),
    hasDescription: (t: string) => t === 'application/sdp',
    setDescription: async (sdp: string) => {
      remote = sdp;
      offers.push(sdp);
      offerCount++;
      if (offers.length > 5) offers.shift();
    },
    sendDtmf: () => false,
  };
  return sdh;
};

async function waitUntil<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function bridgeIsEmpty(): Promise<void> {
  const media = server.sip.media!;
  await waitUntil('bridged calls released', () => media.activeCalls, (n) => n === 0);
  for (const w of media.workers.workers) expect((await w.dump()).routerIds).toEqual([]);
}

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

async function bulk(calls: number): Promise<void> {
  const r = await runSipp({
    scenario: 'bridge_uac.xml',
    target: `127.0.0.1:${BASE}`,
    // Over TCP transactions end with their final response (RFC 3261 §17: timers D, J, K are zero on
    // reliable transports), so what is left in memory after the calls is not UDP's 32 s of absorbing.
    transport: 'tcp',
    localPort: BASE + 10,
    users: [['bob', USERS.bob]],
    keys: { domain: DOMAIN, callee: 'alice' },
    calls,
    rate: 25,
    timeoutS: 120,
    extra: ['-d', '200', '-mp', String(BASE + 20)],
  });
  expect(r.errors, r.screen).toBe('');
  expect(r.successful).toBe(calls);
  expect(r.failed).toBe(0);
}

/** A bare phone on UDP (RawUa) that sends INVITEs with the SDP a test writes, answering the 407. */
async function invite(phone: RawUa, sdp: string, opts: { callId?: string; until?: number } = {}): Promise<{ res: RawMessage; send(text: string): void; callId: string; fromTag: string; branch: string; cseq: number }> {
  const callId = opts.callId ?? `bridge-${randomBytes(6).toString('hex')}`;
  const fromTag = randomBytes(4).toString('hex');
  let branch = '';
  let cseq = 0;
  const build = (auth?: string) => {
    branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
    cseq = phone.nextCseq();
    return [
      `INVITE sip:alice@${DOMAIN} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${phone.user}@${DOMAIN}>;tag=${fromTag}`,
      `To: <sip:alice@${DOMAIN}>`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      `Contact: <sip:${phone.user}@127.0.0.1:${phone.port}>`,
      ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n');
  };
  phone.send(build(), BASE);
  let res = await phone.next((m) => m.status !== undefined && m.status >= 200 && m.header('call-id') === callId);
  if (res.status === 407) {
    phone.send(ackFor(res, phone.port, branch), BASE);
    phone.send(build(phone.answer(res.header('Proxy-Authenticate')!, 'INVITE', `sip:alice@${DOMAIN}`)), BASE);
    res = await phone.next((m) => (m.status ?? 0) >= (opts.until ?? 200) && m.header('call-id') === callId, 10_000);
  }
  return { res, send: (t) => phone.send(t, BASE), callId, fromTag, branch, cseq };
}

/** ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same branch, hop by hop. */
function ackFor(res: RawMessage, port: number, branch: string): string {
  return [
    `ACK sip:alice@${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: ${res.header('from')}`,
    `To: ${res.header('to')}`,
    `Call-ID: ${res.header('call-id')}`,
    `CSeq: ${res.header('cseq')!.split(' ')[0]} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

const phoneSdp = (o: { port?: number; codecs?: string; direction?: string; ssrc?: boolean } = {}) =>
  [
    'v=0',
    'o=phone 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${o.port ?? 40000} RTP/AVP ${o.codecs ?? '0 101'}`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    `a=${o.direction ?? 'sendrecv'}`,
    ...(o.ssrc === false ? [] : ['a=ssrc:4242 cname:phone']),
    '',
  ].join('\r\n');

describe.skipIf(!HAVE_NETNS)('media bridge without a browser: load and edge cases', () => {
  beforeAll(async () => {
    server = await startTestServer({
      basePort: BASE,
      users: USERS,
      overrides: { auth: { algorithms: ['MD5'] }, bridge: { rtcMinPort: 36600, rtcMaxPort: 39999, mediaTimeout: 2 } },
    });
    const WebSocketClass = webSocketClass({ ca: testCa() });
    ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:alice@${DOMAIN}`)!,
      authorizationUsername: 'alice',
      authorizationPassword: USERS.alice,
      transportConstructor: nodeTransport(WebSocketClass),
      transportOptions: { server: `wss://127.0.0.1:${BASE + 3}`, connectionTimeout: 5 },
      sessionDescriptionHandlerFactory: fakeWebRtc,
      logBuiltinEnabled: false,
      logConfiguration: false,
      logLevel: 'error',
      delegate: {
        onInvite: (inv) => {
          invitationCount++;
          if (answerMode === 'answer') void inv.accept().catch(() => undefined);
          else {
            ringing = inv;
            void inv.progress().catch(() => undefined);
          }
        },
      },
    });
    await ua.start();
    const reg = new Registerer(ua, { expires: 600, extraContactHeaderParams: ['+sip.ice'] });
    const registered = new Promise<void>((res) => reg.stateChange.addListener((s) => s === RegistererState.Registered && res()));
    await reg.register();
    await registered;
  }, 60_000);

  afterAll(async () => {
    await Promise.race([ua?.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    await server?.stop();
  });

  it('500 bridged calls from sipp: every mediasoup object is made while a call runs and released after; memory stays flat', async () => {
    // While calls run, look into one of them: its router holds the whole bridge.
    let seen: { transports: number; producers: number; consumers: number } | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling && !seen) {
        for (const s of server.sip.media!.sessions) {
          if (!s.router || s.router.closed) continue;
          try {
            const d = await s.router.dump();
            const consumers = Object.values(d.mapProducerIdConsumerIds).flat().length;
            if (consumers === 2) seen = { transports: d.transportIds.length, producers: Object.keys(d.mapProducerIdConsumerIds).length, consumers };
          } catch {
            /* closed meanwhile */
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const started = Date.now();
    await bulk(100); // warm-up: the worker starts, caches fill
    await bridgeIsEmpty();
    await waitUntil('transactions ended (RFC 6026 timers L and M: 32 s)', () => server.sip.transactions.counts.total, (n) => n === 0, 45_000);
    gc();
    const worker = server.sip.media!.workers.workers[0]!;
    const heap0 = process.memoryUsage().heapUsed;
    const workerRss0 = rssOf(worker.pid);

    await bulk(400);
    sampling = false;
    await sampler;
    await bridgeIsEmpty();
    await waitUntil('transactions ended (RFC 6026 timers L and M: 32 s)', () => server.sip.transactions.counts.total, (n) => n === 0, 45_000);
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    const workerGrowth = rssOf(worker.pid) - workerRss0;
    expect(workerRss0).toBeGreaterThan(1e6);
    console.log(`mediasoup worker RSS ${(workerRss0 / 1e6).toFixed(1)} MB after 100 calls`);
    console.log(`500 bridged calls in ${((Date.now() - started) / 1000).toFixed(1)} s; heap ${(heapGrowth / 1e6).toFixed(2)} MB, mediasoup worker RSS ${(workerGrowth / 1e6).toFixed(2)} MB over the last 400`);

    expect(seen).toEqual({ transports: 2, producers: 2, consumers: 2 });
    expect(invitationCount).toBeGreaterThanOrEqual(500);
    expect(server.sip.media!.workers.workers).toHaveLength(1);
    // Flat: what 400 calls leave behind is noise, not a per-call leak (a leak of a few kB per call would show).
    expect(heapGrowth).toBeLessThan(8e6);
    expect(workerGrowth).toBeLessThan(8e6);
  }, 240_000);

  it('refuses an offer it cannot bridge with 488 and a Warning (RFC 3261 §20.43), and keeps nothing', async () => {
    const phone = await new RawUa('carol', USERS.carol).bind();
    try {
      const before = invitationCount;
      const { res, send, branch } = await invite(phone, phoneSdp({ codecs: '18' }).replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:18 G729/8000'));
      expect(res.status).toBe(488);
      expect(res.header('warning')).toMatch(/^305 localhost ".*no audio codec in common/);
      send(ackFor(res, phone.port, branch));
      expect(invitationCount).toBe(before); // the browser never rang
      await bridgeIsEmpty();
    } finally {
      phone.close();
    }
  });

  it('CANCEL while the browser rings releases the bridge (487)', async () => {
    const phone = await new RawUa('carol', USERS.carol).bind();
    answerMode = 'ring';
    try {
      const { res, send, callId, fromTag, branch, cseq } = await invite(phone, phoneSdp(), { until: 180 });
      expect(res.status).toBe(180);
      expect(ringing).toBeDefined();
      expect(server.sip.media!.activeCalls).toBe(1);
      send(
        [
          `CANCEL sip:alice@${DOMAIN} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@${DOMAIN}>;tag=${fromTag}`,
          `To: <sip:alice@${DOMAIN}>`,
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} CANCEL`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
      const final = await phone.next((m) => m.status === 487 && m.header('call-id') === callId, 5000);
      send(ackFor(final, phone.port, branch));
      await bridgeIsEmpty();
    } finally {
      answerMode = 'answer';
      ringing = undefined;
      phone.close();
    }
  });

  it('a phone puts the call on hold (re-INVITE, sendonly): the browser is offered sendonly and the phone gets nothing while held', async () => {
    const phone = await new RawUa('carol', USERS.carol).bind();
    try {
      const call = await invite(phone, phoneSdp());
      expect(call.res.status).toBe(200);
      const toTag = /;tag=([^;>\s]+)/.exec(call.res.header('to')!)![1]!;
      const routes = (call.res.headers.get('record-route') ?? []).slice().reverse();
      const answer = call.res.text.split('\r\n\r\n')[1]!;
      const target = /<([^>]+)>/.exec(call.res.header('contact')!)![1]!;
      expect(answer).toMatch(/^m=audio \d+ RTP\/AVP 0 101\r$/m);
      expect(answer).toMatch(/^a=rtcp:\d+\r$/m);
      const inDialog = (method: string, cseq: number, body = '') =>
        [
          `${method} ${target} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
          ...routes.map((r) => `Route: ${r}`),
          'Max-Forwards: 70',
          `From: <sip:carol@${DOMAIN}>;tag=${call.fromTag}`,
          `To: <sip:alice@${DOMAIN}>;tag=${toTag}`,
          `Call-ID: ${call.callId}`,
          `CSeq: ${cseq} ${method}`,
          `Contact: <sip:carol@127.0.0.1:${phone.port}>`,
          ...(body ? ['Content-Type: application/sdp'] : []),
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body,
        ].join('\r\n');
      call.send(inDialog('ACK', call.cseq));
      const session = server.sip.media!.sessions[0]!;
      expect(session.negotiation.flowsTo(session.negotiation.streams[0]!, 'phone')).toBe(true);

      const offersBefore = offerCount;
      call.send(inDialog('INVITE', call.cseq + 1, phoneSdp({ direction: 'sendonly' }).replace('o=phone 1 1', 'o=phone 1 2')));
      const ok = await phone.next((m) => m.status === 200 && m.header('cseq') === `${call.cseq + 1} INVITE`, 5000);
      expect(offerCount).toBe(offersBefore + 1);
      expect(offers.at(-1)).toMatch(/^a=sendonly\r$/m);
      const held = ok.text.split('\r\n\r\n')[1]!;
      expect(held).toMatch(/^a=recvonly\r$/m);
      expect(held).toMatch(/^o=- \d+ 2 IN IP4/m); // RFC 3264 §8: version + 1
      expect(session.negotiation.flowsTo(session.negotiation.streams[0]!, 'phone')).toBe(false);
      call.send(inDialog('ACK', call.cseq + 1));

      call.send(inDialog('BYE', call.cseq + 2));
      await phone.next((m) => m.status === 200 && m.header('cseq') === `${call.cseq + 2} BYE`, 5000);
      await bridgeIsEmpty();
    } finally {
      phone.close();
    }
  });

  it('a call whose media stops is released after bridge.mediaTimeout, mediasoup objects and all', async () => {
    const phone = await new RawUa('carol', USERS.carol).bind();
    try {
      // Neither this phone nor the fake browser sends a packet: the call is silent from the start.
      const call = await invite(phone, phoneSdp({ port: 40010 }));
      expect(call.res.status).toBe(200);
      expect(server.sip.media!.activeCalls).toBe(1);
      const started = Date.now();
      await bridgeIsEmpty();
      const waited = Date.now() - started;
      // mediaTimeout is 2 s here (checked every second): not at once, and not much later.
      expect(waited).toBeGreaterThan(1500);
      expect(waited).toBeLessThan(6000);
    } finally {
      phone.close();
    }
  });
});
