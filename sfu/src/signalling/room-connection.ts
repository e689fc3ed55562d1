/**
 * One client's room signalling session: validates each request (protocol.ts), admits or refuses
 * the `join` (admission.ts), turns requests into Room/Participant calls, and turns room events
 * into the notifications this client should see. Until the socket has joined, its requests run one
 * after another, so `join` is complete before anything that needs it; after that they run as they
 * come, concurrently, as mediasoup-client expects (it never sends a request that depends on one it
 * has not seen answered). Relays and chat are forwarded without waiting, so their order is kept.
 *
 * Bad input never throws out of here: every failure becomes an error response with a code, and
 * a client that floods the socket is refused (RATE_LIMITED) and then disconnected.
 */
import { randomBytes } from 'node:crypto';
import type { types } from 'mediasoup';
import { admit } from '../admission.ts';
import { SfuError, type SfuErrorCode } from '../errors.ts';
import type { SfuLogger } from '../logger.ts';
import type { Participant, ProducerAppData } from '../participant.ts';
import type { RoomManager } from '../room-manager.ts';
import { verifyRoomPassword } from '../room-password.ts';
import type { Room, RoomEvents } from '../room.ts';
import {
  type ClientRequest,
  type Method,
  type NotificationData,
  type NotificationName,
  type ParticipantInfo,
  type ProducerInfo,
  type RequestData,
  type ResponseData,
  type ServerMessage,
} from './protocol.ts';
import { roomInfo } from './room-info.ts';
import { parseClientMessage } from './validation.ts';
import { TokenBucket } from './token-bucket.ts';

/** What every connection shares: the rooms, the session check, limits and logging. */
export interface SignallingContext {
  readonly rooms: RoomManager;
  /** The user a session token names, or null (invalid, expired, forged). */
  verifySession(token: string): string | null;
  /** Allows one join attempt from this address (password guessing is bounded by it). */
  allowJoinAttempt(address: string): boolean;
  /** SIP domain for the rooms' SIP URIs. */
  readonly domain: string;
  readonly logger: SfuLogger;
  pseudonym(value: string): string | undefined;
  /** Requests per second per socket, sustained and burst. */
  readonly rate: { readonly perSecond: number; readonly burst: number };
  /** Live connections by participant id (for relaying between participants). */
  readonly byParticipant: Map<string, RoomConnection>;
}

export interface ConnectionIo {
  send(message: ServerMessage): void;
  /** Closes the socket with a WebSocket close code (RFC 6455 §7.4: 4000-4999 are ours). */
  close(code: number, reason: string): void;
  readonly remoteAddress: string;
  /** https://host[:port] the client connected to, for the room's link. */
  readonly origin: string;
}

/** Close codes the client can act on. */
export const CLOSE_CODES = {
  /** Too many requests. */
  rateLimited: 4008,
  /** No join within the time allowed. */
  joinTimeout: 4001,
  /** The owner removed this participant. */
  removed: 4003,
  roomClosed: 4004,
  /** The client sent messages the server could not parse, repeatedly. */
  protocolError: 4002,
} as const;

/** Malformed messages tolerated before the socket is closed (a buggy or hostile client). */
const MAX_BAD_MESSAGES = 20;

export class RoomConnection {
  readonly #ctx: SignallingContext;
  readonly #io: ConnectionIo;
  readonly #bucket: TokenBucket;
  #queue: Promise<void> = Promise.resolve();
  #room: Room | undefined;
  #me: Participant | undefined;
  #joining = false;
  #bad = 0;
  #closed = false;
  readonly #unsubscribe: (() => void)[] = [];

  constructor(ctx: SignallingContext, io: ConnectionIo) {
    this.#ctx = ctx;
    this.#io = io;
    this.#bucket = new TokenBucket(ctx.rate.perSecond, ctx.rate.burst, Date.now());
  }

  get joined(): boolean {
    return this.#me !== undefined;
  }

  get participantId(): string | undefined {
    return this.#me?.id;
  }

