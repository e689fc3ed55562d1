/**
 * A room: its participants, its rules (participant limit, password, owner, "E2EE required"), and
 * its routers (room-router.ts): one to start with, on the least loaded worker, and one more on
 * another worker each time the workers of those it has are full (placement.ts). Every producer is
 * piped to every other router of the room, so each participant can consume everyone whatever
 * router either is on. Typed events tell the signalling what to announce; close() cascades to
 * every participant and then every router, so nothing is left in any worker
 * (test/integration/sfu-room.test.ts and sfu-pipe.test.ts check router.dump() and the workers).
 *
 * When a worker dies, the participants on the room's router there lose their media (room-state.ts:
 * media-down for that router); the others keep theirs, minus what came from the dead worker. The
 * room manager rebuilds that router on the replacement worker with resetMedia(), the pipes to it
 * are laid again, and those participants' clients set up their transports again. Membership, and
 * so every E2EE key already exchanged, stays as it was, which is what lets media come back within
 * a second or two.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { RoomPolicy } from './admission.ts';
import { SfuError } from './errors.ts';
import { Participant, type ParticipantIdentity, type ParticipantLimits, type ProducerAppData } from './participant.ts';
import { expectedConsumers, place, type WorkerLoad } from './placement.ts';
import { RoomRouter } from './room-router.ts';
import type { RoomPasswordHash } from './room-password.ts';
import { mediaAvailable, type RoomState } from './room-state.ts';
import type { LeaveReason } from './signalling/protocol.ts';
import type { WorkerSlot } from './worker-pool.ts';

export interface RoomSettings {
  /** Room name: the user part of its SIP URI and the `room` of its link. */
  readonly id: string;
  /** The user who created it; may remove participants, needs no password. */
  readonly ownerUserId: string;
  readonly password: RoomPasswordHash | null;
  readonly e2eeRequired: boolean;
  readonly maxParticipants: number;
  readonly limits: ParticipantLimits;
}

/** What a room needs from the pool to spread over workers (the room manager provides it). */
export interface RoomWorkers {
  /** The live workers and their load in consumers (placement.ts). */
  loads(): WorkerLoad[];
  /** The live worker in a slot. */
  slot(index: number): WorkerSlot | undefined;
  readonly maxConsumersPerWorker: number;
}

export type { LeaveReason };

export type RoomEvents = {
  participantjoined: [participant: Participant];
  participantleft: [participant: Participant, reason: LeaveReason];
  producer: [participant: Participant, producer: types.Producer<ProducerAppData>];
  producerclose: [participant: Participant, producerId: string];
  producerpause: [participant: Participant, producerId: string, paused: boolean];
  consumerclose: [participant: Participant, consumerId: string];
  consumerlayers: [participant: Participant, consumerId: string, layers: types.ConsumerLayers | null];
  /** The loudest participant changed (mediasoup ActiveSpeakerObserver, dominant speaker). */
  activespeaker: [participantId: string];
  /** A worker of the room died: these participants' media requests fail until `mediareset`. */
  mediadown: [participants: readonly Participant[]];
  /** Their router is rebuilt on the replacement worker: these clients set up their media again. */
  mediareset: [participants: readonly Participant[], routerRtpCapabilities: types.RtpCapabilities];
  close: [];
};

export class Room extends EventEmitter<RoomEvents> {
  readonly settings: RoomSettings;
  readonly createdAt = Date.now();
  readonly #workers: RoomWorkers;
  #closed = false;
  /** The room's routers by worker slot, oldest first; the first is the home. */
  readonly #routers = new Map<number, RoomRouter>();
  #home!: RoomRouter;
  readonly #participants = new Map<string, Participant>();
  /** The router each participant is placed on (for good: a participant never moves). */
  readonly #placedOn = new Map<string, RoomRouter>();
  /** Users the owner removed: refused if they come back. */
  readonly #removedUsers = new Set<string>();
  /** The last dominant speaker announced, for newcomers (the observer speaks only on changes). */
  #activeSpeaker: string | null = null;
  /** Joins are placed one at a time, so that two newcomers never open two routers on one worker. */
  #joins: Promise<unknown> = Promise.resolve();
  #pendingJoins = 0;

  private constructor(settings: RoomSettings, workers: RoomWorkers) {
    super();
    this.settings = settings;
    this.#workers = workers;
    // Every participant's connection listens to the room's events.
    this.setMaxListeners(settings.maxParticipants * 2 + 10);
  }

