/**
 * The SFU's entity tree on the real mediasoup worker: a RoomManager starts its pool with the first
 * room, participants create WebRtcTransports on the worker's WebRtcServer, produce and consume
 * (paused, then resumed); leaving and closing cascade until router.dump() and the worker hold
 * nothing; a killed worker is replaced and its rooms come back on the new one.
 */
import { once } from 'node:events';
import type { types } from 'mediasoup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../sfu/src/logger.ts';
import { RoomManager } from '../../sfu/src/room-manager.ts';
import type { Room } from '../../sfu/src/room.ts';
import { opusParameters, receiverCapabilities, vp8SimulcastParameters } from '../helpers/rtp-params.ts';

const PORT = 35100;

function manager(): RoomManager {
  return new RoomManager({
    pool: { workers: 1, listenIp: '127.0.0.1', port: PORT, rtcMinPort: 35200, rtcMaxPort: 35299, logLevel: 'error' },
    logger: silentLogger,
    maxRooms: 3,
    defaultMaxParticipants: 4,
    maxParticipantsLimit: 8,
    limits: { maxTransports: 4, maxProducers: 4, maxConsumers: 32 },
    idleTimeoutMs: 60_000,
  });
}

interface RouterDump {
  transportIds: string[];
  rtpObserverIds: string[];
  mapProducerIdConsumerIds: Record<string, string[]>;
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function routerDump(room: Room): Promise<RouterDump> {
  return (await room.router.dump()) as RouterDump;
}

describe('SFU rooms on the real mediasoup worker', () => {
  let rooms: RoomManager;
  beforeAll(() => {
    rooms = manager();
  });
  afterAll(async () => {
    await rooms.close();
  });

  it('starts no worker before the first room', async () => {
    expect(await rooms.pool()).toBeUndefined();
  });

  it('produce, consume paused, resume; leave and close leave nothing behind', async () => {
    const room = await rooms.createRoom({ ownerUserId: 'alice', e2eeRequired: true });
    const pool = (await rooms.pool())!;
    expect(pool.slots).toHaveLength(1);
    expect(room.id).toMatch(/^[a-z2-7]{12}$/);

    const alice = await room.join({ id: 'pa', userId: 'alice', displayName: 'alice', identityKey: 'k'.repeat(43) });
    const bob = await room.join({ id: 'pb', userId: 'bob', displayName: 'bob', identityKey: 'k'.repeat(43) });
    const aSend = await alice.createTransport('send');
    // All media of the worker goes through the WebRtcServer's one UDP and one TCP port.
    const ports = new Set(aSend.iceCandidates.map((c) => `${c.protocol}:${c.port}`));
    expect(ports).toEqual(new Set([`udp:${PORT}`, `tcp:${PORT}`]));
    const mic = await alice.produce(aSend.id, { kind: 'audio', rtpParameters: opusParameters(), source: 'mic' });
    const cam = await alice.produce(aSend.id, { kind: 'video', rtpParameters: vp8SimulcastParameters(), source: 'camera', video: { width: 1280, height: 720 } });
    expect(cam.type).toBe('simulcast');
    expect(cam.appData.layers).toHaveLength(3);
    expect(cam.appData.temporalLayers).toBe(3);

    await expect(alice.produce(aSend.id, { kind: 'audio', rtpParameters: opusParameters(), source: 'mic' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(alice.produce(aSend.id, { kind: 'audio', rtpParameters: opusParameters(), source: 'camera' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    await bob.createTransport('recv');
    await expect(bob.consume(mic)).rejects.toMatchObject({ code: 'BAD_REQUEST' }); // no rtpCapabilities yet
    bob.rtpCapabilities = receiverCapabilities();
    const cMic = await bob.consume(mic);
    const cCam = await bob.consume(cam);
    expect(cMic.paused).toBe(true);
    expect(cCam.paused).toBe(true);
    await bob.resumeConsumer(cCam.id);
    expect(cCam.paused).toBe(false);
    // Rendered at 320x180: the lowest simulcast layer is preferred.
    await bob.setConsumerView(cCam.id, 320, 180);
    expect(cCam.preferredLayers).toEqual({ spatialLayer: 0, temporalLayer: 2 });
    await bob.setConsumerView(cCam.id, 1280, 720);
    expect(cCam.preferredLayers).toEqual({ spatialLayer: 2, temporalLayer: 2 });
    // Hidden: paused.
    await bob.setConsumerView(cCam.id, 0, 0);
    expect(cCam.paused).toBe(true);

    let dump = await routerDump(room);
    expect(dump.transportIds).toHaveLength(2);
    expect(dump.mapProducerIdConsumerIds[cam.id]).toHaveLength(1);

    // Alice leaves: her producers close, and with them Bob's consumers (announced per consumer).
    const closedConsumers: string[] = [];
    room.on('consumerclose', (_p, id) => closedConsumers.push(id));
    const left = once(room, 'participantleft');
    room.leave(alice.id, 'left');
    const [who, reason] = await left;
    expect(who).toBe(alice);
    expect(reason).toBe('left');
    expect(alice.closed).toBe(true);
    // The worker tells the consumers that their producer closed (a channel notification).
    await until(() => bob.consumerCount === 0);
    expect(closedConsumers.sort()).toEqual([cMic.id, cCam.id].sort());
    dump = await routerDump(room);
    expect(dump.transportIds).toHaveLength(1);
    expect(Object.keys(dump.mapProducerIdConsumerIds)).toHaveLength(0);

    room.leave(bob.id, 'left');
    dump = await routerDump(room);
    expect(dump.transportIds).toHaveLength(0);
    // The active speaker observer is the router's only remaining child.
    expect(dump.rtpObserverIds).toHaveLength(1);

    const closed = once(rooms, 'roomclosed');
    room.close();
    await closed;
    expect(room.router.closed).toBe(true);
    expect(rooms.get(room.id)).toBeUndefined();
    const workerDump = (await pool.slots[0]!.worker.dump()) as { routerIds: string[]; webRtcServerIds: string[] };
    expect(workerDump.routerIds).toEqual([]);
    expect(workerDump.webRtcServerIds).toHaveLength(1);
  });

  it('closing a room with participants closes their media and the router in one cascade', async () => {
    const room = await rooms.createRoom({ name: 'cascade-room', ownerUserId: 'alice', e2eeRequired: false });
    const a = await room.join({ id: 'a', userId: 'alice', displayName: 'alice', identityKey: null });
    const b = await room.join({ id: 'b', userId: 'bob', displayName: 'bob', identityKey: null });
    const t = await a.createTransport('send');
    const producer = await a.produce(t.id, { kind: 'audio', rtpParameters: opusParameters(), source: 'mic' });
    await b.createTransport('recv');
    b.rtpCapabilities = receiverCapabilities();
    const consumer = await b.consume(producer);
    const closedObjects: string[] = [];
    for (const [name, o] of [['transport', t], ['producer', producer], ['consumer', consumer], ['router', room.router]] as const) {
      (o.observer as unknown as NodeJS.EventEmitter).once('close', () => closedObjects.push(name));
    }
    const reasons: string[] = [];
    room.on('participantleft', (_p, r) => reasons.push(r));
    room.close();
    expect(reasons).toEqual(['room-closed', 'room-closed']);
    expect(new Set(closedObjects)).toEqual(new Set(['transport', 'producer', 'consumer', 'router']));
    expect(a.closed && b.closed).toBe(true);
    expect(room.participants.size).toBe(0);
  });

  it('enforces the room limit and name rules', async () => {
    await expect(rooms.createRoom({ name: 'Bad Name', ownerUserId: 'a', e2eeRequired: true })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(rooms.createRoom({ ownerUserId: 'a', e2eeRequired: true, maxParticipants: 1 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const r1 = await rooms.createRoom({ name: 'limit-1', ownerUserId: 'a', e2eeRequired: true });
    await expect(rooms.createRoom({ name: 'limit-1', ownerUserId: 'a', e2eeRequired: true })).rejects.toMatchObject({ code: 'ROOM_EXISTS' });
    const r2 = await rooms.createRoom({ name: 'limit-2', ownerUserId: 'a', e2eeRequired: true });
    const r3 = await rooms.createRoom({ name: 'limit-3', ownerUserId: 'a', e2eeRequired: true });
    await expect(rooms.createRoom({ name: 'limit-4', ownerUserId: 'a', e2eeRequired: true })).rejects.toMatchObject({ code: 'LIMIT_REACHED' });
    for (const r of [r1, r2, r3]) r.close();
  });

  it('a killed worker is replaced on the same port and its rooms come back with their participants', async () => {
    const room = await rooms.createRoom({ name: 'phoenix', ownerUserId: 'alice', e2eeRequired: true });
    const a = await room.join({ id: 'a1', userId: 'alice', displayName: 'alice', identityKey: null });
    const t = await a.createTransport('send');
    await a.produce(t.id, { kind: 'audio', rtpParameters: opusParameters(), source: 'mic' });
    const pool = (await rooms.pool())!;
    const oldPid = pool.slots[0]!.worker.pid;
    const oldRouter = room.router;

    const down = once(room, 'mediadown');
    const reset = once(room, 'mediareset');
    const t0 = Date.now();
    process.kill(oldPid, 'SIGKILL');
    await down;
    expect(room.state).toBe('media-down');
    expect(() => room.assertMedia()).toThrow(expect.objectContaining({ code: 'MEDIA_RESTARTING' }));
    const [affected, caps] = (await reset) as [unknown[], types.RtpCapabilities];
    expect(affected).toEqual([a]);
    const elapsed = Date.now() - t0;
    expect(caps.codecs?.length).toBeGreaterThan(0);
    expect(room.state).toBe('open');
    expect(room.router).not.toBe(oldRouter);
    expect(oldRouter.closed).toBe(true);
    expect(pool.slots[0]!.worker.pid).not.toBe(oldPid);
    expect(elapsed).toBeLessThan(2000);
    // Membership survived; media is set up again from scratch on the new worker.
    expect(room.participants.get('a1')).toBe(a);
    expect(a.transportCount).toBe(0);
    const t2 = await a.createTransport('send');
    expect(t2.iceCandidates.some((c) => c.port === PORT)).toBe(true);
    room.close();
  });
});
