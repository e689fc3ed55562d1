/**
 * The life of a room's router, as a pure state machine (no I/O) that room-router.ts asserts on
 * every change. A room reports media-down while any of its routers is (room.ts).
 *
 *   starting ──router ready──► open ◄──worker replaced, router re-created── media-down
 *                               │  └────────────worker died──────────────────►  │
 *                               └──────────────── close ──► closed ◄── close ────┘
 *
 * `media-down`: the room, its participants and their signalling sockets live on, but the mediasoup
 * worker that held the router died; media requests of the participants on it fail with
 * MEDIA_RESTARTING until the pool has a new worker, then their clients are told to set up their
 * media again (mediaReset). Participants on the room's other routers are not affected.
 */
export type RoomState = 'starting' | 'open' | 'media-down' | 'closed';

export type RoomStateEvent = 'router-ready' | 'worker-died' | 'close';

const TRANSITIONS: Readonly<Record<RoomState, Partial<Record<RoomStateEvent, RoomState>>>> = {
  starting: { 'router-ready': 'open', 'worker-died': 'media-down', close: 'closed' },
  open: { 'worker-died': 'media-down', close: 'closed' },
  'media-down': { 'router-ready': 'open', close: 'closed' },
  closed: {},
};

export class RoomStateError extends Error {
  override name = 'RoomStateError';
}

/** The state after `event`, or RoomStateError when the event is not legal in `state`. */
export function nextRoomState(state: RoomState, event: RoomStateEvent): RoomState {
  const next = TRANSITIONS[state][event];
  if (!next) throw new RoomStateError(`room event ${event} is not legal in state ${state}`);
  return next;
}

/** Whether clients may create transports, produce and consume in this state. */
export function mediaAvailable(state: RoomState): boolean {
  return state === 'open';
}
