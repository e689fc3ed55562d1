/**
 * SFrame contexts (RFC 9605 Appendix A's SFrameContext, split by direction): the sender's key
 * with its counter, and a receiver's keyring with replay protection.
 *
 * §4.4.1: "For keys that can be used for encryption, the client also stores the next CTR value
 * to be used when encrypting (initially 0)." "A given base_key MUST NOT be used for encryption by
 * multiple senders." "Implementations MUST mark each base_key as usable for encryption or
 * decryption, never both." Sotto enforces the last rule by type: a SenderContext only encrypts and
 * a ReceiverKeyring only decrypts; the key agreement derives one key per direction.
 *
 * §7.4: "senders MUST reject requests to encrypt multiple times with the same key and nonce".
 * The CTR is reserved synchronously before any await, never goes back, never wraps, and a KID can
 * be given a key only once per SenderContext (a second key under an old KID would restart its CTR
 * at 0 under a salt the receivers may mistake for the old one; a fresh KID is always possible).
 */
import type { Bytes } from '../bytes.ts';
import { DEFAULT_CIPHER_SUITE, type CipherSuiteId } from './cipher-suite.ts';
import { createSFrameKey, sframeDecrypt, sframeEncrypt, type SFrameKey } from './encryption.ts';
import { decodeHeader, MAX_FIELD_VALUE, SFrameHeaderError } from './header.ts';
import { ratchetBaseKey } from './key-schedule.ts';
import { DEFAULT_RATCHET_BITS, nextRatchetKid, ratchetDistance } from './kid.ts';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay-window.ts';

/** The sender has used every CTR of its key: it needs a new key (new KID) to go on. */
export class CounterExhaustedError extends Error {
  override name = 'CounterExhaustedError';
}

/** encrypt() was called before any sender key was set. */
export class NoSenderKeyError extends Error {
  override name = 'NoSenderKeyError';
}

export interface SenderOptions {
  readonly suite?: CipherSuiteId;
  /** R of §5.1, used by ratchet(); must match the receivers' setting. */
  readonly ratchetBits?: number;
}

interface SenderKeyState {
  readonly key: SFrameKey;
  /** Kept only so that ratchet() can derive the next base key; wiped when replaced. */
  readonly baseKey: Bytes;
  nextCtr: bigint;
}

export class SenderContext {
  readonly suite: CipherSuiteId;
  readonly ratchetBits: number;
  #current: SenderKeyState | null = null;
  readonly #usedKids = new Set<bigint>();

  constructor(options: SenderOptions = {}) {
    this.suite = options.suite ?? DEFAULT_CIPHER_SUITE;
    this.ratchetBits = options.ratchetBits ?? DEFAULT_RATCHET_BITS;
  }

  /** The KID frames are encrypted with, or null before the first key. */
  get kid(): bigint | null {
    return this.#current?.key.kid ?? null;
  }

  /** The CTR the next frame will carry (for stats and tests). */
  get nextCounter(): bigint | null {
    return this.#current?.nextCtr ?? null;
  }

  /**
   * Starts encrypting with `baseKey` under `kid`, CTR 0. Refuses a KID this context has already
   * encrypted with. The caller's buffer is copied, so it may wipe its own.
   */
  async setKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    if (this.#usedKids.has(kid)) throw new Error(`KID ${kid} was already used for sending; use a new KID`);
    // Reserve the KID before the await so two concurrent setKey calls cannot both take it.
    this.#usedKids.add(kid);
    try {
      const key = await createSFrameKey(this.suite, kid, baseKey);
      this.#install({ key, baseKey: new Uint8Array(baseKey), nextCtr: 0n });
    } catch (err) {
      this.#usedKids.delete(kid);
      throw err;
    }
  }

