/**
 * How many consumers one mediasoup worker forwards at no more than 80 % of a core.
 *
 * Model of a group call's load: PRODUCERS synthetic video senders (a Node RTP sender per
 * producer, VP8 at ~500 kbit/s: 30 frames/s of two 1,040-byte packets, a keyframe every second)
 * enter through PlainTransports; receivers are PlainTransports with SRTP (AEAD_AES_256_GCM, as
 * browsers negotiate), each consuming every producer, as a participant's receive transport does;
 * everything they forward goes to one UDP sink that counts it, in its own thread so that reading
 * tens of thousands of packets per second does not delay the senders' timers. Receivers are added in steps and
 * the worker's CPU (getrusage of the worker process, user + system) is measured over a window at
 * each step; the figure is the consumer count at 80 % of a core, interpolated between the last
 * step below and the first above. Run alone: `node bench/sfu/consumers.ts` (env below); `npm run
 * bench:sfu` runs it with the other SFU benchmarks.
 *
 * Environment: RUNS=3 PRODUCERS=10 STEP_RECEIVERS=10 WINDOW_MS=3000 MAX_CONSUMERS=4000
 */
import { createSocket, type Socket } from 'node:dgram';
import { Worker as Thread } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import { vp8Packet } from '../../test/helpers/vp8-rtp.ts';
import type { types } from 'mediasoup';

const RUNS = Number(process.env.RUNS ?? 3);
const PRODUCERS = Number(process.env.PRODUCERS ?? 10);
const STEP_RECEIVERS = Number(process.env.STEP_RECEIVERS ?? 10);
const WINDOW_MS = Number(process.env.WINDOW_MS ?? 3000);
const MAX_CONSUMERS = Number(process.env.MAX_CONSUMERS ?? 4000);
const TARGET = 0.8;
const FPS = 30;
const PACKETS_PER_FRAME = 2;
const PACKET_BYTES = 1040;

export interface ConsumersResult {
  /** Consumers at 80 % of a core (interpolated), or MAX when never reached. */
  consumersAt80: number;
  reachedTarget: boolean;
  /** (consumers, worker CPU share, forwarded packets/s) at each step. */
  steps: { consumers: number; cpu: number; pps: number }[];
}

const VP8_CODEC: types.RtpCodecCapability = { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 };


interface Sender {
  stop(): void;
}

function startSender(socket: Socket, port: number, ssrc: number): Sender {
  let seq = Math.floor(Math.random() * 65535);
  let ts = Math.floor(Math.random() * 2 ** 31);
  let frame = 0;
  const timer = setInterval(() => {
    const keyframe = frame % FPS === 0;
    for (let i = 0; i < PACKETS_PER_FRAME; i++) {
      socket.send(vp8Packet({ ssrc, seq: seq++, timestamp: ts, pictureId: frame, first: i === 0, last: i === PACKETS_PER_FRAME - 1, keyframe, payloadBytes: PACKET_BYTES }), port, '127.0.0.1');
    }
    ts += 90000 / FPS;
    frame++;
  }, 1000 / FPS);
  return { stop: () => clearInterval(timer) };
}

