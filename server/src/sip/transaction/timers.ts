/**
 * SIP transaction timers (RFC 3261 §17, Table 4 in Appendix A; RFC 6026 §8.4/§8.7 for L and M)
 * and the timer services that run them.
 *
 * The transaction layer never touches Node timers directly: every transaction schedules through
 * an injected {@link TimerService}. In production that is a {@link TimerWheel} (one unref()ed
 * Node interval for all SIP timers, O(1) schedule and cancel), in tests a {@link FakeTimers}
 * whose clock only moves when the test calls `advance(ms)`.
 */
import type { Peer, SipMessage } from '../message.ts';

// ---------------------------------------------------------------------------------------------
// Timer values
// ---------------------------------------------------------------------------------------------

/** Base timer values (RFC 3261 §17.1.1.1, §17.1.2.2) and the few knobs derived from them. */
export interface TimerConfig {
  /** RTT estimate, default 500 ms (§17.1.1.1). Every retransmission interval and most timeouts scale with it. */
  T1: number;
  /** Maximum retransmission interval for non-INVITE requests and INVITE responses, default 4 s (§17.1.2.2). */
  T2: number;
  /** Maximum time a message stays in the network, default 5 s (§17.1.2.2). */
  T4: number;
  /** Timer D for unreliable transports: "at least 32 seconds" (§17.1.1.2), independent of T1. */
  D: number;
  /**
   * Delay after which an INVITE server transaction sends 100 Trying on its own if the TU has not
   * responded yet, default 200 ms (§17.2.1). 0 sends it at once; Infinity never (the TU then owns it).
   */
  tryingDelay: number;
}

export const DEFAULT_TIMER_CONFIG: Readonly<TimerConfig> = Object.freeze({
  T1: 500,
  T2: 4000,
  T4: 5000,
  D: 32_000,
  tryingDelay: 200,
});

/**
 * Every SIP timer's duration, resolved once from a {@link TimerConfig} (RFC 3261 Table 4) and
 * shared by all transactions. The values here are those for unreliable transports; D, I, J and K
 * are 0 on reliable ones and A, E, G are not used there — the transactions apply that rule.
 */
export interface TimerValues {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** INVITE request retransmit interval, initially T1, doubling (§17.1.1.2). */
  readonly A: number;
  /** INVITE transaction timeout, 64*T1 (§17.1.1.2). */
  readonly B: number;
  /** Wait time for response retransmissions (INVITE client, Completed), ≥32 s on UDP (§17.1.1.2). */
  readonly D: number;
  /** Non-INVITE request retransmit interval, T1 doubling up to T2 (§17.1.2.2). */
  readonly E: number;
  /** Non-INVITE transaction timeout, 64*T1 (§17.1.2.2). */
  readonly F: number;
  /** INVITE response retransmit interval, T1 doubling up to T2 (§17.2.1). */
  readonly G: number;
  /** Wait time for ACK receipt, 64*T1 (§17.2.1). */
  readonly H: number;
  /** Wait time for ACK retransmissions, T4 on UDP (§17.2.1). */
  readonly I: number;
  /** Wait time for non-INVITE request retransmissions, 64*T1 on UDP (§17.2.2). */
  readonly J: number;
  /** Wait time for non-INVITE response retransmissions, T4 on UDP (§17.1.2.2). */
  readonly K: number;
  /** Wait time for accepted INVITE request retransmissions, 64*T1 (RFC 6026 §8.7). */
  readonly L: number;
  /** Wait time for retransmissions of 2xx to INVITE, 64*T1 (RFC 6026 §8.4). */
  readonly M: number;
  /** Delay before an INVITE server transaction sends its own 100 Trying (§17.2.1). */
  readonly trying: number;
}

