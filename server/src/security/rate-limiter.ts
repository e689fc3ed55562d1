/**
 * Per-source request rate limiting: a token bucket per source address (`ratePerSecond`
 * sustained, `burst` at once), checked with one Map lookup and a little arithmetic per request.
 *
 * The bucket is kept in its GCRA form (the "virtual scheduling" formulation of a token bucket,
 * ITU-T I.371): one number per source, the theoretical arrival time `tat`. A request of cost c
 * is allowed when tat' = max(tat, now) + c·T stays within burst·T of now (T = 1000 / rate ms),
 * and then tat becomes tat'. Equivalent to a bucket of `burst` tokens refilled at `rate`, but
 * with no fractional token counts to drift.
 *
 * No timers: state is only updated from the `now` passed in (ms, any monotonic or wall clock,
 * as long as the caller is consistent). Memory is bounded by `maxSources`: a source with
 * tat <= now has a full bucket, is indistinguishable from an unknown one, and is dropped when it
 * reaches the front of the least-recently-seen order; when the map is full anyway, the least
 * recently seen source is dropped (it starts again with a full bucket).
 *
 * IPv6 sources are grouped by prefix (default /64, the usual size of one subscriber's network,
 * cf. RFC 6177 / RFC 7421), since one host can pick any address in its /64.
 */
import { parseIPv6 } from '../sip/uri.ts';

export interface RateLimiterOptions {
  /** Sustained requests per second per source. */
  ratePerSecond: number;
  /** Bucket size: requests a quiet source may send at once. */
  burst: number;
  /** Maximum number of sources tracked (default 100 000). */
  maxSources?: number;
  /** Never limit loopback sources (127.0.0.0/8, ::1). Default false. */
  exemptLoopback?: boolean;
  /** IPv6 addresses are limited per prefix of this many bits (default 64; 128 = per address). */
  ipv6PrefixBits?: number;
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopback(ip: string): boolean {
  if (ip.startsWith('127.')) return true;
  if (!ip.includes(':')) return false;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:127.')) return true;
  const groups = expandIpv6(lower);
  return groups !== undefined && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}

/**
 * The key a source is tracked under: an IPv4 address as is (IPv4-mapped IPv6 addresses are
 * unmapped), an IPv6 address reduced to its first `ipv6PrefixBits` bits ("2001:db8:0:1::/64").
 * Strings that are not IP addresses are used unchanged.
 */
export function sourceKey(ip: string, ipv6PrefixBits = 64): string {
  if (!ip.includes(':')) return ip;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  const groups = expandIpv6(lower);
  if (groups === undefined) return lower;
  if (ipv6PrefixBits >= 128) return groups.map((g) => g.toString(16)).join(':');
  const bits = Math.max(0, ipv6PrefixBits);
  const out: string[] = [];
  for (let k = 0; k < 8; k++) {
    const keep = Math.min(16, Math.max(0, bits - k * 16));
    const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
    out.push((groups[k]! & mask).toString(16));
  }
  return `${out.join(':')}/${bits}`;
}

/** The eight 16-bit groups of an IPv6 address (brackets and zone id dropped), or undefined if it is not one. */
function expandIpv6(addr: string): number[] | undefined {
  const pct = addr.indexOf('%');
  if (pct >= 0) addr = addr.slice(0, pct);
  if (addr.startsWith('[') && addr.endsWith(']')) addr = addr.slice(1, -1);
  return parseIPv6(addr) ?? undefined;
}

export class RateLimiter {
  /** ms per token. */
  readonly #interval: number;
  /** burst × interval: how far ahead of now a source's tat may run. */
  readonly #tolerance: number;
  readonly #maxSources: number;
  readonly #exemptLoopback: boolean;
  readonly #prefixBits: number;
  /** source → theoretical arrival time; least recently seen first. */
  readonly #tat = new Map<string, number>();

  constructor(options: RateLimiterOptions) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
    if (!(options.burst >= 1)) throw new RangeError('burst must be at least 1');
    this.#interval = 1000 / options.ratePerSecond;
    this.#tolerance = options.burst * this.#interval;
    this.#maxSources = options.maxSources ?? 100_000;
    if (!Number.isInteger(this.#maxSources) || this.#maxSources < 1) throw new RangeError('maxSources must be a positive integer');
    this.#exemptLoopback = options.exemptLoopback ?? false;
    this.#prefixBits = options.ipv6PrefixBits ?? 64;
  }

  /** Sources currently tracked (bounded by maxSources). */
  get size(): number {
    return this.#tat.size;
  }

  /**
   * Take `cost` tokens from the source's bucket. Returns false (and takes nothing) when the
   * bucket does not hold that many: the request should be dropped or answered 503 with
   * Retry-After (RFC 3261 §21.5.4).
   */
  allow(ip: string, now: number, cost = 1): boolean {
    if (this.#exemptLoopback && isLoopback(ip)) return true;
    const key = sourceKey(ip, this.#prefixBits);
    this.#sweep(now);
    const previous = this.#tat.get(key);
    const tat = previous === undefined || previous < now ? now : previous;
    const next = tat + cost * this.#interval;
    if (next - now > this.#tolerance) {
      // Denied: nothing taken. Refresh recency only; a new source cannot be denied (cost <= burst).
      if (previous !== undefined) {
        this.#tat.delete(key);
        this.#tat.set(key, previous);
      }
      return false;
    }
    if (previous !== undefined) this.#tat.delete(key);
    else if (this.#tat.size >= this.#maxSources) {
      const oldest = this.#tat.keys().next();
      if (!oldest.done) this.#tat.delete(oldest.value);
    }
    this.#tat.set(key, next);
    return true;
  }

  /** Forget every source. */
  clear(): void {
    this.#tat.clear();
  }

  /** Drop up to two sources with a full bucket from the least-recently-seen end (amortized cleanup). */
  #sweep(now: number): void {
    for (let k = 0; k < 2; k++) {
      const first = this.#tat.entries().next();
      if (first.done || first.value[1] > now) return;
      this.#tat.delete(first.value[0]);
    }
  }
}