  /** A room with its home router on `slot` (the least loaded worker, chosen by the manager). */
  static async create(settings: RoomSettings, slot: WorkerSlot, workers: RoomWorkers): Promise<Room> {
    const room = new Room(settings, workers);
    room.#home = room.#adopt(await RoomRouter.create(settings.id, slot, true));
    return room;
  }

  get id(): string {
    return this.settings.id;
  }

  /** open; media-down while one of its routers waits for a replacement worker; closed. */
  get state(): RoomState {
    if (this.#closed) return 'closed';
    for (const r of this.#routers.values()) if (r.state === 'media-down') return 'media-down';
    return 'open';
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The home router: the room's first, which holds the ActiveSpeakerObserver and into which every
   * producer of the room is piped (so a tap there sees all of the room's media).
   */
  get router(): types.Router {
    return this.#home.router;
  }

  /** The room's routers by worker slot. */
  get routers(): ReadonlyMap<number, RoomRouter> {
    return this.#routers;
  }

  /** The router a participant is placed on. */
  routerOf(participantId: string): RoomRouter | undefined {
    return this.#placedOn.get(participantId);
  }

  /** Whether the room has a router on that worker slot. */
  hasRouterOn(slotIndex: number): boolean {
    return this.#routers.has(slotIndex);
  }

  get participants(): ReadonlyMap<string, Participant> {
    return this.#participants;
  }

  get policy(): RoomPolicy {
    return { hasPassword: this.settings.password !== null, e2eeRequired: this.settings.e2eeRequired, maxParticipants: this.settings.maxParticipants };
  }

  isRemoved(userId: string): boolean {
    return this.#removedUsers.has(userId);
  }

  /**
   * The participant last announced as the dominant speaker, or null. mediasoup's
   * ActiveSpeakerObserver reports changes only, so a newcomer is told this one on joining.
   */
  get activeSpeaker(): string | null {
    return this.#activeSpeaker;
  }

  /**
   * The consumers this room's participants on a worker count for (placement.ts), for the
   * manager's load figure.
   */
  expectedConsumersOn(slotIndex: number): number {
    const rr = this.#routers.get(slotIndex);
    if (!rr) return 0;
    let n = 0;
    for (const id of rr.participants) n += expectedConsumers(this.#participants.get(id)?.consumerCount ?? 0, this.#participants.size);
    return n;
  }

  /**
   * Throws MEDIA_RESTARTING unless the participant's router is up (for media requests); without a
   * participant, asks about the home router.
   */
  assertMedia(participant?: Participant): void {
    if (this.#closed) throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
    const rr = participant ? this.#placedOn.get(participant.id) : this.#home;
    if (!rr) throw new SfuError('NOT_JOINED', 'not in this room');
    if (!mediaAvailable(rr.state)) throw new SfuError('MEDIA_RESTARTING', 'the media server of this room is restarting; wait for mediaReset');
  }

  /**
   * Adds a participant the caller has admitted (admission.ts), on the router placement.ts
   * chooses (opening one on another worker if the room's are full); re-checks capacity.
   */
  async join(identity: ParticipantIdentity): Promise<Participant> {
    if (this.#closed) throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
    if (this.#participants.size + this.#pendingJoins >= this.settings.maxParticipants) throw new SfuError('ROOM_FULL', 'the room is full');
    this.#pendingJoins++;
    const joined = this.#joins.then(() => this.#place(identity));
    this.#joins = joined.catch(() => undefined);
    try {
      return await joined;
    } finally {
      this.#pendingJoins--;
    }
  }

  /** Removes a participant (closing its media, and its router if it was the last there). Idempotent. */
  leave(participantId: string, reason: LeaveReason): void {
    const p = this.#participants.get(participantId);
    if (!p) return;
    this.#participants.delete(participantId);
    const rr = this.#placedOn.get(participantId);
    this.#placedOn.delete(participantId);
    rr?.release(participantId);
    p.close();
    if (this.#activeSpeaker === participantId) this.#activeSpeaker = null;
    // A router nobody is on only costs pipes; the home stays, with the active speaker observer.
    if (rr && !rr.home && rr.participants.size === 0 && !this.#closed) this.#drop(rr);
    this.emit('participantleft', p, reason);
  }

  /**
   * The owner removes a participant: every session of that user leaves, and the user may not
   * come back into this room.
   */
  remove(by: Participant, targetId: string): Participant {
    if (by.userId !== this.settings.ownerUserId) throw new SfuError('NOT_OWNER', 'only the owner of the room can remove participants');
    const target = this.#participants.get(targetId);
    if (!target) throw new SfuError('UNKNOWN_PARTICIPANT', 'no such participant');
    if (target.userId === this.settings.ownerUserId) throw new SfuError('BAD_REQUEST', 'the owner cannot be removed');
    this.#removedUsers.add(target.userId);
    for (const p of [...this.#participants.values()]) if (p.userId === target.userId) this.leave(p.id, 'removed');
    return target;
  }

  /** A producer of any participant, for consuming. */
  producer(producerId: string): types.Producer<ProducerAppData> | undefined {
    return this.#owner(producerId)?.producer;
  }

  /** Every live producer with its participant (what a newcomer can consume). */
  allProducers(): { participant: Participant; producer: types.Producer<ProducerAppData> }[] {
    const out: { participant: Participant; producer: types.Producer<ProducerAppData> }[] = [];
    for (const participant of this.#participants.values()) for (const producer of participant.producers.values()) out.push({ participant, producer });
    return out;
  }

  /**
   * A paused consumer for `participant` of a producer anywhere in the room: on another router, the
   * producer is consumed from its pipe (waiting for the pipe if it is still being laid).
   */
  async consume(participant: Participant, producerId: string): Promise<{ consumer: types.Consumer; producer: types.Producer<ProducerAppData> }> {
    this.assertMedia(participant);
    const owner = this.#owner(producerId);
    if (!owner) throw new SfuError('UNKNOWN_PRODUCER', 'no such producer in this room');
    const source = this.#placedOn.get(owner.participant.id);
    const target = this.#placedOn.get(participant.id)!;
    if (source && source !== target) {
      try {
        await target.pipeIn(producerId, source);
      } catch (err) {
        if (owner.producer.closed || source.state !== 'open') throw new SfuError('UNKNOWN_PRODUCER', 'that producer went away');
        this.assertMedia(participant);
        throw err;
      }
    }
    return { consumer: await participant.consume(owner.producer), producer: owner.producer };
  }

  /**
   * The pool replaced the worker in `slot`: rebuild this room's router there (if it has one) and
   * tell its participants to set up their media again. The other routers' producers are piped
   * into the new router; its participants' new producers are piped out when they come.
   */
  async resetMedia(slot: WorkerSlot): Promise<void> {
    const rr = this.#routers.get(slot.index);
    if (this.#closed || !rr) return;
    // If mediasoup has not told the router yet that its worker died, reattach treats it as dead.
    await rr.reattach(slot);
    if (this.#closed || rr.closed) return;
    if (!rr.home && rr.participants.size === 0) {
      this.#drop(rr);
      return;
    }
    this.#pipeEverythingInto(rr);
    this.emit('mediareset', this.#on(rr), rr.router.rtpCapabilities);
  }

  /** Everyone leaves, every router closes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#participants.keys()]) this.leave(id, 'room-closed');
    for (const rr of this.#routers.values()) rr.close();
    this.#routers.clear();
    this.emit('close');
    this.removeAllListeners();
  }

  async #place(identity: ParticipantIdentity): Promise<Participant> {
    let rr: RoomRouter;
    do {
      if (this.#closed) throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
      rr = await this.#routerForNewcomer();
    } while (rr.closed && !this.#closed);
    if (this.#closed) throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
    const p = new Participant(identity, rr, this.settings.limits);
    this.#participants.set(p.id, p);
    this.#placedOn.set(p.id, rr);
    rr.admit(p.id);
    p.on('producer', (producer) => {
      this.#spread(producer, rr);
      this.emit('producer', p, producer);
    });
    p.on('producerclose', (id) => this.emit('producerclose', p, id));
    p.on('producerpause', (id, paused) => this.emit('producerpause', p, id, paused));
    p.on('consumerclose', (id) => this.emit('consumerclose', p, id));
    p.on('consumerlayers', (id, layers) => this.emit('consumerlayers', p, id, layers));
    p.on('sendconnected', () => {
      for (const other of this.#participants.values()) if (other !== p) other.requestKeyFramesFrom(p.id);
    });
    this.emit('participantjoined', p);
    return p;
  }

  async #routerForNewcomer(): Promise<RoomRouter> {
    const routers = [...this.#routers.values()];
    const open = routers.filter((r) => r.state === 'open');
    // A worker whose router of this room is being rebuilt takes nobody new until it is.
    const rebuilding = new Set(routers.filter((r) => r.state !== 'open').map((r) => r.slotIndex));
    const workers = this.#workers.loads().filter((w) => !rebuilding.has(w.index));
    const where = place(
      open.map((r) => r.slotIndex),
      workers,
      this.#workers.maxConsumersPerWorker,
    );
    // No worker alive: wait on the home router, which comes back with the replacement worker.
    if (!where) return this.#home;
    if (!where.newRouter) return this.#routers.get(where.slot)!;
    const slot = this.#workers.slot(where.slot);
    if (!slot) return this.#home;
    let rr: RoomRouter;
    try {
      rr = await RoomRouter.create(this.id, slot, false);
    } catch {
      // That worker is going away (it died between the count and the request): an overloaded
      // router of the room is better than a refused join.
      return open[0] ?? this.#home;
    }
    if (this.#closed) {
      rr.close();
      throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
    }
    this.#adopt(rr);
    this.#pipeEverythingInto(rr);
    return rr;
  }

  #adopt(rr: RoomRouter): RoomRouter {
    this.#routers.set(rr.slotIndex, rr);
    rr.on('workerclose', () => this.#onWorkerClose(rr));
    rr.on('dominantspeaker', (participantId) => {
      if (!this.#participants.has(participantId)) return;
      this.#activeSpeaker = participantId;
      this.emit('activespeaker', participantId);
    });
    return rr;
  }

  /** Closes a router the room no longer needs; mediasoup closes the other ends of its pipes. */
  #drop(rr: RoomRouter): void {
    if (this.#routers.get(rr.slotIndex) === rr) this.#routers.delete(rr.slotIndex);
    rr.close();
  }

  /**
   * Pipes are laid eagerly: a new producer goes to every other router of the room at once, and a
   * new (or rebuilt) router receives every producer of the others. In a group call every
   * participant consumes every producer, so a lazy pipe (laid on the first consume from a router)
   * would be laid anyway, only later, and would save nothing but the pipes to a router whose
   * participants all hide a video. Eager pipes also put every microphone on the home router for
   * the active speaker, and every producer where a tap on the home router can see it. Latency
   * decides nothing here: pipeToRouter took 1.4-2 ms for the first pipe between two routers and
   * 0.4 ms for the next ones (medians, `node bench/sfu/pipe.ts` on this 2-core machine under
   * load), against a join of about 200 ms. A consume that comes before its pipe is laid waits
   * for the same pipe (RoomRouter.pipeIn).
   */
  #spread(producer: types.Producer<ProducerAppData>, source: RoomRouter): void {
    for (const target of this.#routers.values()) if (target.state === 'open') void this.#offer(producer, source, target).catch(() => undefined);
  }

  #pipeEverythingInto(target: RoomRouter): void {
    for (const { participant, producer } of this.allProducers()) {
      const source = this.#placedOn.get(participant.id);
      if (source && source.state === 'open') void this.#offer(producer, source, target).catch(() => undefined);
    }
  }

  /** Makes `producer` consumable on `target`; on the home router, microphones join the active speaker. */
  async #offer(producer: types.Producer<ProducerAppData>, source: RoomRouter, target: RoomRouter): Promise<void> {
    if (target !== source) await target.pipeIn(producer.id, source);
    if (target.home && producer.appData.source === 'mic' && !producer.closed) await target.addSpeaker(producer.id);
  }

  #onWorkerClose(rr: RoomRouter): void {
    if (this.#closed) return;
    const affected = this.#on(rr);
    const gone: [Participant, string][] = [];
    for (const p of affected) {
      for (const id of p.producers.keys()) gone.push([p, id]);
      p.forgetMedia();
    }
    this.emit('mediadown', affected);
    // Participants on the room's other routers lose what was piped from the dead worker (their
    // consumers of it close); tell them the producers are gone. A room all on that worker gets
    // one media reset instead.
    if (this.#participants.size > affected.length) for (const [p, id] of gone) this.emit('producerclose', p, id);
  }

  #on(rr: RoomRouter): Participant[] {
    return [...rr.participants].map((id) => this.#participants.get(id)).filter((p): p is Participant => p !== undefined);
  }

  #owner(producerId: string): { participant: Participant; producer: types.Producer<ProducerAppData> } | undefined {
    for (const participant of this.#participants.values()) {
      const producer = participant.producers.get(producerId);
      if (producer) return { participant, producer };
    }
    return undefined;
  }
}
