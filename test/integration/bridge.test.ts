/**
 * Desk phones and browsers call each other through Sotto, media bridged by mediasoup
 * (server/src/media): a real baresip 1.0.0 (the "desk phone", over UDP and over TCP, with plain RTP
 * and with SDES-SRTP, ;mediaenc=srtp) and the real web client in headless Chromium (ICE-lite +
 * DTLS-SRTP toward the server), both registered to one Sotto.
 *
 * Each way round, the test checks what a person would: the browser's privacy indicator says how
 * far the call is protected before answering ("Not encrypted" for RTP, "Encrypted up to the
 * server" for SDES-SRTP); audio flows both ways (the browser's getStats shows audio packets
 * received with a level above zero, and baresip's recording of the browser's fake-microphone beep
 * is not silent); DTMF sent from the browser's keypad (RFC 4733) reaches baresip; and when the call
 * ends, the bridge's mediasoup worker holds no router (no transport, producer or consumer) any more.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { Page } from 'playwright-core';
import { randomBytes } from 'node:crypto';
import { Baresip, requireBaresip } from '../helpers/baresip.ts';
import { RawUa, type RawMessage } from '../helpers/raw-ua.ts';
import { buildRtp, isRtcp, parseRtp } from '../helpers/rtp.ts';
import { UdpPeer } from '../helpers/udp-peer.ts';
import { HAVE_CHROMIUM, launchBrowser, mediaCounters, type TestBrowser } from '../helpers/browser.ts';
import { HAVE_NETNS, ROOT, startTestServer, type TestServer } from '../helpers/server.ts';
import { measureWav } from '../helpers/wav.ts';

const BASE = 36060;
const ORIGIN = `https://127.0.0.1:${BASE + 3}`;
const USERS = { alice: 'alice-bridge-secret-1', bob: 'bob-bridge-secret-22', carol: 'carol-bridge-secret-333' };

let server: TestServer;
let browser: TestBrowser;
const running: Baresip[] = [];
const page = (): Page => browser.page;

/** The latest modification time of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

async function waitUntil<T>(what: string, f: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await f();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const view = () => page().locator('#app').getAttribute('data-view');
const callState = () => page().locator('#call-view').getAttribute('data-call-state');

interface InboundAudio {
  packetsReceived: number;
  audioLevel: number;
  packetsSent: number;
}

/** The browser's own statistics (W3C webrtc-stats): inbound and outbound audio of its live peer connections. */
async function audioStats(): Promise<InboundAudio> {
  return page().evaluate(async () => {
    type Stat = { type: string; kind?: string; packetsReceived?: number; audioLevel?: number; packetsSent?: number };
    const g = globalThis as unknown as { __sotto: { pcs: { connectionState: string; getStats(): Promise<{ forEach(f: (s: Stat) => void): void }> }[] } };
    const out = { packetsReceived: 0, audioLevel: 0, packetsSent: 0 };
    for (const pc of g.__sotto.pcs) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.packetsReceived += s.packetsReceived ?? 0;
          out.audioLevel = Math.max(out.audioLevel, s.audioLevel ?? 0);
        }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packetsSent += s.packetsSent ?? 0;
      });
    }
    return out;
  });
}

/** Audio from baresip reaches the browser: packets keep arriving, and at some moment with a level. */
async function browserHearsPhone(): Promise<void> {
  const before = await audioStats();
  let level = 0;
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    level = Math.max(level, (await audioStats()).audioLevel);
    await new Promise((r) => setTimeout(r, 200));
  }
  const after = await audioStats();
  expect(after.packetsReceived - before.packetsReceived, 'audio packets received by the browser').toBeGreaterThan(50);
  expect(level, 'audioLevel of what the browser receives').toBeGreaterThan(0.01);
  expect(after.packetsSent - before.packetsSent, 'audio packets sent by the browser').toBeGreaterThan(50);
}

async function signIn(): Promise<void> {
  const p = page();
  await p.goto(ORIGIN + '/');
  await p.getByLabel('User name').fill('alice');
  await p.getByLabel('Password').fill(USERS.alice);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await waitUntil('alice registered', () => p.locator('#registration').getAttribute('data-state'), (s) => s === 'registered');
}

/** No bridged call left, and no mediasoup router (so no transport, producer or consumer) on any bridge worker. */
async function bridgeIsEmpty(): Promise<void> {
  const media = server.sip.media!;
  await waitUntil('bridged calls released', () => media.activeCalls, (n) => n === 0);
  for (const w of media.workers.workers) expect((await w.dump()).routerIds).toEqual([]);
}