/** A UDP sink in a worker thread; `packets` reads the shared counter. */
async function startSink(): Promise<{ port: number; readonly packets: number; close(): Promise<void> }> {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const dgram = require('node:dgram');
    const counter = workerData.counter;
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
    s.on('message', () => Atomics.add(counter, 0, 1));
    s.bind(0, '127.0.0.1', () => parentPort.postMessage(s.address().port));
    parentPort.on('message', () => s.close(() => process.exit(0)));
  `;
  const thread = new Thread(code, { eval: true, workerData: { counter } });
  const port = await new Promise<number>((resolve) => thread.once('message', resolve));
  return {
    port,
    get packets() {
      return Atomics.load(counter, 0);
    },
    async close() {
      thread.postMessage('stop');
      await new Promise((r) => thread.once('exit', r));
    },
  };
}

async function cpuOver(worker: types.Worker, ms: number, sink: { readonly packets: number }): Promise<{ cpu: number; pps: number }> {
  const u0 = await worker.getResourceUsage();
  const p0 = sink.packets;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const u1 = await worker.getResourceUsage();
  const elapsed = performance.now() - t0;
  const busy = u1.ru_utime + u1.ru_stime - (u0.ru_utime + u0.ru_stime);
  return { cpu: busy / elapsed, pps: ((sink.packets - p0) * 1000) / elapsed };
}

export async function runConsumers(log: (line: string) => void = () => {}): Promise<ConsumersResult> {
  const worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 46000, rtcMaxPort: 47999 });
  const sink = await startSink();
  const sinkPort = sink.port;
  const senders: Sender[] = [];
  const sockets: Socket[] = [];
  try {
    const router = await worker.createRouter({ mediaCodecs: [VP8_CODEC] });
    const producers: types.Producer[] = [];
    for (let i = 0; i < PRODUCERS; i++) {
      const t = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
      const ssrc = 0x10000 + i;
      producers.push(
        await t.produce({ kind: 'video', rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] }], encodings: [{ ssrc }] } }),
      );
      const s = createSocket('udp4');
      s.on('message', () => {}); // RTCP (PLI, receiver reports) back from the worker
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      sockets.push(s);
      senders.push(startSender(s, t.tuple.localPort, ssrc));
    }
    const steps: ConsumersResult['steps'] = [];
    let consumers = 0;
    for (;;) {
      for (let r = 0; r < STEP_RECEIVERS; r++) {
        const t = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: 'AEAD_AES_256_GCM' });
        await t.connect({ ip: '127.0.0.1', port: sinkPort, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: randomBytes(44).toString('base64') } });
        for (const p of producers) await t.consume({ producerId: p.id, rtpCapabilities: router.rtpCapabilities });
        consumers += producers.length;
      }
      await new Promise((r) => setTimeout(r, 1100)); // the next keyframe starts every new consumer
      const m = await cpuOver(worker, WINDOW_MS, sink);
      steps.push({ consumers, ...m });
      log(`  ${String(consumers).padStart(5)} consumers: worker CPU ${(m.cpu * 100).toFixed(1).padStart(5)} %, forwarding ${Math.round(m.pps)} packets/s`);
      if (m.cpu > TARGET || consumers >= MAX_CONSUMERS) break;
    }
    const last = steps.at(-1)!;
    if (last.cpu <= TARGET) return { consumersAt80: last.consumers, reachedTarget: false, steps };
    const prev = steps.at(-2) ?? { consumers: 0, cpu: 0, pps: 0 };
    const at80 = prev.consumers + ((TARGET - prev.cpu) / (last.cpu - prev.cpu)) * (last.consumers - prev.consumers);
    return { consumersAt80: Math.round(at80), reachedTarget: true, steps };
  } finally {
    for (const s of senders) s.stop();
    for (const s of sockets) s.close();
    await sink.close();
    worker.close();
  }
}

export async function consumersBenchmark(runs = RUNS, log: (line: string) => void = console.log): Promise<number[]> {
  const results: number[] = [];
  for (let r = 1; r <= runs; r++) {
    log(`consumers per worker, run ${r}/${runs} (${PRODUCERS} producers of ~${Math.round((FPS * PACKETS_PER_FRAME * PACKET_BYTES * 8) / 1000)} kbit/s, +${STEP_RECEIVERS * PRODUCERS} consumers per step, ${WINDOW_MS} ms windows)`);
    const res = await runConsumers(log);
    results.push(res.consumersAt80);
    log(`  → ${res.reachedTarget ? '' : '≥ '}${res.consumersAt80} consumers at ${TARGET * 100} % of a core`);
  }
  return results;
}

if (import.meta.main) await consumersBenchmark();
