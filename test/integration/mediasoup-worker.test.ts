/**
 * The mediasoup worker that scripts/mediasoup-worker.sh builds from source against Debian's
 * libraries, driven through mediasoup's own JS: real RTP over real UDP sockets on 127.0.0.1 goes
 * in through one PlainTransport and comes out of another, the router's close cascades to
 * everything under it, and a worker that dies is noticed. This is what the group-call SFU stands on.
 */
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPli, buildRtp, isRtcp, parseRtp, pliMediaSsrcs } from '../helpers/rtp.ts';
import { UdpPeer, type Datagram } from '../helpers/udp-peer.ts';

const MEDIA_CODECS: types.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];
// What the receiving end says it can take: both codecs, no header extensions, and PLI so that
// it may ask for keyframes.
const RECEIVER_CAPS: types.RtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 101, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] },
  ],
  headerExtensions: [],
};
// The sender's own numbering, which the router must replace with the consumer's.
const SENT_OPUS_PT = 111;
const SENT_VP8_PT = 96;
const OPUS_SSRC = 0x11110000;
const VP8_SSRC = 0x22220000;

function createWorker(): Promise<types.Worker> {
  return mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 40000, rtcMaxPort: 40100 });
}

/**
 * A sender socket → PlainTransport (comedia: it learns the sender's address from the first
 * packet) → router → PlainTransport connected to a receiver socket; RTP and RTCP share one port.
 */
async function mediaPath(router: types.Router) {
  const sender = await UdpPeer.bind();
  const receiver = await UdpPeer.bind();
  const inbound = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true });
  const outbound = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: false });
  await outbound.connect({ ip: '127.0.0.1', port: receiver.port });
  const sendRtp = (packet: Buffer) => sender.send(packet, inbound.tuple.localPort, inbound.tuple.localIp);
  return { sender, receiver, inbound, outbound, sendRtp, close: () => Promise.all([sender.close(), receiver.close()]) };
}

function produceOpus(transport: types.PlainTransport) {
  return transport.produce({
    kind: 'audio',
    rtpParameters: {
      codecs: [{ mimeType: 'audio/opus', payloadType: SENT_OPUS_PT, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc: OPUS_SSRC }],
    },
  });
}

const rtpFrom = (ssrc: number) => (d: Datagram) => !isRtcp(d.data) && parseRtp(d.data).ssrc === ssrc;

