/**
 * Temporary bans after repeated authentication failures from one source (defaults: 10 failures
 * within 60 s ban the source for 300 s), the usual defence against online password guessing on
 * a SIP registrar.
 *
 * Timing rules, with `now` in ms on the caller's clock:
 *   - a failure at time t counts while now - t < windowMs;
 *   - the failure that brings the count in the window to maxFailures bans the source for
 *     [now, now + banMs); recordFailure returns true for exactly that failure;
 *   - failures recorded while banned neither count nor extend the ban (a banned source's
 *     requests should be dropped before authentication anyway).
 *
 * Memory is bounded and there are no timers: failure histories (at most maxFailures timestamps
 * each) are kept for at most maxSources sources in least-recently-failed order, dropping stale
 * ones as new failures arrive; bans are kept separately, at most maxBans, in expiry order, so a
 * flood of new failing sources can push out old failure histories but not active bans (when
 * maxBans is reached, the ban closest to expiry ends early).
 *
 * Loopback sources can be exempted (exemptLoopback), off by default so that tests running on
 * 127.0.0.1 see the real behaviour unless they ask otherwise.
 */
import { isLoopback, sourceKey } from './rate-limiter.ts';

export interface BanListOptions {
  /** Failures within windowMs that trigger a ban (default 10). */
  maxFailures?: number;
  /** Sliding window for counting failures, ms (default 60 000). */
  windowMs?: number;
  /** Ban duration, ms (default 300 000). */
  banMs?: number;
  /** Maximum sources with a failure history (default 100 000). */
  maxSources?: number;
  /** Maximum simultaneous bans (default 100 000). */
  maxBans?: number;
  /** Never count failures from or ban loopback sources (127.0.0.0/8, ::1). Default false. */
  exemptLoopback?: boolean;
  /** IPv6 sources are tracked per prefix of this many bits (default 64), see sourceKey(). */
  ipv6PrefixBits?: number;
}

export class BanList {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #banMs: number;
  readonly #maxSources: number;
  readonly #maxBans: number;
  readonly #exemptLoopback: boolean;
  readonly #prefixBits: number;
  /** source → failure times, oldest first; Map order = least recently failed first. */
  readonly #failures = new Map<string, number[]>();
  /** source → end of ban; Map order = ban start order (= expiry order, as bans have one length). */
  readonly #bans = new Map<string, number>();

  constructor(options: BanListOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#banMs = options.banMs ?? 300_000;
    this.#maxSources = options.maxSources ?? 100_000;
    this.#maxBans = options.maxBans ?? 100_000;
    this.#exemptLoopback = options.exemptLoopback ?? false;
    this.#prefixBits = options.ipv6PrefixBits ?? 64;
    if (!Number.isInteger(this.#maxFailures) || this.#maxFailures < 1) throw new RangeError('maxFailures must be a positive integer');
    if (!(this.#windowMs > 0) || !(this.#banMs > 0)) throw new RangeError('windowMs and banMs must be positive');
    if (!Number.isInteger(this.#maxSources) || this.#maxSources < 1) throw new RangeError('maxSources must be a positive integer');
    if (!Number.isInteger(this.#maxBans) || this.#maxBans < 1) throw new RangeError('maxBans must be a positive integer');
  }

  /** Sources with a failure history (bounded by maxSources). */
  get trackedSources(): number {
    return this.#failures.size;
  }

  /** Bans held, including expired ones not yet swept (bounded by maxBans). */
  get banCount(): number {
    return this.#bans.size;
  }

  /** True while `ip` is banned. */
  isBanned(ip: string, now: number): boolean {
    return this.bannedUntil(ip, now) !== undefined;
  }

  /** End of the ban on `ip` (ms), or undefined when not banned; e.g. for a Retry-After. */
  bannedUntil(ip: string, now: number): number | undefined {
    if (this.#exemptLoopback && isLoopback(ip)) return undefined;
    const key = sourceKey(ip, this.#prefixBits);
    const until = this.#bans.get(key);
    if (until === undefined) return undefined;
    if (until > now) return until;
    this.#bans.delete(key);
    return undefined;
  }

  /**
   * Count an authentication failure from `ip`. Returns true when this failure caused a ban
   * (so the caller can log it once), false otherwise.
   */
  recordFailure(ip: string, now: number): boolean {
    if (this.#exemptLoopback && isLoopback(ip)) return false;
    const key = sourceKey(ip, this.#prefixBits);
    this.#sweepBans(now);
    const until = this.#bans.get(key);
    if (until !== undefined) {
      if (until > now) return false;
      this.#bans.delete(key);
    }
    this.#sweepFailures(now);

    let times = this.#failures.get(key);
    if (times === undefined) {
      if (this.#failures.size >= this.#maxSources) {
        const oldest = this.#failures.keys().next();
        if (!oldest.done) this.#failures.delete(oldest.value);
      }
      times = [];
    } else {
      this.#failures.delete(key);
      let drop = 0;
      while (drop < times.length && now - times[drop]! >= this.#windowMs) drop++;
      if (drop > 0) times.splice(0, drop);
    }
    times.push(now);
    if (times.length < this.#maxFailures) {
      this.#failures.set(key, times);
      return false;
    }
    if (this.#bans.size >= this.#maxBans) {
      const first = this.#bans.keys().next();
      if (!first.done) this.#bans.delete(first.value);
    }
    this.#bans.set(key, now + this.#banMs);
    return true;
  }

  /**
   * Ban `ip` until `until` (ms): a ban decided elsewhere, e.g. by another worker of a cluster.
   * Bans stay in expiry order only roughly then; the sweep tolerates that (it stops at the
   * first live one, and bannedUntil() drops expired ones it meets).
   */
  ban(ip: string, until: number): void {
    if (this.#exemptLoopback && isLoopback(ip)) return;
    const key = sourceKey(ip, this.#prefixBits);
    if (this.#bans.size >= this.#maxBans && !this.#bans.has(key)) {
      const first = this.#bans.keys().next();
      if (!first.done) this.#bans.delete(first.value);
    }
    this.#bans.delete(key);
    this.#bans.set(key, until);
  }

  /** Forget the failure history of `ip`, e.g. after it authenticated successfully. */
  clearFailures(ip: string): void {
    this.#failures.delete(sourceKey(ip, this.#prefixBits));
  }

  /** Lift a ban early (operator action). Returns true if there was one. */
  unban(ip: string): boolean {
    const key = sourceKey(ip, this.#prefixBits);
    this.#failures.delete(key);
    return this.#bans.delete(key);
  }

  /** Drop expired bans from the front (they are in expiry order). */
  #sweepBans(now: number): void {
    for (const [key, until] of this.#bans) {
      if (until > now) return;
      this.#bans.delete(key);
    }
  }

  /** Drop up to two failure histories whose newest failure has left the window (amortized cleanup). */
  #sweepFailures(now: number): void {
    for (let k = 0; k < 2; k++) {
      const first = this.#failures.entries().next();
      if (first.done) return;
      const [key, times] = first.value;
      if (now - times[times.length - 1]! < this.#windowMs) return;
      this.#failures.delete(key);
    }
  }
}
