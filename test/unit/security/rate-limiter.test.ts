import { describe, expect, it } from 'vitest';
import { isLoopback, RateLimiter, sourceKey } from '../../../server/src/security/rate-limiter.ts';

const T0 = 1_000_000;

describe('RateLimiter: token bucket per source', () => {
  it('allows a burst, then the sustained rate', () => {
    const rl = new RateLimiter({ ratePerSecond: 10, burst: 5 });
    for (let k = 0; k < 5; k++) expect(rl.allow('192.0.2.1', T0)).toBe(true);
    expect(rl.allow('192.0.2.1', T0)).toBe(false);
    // 10/s = one token per 100 ms.
    expect(rl.allow('192.0.2.1', T0 + 99)).toBe(false);
    expect(rl.allow('192.0.2.1', T0 + 100)).toBe(true);
    expect(rl.allow('192.0.2.1', T0 + 100)).toBe(false);
    expect(rl.allow('192.0.2.1', T0 + 300)).toBe(true);
    expect(rl.allow('192.0.2.1', T0 + 300)).toBe(true);
    expect(rl.allow('192.0.2.1', T0 + 300)).toBe(false);
    // A long pause refills to the burst, not beyond.
    for (let k = 0; k < 5; k++) expect(rl.allow('192.0.2.1', T0 + 60_000)).toBe(true);
    expect(rl.allow('192.0.2.1', T0 + 60_000)).toBe(false);
  });

  it('denied requests take nothing', () => {
    const rl = new RateLimiter({ ratePerSecond: 1, burst: 1 });
    expect(rl.allow('192.0.2.1', T0)).toBe(true);
    for (let t = T0; t < T0 + 1000; t += 100) expect(rl.allow('192.0.2.1', t)).toBe(false);
    expect(rl.allow('192.0.2.1', T0 + 1000)).toBe(true);
  });

  it('sources are independent', () => {
    const rl = new RateLimiter({ ratePerSecond: 1, burst: 2 });
    expect(rl.allow('192.0.2.1', T0)).toBe(true);
    expect(rl.allow('192.0.2.1', T0)).toBe(true);
    expect(rl.allow('192.0.2.1', T0)).toBe(false);
    expect(rl.allow('192.0.2.2', T0)).toBe(true);
  });

  it('a request may cost more than one token', () => {
    const rl = new RateLimiter({ ratePerSecond: 10, burst: 10 });
    expect(rl.allow('192.0.2.1', T0, 8)).toBe(true);
    expect(rl.allow('192.0.2.1', T0, 3)).toBe(false);
    expect(rl.allow('192.0.2.1', T0, 2)).toBe(true);
  });

  it('a clock going backwards does not mint tokens', () => {
    const rl = new RateLimiter({ ratePerSecond: 10, burst: 1 });
    expect(rl.allow('192.0.2.1', T0)).toBe(true);
    expect(rl.allow('192.0.2.1', T0 - 10_000)).toBe(false);
    expect(rl.allow('192.0.2.1', T0 + 100)).toBe(true);
  });

  it('loopback is limited unless exempted explicitly', () => {
    const strict = new RateLimiter({ ratePerSecond: 1, burst: 1 });
    expect(strict.allow('127.0.0.1', T0)).toBe(true);
    expect(strict.allow('127.0.0.1', T0)).toBe(false);
    const relaxed = new RateLimiter({ ratePerSecond: 1, burst: 1, exemptLoopback: true });
    for (let k = 0; k < 100; k++) {
      expect(relaxed.allow('127.0.0.1', T0)).toBe(true);
      expect(relaxed.allow('::1', T0)).toBe(true);
    }
    expect(relaxed.size).toBe(0);
    expect(relaxed.allow('192.0.2.1', T0)).toBe(true);
    expect(relaxed.allow('192.0.2.1', T0)).toBe(false);
  });

  it('IPv6 sources share a bucket per /64 by default', () => {
    const rl = new RateLimiter({ ratePerSecond: 1, burst: 2 });
    expect(rl.allow('2001:db8::1', T0)).toBe(true);
    expect(rl.allow('2001:db8::ffff:2', T0)).toBe(true);
    expect(rl.allow('2001:0db8:0000:0000:1234::3', T0)).toBe(false);
    expect(rl.allow('2001:db8:0:1::1', T0)).toBe(true);
    const perAddress = new RateLimiter({ ratePerSecond: 1, burst: 1, ipv6PrefixBits: 128 });
    expect(perAddress.allow('2001:db8::1', T0)).toBe(true);
    expect(perAddress.allow('2001:db8::2', T0)).toBe(true);
    expect(perAddress.allow('2001:DB8:0::2', T0)).toBe(false);
  });

  it('memory is bounded by maxSources', () => {
    const rl = new RateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 100 });
    for (let k = 0; k < 10_000; k++) rl.allow(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, T0);
    expect(rl.size).toBe(100);
    // The most recent sources are still limited.
    expect(rl.allow('10.0.39.15', T0)).toBe(false);
  });

  it('idle sources are dropped as traffic goes on, without timers', () => {
    const rl = new RateLimiter({ ratePerSecond: 10, burst: 5 });
    for (let k = 0; k < 50; k++) rl.allow(`192.0.2.${k}`, T0);
    expect(rl.size).toBe(50);
    // Half a second later every bucket is full again: each request sweeps two idle ones.
    for (let k = 0; k < 30; k++) rl.allow('198.51.100.1', T0 + 500 + k);
    expect(rl.size).toBeLessThanOrEqual(1 + 50 - 2 * 25);
    rl.clear();
    expect(rl.size).toBe(0);
  });

  it('validates its options', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 0 })).toThrow(RangeError);
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 1, maxSources: 0 })).toThrow(RangeError);
  });
});

describe('sourceKey and isLoopback', () => {
  it.each([
    ['192.0.2.1', 64, '192.0.2.1'],
    ['::ffff:192.0.2.1', 64, '192.0.2.1'],
    ['::FFFF:192.0.2.1', 64, '192.0.2.1'],
    ['2001:db8::1', 64, '2001:db8:0:0:0:0:0:0/64'],
    ['2001:DB8:0:0:8:800:200C:417A', 64, '2001:db8:0:0:0:0:0:0/64'],
    ['2001:db8:aaaa:bbbb:cccc::1', 48, '2001:db8:aaaa:0:0:0:0:0/48'],
    ['2001:db8:aaaa:bbff::1', 56, '2001:db8:aaaa:bb00:0:0:0:0/56'],
    ['2001:db8::1', 128, '2001:db8:0:0:0:0:0:1'],
    ['[2001:db8::1]', 128, '2001:db8:0:0:0:0:0:1'],
    ['fe80::1%eth0', 128, 'fe80:0:0:0:0:0:0:1'],
    ['not-an-ip', 64, 'not-an-ip'],
  ] as const)('%s /%d → %s', (ip, bits, key) => {
    expect(sourceKey(ip, bits)).toBe(key);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['128.0.0.1', false],
    ['192.0.2.127', false],
    ['::2', false],
    ['2001:db8::1', false],
    ['localhost', false],
  ] as const)('isLoopback(%s) = %s', (ip, expected) => {
    expect(isLoopback(ip)).toBe(expected);
  });
});
