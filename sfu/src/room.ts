/**
 * A room: one mediasoup Router on one worker, its participants, and its rules (participant limit,
 * password, owner, "E2EE required"). Typed events tell the signalling what to announce; close()
 * cascades to every participant and then the router, so nothing is left in the worker
 * (test/integration/sfu-room.test.ts checks router.dump() and the worker's observer).
 *
 * When the worker dies the room survives without media (room-state.ts: media-down); the room
 * manager gives it a router on the replacement worker with resetMedia(), and the clients set up
 * their transports again. Membership, and so every E2EE key already exchanged, stays as it was,
 * which is what lets media come back within a second or two.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { RoomPolicy } from './admission.ts';
import { SfuError } from './errors.ts';
import { MEDIA_CODECS } from './media-codecs.ts';
import { Participant, type ParticipantIdentity, type ParticipantLimits, type ProducerAppData } from './participant.ts';
import type { RoomPasswordHash } from './room-password.ts';
import { mediaAvailable, nextRoomState, type RoomState, type RoomStateEvent } from './room-state.ts';
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
  /** The worker died: media requests fail until `mediareset`. */
  mediadown: [];
  /** A new router is ready: every client sets up its media again. */
  mediareset: [routerRtpCapabilities: types.RtpCapabilities];
  close: [];
};

/** How often the active speaker is re-evaluated (ms); mediasoup's default is 300. */
const SPEAKER_INTERVAL_MS = 300;

export class Room extends EventEmitter<RoomEvents> {
  readonly settings: RoomSettings;
  readonly createdAt = Date.now();
  #state: RoomState = 'starting';
  #slot: WorkerSlot;
  #router!: types.Router;
  #speaker!: types.ActiveSpeakerObserver;
  readonly #participants = new Map<string, Participant>();
  /** Users the owner removed: refused if they come back. */
  readonly #removedUsers = new Set<string>();

  private constructor(settings: RoomSettings, slot: WorkerSlot) {
    super();
    this.settings = settings;
    this.#slot = slot;
    // Every participant's connection listens to the room's events.
    this.setMaxListeners(settings.maxParticipants * 2 + 10);
  }

  static async create(settings: RoomSettings, slot: WorkerSlot): Promise<Room> {
    const room = new Room(settings, slot);
    await room.#attach(slot);
    room.#transition('router-ready');
    return room;
  }

  get id(): string {
    return this.settings.id;
  }

  get state(): RoomState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  get router(): types.Router {
    return this.#router;
  }

  get webRtcServer(): types.WebRtcServer {
    return this.#slot.webRtcServer;
  }

  get slotIndex(): number {
    return this.#slot.index;
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

  /** Throws MEDIA_RESTARTING unless the router is up (for media requests). */
  assertMedia(): void {
    if (this.#state === 'closed') throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
    if (!mediaAvailable(this.#state)) throw new SfuError('MEDIA_RESTARTING', 'the media server of this room is restarting; wait for mediaReset');
  }

  /** Adds a participant the caller has admitted (admission.ts); re-checks capacity. */
  join(identity: ParticipantIdentity): Participant {
    if (this.closed) throw new SfuError('ROOM_NOT_FOUND', 'the room was closed');
    if (this.#participants.size >= this.settings.maxParticipants) throw new SfuError('ROOM_FULL', 'the room is full');
    const room = this;
    const p = new Participant(
      identity,
      {
        get router() {
          return room.#router;
        },
        get webRtcServer() {
          return room.#slot.webRtcServer;
        },
      },
      this.settings.limits,
    );
    this.#participants.set(p.id, p);
    p.on('producer', (producer) => {
      if (producer.appData.source === 'mic') void this.#speaker.addProducer({ producerId: producer.id }).catch(() => undefined);
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

  /** Removes a participant (closing its media). Idempotent. */
  leave(participantId: string, reason: LeaveReason): void {
    const p = this.#participants.get(participantId);
    if (!p) return;
    this.#participants.delete(participantId);
    p.close();
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
    for (const p of this.#participants.values()) {
      const producer = p.producers.get(producerId);
      if (producer) return producer;
    }
    return undefined;
  }

  /** Every live producer with its participant (what a newcomer can consume). */
  allProducers(): { participant: Participant; producer: types.Producer<ProducerAppData> }[] {
    const out: { participant: Participant; producer: types.Producer<ProducerAppData> }[] = [];
    for (const participant of this.#participants.values()) for (const producer of participant.producers.values()) out.push({ participant, producer });
    return out;
  }

  /**
   * After the worker died: move the room to the replacement worker's new router. Participants
   * keep their membership; their (already closed) media is forgotten and they set it up again.
   */
  async resetMedia(slot: WorkerSlot): Promise<void> {
    if (this.closed) return;
    if (this.#state === 'open') {
      // The worker died but mediasoup has not told the router yet: treat it as dead.
      this.#onWorkerClose();
    }
    await this.#attach(slot);
    if (this.closed) {
      this.#router.close();
      return;
    }
    this.#transition('router-ready');
    this.emit('mediareset', this.#router.rtpCapabilities);
  }

  /** Everyone leaves, the router closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.#transition('close');
    for (const id of [...this.#participants.keys()]) this.leave(id, 'room-closed');
    if (!this.#router.closed) this.#router.close();
    this.emit('close');
    this.removeAllListeners();
  }

  async #attach(slot: WorkerSlot): Promise<void> {
    const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { roomId: this.id } });
    let speaker: types.ActiveSpeakerObserver;
    try {
      speaker = await router.createActiveSpeakerObserver({ interval: SPEAKER_INTERVAL_MS });
    } catch (err) {
      router.close();
      throw err;
    }
    this.#slot = slot;
    this.#router = router;
    this.#speaker = speaker;
    speaker.on('dominantspeaker', ({ producer }) => {
      const pid = (producer.appData as Partial<ProducerAppData>).participantId;
      if (router === this.#router && typeof pid === 'string') this.emit('activespeaker', pid);
    });
    router.once('workerclose', () => {
      if (router === this.#router) this.#onWorkerClose();
    });
  }

  #onWorkerClose(): void {
    if (this.#state !== 'open' && this.#state !== 'starting') return;
    this.#transition('worker-died');
    for (const p of this.#participants.values()) p.forgetMedia();
    this.emit('mediadown');
  }

  #transition(event: RoomStateEvent): void {
    this.#state = nextRoomState(this.#state, event);
  }
}
