/**
 * Exponential backoff with jitter for reconnecting the SIP WebSocket. When a server restarts,
 * every browser loses its socket at the same moment; the random part spreads their reconnections
 * (the same reason RFC 5626 §4.5 draws the flow-recovery wait at random between 50% and 100% of
 * an exponentially growing bound).
 */
export interface BackoffOptions {
  /** Wait before the first retry (ms). */
  initialMs: number;
  /** Upper bound of the wait (ms); RFC 5626 §4.5 suggests 1800 s for phones, a page wants less. */
  maxMs: number;
  /** Growth per failed attempt. */
  factor: number;
  /** Share of the wait that is random, 0..1 (RFC 5626 §4.5 uses 0.5). */
  jitter: number;
}

export const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

export class Backoff {
  readonly #o: BackoffOptions;
  #attempt = 0;

  constructor(options: BackoffOptions = RECONNECT_BACKOFF) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs) || !(options.factor >= 1) || !(options.jitter >= 0 && options.jitter <= 1))
      throw new RangeError('invalid backoff options');
    this.#o = options;
  }

  /** Failed attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The wait before the next attempt; each call counts one more failed attempt. */
  next(random: () => number = Math.random): number {
    const bound = Math.min(this.#o.maxMs, this.#o.initialMs * this.#o.factor ** this.#attempt);
    this.#attempt++;
    return Math.round(bound * (1 - this.#o.jitter) + bound * this.#o.jitter * random());
  }

  /** After a success: the next failure starts from the initial wait again. */
  reset(): void {
    this.#attempt = 0;
  }
}