  /** One text message from the socket. */
  onMessage(text: string): void {
    if (this.#closed) return;
    if (!this.#bucket.take(Date.now())) {
      this.#io.close(CLOSE_CODES.rateLimited, 'too many requests');
      return;
    }
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      if (parsed.id !== null) this.#reply({ id: parsed.id, ok: false, error: { code: 'BAD_REQUEST', message: parsed.message } });
      if (++this.#bad > MAX_BAD_MESSAGES) this.#io.close(CLOSE_CODES.protocolError, 'too many malformed messages');
      return;
    }
    const request = parsed.request;
    if (this.#me) void this.#handle(request);
    else this.#queue = this.#queue.then(() => this.#handle(request));
  }

  /** The socket closed: leave the room. */
  onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#leave('disconnected');
  }

  /** A notification from the room or another connection. */
  notify<N extends NotificationName>(notification: N, data: NotificationData[N]): void {
    if (this.#closed) return;
    this.#io.send({ notification, data } as ServerMessage);
  }

  async #handle(request: ClientRequest): Promise<void> {
    if (this.#closed) return;
    try {
      const data = await this.#dispatch(request);
      this.#reply({ id: request.id, ok: true, data } as ServerMessage);
      // The active speaker is announced on changes only: a newcomer hears the current one now.
      const speaker = request.method === 'join' ? this.#room?.activeSpeaker : null;
      if (speaker) this.notify('activeSpeaker', { participantId: speaker });
    } catch (err) {
      const { code, message } = toError(err);
      if (code === 'INTERNAL') this.#ctx.logger.error({ method: request.method, err: (err as Error)?.message }, 'room request failed');
      this.#reply({ id: request.id, ok: false, error: { code, message } });
    }
  }

  #reply(message: ServerMessage): void {
    if (!this.#closed) this.#io.send(message);
  }

  async #dispatch(request: ClientRequest): Promise<ResponseData[Method]> {
    if (request.method === 'join') return this.#join(request.data);
    const me = this.#me;
    const room = this.#room;
    if (!me || !room) throw new SfuError('NOT_JOINED', `join a room before ${request.method}`);
    switch (request.method) {
      case 'setRtpCapabilities':
        me.rtpCapabilities = request.data.rtpCapabilities as types.RtpCapabilities;
        return {};
      case 'createTransport': {
        room.assertMedia(me);
        const t = await me.createTransport(request.data.direction);
        return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters } as ResponseData['createTransport'];
      }
      case 'connectTransport':
        room.assertMedia(me);
        await me.connectTransport(request.data.transportId, request.data.dtlsParameters as types.DtlsParameters);
        return {};
      case 'restartIce':
        room.assertMedia(me);
        return { iceParameters: await me.restartIce(request.data.transportId) };
      case 'produce': {
        room.assertMedia(me);
        const d = request.data;
        const producer = await me.produce(d.transportId, {
          kind: d.kind,
          rtpParameters: d.rtpParameters as types.RtpParameters,
          source: d.source,
          ...(d.video && { video: d.video }),
        });
        return { producerId: producer.id };
      }
      case 'closeProducer':
        me.closeProducer(request.data.producerId);
        return {};
      case 'pauseProducer':
        room.assertMedia(me);
        await me.setProducerPaused(request.data.producerId, request.data.paused);
        return {};
      case 'consume': {
        const { consumer, producer } = await room.consume(me, request.data.producerId);
        return {
          consumerId: consumer.id,
          producerId: producer.id,
          participantId: producer.appData.participantId,
          kind: consumer.kind,
          source: producer.appData.source,
          rtpParameters: consumer.rtpParameters,
        } as ResponseData['consume'];
      }
      case 'resumeConsumer':
        room.assertMedia(me);
        await me.resumeConsumer(request.data.consumerId);
        return {};
      case 'setConsumerView':
        room.assertMedia(me);
        await me.setConsumerView(request.data.consumerId, request.data.width, request.data.height);
        return {};
      case 'requestKeyFrame':
        room.assertMedia(me);
        await me.requestKeyFrame(request.data.consumerId);
        return {};
      case 'relay': {
        const target = room.participants.get(request.data.to);
        const conn = target ? this.#ctx.byParticipant.get(target.id) : undefined;
        if (!target || !conn || target === me) throw new SfuError('UNKNOWN_PARTICIPANT', 'no such participant in this room');
        conn.notify('relay', { from: me.id, blob: request.data.blob });
        return {};
      }
      case 'chat':
        for (const p of room.participants.values()) if (p !== me) this.#ctx.byParticipant.get(p.id)?.notify('chat', { from: me.id, blob: request.data.blob });
        return {};
      case 'removeParticipant': {
        const target = room.remove(me, request.data.participantId);
        this.#ctx.logger.info({ room: this.#ctx.pseudonym(room.id), by: this.#ctx.pseudonym(me.userId), user: this.#ctx.pseudonym(target.userId) }, 'participant removed by the owner');
        return {};
      }
      case 'leave':
        this.#leave('left');
        return {};
    }
  }

