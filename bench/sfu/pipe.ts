/**
 * What a worker-to-worker pipe costs to lay (mediasoup's Router.pipeToRouter, as sfu/src/room-router.ts
 * uses it): the first pipe between two routers on two workers creates and connects a PipeTransport
 * pair on 127.0.0.1; the next ones reuse it and add only a pipe consumer and a pipe producer. The
 * figure backs the choice of eager pipes in sfu/src/room.ts (latency is not what decides it).
 *
 * Run alone: `node bench/sfu/pipe.ts` (RUNS=20 router pairs, PRODUCERS=5 per pair). Not part of
 * `npm run bench:sfu`.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

const RUNS = Number(process.env.RUNS ?? 20);
const PRODUCERS = Number(process.env.PRODUCERS ?? 5);
const CODECS: types.RtpCodecCapability[] = [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const first: number[] = [];
const next: number[] = [];
const workers = [
  await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 47000, rtcMaxPort: 47999 }),
  await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 47000, rtcMaxPort: 47999 }),
];
try {
  for (let run = 0; run < RUNS; run++) {
    const a = await workers[0]!.createRouter({ mediaCodecs: CODECS });
    const b = await workers[1]!.createRouter({ mediaCodecs: CODECS });
    const t = await a.createPlainTransport({ listenIp: '127.0.0.1', comedia: true });
    for (let i = 0; i < PRODUCERS; i++) {
      const p = await t.produce({
        kind: 'audio',
        rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1000 + i }] },
      });
      const t0 = performance.now();
      await a.pipeToRouter({ producerId: p.id, router: b, listenIp: '127.0.0.1' });
      (i === 0 ? first : next).push(performance.now() - t0);
    }
    a.close();
    b.close();
  }
} finally {
  for (const w of workers) w.close();
}
console.log(`pipeToRouter between two workers on loopback: first pipe between two routers median ${median(first).toFixed(2)} ms (n=${first.length}), ` +
  `next pipes median ${median(next).toFixed(2)} ms (n=${next.length})`);