  /**
   * Ratchets the current key one step forward (§5.1): base_key' = HKDF(base_key, "SFrame 1.0
   * Ratchet"), KID' = same generation, step + 1. Frames encrypted afterwards cannot be decrypted
   * by someone who only learns the new key. Returns the new KID.
   */
  async ratchet(): Promise<bigint> {
    const current = this.#current;
    if (!current) throw new NoSenderKeyError('no sender key to ratchet');
    const kid = nextRatchetKid(current.key.kid, this.ratchetBits);
    const next = await ratchetBaseKey(current.key.suite, current.baseKey);
    try {
      await this.setKey(kid, next);
    } finally {
      next.fill(0);
    }
    return kid;
  }

  /**
   * Encrypts one frame: returns header || ciphertext || tag (§4.4.3), after `prefix` if given
   * (clear bytes the caller sends first; see sframeEncrypt). `metadata` is authenticated but not
   * included in the output.
   */
  async encrypt(metadata: Bytes, plaintext: Bytes, prefix?: Uint8Array): Promise<Bytes> {
    const current = this.#current;
    if (!current) throw new NoSenderKeyError('no sender key set');
    const ctr = current.nextCtr;
    if (ctr > MAX_FIELD_VALUE) throw new CounterExhaustedError(`KID ${current.key.kid} has used all 2^64 counters`);
    current.nextCtr = ctr + 1n;
    return sframeEncrypt(current.key, ctr, metadata, plaintext, prefix);
  }

  #install(state: SenderKeyState): void {
    this.#current?.baseKey.fill(0);
    this.#current = state;
  }
}

export type DecryptFailureReason = 'malformed' | 'unknown-key' | 'auth' | 'replay';

export type DecryptResult =
  | { readonly ok: true; readonly plaintext: Bytes; readonly kid: bigint; readonly ctr: bigint }
  | { readonly ok: false; readonly reason: DecryptFailureReason };

export interface ReceiverOptions {
  readonly suite?: CipherSuiteId;
  /**
   * Keys kept at once; installing one more evicts the oldest. 8 covers a key rotation in flight
   * plus a few ratchet steps, and bounds what a sender's KIDs can make us store.
   */
  readonly maxKeys?: number;
  /** Counters in each KID's replay window (see replay-window.ts). */
  readonly replayWindow?: number;
  /** R of §5.1: how a KID splits into key generation and ratchet step. */
  readonly ratchetBits?: number;
  /**
   * How many ratchet steps ahead of a known key an unknown KID may be for the receiver to
   * ratchet to it by itself (0 disables). Bounded because the KID is not authenticated until
   * the frame decrypts: a forged KID costs at most this many HKDF calls, and the derived key is
   * kept only if the frame authenticates.
   */
  readonly maxRatchetSteps?: number;
}

interface ReceiverKeyState {
  readonly key: SFrameKey;
  readonly baseKey: Bytes;
  readonly window: ReplayWindow;
}

export class ReceiverKeyring {
  readonly suite: CipherSuiteId;
  readonly maxKeys: number;
  readonly replayWindow: number;
  readonly ratchetBits: number;
  readonly maxRatchetSteps: number;
  readonly #keys = new Map<bigint, ReceiverKeyState>();
  readonly #failures: Record<DecryptFailureReason, number> = { malformed: 0, 'unknown-key': 0, auth: 0, replay: 0 };

  constructor(options: ReceiverOptions = {}) {
    this.suite = options.suite ?? DEFAULT_CIPHER_SUITE;
    this.maxKeys = options.maxKeys ?? 8;
    this.replayWindow = options.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    this.ratchetBits = options.ratchetBits ?? DEFAULT_RATCHET_BITS;
    this.maxRatchetSteps = options.maxRatchetSteps ?? 8;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new RangeError('maxKeys must be a positive integer');
    // Fail now, not on the first frame, if the window size is invalid.
    new ReplayWindow(this.replayWindow);
  }