/** Resolve every timer from base values; unspecified fields take {@link DEFAULT_TIMER_CONFIG}. */
export function timerValues(config: Partial<TimerConfig> = {}): TimerValues {
  const c = { ...DEFAULT_TIMER_CONFIG, ...config };
  for (const k of ['T1', 'T2', 'T4', 'D'] as const) {
    if (!(Number.isFinite(c[k]) && c[k] > 0)) throw new RangeError(`timer ${k} must be a positive number of ms`);
  }
  if (!(c.tryingDelay >= 0)) throw new RangeError('tryingDelay must be >= 0');
  const t64 = 64 * c.T1;
  return Object.freeze({
    T1: c.T1,
    T2: c.T2,
    T4: c.T4,
    A: c.T1,
    B: t64,
    D: c.D,
    E: c.T1,
    F: t64,
    G: c.T1,
    H: t64,
    I: c.T4,
    J: t64,
    K: c.T4,
    L: t64,
    M: t64,
    trying: c.tryingDelay,
  });
}

// ---------------------------------------------------------------------------------------------
// What a transaction needs from its surroundings
// ---------------------------------------------------------------------------------------------

/**
 * Hand a message to the transport layer (RFC 3261 §18). A synchronous throw, or a returned
 * promise that rejects (e.g. a TCP connect that fails), is a transport error for the
 * transaction that sent it (§17.1.4, §17.2.4). For UDP return nothing: no promise per datagram.
 */
export type SendFn = (msg: SipMessage, destination: Peer) => void | PromiseLike<unknown>;

export type TransactionKind = 'invite-client' | 'non-invite-client' | 'invite-server' | 'non-invite-server';

/**
 * The environment transactions run in, shared by all transactions of one transaction manager
 * (one pointer per transaction, not four).
 */
export interface TransactionEnv {
  readonly timers: TimerService;
  readonly values: TimerValues;
  readonly send: SendFn;
  /**
   * Book-keeping hook, called once and synchronously when a transaction enters Terminated, before
   * the TU's own onTerminated. The transaction manager uses it to forget the transaction.
   */
  readonly terminated?: (tx: { readonly kind: TransactionKind; readonly key: string }) => void;
  /**
   * Offered by a non-INVITE server transaction that has sent its final response over an
   * unreliable transport: if this returns true, the manager absorbs request retransmissions with
   * `response` for Timer J itself, and the transaction object ends now (see TransactionManager's
   * compactCompleted). Undefined or false: the transaction stays Completed for Timer J.
   */
  readonly holdCompleted?: (key: string, response: SipMessage, destination: Peer) => boolean;
}

/**
 * The state after a transition, asserting it is one the RFC's state diagram allows (the tables
 * beside each transaction class), so a bug shows as an error instead of a silent wrong state.
 */
export function checkedTransition<S extends string>(table: Readonly<Record<S, readonly S[]>>, from: S, to: S, what: string): S {
  if (!table[from].includes(to)) throw new Error(`${what}: illegal transition ${from} → ${to}`);
  return to;
}

/**
 * Send through the environment on behalf of a transaction, turning a synchronous throw or a
 * rejected promise into a call to `tx.transportError(err)` (§17.1.4, §17.2.4). A transaction
 * calls this last in any step, after its state and timers are settled, because a synchronous
 * failure terminates it on the spot.
 */
