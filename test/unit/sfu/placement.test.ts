/**
 * Which worker a room and each newcomer go to (sfu/src/placement.ts): a room stays on its
 * routers while their workers are below the threshold, then grows onto the least loaded other
 * worker; when every worker is full the least loaded one takes the newcomer anyway.
 */
import { describe, expect, it } from 'vitest';
import { expectedConsumers, MEDIA_PER_PARTICIPANT, place, workerLoad, type Placement, type WorkerLoad } from '../../../sfu/src/placement.ts';

const w = (index: number, consumers: number, routers = 0): WorkerLoad => ({ index, consumers, routers });

describe('place: where a newcomer goes', () => {
  it.each<[string, number[], WorkerLoad[], Placement | null]>([
    ['a new room: the least loaded worker', [], [w(0, 40), w(1, 10), w(2, 30)], { slot: 1, newRouter: true }],
    ['a new room among idle workers: the one with fewest routers', [], [w(0, 0, 3), w(1, 0, 1), w(2, 0, 2)], { slot: 1, newRouter: true }],
    ['a new room, all idle and equal: the first', [], [w(0, 0), w(1, 0)], { slot: 0, newRouter: true }],
    ['the room\'s router while its worker has room', [0], [w(0, 99), w(1, 0)], { slot: 0, newRouter: false }],
    ['the room\'s first router with room, oldest first', [2, 0], [w(0, 10), w(1, 0), w(2, 50)], { slot: 2, newRouter: false }],
    ['home full: skip to the next router of the room', [2, 0], [w(0, 10), w(1, 0), w(2, 100)], { slot: 0, newRouter: false }],
    ['all the room\'s workers full: a new router on the least loaded other worker', [0], [w(0, 100), w(1, 60), w(2, 20)], { slot: 2, newRouter: true }],
    ['a full worker without the room is no candidate', [0], [w(0, 100), w(1, 100), w(2, 99)], { slot: 2, newRouter: true }],
    ['every worker full: the least loaded, an existing router on a tie', [0], [w(0, 150), w(1, 150)], { slot: 0, newRouter: false }],
    ['every worker full: the least loaded even without the room', [0, 1], [w(0, 300), w(1, 200), w(2, 100)], { slot: 2, newRouter: true }],
    ['the room\'s worker is dead (not live): another worker', [1], [w(0, 5)], { slot: 0, newRouter: true }],
    ['no live worker', [0], [], null],
  ])('%s', (_name, roomSlots, workers, expected) => {
    expect(place(roomSlots, workers, 100)).toEqual(expected);
  });

  it('the threshold is exclusive: at exactly the threshold a worker is full', () => {
    expect(place([0], [w(0, 100), w(1, 0)], 100)).toEqual({ slot: 1, newRouter: true });
    expect(place([0], [w(0, 99), w(1, 0)], 100)).toEqual({ slot: 0, newRouter: false });
  });
});

describe('load: consumers had or about to be had', () => {
  it('a participant counts for a consumer per medium of every other participant until it has more', () => {
    expect(MEDIA_PER_PARTICIPANT).toBe(2);
    expect(expectedConsumers(0, 1)).toBe(0);
    expect(expectedConsumers(0, 4)).toBe(6);
    expect(expectedConsumers(3, 4)).toBe(6);
    // Screen sharing: more than the default two media.
    expect(expectedConsumers(9, 4)).toBe(9);
    expect(expectedConsumers(0, 0)).toBe(0);
  });

  it('a worker is as loaded as the larger of what it forwards and what is coming', () => {
    expect(workerLoad(0, 12)).toBe(12);
    expect(workerLoad(30, 12)).toBe(30);
  });

  it('a burst of joins spreads: a 16-person meeting placed one by one with a threshold of 100', () => {
    // Two workers, one room; each newcomer is placed with the load its predecessors will bring.
    const slotsOf: number[] = [];
    const roomSlots: number[] = [];
    for (let n = 0; n < 16; n++) {
      const loads = [0, 1].map((i) => w(i, slotsOf.filter((s) => s === i).reduce((sum) => sum + expectedConsumers(0, n), 0)));
      const where = place(roomSlots, loads, 100)!;
      if (where.newRouter) roomSlots.push(where.slot);
      slotsOf.push(where.slot);
    }
    const on0 = slotsOf.filter((s) => s === 0).length;
    // Worker 0 fills up (each of k participants expects 2(n-1) consumers) and the rest go to worker 1.
    expect(on0).toBeGreaterThan(2);
    expect(on0).toBeLessThan(16);
    expect(new Set(slotsOf)).toEqual(new Set([0, 1]));
    expect(roomSlots).toEqual([0, 1]);
  });
});
