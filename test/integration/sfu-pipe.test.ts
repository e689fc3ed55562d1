/**
 * A room larger than one worker, on the real mediasoup workers (sfu/src/placement.ts,
 * room-router.ts): two workers and a threshold of 2 consumers, so the third participant of a room
 * goes to a router on the second worker and the producers are piped between the two
 * (Router.pipeToRouter). Media is real RTP from Node UDP sockets into PlainTransport producers and
 * out of PlainTransport consumers to counting sockets, all on loopback.
 *
 * The steps share one room, each building on the one before, to keep the file short on 2 cores.
 * A last block drives the room signalling (RoomConnection) of a room on two workers: when one
 * worker dies, only the clients on it are told to rebuild their media; a newcomer hears who the
 * active speaker is.
 */
import { once } from 'node:events';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../sfu/src/logger.ts';
import type { Participant } from '../../sfu/src/participant.ts';
import { RoomManager } from '../../sfu/src/room-manager.ts';
import type { Room } from '../../sfu/src/room.ts';
import type { ServerMessage } from '../../sfu/src/signalling/protocol.ts';
import { RoomConnection, type SignallingContext } from '../../sfu/src/signalling/room-connection.ts';
import type { WorkerPool } from '../../sfu/src/worker-pool.ts';
import { vp8Packet } from '../helpers/vp8-rtp.ts';
import { isRtcp, parseRtp } from '../helpers/rtp.ts';
import { receiverCapabilities } from '../helpers/rtp-params.ts';
import { UdpPeer, type Datagram } from '../helpers/udp-peer.ts';

const PORT = 35140;
/** Upper bound for media to arrive (it takes tens of ms; CI machines can be very busy). */
const WAIT_MS = 5000;

interface RouterDump {
  transportIds: string[];
  rtpObserverIds: string[];
  mapProducerIdConsumerIds: Record<string, string[]>;
  mapProducerIdObserverIds: Record<string, string[]>;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The promise's value, or a failure naming what did not happen within `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let nextSsrc = 0x5000;

/** Opus as a plain RTP sender declares it. */
function opus(): types.RtpParameters {
  return { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: nextSsrc++ }] };
}

/** VP8 in three simulcast encodings told apart by SSRC (RFC 8853 allows SSRCs or rids), lowest first. */
function vp8Simulcast(): types.RtpParameters {
  const base = (nextSsrc += 3);
  return {
    codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] }],
    encodings: [
      { ssrc: base, scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { ssrc: base + 1, scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { ssrc: base + 2, scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
    ],
  };
}

/** An Opus-like RTP packet (RFC 3550 §5.1) every 20 ms; the payload is noise. */
function opusPacket(ssrc: number, seq: number): Buffer {
  const p = Buffer.alloc(12 + 60, 0x5a);
  p[0] = 0x80;
  p[1] = 111;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 960) >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  return p;
}


/** Sends RTP to a comedia PlainTransport until stopped: audio at 50 packets/s, or VP8 at 30 frames/s on every encoding. */
function startSending(socket: UdpPeer, transport: types.PlainTransport, rtp: types.RtpParameters): () => void {
  const ssrcs = (rtp.encodings ?? []).map((e) => e.ssrc!);
  const video = rtp.codecs[0]!.mimeType === 'video/VP8';
  let n = 0;
  const timer = setInterval(
    () => {
      for (const ssrc of ssrcs) void socket.send(video ? vp8Packet({ ssrc, seq: n, timestamp: n * 3000, pictureId: n, first: true, last: true, keyframe: n % 10 === 0, payloadBytes: 200 }) : opusPacket(ssrc, n), transport.tuple.localPort).catch(() => undefined);
      n++;
    },
    video ? 33 : 20,
  );
  return () => clearInterval(timer);
}

/** RTP of one consumer arriving at a socket. */
const rtpOf = (consumer: types.Consumer) => {
  const ssrc = consumer.rtpParameters.encodings![0]!.ssrc;
  return (d: Datagram) => !isRtcp(d.data) && parseRtp(d.data).ssrc === ssrc;
};

