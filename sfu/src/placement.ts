/**
 * Pure: which worker a room, and each newcomer to a room, goes to.
 *
 * The load measure is consumers per worker. A mediasoup worker is one single-threaded process, and
 * what costs it CPU in a group call is forwarding: every consumer sends on its own copy of a stream
 * (SRTP-encrypted for its receiver). `npm run bench:sfu` (bench/sfu/consumers.ts) measures how
 * many consumers one worker forwards at no more than 80 % of a core, and measured at least 500
 * here; that figure is the default threshold (config `sfu.maxConsumersPerWorker`), and the other
 * 20 % is left for what the measure does not count (receiving producers, RTCP, joins in flight).
 * Pipe consumers (worker-to-worker, mediasoup's Router.pipeToRouter) and test taps are consumers
 * too and count the same.
 *
 * Measured consumers lag behind the joins: a participant has none in the first hundreds of
 * milliseconds, and a meeting whose members all join in the same second would otherwise be placed
 * on one worker. So each participant also counts for the consumers it will have in a group call,
 * one per medium (microphone and camera) of every other participant, and a worker's load is the
 * larger of what it has and what its participants are about to have.
 *
 * Placement keeps a room on as few routers as possible (each extra router costs a pipe consumer
 * per producer on every other one): a newcomer goes to the first of the room's routers whose
 * worker is below the threshold; when all are full, to a new router on the least loaded worker
 * that has none of the room; when every worker is full, to the least loaded one anyway. The
 * participant limit of rooms and the room limit of the server are the admission control; an
 * overloaded worker degrades the calls on it, which is better spread than refused here.
 */

/** The media a group-call participant sends by default (web client: microphone and camera). */
export const MEDIA_PER_PARTICIPANT = 2;

/** Consumers one worker forwards at no more than 80 % of a core (bench:sfu measured ≥ 500). */
export const DEFAULT_MAX_CONSUMERS_PER_WORKER = 500;

export interface WorkerLoad {
  /** The worker's slot in the pool. */
  readonly index: number;
  /** Its load in consumers (workerLoad()). */
  readonly consumers: number;
  /** Routers open on it: among equally loaded workers, new rooms go where there are fewest. */
  readonly routers: number;
}

export interface Placement {
  readonly slot: number;
  /** True when the room has no router on that worker yet. */
  readonly newRouter: boolean;
}

/** The consumers a participant counts for: what it has, or what it will have in a room of roomSize. */
export function expectedConsumers(consumers: number, roomSize: number): number {
  return Math.max(consumers, MEDIA_PER_PARTICIPANT * Math.max(0, roomSize - 1));
}

/** A worker's load: the consumers it has, or the consumers its participants will have, whichever is more. */
export function workerLoad(measuredConsumers: number, expectedOfParticipants: number): number {
  return Math.max(measuredConsumers, expectedOfParticipants);
}

/**
 * Where a newcomer (or, with roomSlots empty, a new room) goes.
 * @param roomSlots workers holding a router of this room that can take participants, oldest first
 * @param workers the live workers with their load
 * @returns null when no worker is alive
 */
export function place(roomSlots: readonly number[], workers: readonly WorkerLoad[], maxConsumersPerWorker: number): Placement | null {
  const byIndex = new Map(workers.map((w) => [w.index, w]));
  for (const slot of roomSlots) {
    const w = byIndex.get(slot);
    if (w && w.consumers < maxConsumersPerWorker) return { slot, newRouter: false };
  }
  const inRoom = new Set(roomSlots);
  const lighter = (a: WorkerLoad, b: WorkerLoad): number =>
    a.consumers - b.consumers || Number(inRoom.has(b.index)) - Number(inRoom.has(a.index)) || a.routers - b.routers || a.index - b.index;
  const free = workers.filter((w) => !inRoom.has(w.index) && w.consumers < maxConsumersPerWorker).sort(lighter);
  if (free[0]) return { slot: free[0].index, newRouter: true };
  const least = [...workers].sort(lighter)[0];
  return least ? { slot: least.index, newRouter: !inRoom.has(least.index) } : null;
}
