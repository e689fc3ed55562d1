/**
 * Room signalling end to end on a real Sotto server (HTTPS + WSS on one port) with the real
 * mediasoup worker, driven by Node WebSocket clients: sign-in against the SIP accounts, room
 * creation, every refusal (not signed in, wrong password, full, removed, E2EE required), limits
 * and malformed input, mediasoup-client's request sequence, opaque relay of E2EE key messages and
 * chat, the owner removing a participant, a killed worker announced as mediaDown/mediaReset, and
 * logs free of usernames, passwords and tokens.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { httpsJson, RoomClient, RoomRequestError, signIn } from '../helpers/room-client.ts';
import { opusParameters, receiverCapabilities, vp8SimulcastParameters } from '../helpers/rtp-params.ts';
import type { RoomInfo } from '../../sfu/src/signalling/protocol.ts';

const BASE = 35060;
const WSS = BASE + 3;
const USERS = { alice: 'alice-password-1', bob: 'bob-password-12', carol: 'carol-password-1', dave: 'dave-password-12' };

const identityKey = () => randomBytes(32).toString('base64url');

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(RoomRequestError);
  await expect(p).rejects.toMatchObject({ code });
}

describe('room signalling over WSS (real server, real mediasoup worker)', () => {
  let server: TestServer;
  const logs: string[] = [];
  const tokens: Record<string, string> = {};
  const clients: RoomClient[] = [];

  async function client(): Promise<RoomClient> {
    const c = await RoomClient.connect(WSS);
    clients.push(c);
    return c;
  }

  async function createRoom(owner: string, body: Record<string, unknown>): Promise<RoomInfo> {
    const res = await httpsJson(WSS, 'POST', '/api/rooms', body, tokens[owner]);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return (res.body as { room: RoomInfo }).room;
  }

  beforeAll(async () => {
    server = await startTestServer({
      basePort: BASE,
      users: USERS,
      overrides: { log: { level: 'info' }, sfu: { workers: 1, port: 35110, rtcMinPort: 35300, rtcMaxPort: 35399, logLevel: 'error', maxParticipants: 3 } },
      logDestination: { write: (s: string) => void logs.push(s) },
    });
    for (const [u, p] of Object.entries(USERS)) tokens[u] = await signIn(WSS, u, p);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.stop();
  });

  describe('sessions: POST /api/session with the SIP accounts', () => {
    it('refuses a wrong password and an unknown user alike, with a clear error', async () => {
      for (const body of [{ username: 'alice', password: 'wrong-password' }, { username: 'nobody', password: 'whatever-pass' }]) {
        const res = await httpsJson(WSS, 'POST', '/api/session', body);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: { code: 'NOT_AUTHENTICATED', message: 'wrong username or password' } });
      }
    });

    it('refuses malformed bodies with 400', async () => {
      for (const body of [{}, { username: 'alice' }, { username: 'a'.repeat(65), password: 'x' }, 'text']) {
        const res = await httpsJson(WSS, 'POST', '/api/session', body);
        expect(res.status).toBe(400);
        expect((res.body as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
      }
    });

    it('issues a token for the right password, and the room API needs it', async () => {
      expect(tokens.alice).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      expect((await httpsJson(WSS, 'POST', '/api/rooms', {})).status).toBe(401);
      expect((await httpsJson(WSS, 'POST', '/api/rooms', {}, tokens.alice!.slice(0, -2) + 'xx')).status).toBe(401);
    });
  });

  describe('rooms: POST /api/rooms, GET /api/rooms/:room', () => {
    it('creates a room with a link and a SIP URI, E2EE required by default', async () => {
      const room = await createRoom('alice', { name: 'standup' });
      expect(room).toEqual({
        id: 'standup',
        link: `https://127.0.0.1:${WSS}/group.html?room=standup`,
        sipUri: `sip:standup@${server.config.domain}`,
        e2eeRequired: true,
        hasPassword: false,
        maxParticipants: 3,
      });
      const info = await httpsJson(WSS, 'GET', '/api/rooms/standup', undefined, tokens.bob);
      expect(info.status).toBe(200);
      expect(info.body).toMatchObject({ room: { id: 'standup' }, participants: 0 });
      expect((await httpsJson(WSS, 'GET', '/api/rooms/nope-nope', undefined, tokens.bob)).status).toBe(404);
      // /metrics counts rooms and workers (the pool started with the first room), names nothing.
      const metrics = String((await httpsJson(WSS, 'GET', '/metrics')).body);
      expect(metrics).toMatch(/^sotto_sfu_rooms 1$/m);
      expect(metrics).toMatch(/^sotto_sfu_workers 1$/m);
      expect(metrics).not.toContain('standup');
    });

    it('refuses taken names, user names (their SIP URI) and bad options', async () => {
      expect((await httpsJson(WSS, 'POST', '/api/rooms', { name: 'standup' }, tokens.bob)).status).toBe(409);
      const user = await httpsJson(WSS, 'POST', '/api/rooms', { name: 'carol' }, tokens.bob);
      expect(user.status).toBe(409);
      expect(user.body).toMatchObject({ error: { code: 'ROOM_EXISTS' } });
      for (const body of [{ name: 'Has Spaces' }, { maxParticipants: 1 }, { maxParticipants: 1000 }, { password: '' }, { extra: 1 }]) {
        const res = await httpsJson(WSS, 'POST', '/api/rooms', body, tokens.bob);
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
    });
  });

  describe('the /rooms WebSocket shares the HTTPS port with SIP over WSS', () => {
    it('refuses a handshake without the room subprotocol; SIP over WSS still works', async () => {
      await expect(RoomClient.connect(WSS, { protocol: null })).rejects.toThrow(/HTTP 400/);
      await expect(RoomClient.connect(WSS, { protocol: 'sip' })).rejects.toThrow(/HTTP 400/);
      const sip = new WebSocket(`wss://127.0.0.1:${WSS}/`, ['sip'], { rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        sip.once('open', () => resolve());
        sip.once('error', reject);
      });
      expect(sip.protocol).toBe('sip');
      sip.close();
    });
  });

  describe('join: refusals', () => {
    it('not signed in, unknown room, wrong password, E2EE required, full, second join', async () => {
      await createRoom('alice', { name: 'locked', password: 'open sesame', maxParticipants: 2 });
      const c = await client();
      const base = { room: 'locked', e2ee: { identityKey: identityKey() } };
      await expectCode(c.request('join', { ...base, token: 'forged.token' }), 'NOT_AUTHENTICATED');
      await expectCode(c.request('join', { ...base, room: 'no-such-room', token: tokens.bob! }), 'ROOM_NOT_FOUND');
      await expectCode(c.request('join', { ...base, token: tokens.bob! }), 'WRONG_PASSWORD');
      await expectCode(c.request('join', { ...base, token: tokens.bob!, password: 'open says me' }), 'WRONG_PASSWORD');
      await expectCode(c.request('join', { ...base, e2ee: null, token: tokens.bob!, password: 'open sesame' }), 'E2EE_REQUIRED');
      // Before joining, nothing else works.
      await expectCode(c.request('createTransport', { direction: 'send' }), 'NOT_JOINED');

      // The owner needs no password.
      const owner = await client();
      const joined = await owner.request('join', { ...base, token: tokens.alice! });
      expect(joined.owner).toBe(true);
      const ok = await c.request('join', { ...base, token: tokens.bob!, password: 'open sesame' });
      expect(ok.owner).toBe(false);
      expect(ok.participants.map((p) => p.name)).toEqual(['alice']);
      await expectCode(c.request('join', { ...base, token: tokens.bob!, password: 'open sesame' }), 'ALREADY_JOINED');
      const third = await client();
      await expectCode(third.request('join', { ...base, token: tokens.carol!, password: 'open sesame' }), 'ROOM_FULL');
    });

    it('a room that does not require E2EE admits a client that cannot encrypt, and everyone sees it', async () => {
      await createRoom('alice', { name: 'open-room', e2eeRequired: false });
      const a = await client();
      await a.request('join', { room: 'open-room', token: tokens.alice!, e2ee: { identityKey: identityKey() } });
      const b = await client();
      const joined = await b.request('join', { room: 'open-room', token: tokens.bob!, e2ee: null });
      expect(joined.participants[0]!.e2ee).not.toBeNull();
      const seen = await a.next('participantJoined', (p) => p.name === 'bob');
      expect(seen.e2ee).toBeNull();
    });
  });

  describe('bad input never hurts the server', () => {
    it('answers malformed requests with BAD_REQUEST and keeps serving', async () => {
      const c = await client();
      await expect(c.raw('{"id":1,"method":"nope","data":{}}', 1)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('unknown method') });
      await expect(c.raw('{"id":2,"method":"join","data":{"room":"x"}}', 2)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(c.raw('{"id":3,"method":"join","data":{"room":"standup","token":"t","e2ee":{"identityKey":"short"}}}', 3)).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringContaining('e2ee.identityKey'),
      });
      await expect(c.raw('{"id":4,"method":"leave","data":{"sneaky":true}}', 4)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      c.raw('this is not json');
      c.raw('[1,2,3]');
      c.raw('{"id":"x"}');
      await c.request('join', { room: 'standup', token: tokens.dave!, e2ee: { identityKey: identityKey() } });
      // mediasoup's own checks come back as BAD_REQUEST too.
      const t = await c.request('createTransport', { direction: 'send' });
      await expectCode(c.request('produce', { transportId: t.id, kind: 'audio', source: 'mic', rtpParameters: { codecs: 'nope' } as never }), 'BAD_REQUEST');
      await expectCode(c.request('connectTransport', { transportId: 'not-mine', dtlsParameters: { fingerprints: [] } as never }), 'UNKNOWN_TRANSPORT');
      await expectCode(c.request('consume', { producerId: 'does-not-exist' }), 'UNKNOWN_PRODUCER');
      await c.request('leave', {});
      c.close();
    });

    it('closes a socket that sends a message over the size limit', async () => {
      const c = await client();
      c.raw(JSON.stringify({ id: 1, method: 'chat', data: { blob: 'a'.repeat(70 * 1024) } }));
      expect((await c.closed).code).toBe(1009);
    });

    it('refuses an oversized relay or chat blob by schema', async () => {
      const c = await client();
      await c.request('join', { room: 'standup', token: tokens.carol!, e2ee: { identityKey: identityKey() } });
      await expectCode(c.request('chat', { blob: 'a'.repeat(17 * 1024) }), 'BAD_REQUEST');
      await expectCode(c.request('relay', { to: 'someone', blob: 'a'.repeat(5000) }), 'BAD_REQUEST');
      await expectCode(c.request('relay', { to: 'someone', blob: 'not base64url!' }), 'BAD_REQUEST');
      await expectCode(c.request('relay', { to: 'nobody-here', blob: 'AAAA' }), 'UNKNOWN_PARTICIPANT');
      c.close();
    });

    it('disconnects a client that floods requests (4008) and the server still answers others', async () => {
      const c = await client();
      for (let i = 0; i < 400; i++) c.raw(JSON.stringify({ id: 10_000 + i, method: 'leave', data: {} }));
      expect((await c.closed).code).toBe(4008);
      const health = await httpsJson(WSS, 'GET', '/healthz');
      expect(health.status).toBe(200);
    });
  });

  describe('a call: mediasoup-client request sequence, relays, owner powers', () => {
    it('produce → producerAdded → consume (paused) → resume; relay and chat pass opaque; leave cleans up', async () => {
      const room = await createRoom('alice', { name: 'media-room' });
      const a = await client();
      const b = await client();
      const aKey = identityKey();
      const aj = await a.request('join', { room: room.id, token: tokens.alice!, e2ee: { identityKey: aKey } });
      expect(aj.routerRtpCapabilities.codecs?.map((c) => c.mimeType)).toEqual(expect.arrayContaining(['audio/opus', 'video/VP8']));
      await a.request('setRtpCapabilities', { rtpCapabilities: receiverCapabilities() as never });
      const send = await a.request('createTransport', { direction: 'send' });
      expect(send.iceCandidates.every((c) => c.port === 35110)).toBe(true);
      const mic = await a.request('produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: opusParameters() as never });
      const cam = await a.request('produce', {
        transportId: send.id,
        kind: 'video',
        source: 'camera',
        rtpParameters: vp8SimulcastParameters() as never,
        video: { width: 1280, height: 720 },
      });

      const bj = await b.request('join', { room: room.id, token: tokens.bob!, e2ee: { identityKey: identityKey() } });
      // The newcomer learns who is there, with their E2EE identity key, and what they send.
      expect(bj.participants).toEqual([{ id: aj.participantId, name: 'alice', owner: true, e2ee: { identityKey: aKey } }]);
      expect(bj.producers.map((p) => p.producerId).sort()).toEqual([mic.producerId, cam.producerId].sort());
      await a.next('participantJoined', (p) => p.id === bj.participantId);
      await b.request('setRtpCapabilities', { rtpCapabilities: receiverCapabilities() as never });
      await b.request('createTransport', { direction: 'recv' });
      const consumer = await b.request('consume', { producerId: cam.producerId });
      expect(consumer).toMatchObject({ producerId: cam.producerId, participantId: aj.participantId, kind: 'video', source: 'camera' });
      await b.request('resumeConsumer', { consumerId: consumer.consumerId });
      await b.request('setConsumerView', { consumerId: consumer.consumerId, width: 320, height: 180 });
      const sfuRoom = server.rooms!.rooms.get(room.id)!;
      const bobP = sfuRoom.participants.get(bj.participantId)!;
      expect(bobP.consumerCount).toBe(1);

      // A third producer announced live.
      const screen = await a.request('produce', {
        transportId: send.id,
        kind: 'video',
        source: 'screen',
        rtpParameters: { ...vp8SimulcastParameters(), mid: '2', encodings: [{ ssrc: 777 }] } as never,
      });
      expect((await b.next('producerAdded', (p) => p.producerId === screen.producerId)).source).toBe('screen');

      // E2EE key messages and chat: opaque, addressed, and marked with the sender.
      const sealed = randomBytes(120).toString('base64url');
      await a.request('relay', { to: bj.participantId, blob: sealed });
      expect(await b.next('relay')).toEqual({ from: aj.participantId, blob: sealed });
      await expectCode(a.request('relay', { to: aj.participantId, blob: 'AAAA' }), 'UNKNOWN_PARTICIPANT');
      const chat = randomBytes(64).toString('base64url');
      await b.request('chat', { blob: chat });
      expect(await a.next('chat')).toEqual({ from: bj.participantId, blob: chat });
      expect(b.notifications.some((n) => n.notification === 'chat')).toBe(false);

      // Alice closes her camera: Bob's consumer of it closes.
      await a.request('closeProducer', { producerId: cam.producerId });
      await b.next('producerClosed', (p) => p.producerId === cam.producerId);
      await b.next('consumerClosed', (c) => c.consumerId === consumer.consumerId);

      // Bob leaves by closing his socket: Alice is told; nothing of Bob's stays in the router.
      b.close();
      expect(await a.next('participantLeft', (p) => p.participantId === bj.participantId)).toMatchObject({ reason: 'disconnected' });
      await a.request('leave', {});
      const dump = (await sfuRoom.router.dump()) as { transportIds: string[] };
      expect(dump.transportIds).toEqual([]);
      expect(sfuRoom.participants.size).toBe(0);
    });

    it('the owner removes a participant, who cannot come back; others cannot remove', async () => {
      await createRoom('alice', { name: 'strict-room' });
      const a = await client();
      const b = await client();
      const c = await client();
      await a.request('join', { room: 'strict-room', token: tokens.alice!, e2ee: { identityKey: identityKey() } });
      const bj = await b.request('join', { room: 'strict-room', token: tokens.bob!, e2ee: { identityKey: identityKey() } });
      const cj = await c.request('join', { room: 'strict-room', token: tokens.carol!, e2ee: { identityKey: identityKey() } });
      await expectCode(b.request('removeParticipant', { participantId: cj.participantId }), 'NOT_OWNER');
      await a.request('removeParticipant', { participantId: bj.participantId });
      expect(await b.next('removed')).toMatchObject({ reason: expect.any(String) });
      expect((await b.closed).code).toBe(4003);
      expect(await c.next('participantLeft', (p) => p.participantId === bj.participantId)).toMatchObject({ reason: 'removed' });
      const again = await client();
      await expectCode(again.request('join', { room: 'strict-room', token: tokens.bob!, e2ee: { identityKey: identityKey() } }), 'REMOVED');
    });

    it('a killed media worker: clients get mediaDown then mediaReset and can set up media again', async () => {
      await createRoom('alice', { name: 'crash-room' });
      const a = await client();
      await a.request('join', { room: 'crash-room', token: tokens.alice!, e2ee: { identityKey: identityKey() } });
      await a.request('createTransport', { direction: 'send' });
      const pool = (await server.rooms!.rooms.pool())!;
      process.kill(pool.slots[0]!.worker.pid, 'SIGKILL');
      await a.next('mediaDown');
      const reset = await a.next('mediaReset');
      expect(reset.routerRtpCapabilities.codecs?.length).toBeGreaterThan(0);
      const t = await a.request('createTransport', { direction: 'send' });
      expect(t.iceCandidates[0]!.port).toBe(35110);
    });
  });

  it('logs carry no usernames, passwords, tokens or E2EE blobs', () => {
    const text = logs.join('');
    expect(text).toContain('joined room');
    expect(text).toContain('group-call sign-in');
    for (const [u, p] of Object.entries(USERS)) {
      expect(text).not.toContain(p);
      expect(text).not.toMatch(new RegExp(`"${u}"`));
    }
    for (const t of Object.values(tokens)) expect(text).not.toContain(t.split('.')[1]!);
    expect(text).not.toContain('open sesame');
  });
});