describe('a room across two workers: routers piped together', () => {
  let rooms: RoomManager;
  let pool: WorkerPool;
  let room: Room;
  const people = new Map<string, Participant>();
  const sockets: UdpPeer[] = [];
  const stops: (() => void)[] = [];
  /** Carol's (router B) consumer of alice's (router A) microphone, and where its RTP goes. */
  let piped: { consumer: types.Consumer; sink: UdpPeer };

  const join = async (name: string) => {
    const p = await room.join({ id: name, userId: name, displayName: name, identityKey: null });
    p.rtpCapabilities = receiverCapabilities();
    people.set(name, p);
    return p;
  };
  const socket = async () => {
    const s = await UdpPeer.bind();
    sockets.push(s);
    return s;
  };
  /** A producer fed with RTP from a Node socket. */
  const produce = async (p: Participant, source: 'mic' | 'camera') => {
    const t = await p.createPlainTransport('send');
    const rtpParameters = source === 'mic' ? opus() : vp8Simulcast();
    const producer = await p.produce(t.id, {
      kind: source === 'mic' ? 'audio' : 'video',
      rtpParameters,
      source,
      ...(source === 'camera' && { video: { width: 1280, height: 720 } }),
    });
    const stop = startSending(await socket(), t, rtpParameters);
    stops.push(stop);
    // A sender must not outlive its transport: when a worker dies, its replacement may give a
    // new transport the same port, and a comedia transport would latch onto the stale sender.
    t.observer.once('close', stop);
    return producer;
  };
  /** A running consumer whose RTP goes to a counting socket. */
  const consume = async (p: Participant, producerId: string) => {
    const t = await p.createPlainTransport('recv');
    const sink = await socket();
    await t.connect({ ip: '127.0.0.1', port: sink.port });
    const { consumer } = await room.consume(p, producerId);
    expect(consumer.paused).toBe(true);
    await p.resumeConsumer(consumer.id);
    return { consumer, sink };
  };
  const homeSlot = () => [...room.routers.values()].find((r) => r.home)!.slotIndex;

  beforeAll(async () => {
    rooms = new RoomManager({
      pool: { workers: 2, listenIp: '127.0.0.1', port: PORT, rtcMinPort: 35500, rtcMaxPort: 35599, logLevel: 'error' },
      logger: silentLogger,
      maxRooms: 2,
      defaultMaxParticipants: 8,
      maxParticipantsLimit: 8,
      limits: { maxTransports: 8, maxProducers: 4, maxConsumers: 16 },
      idleTimeoutMs: 60_000,
      // Tiny, so that a third participant already fills the first worker.
      maxConsumersPerWorker: 2,
    });
    room = await rooms.createRoom({ name: 'two-workers', ownerUserId: 'alice', e2eeRequired: false });
    pool = (await rooms.pool())!;
  });

  afterAll(async () => {
    for (const stop of stops) stop();
    await Promise.all(sockets.map((s) => s.close()));
    await rooms?.close();
  });

  it('the third participant goes to a router on the other worker; RTP from router A reaches a consumer on router B', async () => {
    expect(pool.slots).toHaveLength(2);
    const alice = await join('alice');
    const bob = await join('bob');
    const carol = await join('carol');
    const home = room.routerOf(alice.id)!;
    expect(home.home).toBe(true);
    expect(room.routerOf(bob.id)).toBe(home);
    const b = room.routerOf(carol.id)!;
    expect(b).not.toBe(home);
    expect(room.routers.size).toBe(2);
    expect(pool.slot(b.slotIndex)!.worker.pid).not.toBe(pool.slot(home.slotIndex)!.worker.pid);

    const mic = await produce(alice, 'mic');
    piped = await consume(carol, mic.id);
    const { consumer, sink } = piped;
    await sink.waitFor(10, rtpOf(consumer), 'RTP of alice piped to carol', WAIT_MS);
    // On router B, carol's consumer hangs off the pipe producer that has the id of alice's mic.
    const dumpB = (await b.router.dump()) as RouterDump;
    expect(dumpB.mapProducerIdConsumerIds[mic.id]).toEqual([consumer.id]);
    // Router A forwards to B through one pipe consumer (plus none of its own participants').
    expect(((await home.router.dump()) as RouterDump).mapProducerIdConsumerIds[mic.id]).toHaveLength(1);
  });

  it('pausing the producer on A pauses the piped consumer on B; resuming resumes it', async () => {
    const alice = people.get('alice')!;
    const mic = [...alice.producers.values()][0]!;
    const { consumer, sink } = piped;
    // Bob is on A with alice: the same producer is consumed locally and across the pipe at once.
    const bobs = await consume(people.get('bob')!, mic.id);
    await bobs.sink.waitFor(5, rtpOf(bobs.consumer), 'RTP of alice to bob', WAIT_MS);
    await alice.setProducerPaused(mic.id, true);
    await until(() => consumer.producerPaused, 'carol sees the pause');
    // Packets already on their way through the pipe may still land.
    await sleep(250);
    const before = sink.received.filter(rtpOf(consumer)).length;
    await sleep(300);
    expect(sink.received.filter(rtpOf(consumer)).length).toBe(before);
    await alice.setProducerPaused(mic.id, false);
    await until(() => !consumer.producerPaused, 'carol sees the resume');
    await sink.waitFor(before + 5, rtpOf(consumer), 'RTP after the resume', WAIT_MS);
  });

  it('closing the producer closes the pipe and the consumer on B; worker A keeps no pipe consumer', async () => {
    const alice = people.get('alice')!;
    const carol = people.get('carol')!;
    const mic = [...alice.producers.values()][0]!;
    const closed: string[] = [];
    room.on('consumerclose', (p, id) => closed.push(`${p.id}:${id}`));
    const carolConsumer = piped.consumer;
    alice.closeProducer(mic.id);
    await until(() => carol.consumerCount === 0 && people.get('bob')!.consumerCount === 0, 'consumers closed');
    expect(closed).toContain(`carol:${carolConsumer.id}`);
    const b = room.routerOf(carol.id)!;
    expect(((await b.router.dump()) as RouterDump).mapProducerIdConsumerIds[mic.id]).toBeUndefined();
    // No consumer left on worker A: neither bob's nor the pipe's.
    await until(() => pool.slot(homeSlot())!.consumers === 0, 'worker A without consumers');
  });

  it('simulcast across the pipe: the layer follows the size carol renders', async () => {
    const alice = people.get('alice')!;
    const carol = people.get('carol')!;
    const cam = await produce(alice, 'camera');
    expect(cam.type).toBe('simulcast');
    const { consumer, sink } = await consume(carol, cam.id);
    expect(consumer.type).toBe('simulcast');
    await carol.setConsumerView(consumer.id, 320, 180);
    expect(consumer.preferredLayers?.spatialLayer).toBe(0);
    await until(() => consumer.currentLayers?.spatialLayer === 0, 'the lowest layer forwarded');
    await carol.setConsumerView(consumer.id, 1280, 720);
    await until(() => consumer.currentLayers?.spatialLayer === 2, 'the highest layer forwarded');
    await sink.waitFor(10, rtpOf(consumer), 'VP8 of alice piped to carol', WAIT_MS);
  });

  it('active speaker across routers: a microphone on B is piped into the observer on the home router', async () => {
    const carol = people.get('carol')!;
    const speaker = once(room, 'activespeaker');
    const mic = await produce(carol, 'mic');
    // The only microphone of the room is the dominant one as soon as the observer has it.
    expect(await within(speaker, 'an active speaker')).toEqual([carol.id]);
    const home = room.routers.get(homeSlot())!;
    const dump = (await home.router.dump()) as RouterDump;
    expect(dump.mapProducerIdObserverIds[mic.id]).toEqual(dump.rtpObserverIds);
  });

  it('the home worker is killed: B keeps its media, A\'s participants are restored, pipes are laid again both ways', async () => {
    const alice = people.get('alice')!;
    const bob = people.get('bob')!;
    const carol = people.get('carol')!;
    const dave = await join('dave');
    const b = room.routerOf(carol.id)!;
    expect(room.routerOf(dave.id)).toBe(b);
    // Carol and dave, both on B, hear each other; carol also hears alice through the pipe.
    const carolMic = [...carol.producers.values()].find((p) => p.appData.source === 'mic')!;
    const daveMic = await produce(dave, 'mic');
    const daveHearsCarol = await consume(dave, carolMic.id);
    const carolHearsDave = await consume(carol, daveMic.id);
    const aliceMic = await produce(alice, 'mic');
    const carolHearsAlice = await consume(carol, aliceMic.id);
    await carolHearsAlice.sink.waitFor(5, rtpOf(carolHearsAlice.consumer), 'alice to carol', WAIT_MS);

    const slot = homeSlot();
    const oldHome = room.router;
    const oldPid = pool.slot(slot)!.worker.pid;
    const down = once(room, 'mediadown');
    const reset = once(room, 'mediareset');
    process.kill(oldPid, 'SIGKILL');
    const [affected] = (await within(down, 'mediadown')) as [Participant[]];
    expect(new Set(affected)).toEqual(new Set([alice, bob]));
    expect(() => room.assertMedia(alice)).toThrow(expect.objectContaining({ code: 'MEDIA_RESTARTING' }));
    room.assertMedia(carol);
    // What came from A through the pipe is gone; what B forwards within itself keeps flowing.
    await until(() => carolHearsAlice.consumer.closed, 'carol\'s consumer of alice closed');
    const heard = [daveHearsCarol, carolHearsDave].map((x) => x.sink.received.filter(rtpOf(x.consumer)).length);
    await daveHearsCarol.sink.waitFor(heard[0]! + 10, rtpOf(daveHearsCarol.consumer), 'carol to dave while A is down', WAIT_MS);
    await carolHearsDave.sink.waitFor(heard[1]! + 10, rtpOf(carolHearsDave.consumer), 'dave to carol while A is down', WAIT_MS);

    const [resetFor] = (await within(reset, 'mediareset')) as [Participant[], types.RtpCapabilities];
    expect(new Set(resetFor)).toEqual(new Set([alice, bob]));
    expect(pool.slot(slot)!.worker.pid).not.toBe(oldPid);
    expect(oldHome.closed).toBe(true);
    expect(room.router).not.toBe(oldHome);
    expect(room.routerOf(alice.id)!.slotIndex).toBe(slot);
    expect(room.state).toBe('open');
    // B's microphones are piped into the new home router and its active speaker observer.
    await until(async () => {
      const dump = (await room.router.dump()) as RouterDump;
      return [carolMic.id, daveMic.id].every((id) => dump.mapProducerIdObserverIds[id]?.length === 1);
    }, 'B\'s microphones in the new observer');
    // Alice sets her media up again: carol hears her through a new pipe, and she hears dave.
    const newMic = await produce(alice, 'mic');
    const again = await consume(carol, newMic.id);
    await again.sink.waitFor(10, rtpOf(again.consumer), 'alice to carol after the restart', WAIT_MS);
    const aliceHearsDave = await consume(alice, daveMic.id);
    await aliceHearsDave.sink.waitFor(10, rtpOf(aliceHearsDave.consumer), 'dave to alice after the restart', WAIT_MS);
  });

  it('the last participants on B leave: B\'s router closes, and with it the pipe ends on A', async () => {
    const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((n) => people.get(n)!) as [Participant, Participant, Participant, Participant];
    const b = room.routerOf(carol.id)!;
    const worker = pool.slot(b.slotIndex)!.worker;
    room.leave(carol.id, 'left');
    expect(b.closed).toBe(false);
    room.leave(dave.id, 'left');
    expect(b.closed).toBe(true);
    expect([...room.routers.values()]).toEqual([room.routerOf(alice.id)]);
    expect(((await worker.dump()) as { routerIds: string[] }).routerIds).toEqual([]);
    // On A only alice's and bob's own transports are left: no pipe transport, no pipe consumer.
    await until(async () => ((await room.router.dump()) as RouterDump).transportIds.length === alice.transportCount + bob.transportCount, 'pipe transports on A closed');
    // Alice's consumer of dave's microphone closes too (the worker tells it its producer went).
    await until(() => alice.consumerCount === 0, 'alice\'s consumer of dave closed');
    await until(() => pool.slot(homeSlot())!.consumers === 0, 'no consumer left on A');
  });

  it('closing the room leaves no router, transport or consumer on either worker', async () => {
    const workers = pool.slots.map((s) => s.worker);
    expect(workers).toHaveLength(2);
    const routers = [...room.routers.values()].map((r) => r.router);
    expect(routers).toHaveLength(1);
    const closed = once(rooms, 'roomclosed');
    room.close();
    await closed;
    for (const r of routers) expect(r.closed).toBe(true);
    for (const w of workers) {
      const dump = (await w.dump()) as { routerIds: string[] };
      expect(dump.routerIds).toEqual([]);
    }
    for (const s of pool.slots) {
      expect(s.routers).toBe(0);
      expect(s.consumers).toBe(0);
    }
  });
});

