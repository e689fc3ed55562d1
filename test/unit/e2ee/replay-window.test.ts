import { describe, expect, it } from 'vitest';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from '../../../web-client/src/e2ee/sframe/replay-window.ts';

describe('ReplayWindow: anti-replay for SFrame counters (RFC 9605 §7.4, window as in RFC 3711 §3.3.2)', () => {
  it('accepts each counter once, in order', () => {
    const w = new ReplayWindow(64);
    for (let c = 0n; c < 200n; c++) {
      expect(w.commit(c)).toBe(true);
      expect(w.check(c)).toBe(false);
      expect(w.commit(c)).toBe(false);
    }
    expect(w.highest).toBe(199n);
  });

  it('accepts out-of-order counters inside the window once, refuses those older than the window', () => {
    const w = new ReplayWindow(32);
    expect(w.commit(100n)).toBe(true);
    expect(w.commit(90n)).toBe(true);
    expect(w.commit(90n)).toBe(false);
    expect(w.check(69n)).toBe(true); // 100 - 69 = 31 < 32: still inside
    expect(w.check(68n)).toBe(false); // 32 behind: outside
    expect(w.commit(68n)).toBe(false);
    expect(w.commit(69n)).toBe(true);
    expect(w.commit(69n)).toBe(false);
  });

  it('forgets the slots that fall out of the window when the top advances', () => {
    const w = new ReplayWindow(32);
    expect(w.commit(5n)).toBe(true);
    // 37 shares 5's bit slot (37 mod 32 = 5): advancing past it must not make 37 look seen.
    expect(w.commit(37n)).toBe(true);
    expect(w.check(5n)).toBe(false); // now too old
    expect(w.commit(36n)).toBe(true); // slot 4, never used at this height
    // A jump of more than the window clears everything.
    expect(w.commit(1000n)).toBe(true);
    expect(w.check(999n)).toBe(true);
    expect(w.check(37n)).toBe(false);
  });

  it('matches a reference set model on a pseudo-random reordered, duplicated stream', () => {
    const size = 64;
    const w = new ReplayWindow(size);
    const seen = new Set<bigint>();
    let highest = -1n;
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      // Mostly forward, sometimes far back, often repeated.
      const ctr = BigInt(Math.max(0, Math.floor(i / 2) + ((x % 200) - 150)));
      const expected = !seen.has(ctr) && (highest < 0n || ctr > highest || highest - ctr < BigInt(size));
      expect(w.check(ctr)).toBe(expected);
      expect(w.commit(ctr)).toBe(expected);
      if (expected) {
        seen.add(ctr);
        if (ctr > highest) highest = ctr;
      }
    }
  });

  it('handles counters near 2^64', () => {
    const w = new ReplayWindow(32);
    const top = (1n << 64n) - 1n;
    expect(w.commit(top - 1n)).toBe(true);
    expect(w.commit(top)).toBe(true);
    expect(w.commit(top - 1n)).toBe(false);
    expect(w.commit(top - 2n)).toBe(true);
  });

  it('defaults to 1024 counters and refuses sizes that are not powers of two in range', () => {
    expect(new ReplayWindow().size).toBe(DEFAULT_REPLAY_WINDOW);
    expect(DEFAULT_REPLAY_WINDOW).toBe(1024);
    for (const bad of [0, 16, 100, 1 << 17, 64.5]) expect(() => new ReplayWindow(bad)).toThrow(RangeError);
  });
});