  /** Decryption failures since creation, by reason. */
  get failures(): Readonly<Record<DecryptFailureReason, number>> {
    return { ...this.#failures };
  }

  get kids(): bigint[] {
    return [...this.#keys.keys()];
  }

  has(kid: bigint): boolean {
    return this.#keys.has(kid);
  }

  /**
   * Installs (or replaces) the key for `kid`. A replaced key starts a fresh replay window: a new
   * base_key restarts its sender's CTR at 0 (§4.4.1).
   */
  async setKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    const key = await createSFrameKey(this.suite, kid, baseKey);
    this.#install(key, new Uint8Array(baseKey));
  }

  removeKey(kid: bigint): boolean {
    const state = this.#keys.get(kid);
    state?.baseKey.fill(0);
    return this.#keys.delete(kid);
  }

  /**
   * decrypt(metadata, sframe_ciphertext) of §4.4.4 with KID lookup and replay check. Failures are
   * returned (and counted), never thrown: the caller drops the frame.
   */
  async decrypt(sframeCiphertext: Bytes, metadata: Bytes): Promise<DecryptResult> {
    let header;
    try {
      header = decodeHeader(sframeCiphertext);
    } catch (err) {
      if (err instanceof SFrameHeaderError) return this.#fail('malformed');
      throw err;
    }
    let state = this.#keys.get(header.kid);
    let ratcheted: { key: SFrameKey; baseKey: Bytes } | null = null;
    if (!state) {
      ratcheted = await this.#ratchetTo(header.kid);
      if (!ratcheted) return this.#fail('unknown-key');
    }
    // Cheap replay pre-check before any crypto (a ratcheted key's window is empty).
    if (state && !state.window.check(header.ctr)) return this.#fail('replay');

    const key = state?.key ?? ratcheted!.key;
    const plaintext = await sframeDecrypt(key, header, sframeCiphertext, metadata);
    if (!plaintext) {
      ratcheted?.baseKey.fill(0);
      return this.#fail('auth');
    }
    if (ratcheted) {
      // The frame proved the ratcheted key right: keep it (another frame may have installed
      // it meanwhile; then use that one's window).
      state = this.#keys.get(header.kid) ?? this.#install(ratcheted.key, ratcheted.baseKey);
    }
    if (!state!.window.commit(header.ctr)) return this.#fail('replay');
    return { ok: true, plaintext, kid: header.kid, ctr: header.ctr };
  }

  /** Derives the key for `kid` from the closest known earlier step of its generation (§5.1). */
  async #ratchetTo(kid: bigint): Promise<{ key: SFrameKey; baseKey: Bytes } | null> {
    if (this.maxRatchetSteps === 0) return null;
    let best: { state: ReceiverKeyState; steps: number } | null = null;
    for (const state of this.#keys.values()) {
      const steps = ratchetDistance(state.key.kid, kid, this.ratchetBits);
      if (steps !== null && steps <= this.maxRatchetSteps && (!best || steps < best.steps)) best = { state, steps };
    }
    if (!best) return null;
    let baseKey: Bytes = best.state.baseKey;
    for (let i = 0; i < best.steps; i++) {
      const next = await ratchetBaseKey(best.state.key.suite, baseKey);
      if (baseKey !== best.state.baseKey) baseKey.fill(0);
      baseKey = next;
    }
    return { key: await createSFrameKey(this.suite, kid, baseKey), baseKey };
  }

  #install(key: SFrameKey, baseKey: Bytes): ReceiverKeyState {
    this.removeKey(key.kid);
    const state: ReceiverKeyState = { key, baseKey, window: new ReplayWindow(this.replayWindow) };
    this.#keys.set(key.kid, state);
    while (this.#keys.size > this.maxKeys) {
      const oldest = this.#keys.keys().next().value!;
      this.removeKey(oldest);
    }
    return state;
  }

  #fail(reason: DecryptFailureReason): DecryptResult {
    this.#failures[reason]++;
    return { ok: false, reason };
  }
}
