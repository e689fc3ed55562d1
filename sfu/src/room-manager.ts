/**
 * The rooms of this server and the worker pool under them.
 *
 * The pool starts with the first room, not with the server: a server nobody holds a group call on
 * runs no media worker and binds no media port (and the SIP-only test servers stay light). Each
 * room starts on the least loaded worker and spreads to others when it outgrows it (placement.ts;
 * a worker's load is the larger of its consumers and those its participants are about to have).
 * When a worker dies the pool replaces it and this manager rebuilds every room's router that was
 * on it on the new one (Room.resetMedia); their clients are told to set up media again and do so
 * on their own.
 *
 * A room closes when it has been empty for `idleTimeoutMs` (also right after creation, if nobody
 * comes), or when the manager closes.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { SfuError } from './errors.ts';
import type { SfuLogger } from './logger.ts';
import type { ParticipantLimits } from './participant.ts';
import { DEFAULT_MAX_CONSUMERS_PER_WORKER, place, workerLoad, type WorkerLoad } from './placement.ts';
import { hashRoomPassword } from './room-password.ts';
import { Room, type RoomWorkers } from './room.ts';
import { ROOM_NAME_PATTERN } from './signalling/protocol.ts';
import { WorkerPool, type WorkerPoolOptions } from './worker-pool.ts';

export interface RoomManagerOptions {
  readonly pool: Omit<WorkerPoolOptions, 'logger'>;
  readonly logger: SfuLogger;
  readonly maxRooms: number;
  /** Participant limit when the creator does not choose one, and the most they may choose. */
  readonly defaultMaxParticipants: number;
  readonly maxParticipantsLimit: number;
  readonly limits: ParticipantLimits;
  readonly idleTimeoutMs: number;
  /**
   * A worker at this many consumers is full: a room's newcomers go to another worker
   * (placement.ts; default DEFAULT_MAX_CONSUMERS_PER_WORKER, config sfu.maxConsumersPerWorker).
   */
  readonly maxConsumersPerWorker?: number;
  /** Names that must not become rooms (e.g. usernames: sip:NAME@DOMAIN is theirs). */
  readonly reserved?: (name: string) => boolean;
  /** Pseudonym for logs (server/src/logger.ts identity()). */
  readonly pseudonym?: (value: string) => string | undefined;
}

export interface CreateRoomRequest {
  /** A chosen name, or undefined for a random one (an unguessable link). */
  readonly name?: string;
  readonly ownerUserId: string;
  readonly password?: string;
  readonly e2eeRequired: boolean;
  readonly maxParticipants?: number;
}

export type RoomManagerEvents = {
  roomcreated: [room: Room];
  roomclosed: [roomId: string];
  close: [];
};

/**
 * Room names are SIP user parts (sip:NAME@DOMAIN, RFC 3261 §25.1) and URL query values that
 * need no escaping: lower-case letters, digits and inner hyphens, 3 to 48 characters.
 */