/** While a call is up: its router holds two transports (WebRTC, plain) and a producer each way, each consumed once. */
async function bridgeIsUp(srtp: boolean): Promise<void> {
  const sessions = server.sip.media!.sessions;
  expect(sessions).toHaveLength(1);
  const dump = await sessions[0]!.router!.dump();
  expect(dump.transportIds).toHaveLength(2);
  expect(Object.values(dump.mapProducerIdConsumerIds).map((c) => (c as string[]).length)).toEqual([1, 1]);
  expect(sessions[0]!.farLeg).toBe(srtp ? 'sdes-srtp' : 'rtp');
}

/** G.711 µ-law encoding of a 16-bit sample (ITU-T G.711, the usual bias-and-segment form). */
function ulaw(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let v = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (v & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = (v >> (exponent + 3)) & 0x0f;
  v = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return v;
}

function dtmfReceived(b: Baresip, from: number): string {
  // baresip prints each RFC 4733 event it receives, at its start and end: "received event: '1' (end=0)".
  return [...b.output.slice(from).matchAll(/received event: '(.)' \(end=0\)/g)].map((m) => m[1]).join('');
}

describe.skipIf(!HAVE_NETNS || !HAVE_CHROMIUM)('calls between baresip and the browser, bridged by mediasoup', () => {
  beforeAll(async () => {
    requireBaresip();
    // The page must be built from the current sources (it registers with +sip.ice, reads a=sotto-bridge).
    const bundle = join(ROOT, 'web-client/dist/app.js');
    if (!existsSync(bundle) || statSync(bundle).mtimeMs < newest(join(ROOT, 'web-client/src'))) execFileSync(process.execPath, [join(ROOT, 'web-client/build.ts')], { stdio: 'inherit' });
    server = await startTestServer({
      basePort: BASE,
      users: USERS,
      // libre 1.1.0 gives up on any challenge that is not MD5 (see baresip.test.ts).
      overrides: { auth: { algorithms: ['MD5'] }, bridge: { rtcMinPort: 36200, rtcMaxPort: 36399 } },
    });
    browser = await launchBrowser();
    await signIn();
  }, 120_000);

  afterEach(async () => {
    const all = running.splice(0);
    await Promise.all(all.map((b) => b.stop()));
    for (const b of all) b.cleanup();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  describe.each([
    ['udp', undefined],
    ['tcp', undefined],
    ['udp', 'srtp'],
    ['tcp', 'srtp'],
  ] as const)('baresip over %s, media %s', (transport, mediaenc) => {
    const port = 36100 + (transport === 'tcp' ? 40 : 0) + (mediaenc ? 20 : 0);
    const srtp = mediaenc === 'srtp';
    const expectedLevel = srtp ? 'to-server' : 'none';
    const expectedLabel = srtp ? 'Encrypted up to the server' : 'Not encrypted';

    async function startBob(): Promise<Baresip> {
      const bob = await Baresip.start({
        name: `bob-${transport}-${mediaenc ?? 'rtp'}`,
        user: 'bob',
        password: USERS.bob,
        domain: 'localhost',
        proxy: { host: '127.0.0.1', port: BASE },
        transport,
        sipPort: port,
        rtpPorts: [port + 10, port + 19],
        consolePort: port + 5,
        autoAnswer: true,
        toneHz: 440,
        sipTrace: true,
        ...(mediaenc ? { mediaenc } : {}),
      });
      running.push(bob);
      onTestFailed(() => {
        console.log(`----- ${bob.name}, last output -----\n${bob.tail(15_000)}`);
        console.log(`----- browser console (last 60) -----\n${browser.log.slice(-60).join('\n')}`);
      });
      await bob.waitRegistered();
      return bob;
    }

    it('baresip calls the browser: privacy shown before answering, audio both ways, DTMF, nothing left after BYE', async () => {
      const bob = await startBob();
      const mark = bob.output.length;
      await bob.command('/dial sip:alice@localhost');
      await waitUntil('the browser rings', view, (v) => v === 'incoming');
      // Before answering: what the bridged offer says about the phone's leg.
      await waitUntil('privacy before answering', () => page().locator('#incoming-privacy').getAttribute('data-level'), (l) => l === expectedLevel);
      expect(await page().locator('#incoming-privacy').textContent()).toBe(expectedLabel);
      await page().getByRole('button', { name: 'Answer with audio' }).click();
      await waitUntil('connected', callState, (s) => s === 'connected');
      await bob.waitFor(/Call established/, 10_000, mark);
      await bridgeIsUp(srtp);
      await browserHearsPhone();
      expect(await page().locator('#privacy').getAttribute('data-level')).toBe(expectedLevel);

      // DTMF from the browser's keypad, as RFC 4733 events through the bridge.
      const dtmfMark = bob.output.length;

      await page().getByRole('button', { name: 'Keypad' }).click();
      for (const t of ['1', '5', '9']) await page().getByRole('button', { name: `Tone ${t}` }).click();
      await waitUntil('baresip receives the tones', () => dtmfReceived(bob, dtmfMark), (s) => s === '159', 8000);

      await page().getByRole('button', { name: 'Hang up', exact: true }).click();
      await bob.waitFor(/terminated|closed/i, 10_000, mark);
      await bridgeIsEmpty();
      const rec = bob.recordings().received.at(-1)!;
      const level = measureWav(rec);
      expect(level.peakWindowRms, `baresip's recording of the browser (${rec})`).toBeGreaterThan(0.01);
    });

    it('the browser calls baresip: audio both ways, privacy after answering, nothing left after BYE', async () => {
      const bob = await startBob();
      const mark = bob.output.length;
      await page().getByLabel('Name or SIP address').first().fill('bob');
      await page().getByRole('button', { name: 'Audio call', exact: true }).click();
      await waitUntil('connected', callState, (s) => s === 'connected', 20_000);
      await bob.waitFor(/Call established/, 10_000, mark);
      await bridgeIsUp(srtp);
      await browserHearsPhone();
      await waitUntil('privacy', () => page().locator('#privacy').getAttribute('data-level'), (l) => l === expectedLevel);
      expect(await page().locator('#privacy').textContent()).toBe(expectedLabel);
      await bob.command('/hangup');
      await waitUntil('the browser sees the hang-up', view, (v) => v === 'home');
      await bridgeIsEmpty();
      const rec = bob.recordings().received.at(-1)!;
      expect(measureWav(rec).peakWindowRms, `baresip's recording of the browser (${rec})`).toBeGreaterThan(0.01);
    });
  });
  /**
   * Many desk phones write no a=ssrc (RFC 5576), and mediasoup finds the producer of a packet only
   * by SSRC, MID or RID: the bridge learns the SSRC from the phone's first packet (ssrc-probe.ts).
   * A hand-made phone (SIP over UDP, G.711 µ-law sine over RTP, RTCP on its own port) calls the
   * browser without naming its SSRC: the browser hears it, the phone gets the browser's audio,
   * and RTCP still flows on the port the phone was given.
   */
  it('a phone that names no SSRC: learned from its first packet, audio both ways, RTCP on the port it was given', async () => {
    const phone = await new RawUa('carol', USERS.carol).bind();
    const rtp = await UdpPeer.bind();
    const rtcp = await UdpPeer.bind();
    let timer: NodeJS.Timeout | undefined;
    try {
      const sdp = ['v=0', 'o=carol 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${rtp.port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', `a=rtcp:${rtcp.port}`, 'a=sendrecv', ''].join('\r\n');
      const callId = `nossrc-${randomBytes(6).toString('hex')}`;
      const fromTag = randomBytes(4).toString('hex');
      let cseq = 0;
      let branch = '';
      const inviteText = (auth?: string) => {
        branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
        cseq = phone.nextCseq();
        return [
          `INVITE sip:alice@localhost SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport`,
          'Max-Forwards: 70',
          `From: <sip:carol@localhost>;tag=${fromTag}`,
          'To: <sip:alice@localhost>',
          `Call-ID: ${callId}`,
          `CSeq: ${cseq} INVITE`,
          `Contact: <sip:carol@127.0.0.1:${phone.port}>`,
          ...(auth ? [`Proxy-Authorization: ${auth}`] : []),
          'Content-Type: application/sdp',
          `Content-Length: ${Buffer.byteLength(sdp)}`,
          '',
          sdp,
        ].join('\r\n');
      };
      const final = (m: RawMessage) => (m.status ?? 0) >= 200 && m.header('call-id') === callId;
      phone.send(inviteText(), BASE);
      const challenge = await phone.next(final);
      expect(challenge.status).toBe(407);
      phone.send(`ACK sip:alice@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport\r\nMax-Forwards: 70\r\nFrom: ${challenge.header('from')}\r\nTo: ${challenge.header('to')}\r\nCall-ID: ${callId}\r\nCSeq: ${cseq} ACK\r\nContent-Length: 0\r\n\r\n`, BASE);
      phone.send(inviteText(phone.answer(challenge.header('Proxy-Authenticate')!, 'INVITE', 'sip:alice@localhost')), BASE);

      await waitUntil('the browser rings', view, (v) => v === 'incoming');
      expect(await page().locator('#incoming-privacy').getAttribute('data-level')).toBe('none');
      await page().getByRole('button', { name: 'Answer with audio' }).click();
      const ok = await phone.next(final, 10_000);
      expect(ok.status).toBe(200);
      const answer = ok.text.split('\r\n\r\n')[1]!;
      const mediaPort = Number(/^m=audio (\d+) /m.exec(answer)![1]);
      const rtcpPort = Number(/^a=rtcp:(\d+)/m.exec(answer)![1]);
      const routes = (ok.headers.get('record-route') ?? []).slice().reverse();
      const target = /<([^>]+)>/.exec(ok.header('contact')!)![1]!;
      const toTag = /;tag=([^;>\s]+)/.exec(ok.header('to')!)![1]!;
      const inDialog = (method: string, n: number) =>
        [
          `${method} ${target} SIP/2.0`,
          `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
          ...routes.map((r) => `Route: ${r}`),
          'Max-Forwards: 70',
          `From: <sip:carol@localhost>;tag=${fromTag}`,
          `To: <sip:alice@localhost>;tag=${toTag}`,
          `Call-ID: ${callId}`,
          `CSeq: ${n} ${method}`,
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
      phone.send(inDialog('ACK', cseq), BASE);

      // A 440 Hz sine in G.711 µ-law, 20 ms per packet, from an SSRC the SDP never named.
      const ssrc = 0x5eed1234;
      let seq = 1;
      let ts = 0;
      timer = setInterval(() => {
        const payload = Buffer.alloc(160);
        for (let i = 0; i < 160; i++) payload[i] = ulaw(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (ts + i)) / 8000)));
        void rtp.send(buildRtp({ payloadType: 0, ssrc, seq: seq++, timestamp: ts, payload }), mediaPort);
        ts += 160;
      }, 20);

      await waitUntil('connected', callState, (st) => st === 'connected');
      await browserHearsPhone();
      const [session] = server.sip.media!.sessions;
      const producers = Object.keys((await session!.router!.dump()).mapProducerIdConsumerIds);
      expect(producers).toHaveLength(2);
      // The browser's audio reaches the phone's RTP port, from the port the phone sends to.
      const heard = await rtp.waitFor(50, (d) => !isRtcp(d.data) && parseRtp(d.data).payloadType === 0, 'RTP from the bridge', 5000);
      expect(heard[0]!.from.port).toBe(mediaPort);
      // RTCP from the phone to the port in the SDP reaches mediasoup, whose reports come back there.
      const rr = Buffer.alloc(8);
      rr[0] = 0x80;
      rr[1] = 201; // RR, no report blocks (RFC 3550 §6.4.2)
      rr.writeUInt16BE(1, 2);
      rr.writeUInt32BE(ssrc, 4);
      await rtcp.send(rr, rtcpPort);
      await rtcp.waitFor(1, (d) => isRtcp(d.data), 'RTCP from the bridge', 8000);

      phone.send(inDialog('BYE', cseq + 1), BASE);
      await phone.next((m) => m.status === 200 && m.header('cseq') === `${cseq + 1} BYE`, 5000);
      await waitUntil('the browser sees the hang-up', view, (v) => v === 'home');
      await bridgeIsEmpty();
    } finally {
      clearInterval(timer);
      phone.close();
      await rtp.close();
      await rtcp.close();
    }
  });
  it('video: baresip with VP8 (fake camera) calls the browser, which answers with video; pictures flow both ways', async () => {
    const bob = await Baresip.start({
      name: 'bob-video',
      user: 'bob',
      password: USERS.bob,
      domain: 'localhost',
      proxy: { host: '127.0.0.1', port: BASE },
      transport: 'udp',
      sipPort: 36180,
      rtpPorts: [36190, 36199],
      consolePort: 36185,
      autoAnswer: true,
      video: true,
      sipTrace: true,
    });
    running.push(bob);
    onTestFailed(() => console.log(`----- bob-video, last output -----\n${bob.tail(15_000)}`));
    await bob.waitRegistered();
    const mark = bob.output.length;
    await bob.command('/dial sip:alice@localhost');
    await waitUntil('the browser rings', view, (v) => v === 'incoming');
    await page().getByRole('button', { name: 'Answer with video' }).click();
    await waitUntil('connected', callState, (st) => st === 'connected');
    await bob.waitFor(/Call established/, 10_000, mark);
    const [session] = server.sip.media!.sessions;
    expect(session!.negotiation.streams.map((st) => [st.kind, st.negotiated?.map((c) => c.name)])).toEqual([
      ['audio', ['PCMU', 'telephone-event']],
      ['video', ['VP8']],
    ]);
    // The browser decodes baresip's pictures...
    const frames = () => mediaCounters(page()).then((c) => c.videoFramesDecoded);
    const first = await waitUntil('video frames decoded by the browser', frames, (n) => n > 0, 15_000);
    await waitUntil('more video frames', frames, (n) => n > first + 10, 10_000);
    // ...and baresip decodes the browser's (it reports the size of the first picture it decoded).
    await bob.waitFor(/video: receiving with resolution \d+ x \d+/, 10_000, mark);
    await page().getByRole('button', { name: 'Hang up', exact: true }).click();
    await bridgeIsEmpty();
  });
});
