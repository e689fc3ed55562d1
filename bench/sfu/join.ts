/**
 * Join time in headless Chromium: from the click on Join to the first decoded remote video frame
 * painted (requestVideoFrameCallback), through Sotto (signed in, room rules, E2EE: identity key,
 * E2EE worker, key exchange, SFrame) and through a bare mediasoup server (bench/sfu/bare-client.ts:
 * no sign-in, no E2EE) in the same run, alternating, each with one participant already in the room
 * sending video. Sign-in happens before the click (a user is signed in before joining a call).
 * Must run in a loopback-only network namespace (npm run bench:sfu does that).
 *
 * Environment: JOIN_RUNS=5 (after one warm-up run of each), PORT_BASE=35080.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { WebSocketServer, type WebSocket } from 'ws';
import { MEDIA_CODECS } from '../../sfu/src/media-codecs.ts';
import { launchBrowser, type TestBrowser } from '../../test/helpers/browser.ts';
import { joinGroup } from '../../test/helpers/group-page.ts';
import { httpsJson, signIn } from '../../test/helpers/room-client.ts';
import { ROOT, startTestServer } from '../../test/helpers/server.ts';

const RUNS = Number(process.env.JOIN_RUNS ?? 5);
const BASE = Number(process.env.PORT_BASE ?? 35080);
const SOTTO_WSS = BASE + 3;
const BARE_HTTPS = BASE + 10;
const USERS = { publisher: 'publisher-pass-1', joiner: 'joiner-pass-123' };

/* ---------------------------------------------------------------------------------------------- */
/* The bare mediasoup server                                                                        */
/* ---------------------------------------------------------------------------------------------- */

interface BareServer {
  close(): Promise<void>;
}