describe('room signalling across workers', () => {
  const SIGNAL_PORT = 35150;
  let rooms: RoomManager;
  let room: Room;
  const clients = new Map<string, { conn: RoomConnection; sent: ServerMessage[]; id?: string }>();
  let nextId = 1;
  const request = async (user: string, method: string, data: unknown) => {
    const c = clients.get(user)!;
    const id = nextId++;
    c.conn.onMessage(JSON.stringify({ id, method, data }));
    await until(() => c.sent.some((m) => 'id' in m && m.id === id), `${user} ${method}`);
    return c.sent.find((m) => 'id' in m && m.id === id) as { ok: boolean; data?: Record<string, unknown>; error?: { code: string } };
  };
  const notified = (user: string, name: string) => clients.get(user)!.sent.filter((m) => 'notification' in m && m.notification === name);
  /** A client with its own RoomConnection (the socket is a list of what the server sent) joins the room. */
  const connect = async (user: string) => {
    const ctx: SignallingContext = {
      rooms,
      verifySession: (token) => token,
      allowJoinAttempt: () => true,
      domain: 'example.test',
      logger: silentLogger,
      pseudonym: (v) => v,
      rate: { perSecond: 1000, burst: 1000 },
      byParticipant,
    };
    const sent: ServerMessage[] = [];
    const conn = new RoomConnection(ctx, { send: (m) => sent.push(m), close: () => undefined, remoteAddress: '127.0.0.1', origin: 'https://example.test' });
    clients.set(user, { conn, sent });
    const joined = await request(user, 'join', { room: 'signalled', token: user, e2ee: null });
    expect(joined.ok).toBe(true);
    clients.get(user)!.id = joined.data!.participantId as string;
  };
  const byParticipant = new Map<string, RoomConnection>();

  beforeAll(() => {
    rooms = new RoomManager({
      pool: { workers: 2, listenIp: '127.0.0.1', port: SIGNAL_PORT, rtcMinPort: 35600, rtcMaxPort: 35699, logLevel: 'error' },
      logger: silentLogger,
      maxRooms: 1,
      defaultMaxParticipants: 4,
      maxParticipantsLimit: 4,
      limits: { maxTransports: 4, maxProducers: 4, maxConsumers: 16 },
      idleTimeoutMs: 60_000,
      maxConsumersPerWorker: 2,
    });
  });

  afterAll(async () => {
    await rooms?.close();
  });

  it('the second worker dies: mediaDown and mediaReset reach carol (on it) and not alice or bob, whose media requests go on', async () => {
    room = await rooms.createRoom({ name: 'signalled', ownerUserId: 'alice', e2eeRequired: false });
    for (const user of ['alice', 'bob', 'carol']) await connect(user);
    const slotOf = (user: string) => room.routerOf(clients.get(user)!.id!)!.slotIndex;
    expect(slotOf('alice')).toBe(slotOf('bob'));
    const killed = slotOf('carol');
    expect(killed).not.toBe(slotOf('alice'));

    // The moment carol hears of it, her router is down: her media requests wait for mediaReset.
    const carol = clients.get('carol')!;
    let duringOutage: number | undefined;
    const send = carol.sent.push.bind(carol.sent);
    carol.sent.push = (...m: ServerMessage[]) => {
      const n = send(...m);
      if (duringOutage === undefined && m.some((x) => 'notification' in x && x.notification === 'mediaDown')) {
        duringOutage = nextId++;
        carol.conn.onMessage(JSON.stringify({ id: duringOutage, method: 'createTransport', data: { direction: 'send' } }));
      }
      return n;
    };
    process.kill((await rooms.pool())!.slot(killed)!.worker.pid, 'SIGKILL');
    await until(() => notified('carol', 'mediaReset').length === 1, 'carol gets mediaReset');
    expect(notified('carol', 'mediaDown')).toHaveLength(1);
    expect(carol.sent.find((m) => 'id' in m && m.id === duringOutage)).toMatchObject({ ok: false, error: { code: 'MEDIA_RESTARTING' } });
    for (const user of ['alice', 'bob']) {
      expect(notified(user, 'mediaDown')).toHaveLength(0);
      expect(notified(user, 'mediaReset')).toHaveLength(0);
      expect((await request(user, 'createTransport', { direction: 'recv' })).ok).toBe(true);
    }
    // Carol's media comes back on the replacement worker, on the same port.
    const t = await request('carol', 'createTransport', { direction: 'send' });
    expect(t.ok).toBe(true);
    expect((t.data!.iceCandidates as { port: number }[])[0]!.port).toBe(SIGNAL_PORT + killed);
  });

  it('a newcomer is told the current active speaker right after its join response', async () => {
    const alice = room.participants.get(clients.get('alice')!.id!)!;
    const t = await alice.createPlainTransport('send');
    await alice.produce(t.id, { kind: 'audio', rtpParameters: opus(), source: 'mic' });
    // The room's only microphone is the dominant one as soon as the observer has it.
    await until(() => notified('bob', 'activeSpeaker').length > 0, 'bob hears of the active speaker');
    await connect('dave');
    const sent = clients.get('dave')!.sent;
    const joinReply = sent.findIndex((m) => 'id' in m);
    const speaker = sent.findIndex((m) => 'notification' in m && m.notification === 'activeSpeaker');
    expect(speaker).toBeGreaterThan(joinReply);
    expect(sent[speaker]).toEqual({ notification: 'activeSpeaker', data: { participantId: alice.id } });
    for (const c of clients.values()) c.conn.onClose();
    room.close();
  });
});