  async #join(req: RequestData['join']): Promise<ResponseData['join']> {
    if (this.#me) throw new SfuError('ALREADY_JOINED', 'this socket is already in a room; open another socket for another room');
    if (this.#joining) throw new SfuError('ALREADY_JOINED', 'a join is in progress');
    if (!this.#ctx.allowJoinAttempt(this.#io.remoteAddress)) throw new SfuError('RATE_LIMITED', 'too many join attempts; wait a little');
    this.#joining = true;
    try {
      const userId = this.#ctx.verifySession(req.token);
      const fail = (code: SfuErrorCode, message: string): never => {
        this.#ctx.logger.info({ room: this.#ctx.pseudonym(req.room), user: userId ? this.#ctx.pseudonym(userId) : undefined, code }, 'join refused');
        throw new SfuError(code, message);
      };
      if (!userId) return fail('NOT_AUTHENTICATED', 'sign in first: the session is missing, invalid or expired');
      const room = this.#ctx.rooms.get(req.room);
      if (!room || room.closed) return fail('ROOM_NOT_FOUND', `no room ${req.room} on this server`);
      const isOwner = room.settings.ownerUserId === userId;
      const passwordOk = room.settings.password === null || (req.password !== undefined && (await verifyRoomPassword(room.settings.password, req.password)));
      if (this.#closed) throw new SfuError('NOT_JOINED', 'the socket closed');
      const decision = admit(room.policy, {
        authenticated: true,
        passwordOk,
        removed: room.isRemoved(userId),
        isOwner,
        participants: room.participants.size,
        canEncrypt: req.e2ee !== null,
      });
      if (!decision.ok) return fail(decision.code, decision.message);
      if (room.closed) return fail('ROOM_NOT_FOUND', `no room ${req.room} on this server`);

      const me = await room.join({ id: randomBytes(9).toString('base64url'), userId, displayName: userId, identityKey: req.e2ee?.identityKey ?? null });
      if (this.#closed) {
        room.leave(me.id, 'disconnected');
        throw new SfuError('NOT_JOINED', 'the socket closed');
      }
      this.#me = me;
      this.#room = room;
      this.#ctx.byParticipant.set(me.id, this);
      this.#subscribe(room, me);
      this.#ctx.logger.info({ room: this.#ctx.pseudonym(room.id), user: this.#ctx.pseudonym(userId), e2ee: req.e2ee !== null, participants: room.participants.size }, 'joined room');
      return {
        participantId: me.id,
        room: roomInfo(room, this.#io.origin, this.#ctx.domain),
        participants: [...room.participants.values()].filter((p) => p !== me).map((p) => participantInfo(room, p)),
        producers: room.allProducers().filter((x) => x.participant !== me).map((x) => producerInfo(x.producer)),
        owner: isOwner,
        // Every router of a room has the same codecs, so the same capabilities.
        routerRtpCapabilities: room.routerOf(me.id)!.router.rtpCapabilities as ResponseData['join']['routerRtpCapabilities'],
      };
    } finally {
      this.#joining = false;
    }
  }

  #subscribe(room: Room, me: Participant): void {
    const on = <E extends keyof RoomEvents>(event: E, listener: (...args: RoomEvents[E]) => void): void => {
      const l = listener as (...args: unknown[]) => void;
      (room as unknown as NodeJS.EventEmitter).on(event, l);
      this.#unsubscribe.push(() => (room as unknown as NodeJS.EventEmitter).off(event, l));
    };
    on('participantjoined', (p) => {
      if (p !== me) this.notify('participantJoined', participantInfo(room, p));
    });
    on('participantleft', (p, reason) => {
      if (p !== me) {
        this.notify('participantLeft', { participantId: p.id, reason });
        return;
      }
      if (reason === 'removed') {
        this.notify('removed', { reason: 'the owner removed you from the room' });
        this.#detach();
        this.#io.close(CLOSE_CODES.removed, 'removed by the owner');
      }
    });
    on('producer', (p, producer) => {
      if (p !== me) this.notify('producerAdded', producerInfo(producer));
    });
    on('producerclose', (p, producerId) => {
      if (p !== me) this.notify('producerClosed', { producerId, participantId: p.id });
    });
    on('producerpause', (p, producerId, paused) => {
      if (p !== me) this.notify('producerPaused', { producerId, participantId: p.id, paused });
    });
    on('consumerclose', (p, consumerId) => {
      if (p === me) this.notify('consumerClosed', { consumerId });
    });
    on('consumerlayers', (p, consumerId, layers) => {
      if (p !== me) return;
      this.notify(
        'consumerLayers',
        layers
          ? { consumerId, spatialLayer: layers.spatialLayer, temporalLayer: layers.temporalLayer ?? 0 }
          : { consumerId, spatialLayer: null, temporalLayer: null },
      );
    });
    on('activespeaker', (participantId) => this.notify('activeSpeaker', { participantId }));
    on('mediadown', (affected) => {
      if (affected.includes(me)) this.notify('mediaDown', {});
    });
    on('mediareset', (affected, caps) => {
      if (!affected.includes(me)) return;
      this.notify('mediaReset', {
        routerRtpCapabilities: caps as NotificationData['mediaReset']['routerRtpCapabilities'],
        producers: room.allProducers().filter((x) => x.participant !== me).map((x) => producerInfo(x.producer)),
      });
    });
    on('close', () => {
      this.notify('roomClosed', {});
      this.#detach();
      this.#io.close(CLOSE_CODES.roomClosed, 'the room was closed');
    });
  }

  #leave(reason: 'left' | 'disconnected'): void {
    const room = this.#room;
    const me = this.#me;
    this.#detach();
    if (room && me) {
      room.leave(me.id, reason);
      this.#ctx.logger.info({ room: this.#ctx.pseudonym(room.id), user: this.#ctx.pseudonym(me.userId), reason }, 'left room');
    }
  }

  /** Stops listening to the room and forgets it (the participant itself is left by the caller). */
  #detach(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    if (this.#me && this.#ctx.byParticipant.get(this.#me.id) === this) this.#ctx.byParticipant.delete(this.#me.id);
    this.#me = undefined;
    this.#room = undefined;
  }
}

function participantInfo(room: Room, p: Participant): ParticipantInfo {
  return { id: p.id, name: p.displayName, owner: p.userId === room.settings.ownerUserId, e2ee: p.identityKey ? { identityKey: p.identityKey } : null };
}

function producerInfo(producer: types.Producer<ProducerAppData>): ProducerInfo {
  return { producerId: producer.id, participantId: producer.appData.participantId, kind: producer.kind, source: producer.appData.source, paused: producer.paused };
}

/** Any failure as a code and a message for the client; mediasoup's own validation → BAD_REQUEST. */
function toError(err: unknown): { code: SfuErrorCode; message: string } {
  if (err instanceof SfuError) return { code: err.code, message: err.message };
  if (err instanceof TypeError) return { code: 'BAD_REQUEST', message: `invalid parameters: ${err.message}`.slice(0, 300) };
  const e = err as { name?: string; message?: string } | null;
  // mediasoup's UnsupportedError, and errors the worker returns for bad parameters.
  if (e?.name === 'UnsupportedError') return { code: 'BAD_REQUEST', message: (e.message ?? 'unsupported').slice(0, 300) };
  if (e?.name === 'InvalidStateError') return { code: 'MEDIA_RESTARTING', message: 'the media server of this room is restarting' };
  if (e?.name === 'Error' && typeof e.message === 'string' && /^(request failed|.*\[method:)/.test(e.message)) {
    return { code: 'BAD_REQUEST', message: e.message.slice(0, 300) };
  }
  return { code: 'INTERNAL', message: 'internal error' };
}
