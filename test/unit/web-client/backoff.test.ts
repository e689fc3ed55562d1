/** Reconnection waits: exponential, bounded, with a random part (RFC 5626 §4.5). */
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../web-client/src/sip/backoff.ts';

describe('Backoff', () => {
  const o = { initialMs: 500, maxMs: 8000, factor: 2, jitter: 0.5 };

  it('doubles from the initial wait up to the bound (no randomness at random()=1)', () => {
    const b = new Backoff(o);
    expect(Array.from({ length: 7 }, () => b.next(() => 1))).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000]);
    expect(b.attempt).toBe(7);
  });

  it('draws each wait between (1 - jitter) and 1 times the bound', () => {
    const b = new Backoff(o);
    expect(b.next(() => 0)).toBe(250);
    expect(b.next(() => 0.5)).toBe(750);
  });

  it('starts again from the initial wait after reset()', () => {
    const b = new Backoff(o);
    b.next(() => 1);
    b.next(() => 1);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next(() => 1)).toBe(500);
  });

  it.each([
    [{ ...o, initialMs: 0 }],
    [{ ...o, maxMs: 100 }],
    [{ ...o, factor: 0.5 }],
    [{ ...o, jitter: 2 }],
  ])('refuses nonsense options %j', (bad) => {
    expect(() => new Backoff(bad)).toThrow(RangeError);
  });
});
