import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMER_CONFIG, FakeTimers, TimerWheel, timerValues } from '../../../server/src/sip/transaction/timers.ts';

describe('timerValues (RFC 3261 Table 4, RFC 6026)', () => {
  it.each([
    // [config, expected subset]
    [{}, { T1: 500, T2: 4000, T4: 5000, A: 500, B: 32_000, D: 32_000, E: 500, F: 32_000, G: 500, H: 32_000, I: 5000, J: 32_000, K: 5000, L: 32_000, M: 32_000, trying: 200 }],
    [{ T1: 100 }, { A: 100, B: 6400, E: 100, F: 6400, G: 100, H: 6400, J: 6400, L: 6400, M: 6400, D: 32_000, I: 5000, K: 5000 }],
    [{ T4: 2500, D: 40_000, tryingDelay: 0 }, { I: 2500, K: 2500, D: 40_000, trying: 0 }],
  ])('%j', (config, expected) => {
    expect(timerValues(config)).toMatchObject(expected);
  });

  it('defaults are the RFC values', () => {
    expect(DEFAULT_TIMER_CONFIG).toEqual({ T1: 500, T2: 4000, T4: 5000, D: 32_000, tryingDelay: 200 });
  });

  it.each([{ T1: 0 }, { T2: -1 }, { T4: Number.NaN }, { D: Infinity }, { tryingDelay: -5 }])('rejects %j', (config) => {
    expect(() => timerValues(config)).toThrow(RangeError);
  });
});

describe('FakeTimers', () => {
  it('fires in due order, ties in scheduling order, with now set to the due time', () => {
    const t = new FakeTimers();
    const log: string[] = [];
    t.schedule(300, () => log.push(`c@${t.now}`));
    t.schedule(100, () => log.push(`a@${t.now}`));
    t.schedule(100, () => log.push(`b@${t.now}`));
    t.advance(99);
    expect(log).toEqual([]);
    t.advance(1);
    expect(log).toEqual(['a@100', 'b@100']);
    t.advance(1000);
    expect(log).toEqual(['a@100', 'b@100', 'c@300']);
    expect(t.now).toBe(1100);
    expect(t.size).toBe(0);
  });

  it('fires timers scheduled by callbacks within the same advance, relative to their firing time', () => {
    const t = new FakeTimers();
    const at: number[] = [];
    const tick = (ms: number) => t.schedule(ms, () => {
      at.push(t.now);
      if (ms < 400) tick(ms * 2);
    });
    tick(100);
    t.advance(10_000);
    expect(at).toEqual([100, 300, 700]);
  });

  it('cancel removes a timer; cancelling twice or undefined is harmless', () => {
    const t = new FakeTimers();
    let fired = 0;
    const h = t.schedule(10, () => fired++);
    t.cancel(h);
    t.cancel(h);
    t.cancel(undefined);
    t.advance(100);
    expect(fired).toBe(0);
  });

  it('runAll drains every timer; nextAt reports the next due time', () => {
    const t = new FakeTimers();
    let fired = 0;
    t.schedule(5000, () => fired++);
    t.schedule(0, () => fired++);
    expect(t.nextAt).toBe(0);
    t.runAll();
    expect(fired).toBe(2);
    expect(t.now).toBe(5000);
    expect(t.nextAt).toBeUndefined();
  });
});

describe('TimerWheel', () => {
  function wheel(opts: { resolution?: number; slots?: number } = {}) {
    let clock = 1_000_000; // arbitrary origin
    const w = new TimerWheel({ ...opts, now: () => clock, autoDrive: false });
    const step = (ms: number, by = w.resolution) => {
      for (let t = 0; t < ms; t += by) {
        clock += Math.min(by, ms - t);
        w.processDue();
      }
    };
    return { w, step, now: () => clock };
  }

  it('never fires early and at most one tick late', () => {
    const { w, step, now } = wheel({ resolution: 10 });
    const start = now();
    const fired: Record<number, number> = {};
    for (const ms of [0, 1, 9, 10, 11, 200, 500, 4000, 32_000]) w.schedule(ms, () => (fired[ms] = now() - start));
    step(33_000, 1);
    for (const [ms, at] of Object.entries(fired)) {
      expect(at).toBeGreaterThanOrEqual(Number(ms));
      expect(at).toBeLessThanOrEqual(Number(ms) + 10);
    }
    expect(Object.keys(fired)).toHaveLength(9);
    expect(w.size).toBe(0);
  });

  it('handles timers longer than one turn of the wheel (extra rounds)', () => {
    const { w, step, now } = wheel({ resolution: 10, slots: 8 }); // one turn = 80 ms
    const start = now();
    const fired: number[] = [];
    for (const ms of [30, 85, 170, 1000]) w.schedule(ms, () => fired.push(now() - start));
    step(1100);
    expect(fired).toEqual([30, 90, 170, 1000]);
  });

  it('cancel is O(1) and works on head, middle and tail of a slot', () => {
    const { w, step } = wheel({ resolution: 10 });
    const fired: string[] = [];
    const handles = ['a', 'b', 'c', 'd'].map((n) => w.schedule(50, () => fired.push(n)));
    w.cancel(handles[0]);
    w.cancel(handles[2]);
    w.cancel(handles[3]);
    expect(w.size).toBe(1);
    step(100);
    expect(fired).toEqual(['b']);
    w.cancel(handles[1]); // already fired: no-op
    expect(w.size).toBe(0);
  });

  it('a callback may cancel a timer due in the same tick, or schedule new ones', () => {
    const { w, step } = wheel({ resolution: 10 });
    const fired: string[] = [];
    let second: object | undefined;
    w.schedule(20, () => {
      fired.push('first');
      w.cancel(second);
      w.schedule(0, () => fired.push('later'));
    });
    second = w.schedule(20, () => fired.push('second'));
    step(100);
    expect(fired).toEqual(['first', 'later']);
  });

  it('catches up after a stalled event loop, firing in due order', () => {
    const { w, step } = wheel({ resolution: 10 });
    const fired: number[] = [];
    for (const ms of [300, 100, 200, 5000]) w.schedule(ms, () => fired.push(ms));
    step(6000, 6000); // one call after 6 s
    expect(fired).toEqual([100, 200, 300, 5000]);
  });

  it('keeps working after a throwing callback', async () => {
    const { w, step } = wheel({ resolution: 10 });
    const fired: string[] = [];
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      w.schedule(10, () => {
        throw new Error('boom');
      });
      w.schedule(10, () => fired.push('ok'));
      step(50);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(fired).toEqual(['ok']);
    expect(errors).toHaveLength(1);
  });

  it('is driven by one unref()ed interval on the real clock', async () => {
    const w = new TimerWheel({ resolution: 5 });
    const start = performance.now();
    const at = await new Promise<number>((resolve) => w.schedule(30, () => resolve(performance.now() - start)));
    expect(at).toBeGreaterThanOrEqual(29); // performance.now granularity
    expect(w.size).toBe(0);
    const h = w.schedule(10_000, () => {});
    w.cancel(h);
    w.clear();
  });

  it('holds 300,000 timers (Timer J at 10,000 tx/s) and cancels them cheaply', () => {
    const { w, step } = wheel({ resolution: 10 });
    const handles = [];
    for (let i = 0; i < 300_000; i++) handles.push(w.schedule(32_000 + (i % 1000), () => {}));
    expect(w.size).toBe(300_000);
    for (let i = 0; i < handles.length; i += 2) w.cancel(handles[i]);
    expect(w.size).toBe(150_000);
    step(34_000, 50);
    expect(w.size).toBe(0);
  });
});