async function startBareServer(): Promise<BareServer> {
  const bundle = await esbuild.build({
    entryPoints: [join(import.meta.dirname, 'bare-client.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome120'],
    minify: true,
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  const script = bundle.outputFiles[0]!.text;
  const html = '<!doctype html><meta charset="utf-8"><title>bare</title><button id="join">Join</button><script type="module" src="/bare.js"></script>';

  const worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: BASE + 100, rtcMaxPort: BASE + 199 });
  const webRtcServer = await worker.createWebRtcServer({
    listenInfos: [
      { protocol: 'udp', ip: '127.0.0.1', port: BASE + 11 },
      { protocol: 'tcp', ip: '127.0.0.1', port: BASE + 11 },
    ],
  });
  const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  const producers = new Map<string, types.Producer>();
  const peers = new Set<WebSocket>();

  const https: Server = createHttpsServer(
    { cert: readFileSync(join(ROOT, 'var/tls/localhost.crt')), key: readFileSync(join(ROOT, 'var/tls/localhost.key')) },
    (req, res) => {
      if (req.url?.startsWith('/bare.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    },
  );
  const wss = new WebSocketServer({ server: https, path: '/bare' });
  wss.on('connection', (ws) => {
    peers.add(ws);
    const transports = new Map<string, types.WebRtcTransport>();
    const consumers = new Map<string, types.Consumer>();
    const mine: types.Producer[] = [];
    ws.on('message', async (raw) => {
      const { id, method, data } = JSON.parse(raw.toString()) as { id: number; method: string; data: any };
      let result: unknown = {};
      try {
      switch (method) {
        case 'join':
          result = { routerRtpCapabilities: router.rtpCapabilities, producers: [...producers.keys()] };
          break;
        case 'createTransport': {
          const t = await router.createWebRtcTransport({ webRtcServer, enableUdp: true, enableTcp: true, preferUdp: true, initialAvailableOutgoingBitrate: 1_000_000 });
          transports.set(t.id, t);
          result = { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
          break;
        }
        case 'connect':
          await transports.get(data.transportId)!.connect({ dtlsParameters: data.dtlsParameters });
          break;
        case 'produce': {
          const p = await transports.get(data.transportId)!.produce({ kind: data.kind, rtpParameters: data.rtpParameters });
          producers.set(p.id, p);
          mine.push(p);
          for (const other of peers) if (other !== ws) other.send(JSON.stringify({ notification: 'newProducer', data: { producerId: p.id } }));
          result = { id: p.id };
          break;
        }
        case 'consume': {
          const c = await transports.get(data.transportId)!.consume({ producerId: data.producerId, rtpCapabilities: data.rtpCapabilities, paused: true });
          consumers.set(c.id, c);
          result = { id: c.id, producerId: data.producerId, kind: c.kind, rtpParameters: c.rtpParameters };
          break;
        }
        case 'resume':
          await consumers.get(data.consumerId)!.resume();
          break;
      }
      } catch (err) {
        // A peer that left closed what this request referred to; the bare client ignores errors.
        result = { error: (err as Error).message };
      }
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, data: result }));
    });
    ws.on('close', () => {
      peers.delete(ws);
      for (const p of mine) producers.delete(p.id);
      for (const t of transports.values()) t.close();
    });
  });
  await new Promise<void>((r) => https.listen(BARE_HTTPS, '127.0.0.1', () => r()));
  return {
    async close() {
      for (const ws of peers) ws.terminate();
      wss.close();
      await new Promise((r) => https.close(r));
      worker.close();
    },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Measurements                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

type Hooks = { clickedAt: number | null; firstFrameAt: number | null };

async function joinSotto(b: TestBrowser): Promise<number> {
  const page = b.page;
  await page.goto(`https://127.0.0.1:${SOTTO_WSS}/group.html?room=bench-room&camera=640x360`);
  await page.fill('#username', 'joiner');
  await page.fill('#password', USERS.joiner);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#room-box:not([hidden])');
  await page.click('#join');
  await page.waitForFunction(() => (globalThis as unknown as { __group: Hooks }).__group.firstFrameAt !== null, undefined, { timeout: 20_000 });
  const h = await page.evaluate(() => (globalThis as unknown as { __group: Hooks }).__group);
  if (process.env.JOIN_PHASES) {
    await new Promise((r) => setTimeout(r, 300));
    console.log('   phases:', JSON.stringify(await page.evaluate(() => { const t = (globalThis as any).__group.call.timings; const o: Record<string, number> = {}; for (const k of Object.keys(t)) if (k !== 'startedAt') o[k] = Math.round(t[k]); return o; })));
  }
  await page.click('#leave');
  await page.waitForSelector('#ended-view:not([hidden])');
  return h.firstFrameAt! - h.clickedAt!;
}

async function joinBare(b: TestBrowser, page = b.page): Promise<number> {
  await page.goto(`https://127.0.0.1:${BARE_HTTPS}/?camera=640x360`);
  await page.click('#join');
  await page.waitForFunction(() => (globalThis as unknown as { __bare: Hooks }).__bare.firstFrameAt !== null, undefined, { timeout: 20_000 });
  const h = await page.evaluate(() => (globalThis as unknown as { __bare: Hooks }).__bare);
  await page.goto('about:blank');
  return h.firstFrameAt! - h.clickedAt!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface JoinResult {
  sotto: number[];
  bare: number[];
}

export async function joinBenchmark(log: (line: string) => void = console.log): Promise<JoinResult> {
  const server = await startTestServer({
    basePort: BASE,
    users: USERS,
    overrides: { sfu: { workers: 1, port: BASE + 20, rtcMinPort: BASE + 200, rtcMaxPort: BASE + 299, logLevel: 'error' } },
  });
  const bare = await startBareServer();
  const browsers: TestBrowser[] = [];
  try {
    const token = await signIn(SOTTO_WSS, 'publisher', USERS.publisher);
    await httpsJson(SOTTO_WSS, 'POST', '/api/rooms', { name: 'bench-room', maxParticipants: 4 }, token);
    // One participant already in each room, sending camera and microphone.
    const sottoPublisher = await joinGroup({ port: SOTTO_WSS, room: 'bench-room', user: 'publisher', password: USERS.publisher });
    browsers.push(sottoPublisher.browser);
    const barePublisher = await launchBrowser();
    browsers.push(barePublisher);
    await barePublisher.page.goto(`https://127.0.0.1:${BARE_HTTPS}/?camera=640x360`);
    await barePublisher.page.click('#join');
    await barePublisher.page.waitForFunction(() => (globalThis as unknown as { __bare: { ready: boolean } }).__bare.ready);
    const joiner = await launchBrowser();
    browsers.push(joiner);

    // Warm-up: caches, JIT, the first getUserMedia.
    await joinSotto(joiner);
    await joinBare(joiner);
    const result: JoinResult = { sotto: [], bare: [] };
    for (let i = 1; i <= RUNS; i++) {
      const s = await joinSotto(joiner);
      const b = await joinBare(joiner);
      result.sotto.push(s);
      result.bare.push(b);
      log(`  join run ${i}/${RUNS}: Sotto (auth + E2EE) ${Math.round(s)} ms, bare mediasoup ${Math.round(b)} ms`);
    }
    return result;
  } finally {
    for (const b of browsers) await b.close();
    await bare.close();
    await server.stop();
  }
}

if (import.meta.main) {
  const r = await joinBenchmark();
  console.log(`median: Sotto ${Math.round(median(r.sotto))} ms, bare ${Math.round(median(r.bare))} ms, ratio ${(median(r.sotto) / median(r.bare)).toFixed(2)}`);
}
