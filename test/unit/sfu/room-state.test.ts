import { describe, expect, it } from 'vitest';
import { mediaAvailable, nextRoomState, RoomStateError, type RoomState, type RoomStateEvent } from '../../../sfu/src/room-state.ts';

describe('room state machine', () => {
  it.each<[RoomState, RoomStateEvent, RoomState]>([
    ['starting', 'router-ready', 'open'],
    ['open', 'worker-died', 'media-down'],
    ['media-down', 'router-ready', 'open'],
    ['open', 'close', 'closed'],
    ['media-down', 'close', 'closed'],
    ['starting', 'close', 'closed'],
  ])('%s --%s--> %s', (from, event, to) => {
    expect(nextRoomState(from, event)).toBe(to);
  });

  it.each<[RoomState, RoomStateEvent]>([
    ['closed', 'router-ready'],
    ['closed', 'close'],
    ['open', 'router-ready'],
    ['media-down', 'worker-died'],
  ])('refuses %s --%s-->', (from, event) => {
    expect(() => nextRoomState(from, event)).toThrow(RoomStateError);
  });

  it('media only while open', () => {
    expect(mediaAvailable('open')).toBe(true);
    for (const s of ['starting', 'media-down', 'closed'] as const) expect(mediaAvailable(s)).toBe(false);
  });
});