export function transmit(
  env: TransactionEnv,
  msg: SipMessage,
  destination: Peer,
  tx: { transportError(error: unknown): void },
): void {
  let result: void | PromiseLike<unknown>;
  try {
    result = env.send(msg, destination);
  } catch (err) {
    tx.transportError(err);
    return;
  }
  if (result != null && typeof result.then === 'function') {
    result.then(undefined, (err: unknown) => tx.transportError(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Timer services
// ---------------------------------------------------------------------------------------------

/** Opaque handle returned by {@link TimerService.schedule}. */
export type TimerHandle = object;

export interface TimerService {
  /** Run `fn` once, no earlier than `ms` milliseconds from now. */
  schedule(ms: number, fn: () => void): TimerHandle;
  /** Cancel a timer; cancelling one that already fired or was cancelled does nothing. */
  cancel(handle: TimerHandle | undefined): void;
}

/** A timer entry on the wheel: a node of a doubly linked list, one list per slot. */
class WheelEntry {
  /** Absolute tick at which the entry is due. */
  due: number;
  fn: (() => void) | null;
  prev: WheelEntry | null = null;
  next: WheelEntry | null = null;
  /** Slot index while linked; -1 once fired or cancelled; -2 while queued for firing. */
  slot = -1;
  constructor(due: number, fn: () => void) {
    this.due = due;
    this.fn = fn;
  }
}

export interface TimerWheelOptions {
  /** Tick length in ms (default 10: T1/50, so a 500 ms retransmission is at most 2% late). */
  resolution?: number;
  /**
   * Number of slots, rounded up to a power of two (default 4096: with 10 ms ticks one turn is
   * 40.96 s, longer than 64*T1, so Timers B, F, H, J, L, M all land without extra rounds).
   */
  slots?: number;
  /** Clock in ms (default `performance.now`); injectable to test the wheel itself. */
  now?: () => number;
  /** Start a Node interval to drive the wheel while timers are pending (default true). */
  autoDrive?: boolean;
}

/**
 * A hashed timer wheel (Varghese & Lauck): each timer is put in the slot of its due tick modulo
 * the wheel size; a single Node interval (unref()ed, running only while timers are pending)
 * advances the wheel one slot per tick and fires the due entries of that slot. Schedule and
 * cancel are O(1); the per-timer cost is one small object.
 *
 * A timer never fires early: its due tick is rounded up, so it fires between `ms` and
 * `ms + resolution` (plus event-loop latency) after scheduling. If the event loop stalls the
 * wheel catches up, firing overdue timers in due order.
 */
export class TimerWheel implements TimerService {
  readonly resolution: number;
  readonly #mask: number;
  readonly #slots: (WheelEntry | null)[];
  readonly #tails: (WheelEntry | null)[];
  readonly #now: () => number;
  readonly #origin: number;
  readonly #autoDrive: boolean;
  /** Last tick processed. */
  #tick = 0;
  #size = 0;
  #driver: NodeJS.Timeout | undefined;
  #firing: WheelEntry[] = [];

  constructor(options: TimerWheelOptions = {}) {
    this.resolution = options.resolution ?? 10;
    if (!(this.resolution > 0)) throw new RangeError('resolution must be > 0');
    let n = 1;
    while (n < (options.slots ?? 4096)) n *= 2;
    this.#mask = n - 1;
    this.#slots = new Array<WheelEntry | null>(n).fill(null);
    this.#tails = new Array<WheelEntry | null>(n).fill(null);
    this.#now = options.now ?? (() => performance.now());
    this.#origin = this.#now();
    this.#autoDrive = options.autoDrive ?? true;
  }

  /** Number of pending timers. */
  get size(): number {
    return this.#size;
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const elapsed = this.#now() - this.#origin;
    if (this.#size === 0) {
      // Idle wheel: jump to the present instead of walking empty slots later.
      const current = Math.floor(elapsed / this.resolution);
      if (current > this.#tick) this.#tick = current;
    }
    let due = Math.ceil((elapsed + (ms > 0 ? ms : 0)) / this.resolution);
    if (due <= this.#tick) due = this.#tick + 1;
    const e = new WheelEntry(due, fn);
    this.#link(e);
    if (this.#size === 1 && this.#autoDrive && this.#driver === undefined) {
      this.#driver = setInterval(() => this.processDue(), this.resolution);
      this.#driver.unref();
    }
    return e;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!(handle instanceof WheelEntry)) return;
    if (handle.slot >= 0) {
      this.#unlink(handle);
      this.#maybeStop();
    } else if (handle.slot === -2) {
      handle.fn = null; // queued in the current firing batch: skip it
    }
  }

  /** Advance the wheel to the current time, firing every due timer. Called by the driver. */
  processDue(): void {
    const target = Math.floor((this.#now() - this.#origin) / this.resolution);
    while (this.#tick < target && this.#size > 0) {
      const tick = ++this.#tick;
      const slot = tick & this.#mask;
      const batch = this.#firing;
      for (let e = this.#slots[slot] ?? null; e !== null; ) {
        const next: WheelEntry | null = e.next;
        if (e.due <= tick) {
          this.#unlink(e);
          e.slot = -2;
          batch.push(e);
        }
        e = next;
      }
      if (batch.length === 0) continue;
      this.#firing = [];
      for (const e of batch) {
        const fn = e.fn;
        e.slot = -1;
        e.fn = null;
        if (fn !== null) {
          try {
            fn();
          } catch (err) {
            // A throwing timer callback must not stop the wheel; surface it like Node would.
            queueMicrotask(() => {
              throw err;
            });
          }
        }
      }
      batch.length = 0;
      this.#firing = batch;
    }
    if (this.#size === 0 && target > this.#tick) this.#tick = target;
    this.#maybeStop();
  }

  /** Drop every pending timer and stop the driver. */
  clear(): void {
    for (let i = 0; i <= this.#mask; i++) {
      for (let e = this.#slots[i] ?? null; e !== null; e = e.next) {
        e.slot = -1;
        e.fn = null;
      }
      this.#slots[i] = null;
      this.#tails[i] = null;
    }
    this.#size = 0;
    this.#maybeStop();
  }

  #link(e: WheelEntry): void {
    const slot = e.due & this.#mask;
    e.slot = slot;
    const tail = this.#tails[slot] ?? null;
    e.prev = tail;
    e.next = null;
    if (tail === null) this.#slots[slot] = e;
    else tail.next = e;
    this.#tails[slot] = e;
    this.#size++;
  }

  #unlink(e: WheelEntry): void {
    const slot = e.slot;
    if (e.prev === null) this.#slots[slot] = e.next;
    else e.prev.next = e.next;
    if (e.next === null) this.#tails[slot] = e.prev;
    else e.next.prev = e.prev;
    e.prev = e.next = null;
    e.slot = -1;
    this.#size--;
  }

  #maybeStop(): void {
    if (this.#size === 0 && this.#driver !== undefined) {
      clearInterval(this.#driver);
      this.#driver = undefined;
    }
  }
}

/** A pending fake timer. */
class FakeEntry {
  at: number;
  seq: number;
  fn: (() => void) | null;
  constructor(at: number, seq: number, fn: () => void) {
    this.at = at;
    this.seq = seq;
    this.fn = fn;
  }
}

/**
 * A deterministic timer service for tests: time stands still until `advance(ms)`, which fires
 * every timer due in the window in (due time, scheduling order), with `now` set to each timer's
 * due time while it runs — so a callback that schedules a new timer schedules it relative to
 * the exact moment it fired, as on a real clock.
 */
export class FakeTimers implements TimerService {
  #now = 0;
  #seq = 0;
  #pending: FakeEntry[] = [];

  /** Current fake time in ms, starting at 0. */
  get now(): number {
    return this.#now;
  }

  /** Number of pending timers. */
  get size(): number {
    return this.#pending.length;
  }

  /** Due time of the next pending timer, or undefined. */
  get nextAt(): number | undefined {
    return this.#earliest()?.at;
  }

  schedule(ms: number, fn: () => void): TimerHandle {
    const e = new FakeEntry(this.#now + (ms > 0 ? ms : 0), this.#seq++, fn);
    this.#pending.push(e);
    return e;
  }

  cancel(handle: TimerHandle | undefined): void {
    if (!(handle instanceof FakeEntry)) return;
    const i = this.#pending.indexOf(handle);
    if (i >= 0) this.#pending.splice(i, 1);
    handle.fn = null;
  }

  /** Move time forward by `ms`, firing every timer that falls due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('cannot move time backwards');
    const target = this.#now + ms;
    for (;;) {
      const e = this.#earliest();
      if (e === undefined || e.at > target) break;
      this.#pending.splice(this.#pending.indexOf(e), 1);
      this.#now = e.at;
      const fn = e.fn;
      e.fn = null;
      fn?.();
    }
    this.#now = target;
  }

  /**
   * Advance to each next due time until no timer is left (at most `limit` steps, against timers
   * that reschedule forever); returns the number of steps taken.
   */
  runAll(limit = 10_000): number {
    let n = 0;
    for (let at = this.nextAt; at !== undefined && n < limit; at = this.nextAt, n++) this.advance(at - this.#now);
    return n;
  }

  #earliest(): FakeEntry | undefined {
    let best: FakeEntry | undefined;
    for (const e of this.#pending) if (best === undefined || e.at < best.at || (e.at === best.at && e.seq < best.seq)) best = e;
    return best;
  }
}