export const ROOM_NAME_RE = ROOM_NAME_PATTERN;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 12 characters of base32: 60 random bits, so a link cannot be guessed. */
export function randomRoomName(): string {
  const bytes = randomBytes(12);
  let out = '';
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

export class RoomManager extends EventEmitter<RoomManagerEvents> {
  readonly #o: RoomManagerOptions;
  readonly #rooms = new Map<string, Room>();
  /** Names being created (the await between the check and the insert). */
  readonly #pending = new Set<string>();
  readonly #idle = new Map<string, NodeJS.Timeout>();
  #pool: Promise<WorkerPool> | null = null;
  #liveWorkers = 0;
  #closed = false;

  constructor(options: RoomManagerOptions) {
    super();
    this.#o = options;
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  get(id: string): Room | undefined {
    return this.#rooms.get(id);
  }

  /** mediasoup workers running now (0 before the first room). */
  get liveWorkers(): number {
    return this.#liveWorkers;
  }

  /** The pool once started (tests and metrics); undefined before the first room. */
  async pool(): Promise<WorkerPool | undefined> {
    return this.#pool ? this.#pool.catch(() => undefined) : undefined;
  }

  async createRoom(req: CreateRoomRequest): Promise<Room> {
    if (this.#closed) throw new SfuError('UNAVAILABLE', 'the server is shutting down');
    if (this.#rooms.size + this.#pending.size >= this.#o.maxRooms) throw new SfuError('LIMIT_REACHED', `this server holds at most ${this.#o.maxRooms} rooms`);
    const max = req.maxParticipants ?? this.#o.defaultMaxParticipants;
    if (!Number.isInteger(max) || max < 2 || max > this.#o.maxParticipantsLimit) {
      throw new SfuError('BAD_REQUEST', `maxParticipants must be an integer in 2..${this.#o.maxParticipantsLimit}`);
    }
    let name = req.name;
    if (name !== undefined) {
      if (!ROOM_NAME_RE.test(name)) throw new SfuError('BAD_REQUEST', 'room names are 3-48 lower-case letters, digits and inner hyphens');
      if (this.#o.reserved?.(name)) throw new SfuError('ROOM_EXISTS', `the name ${name} is taken (a user has that SIP address)`);
      if (this.#rooms.has(name) || this.#pending.has(name)) throw new SfuError('ROOM_EXISTS', `a room named ${name} exists`);
    } else {
      do name = randomRoomName();
      while (this.#rooms.has(name) || this.#pending.has(name));
    }
    this.#pending.add(name);
    try {
      const pool = await this.#startPool();
      const where = place([], this.#loads(pool), this.#maxConsumers);
      const slot = where ? pool.slot(where.slot) : undefined;
      if (!slot) throw new SfuError('MEDIA_RESTARTING', 'no media worker is running right now; try again in a moment');
      const password = req.password ? await hashRoomPassword(req.password) : null;
      const room = await Room.create(
        { id: name, ownerUserId: req.ownerUserId, password, e2eeRequired: req.e2eeRequired, maxParticipants: max, limits: this.#o.limits },
        slot,
        this.#roomWorkers(pool),
      );
      if (this.#closed) {
        room.close();
        throw new SfuError('UNAVAILABLE', 'the server is shutting down');
      }
      this.#rooms.set(name, room);
      room.on('participantjoined', () => this.#clearIdle(room.id));
      room.on('participantleft', () => {
        if (room.participants.size === 0) this.#armIdle(room);
      });
      room.once('close', () => {
        this.#clearIdle(room.id);
        if (this.#rooms.get(room.id) === room) this.#rooms.delete(room.id);
        this.emit('roomclosed', room.id);
      });
      this.#armIdle(room);
      this.#o.logger.info(
        { room: this.#o.pseudonym?.(room.id) ?? room.id, slot: slot.index, e2eeRequired: req.e2eeRequired, hasPassword: password !== null, maxParticipants: max },
        'room created',
      );
      this.emit('roomcreated', room);
      return room;
    } finally {
      this.#pending.delete(name);
    }
  }

  /** Closes every room and stops the media workers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of [...this.#rooms.values()]) room.close();
    for (const t of this.#idle.values()) clearTimeout(t);
    this.#idle.clear();
    const pool = await this.pool();
    pool?.close();
    this.emit('close');
  }

  #startPool(): Promise<WorkerPool> {
    if (!this.#pool) {
      const pending = WorkerPool.create({ ...this.#o.pool, logger: this.#o.logger }).then((pool) => {
        const count = () => (this.#liveWorkers = pool.slots.length);
        count();
        pool.on('workerdied', count);
        pool.on('close', count);
        pool.on('workerreplaced', (slot) => {
          count();
          for (const room of this.#rooms.values()) {
            if (!room.hasRouterOn(slot.index)) continue;
            room.resetMedia(slot).then(
              () => this.#o.logger.info({ room: this.#o.pseudonym?.(room.id) ?? room.id, slot: slot.index }, 'room router rebuilt on the replacement worker'),
              (err: Error) => {
                this.#o.logger.error({ room: this.#o.pseudonym?.(room.id) ?? room.id, err: err.message }, 'could not re-create the room; closing it');
                room.close();
              },
            );
          }
        });
        if (this.#closed) pool.close();
        return pool;
      });
      // A pool that cannot start (no worker binary, port taken) is retried by the next room.
      pending.catch((err: Error) => {
        this.#o.logger.error({ err: err.message }, 'the mediasoup workers cannot start: group calls are unavailable');
        if (this.#pool === pending) this.#pool = null;
      });
      this.#pool = pending;
    }
    return this.#pool.catch((err: Error) => {
      throw new SfuError('UNAVAILABLE', `group calls are unavailable: the media worker cannot start (${err.message})`);
    });
  }

  get #maxConsumers(): number {
    return this.#o.maxConsumersPerWorker ?? DEFAULT_MAX_CONSUMERS_PER_WORKER;
  }

  /** The live workers' load: consumers open, or what every room's participants there will have. */
  #loads(pool: WorkerPool): WorkerLoad[] {
    return pool.slots.map((s) => {
      let expected = 0;
      for (const room of this.#rooms.values()) expected += room.expectedConsumersOn(s.index);
      return { index: s.index, consumers: workerLoad(s.consumers, expected), routers: s.routers };
    });
  }

  #roomWorkers(pool: WorkerPool): RoomWorkers {
    return {
      loads: () => this.#loads(pool),
      slot: (index) => pool.slot(index),
      maxConsumersPerWorker: this.#maxConsumers,
    };
  }

  #armIdle(room: Room): void {
    this.#clearIdle(room.id);
    const t = setTimeout(() => {
      this.#idle.delete(room.id);
      if (room.participants.size === 0) room.close();
    }, this.#o.idleTimeoutMs);
    t.unref();
    this.#idle.set(room.id, t);
  }

  #clearIdle(id: string): void {
    const t = this.#idle.get(id);
    if (t) clearTimeout(t);
    this.#idle.delete(id);
  }
}
