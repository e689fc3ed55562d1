import { describe, expect, it } from 'vitest';
import { BanList } from '../../../server/src/security/ban-list.ts';

const T0 = 5_000_000;
const IP = '203.0.113.7';

/** Record `n` failures at `now`, `now + step`, ...; returns the values recordFailure gave. */
function fail(bans: BanList, ip: string, n: number, now: number, step = 0): boolean[] {
  return Array.from({ length: n }, (_, k) => bans.recordFailure(ip, now + k * step));
}

describe('BanList defaults: 10 failures in 60 s → banned 300 s', () => {
  it('the 10th failure within the window bans, and only it reports the ban', () => {
    const bans = new BanList();
    const results = fail(bans, IP, 10, T0, 1000);
    expect(results).toEqual([false, false, false, false, false, false, false, false, false, true]);
    const bannedAt = T0 + 9000;
    expect(bans.isBanned(IP, bannedAt)).toBe(true);
    expect(bans.bannedUntil(IP, bannedAt)).toBe(bannedAt + 300_000);
    expect(bans.isBanned(IP, bannedAt + 299_999)).toBe(true);
    expect(bans.isBanned(IP, bannedAt + 300_000)).toBe(false);
  });

  it('9 failures do not ban', () => {
    const bans = new BanList();
    expect(fail(bans, IP, 9, T0, 100).some(Boolean)).toBe(false);
    expect(bans.isBanned(IP, T0 + 1000)).toBe(false);
  });

  it('a failure counts while less than 60 s old (sliding window)', () => {
    const bans = new BanList();
    bans.recordFailure(IP, T0);
    fail(bans, IP, 8, T0 + 1000, 1000);
    // The first failure is exactly 60 s old: it no longer counts, so this is the 9th in the window.
    expect(bans.recordFailure(IP, T0 + 60_000)).toBe(false);
    expect(bans.isBanned(IP, T0 + 60_000)).toBe(false);
    // One more, still within 60 s of the second failure (T0 + 1000): the 10th.
    expect(bans.recordFailure(IP, T0 + 60_999)).toBe(true);
    expect(bans.isBanned(IP, T0 + 60_999)).toBe(true);
  });

  it('slow guessing never gets banned', () => {
    const bans = new BanList();
    // One failure every 6.7 s: never 10 within any 60 s window.
    for (let k = 0; k < 100; k++) expect(bans.recordFailure(IP, T0 + k * 6_700)).toBe(false);
  });

  it('failures while banned neither count nor extend the ban; afterwards counting starts afresh', () => {
    const bans = new BanList();
    fail(bans, IP, 10, T0);
    expect(fail(bans, IP, 50, T0 + 1, 1000).some(Boolean)).toBe(false);
    expect(bans.bannedUntil(IP, T0 + 100_000)).toBe(T0 + 300_000);
    expect(bans.isBanned(IP, T0 + 300_000)).toBe(false);
    expect(fail(bans, IP, 9, T0 + 300_000).some(Boolean)).toBe(false);
    expect(bans.recordFailure(IP, T0 + 300_001)).toBe(true);
  });

  it('sources are independent', () => {
    const bans = new BanList();
    fail(bans, IP, 10, T0);
    expect(bans.isBanned(IP, T0)).toBe(true);
    expect(bans.isBanned('203.0.113.8', T0)).toBe(false);
  });

  it('clearFailures forgets the history (e.g. after a successful login); unban lifts a ban', () => {
    const bans = new BanList();
    fail(bans, IP, 9, T0);
    bans.clearFailures(IP);
    expect(bans.recordFailure(IP, T0 + 1)).toBe(false);
    fail(bans, IP, 9, T0 + 2);
    expect(bans.isBanned(IP, T0 + 3)).toBe(true);
    expect(bans.unban(IP)).toBe(true);
    expect(bans.isBanned(IP, T0 + 3)).toBe(false);
    expect(bans.unban(IP)).toBe(false);
  });
});

describe('BanList options', () => {
  it('thresholds are configurable', () => {
    const bans = new BanList({ maxFailures: 3, windowMs: 10_000, banMs: 1_000 });
    expect(fail(bans, IP, 3, T0, 4_000)).toEqual([false, false, true]);
    expect(bans.isBanned(IP, T0 + 8_999)).toBe(true);
    expect(bans.isBanned(IP, T0 + 9_000)).toBe(false);
    const one = new BanList({ maxFailures: 1 });
    expect(one.recordFailure(IP, T0)).toBe(true);
  });

  it('loopback is banned like any source unless exempted explicitly', () => {
    const strict = new BanList();
    expect(fail(strict, '127.0.0.1', 10, T0).at(-1)).toBe(true);
    expect(strict.isBanned('127.0.0.1', T0)).toBe(true);

    const relaxed = new BanList({ exemptLoopback: true });
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect(fail(relaxed, ip, 50, T0).some(Boolean)).toBe(false);
      expect(relaxed.isBanned(ip, T0)).toBe(false);
    }
    expect(relaxed.trackedSources).toBe(0);
    expect(fail(relaxed, IP, 10, T0).at(-1)).toBe(true);
  });

  it('IPv6 sources are counted per /64', () => {
    const bans = new BanList();
    for (let k = 1; k <= 10; k++) bans.recordFailure(`2001:db8:1:2::${k.toString(16)}`, T0);
    expect(bans.isBanned('2001:db8:1:2:abcd::99', T0)).toBe(true);
    expect(bans.isBanned('2001:db8:1:3::1', T0)).toBe(false);
  });

  it('validates its options', () => {
    expect(() => new BanList({ maxFailures: 0 })).toThrow(RangeError);
    expect(() => new BanList({ windowMs: 0 })).toThrow(RangeError);
    expect(() => new BanList({ maxSources: 0 })).toThrow(RangeError);
  });
});

describe('BanList memory bounds', () => {
  const ip = (k: number) => `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;

  it('failure histories are bounded by maxSources', () => {
    const bans = new BanList({ maxSources: 100 });
    for (let k = 0; k < 10_000; k++) bans.recordFailure(ip(k), T0 + k);
    expect(bans.trackedSources).toBe(100);
  });

  it('a flood of new failing sources cannot push out an active ban', () => {
    const bans = new BanList({ maxSources: 100 });
    fail(bans, IP, 10, T0);
    for (let k = 0; k < 10_000; k++) bans.recordFailure(ip(k), T0 + 1);
    expect(bans.isBanned(IP, T0 + 2)).toBe(true);
  });

  it('bans are bounded by maxBans; the one closest to expiry goes first', () => {
    const bans = new BanList({ maxFailures: 1, maxBans: 3 });
    for (let k = 0; k < 5; k++) expect(bans.recordFailure(ip(k), T0 + k)).toBe(true);
    expect(bans.banCount).toBe(3);
    expect([0, 1, 2, 3, 4].map((k) => bans.isBanned(ip(k), T0 + 10))).toEqual([false, false, true, true, true]);
  });

  it('stale histories and expired bans are swept as failures arrive, without timers', () => {
    const bans = new BanList({ maxFailures: 2 });
    for (let k = 0; k < 50; k++) bans.recordFailure(ip(k), T0);
    for (let k = 100; k < 110; k++) fail(bans, ip(k), 2, T0);
    expect(bans.trackedSources).toBe(50);
    expect(bans.banCount).toBe(10);
    // Much later: each new failure drops up to two stale histories and every expired ban.
    for (let k = 0; k < 30; k++) expect(bans.recordFailure(ip(1000 + k), T0 + 400_000)).toBe(false);
    expect(bans.banCount).toBe(0);
    expect(bans.trackedSources).toBe(30);
  });
});