describe('mediasoup worker built from source', () => {
  let worker: types.Worker;

  beforeAll(async () => {
    if (!existsSync(mediasoup.workerBin)) {
      throw new Error(`no mediasoup worker at ${mediasoup.workerBin}: build it with 'bash scripts/mediasoup-worker.sh' ` +
        `(npm test and npm start do that through scripts/setup.sh)`);
    }
    worker = await createWorker();
  });

  afterAll(() => worker?.close());

  it('forwards Opus RTP from one PlainTransport to a consumer on another, renumbered for the receiver', async () => {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const path = await mediaPath(router);
    try {
      const producer = await produceOpus(path.inbound);
      const consumer = await path.outbound.consume({ producerId: producer.id, rtpCapabilities: RECEIVER_CAPS });
      const outPt = consumer.rtpParameters.codecs[0]!.payloadType;
      const outSsrc = consumer.rtpParameters.encodings![0]!.ssrc!;

      // 20 ms Opus frames: 960 samples at 48 kHz. Payloads are random so that a byte moved,
      // dropped or reordered anywhere shows.
      const payloads = Array.from({ length: 20 }, () => randomBytes(80));
      for (const [i, payload] of payloads.entries()) {
        await path.sendRtp(buildRtp({ payloadType: SENT_OPUS_PT, ssrc: OPUS_SSRC, seq: 4000 + i, timestamp: 123456 + i * 960, payload }));
      }

      const got = (await path.receiver.waitFor(20, rtpFrom(outSsrc), 'Opus RTP packets from the consumer')).map((d) => parseRtp(d.data));
      expect(got.map((p) => p.payload)).toEqual(payloads);
      expect(new Set(got.map((p) => p.payloadType))).toEqual(new Set([outPt]));
      // The router numbers its codecs from 100 and picks its own SSRC for each consumer: seeing the
      // sender's values here would mean the packets were not rewritten for this receiver.
      expect(outPt).not.toBe(SENT_OPUS_PT);
      expect(outSsrc).not.toBe(OPUS_SSRC);
      for (let i = 1; i < got.length; i++) {
        expect((got[i]!.seq - got[i - 1]!.seq + 0x10000) % 0x10000).toBe(1);
        expect((got[i]!.timestamp - got[i - 1]!.timestamp) >>> 0).toBe(960);
      }
      const [inbound] = await producer.getStats();
      expect(inbound?.packetCount).toBe(20);
    } finally {
      router.close();
      await path.close();
    }
  });

  it('holds VP8 back until a keyframe, then forwards it; relays the receiver\'s PLI to the sender', async () => {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const path = await mediaPath(router);
    try {
      const producer = await path.inbound.produce({
        kind: 'video',
        rtpParameters: {
          codecs: [{ mimeType: 'video/VP8', payloadType: SENT_VP8_PT, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] }],
          encodings: [{ ssrc: VP8_SSRC }],
        },
      });
      const consumer = await path.outbound.consume({ producerId: producer.id, rtpCapabilities: RECEIVER_CAPS });
      const outSsrc = consumer.rtpParameters.encodings![0]!.ssrc!;

      // RFC 7741 §4.2 payload descriptor: X=1 and S=1, partition 0, no optional fields (mediasoup
      // parses VP8 only with X set). Then the VP8 frame: the low bit of its first byte is 0 on a
      // keyframe (RFC 6386 §9.1), which also carries the start code 9d 01 2a and the size (320x240).
      const descriptor = Buffer.from([0x90, 0x00]);
      const keyframe = Buffer.concat([Buffer.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]), randomBytes(100)]);
      const delta = () => Buffer.concat([Buffer.from([0x11]), randomBytes(60)]);
      const frames = [delta(), delta(), delta(), keyframe, delta(), delta(), delta()];
      for (const [i, frame] of frames.entries()) {
        const payload = Buffer.concat([descriptor, frame]);
        await path.sendRtp(buildRtp({ payloadType: SENT_VP8_PT, ssrc: VP8_SSRC, seq: 100 + i, timestamp: 9000 + i * 3000, marker: true, payload }));
      }

      // The receiver cannot decode anything before a keyframe, so the three leading deltas must not arrive.
      const got = (await path.receiver.waitFor(4, rtpFrom(outSsrc), 'VP8 RTP packets from the consumer')).map((d) => parseRtp(d.data));
      expect(got.map((p) => p.payload)).toEqual(frames.slice(3).map((f) => Buffer.concat([descriptor, f])));
      await sleep(100);
      expect(path.receiver.received.filter(rtpFrom(outSsrc))).toHaveLength(4);

      // A receiver that lost the picture asks the consumer for a keyframe; the router must ask the
      // sender (at the address comedia learned) for one, naming the sender's own SSRC.
      const pliAtSender = (d: Datagram) => isRtcp(d.data) && pliMediaSsrcs(d.data).includes(VP8_SSRC);
      const before = path.sender.received.filter(pliAtSender).length;
      await path.receiver.send(buildPli(0x0badcafe, outSsrc), path.outbound.tuple.localPort, path.outbound.tuple.localIp);
      await path.sender.waitFor(before + 1, pliAtSender, 'PLIs for the sender\'s SSRC');
    } finally {
      router.close();
      await path.close();
    }
  });

  it('closing the router closes its transports, producers and consumers and stops forwarding', async () => {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const path = await mediaPath(router);
    try {
      const producer = await produceOpus(path.inbound);
      const consumer = await path.outbound.consume({ producerId: producer.id, rtpCapabilities: RECEIVER_CAPS });
      const outSsrc = consumer.rtpParameters.encodings![0]!.ssrc!;
      const closed: string[] = [];
      const entities = { router, inbound: path.inbound, outbound: path.outbound, producer, consumer };
      router.observer.once('close', () => closed.push('router'));
      path.inbound.observer.once('close', () => closed.push('inbound'));
      path.outbound.observer.once('close', () => closed.push('outbound'));
      producer.observer.once('close', () => closed.push('producer'));
      consumer.observer.once('close', () => closed.push('consumer'));

      const before = await router.dump();
      expect(before.transportIds).toHaveLength(2);
      // 3.12's worker answers with an object keyed by producer id (its .d.ts describes the
      // later {key, values}[] form).
      expect(before.mapProducerIdConsumerIds).toEqual({ [producer.id]: [consumer.id] });
      expect((await worker.dump()).routerIds).toContain(router.id);
      await path.sendRtp(buildRtp({ payloadType: SENT_OPUS_PT, ssrc: OPUS_SSRC, seq: 1, timestamp: 0, payload: randomBytes(40) }));
      await path.receiver.waitFor(1, rtpFrom(outSsrc), 'Opus RTP packets before closing');

      router.close();

      expect(closed.sort()).toEqual(Object.keys(entities).sort());
      for (const e of Object.values(entities)) expect(e.closed).toBe(true);
      expect((await worker.dump()).routerIds).not.toContain(router.id);
      await expect(router.dump()).rejects.toThrow();
      // The worker has released the ports too: what the sender sends now goes nowhere.
      await path.sendRtp(buildRtp({ payloadType: SENT_OPUS_PT, ssrc: OPUS_SSRC, seq: 2, timestamp: 960, payload: randomBytes(40) }));
      await sleep(300);
      expect(path.receiver.received.filter(rtpFrom(outSsrc))).toHaveLength(1);
    } finally {
      router.close();
      await path.close();
    }
  });

  it('a worker killed by its PID emits died and closes its routers; other workers carry on', async () => {
    const doomed = await createWorker();
    const router = await doomed.createRouter({ mediaCodecs: MEDIA_CODECS });
    const died = once(doomed, 'died') as Promise<[Error]>;
    process.kill(doomed.pid, 'SIGKILL');
    const [err] = await died;
    expect(err.message).toMatch(new RegExp(`pid:${doomed.pid}.*signal:SIGKILL`));
    expect(doomed.closed).toBe(true);
    expect(router.closed).toBe(true);
    expect((await worker.getResourceUsage()).ru_maxrss).toBeGreaterThan(0);
  });
});
