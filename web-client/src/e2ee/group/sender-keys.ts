/**
 * One participant's SFrame sender key over the life of a group call, with the sender-keys scheme
 * of RFC 9605 §5.1: KID = key generation ‖ ratchet step (sframe/kid.ts, R = 8).
 *
 *   fresh()    a new random base_key in the next key generation, ratchet step 0. Used when the
 *              call starts and when someone leaves: "the sender ... distributes a new key", so
 *              the one who left, who had every earlier key, cannot read what follows.
 *   ratchet()  base_key' = HKDF(base_key, "SFrame 1.0 Ratchet"), same generation, step + 1. Used
 *              when someone joins: the newcomer gets only the ratcheted key, and a ratchet cannot
 *              be run backwards, so frames sent before the join stay unreadable to them. Receivers
 *              who were already in the call ratchet on their own when they see the new KID
 *              (ReceiverKeyring.maxRatchetSteps), so nothing needs to be sent to them.
 *
 * The ratchet step is R = 8 bits in the KID: after 255 ratchets the next KID would repeat an
 * earlier one of the same generation (which SenderContext refuses, RFC 9605 §4.4.1: a nonce must
 * never repeat under a key), so ratchet() draws a fresh generation instead and says so.
 *
 * Pure apart from WebCrypto (HKDF) and the random source, which can be injected for tests.
 */
import type { Bytes } from '../bytes.ts';
import { cipherSuite, DEFAULT_CIPHER_SUITE, type CipherSuiteId } from '../sframe/cipher-suite.ts';
import { ratchetBaseKey } from '../sframe/key-schedule.ts';
import { DEFAULT_RATCHET_BITS, makeKid } from '../sframe/kid.ts';

/** Base keys are 32 random bytes: more than any suite's key size, as RFC 9605 §4.4.1 allows. */
export const BASE_KEY_BYTES = 32;

export const MAX_RATCHET_STEP = (1 << DEFAULT_RATCHET_BITS) - 1;

export interface SenderKey {
  readonly generation: number;
  readonly step: number;
  readonly kid: bigint;
  readonly baseKey: Bytes;
}

export type RandomBytes = (length: number) => Bytes;

export const webCryptoRandom: RandomBytes = (length) => crypto.getRandomValues(new Uint8Array(length));

export class SenderKeySchedule {
  readonly suite: CipherSuiteId;
  readonly #random: RandomBytes;
  #current: SenderKey | null = null;

  constructor(options: { suite?: CipherSuiteId; random?: RandomBytes } = {}) {
    this.suite = options.suite ?? DEFAULT_CIPHER_SUITE;
    this.#random = options.random ?? webCryptoRandom;
  }

  get current(): SenderKey | null {
    return this.#current;
  }

  /** A new random key in the next generation (generation 0 the first time), step 0. */
  fresh(): SenderKey {
    const generation = this.#current ? this.#current.generation + 1 : 0;
    const baseKey = this.#random(BASE_KEY_BYTES);
    if (baseKey.length !== BASE_KEY_BYTES) throw new RangeError('the random source returned the wrong length');
    return this.#set({ generation, step: 0, kid: makeKid(BigInt(generation), 0n), baseKey });
  }

  /**
   * One §5.1 ratchet step of the current key; when the step field is exhausted, a fresh
   * generation instead (`rotated` tells the caller to send it to everyone, not only a newcomer).
   */
  async ratchet(): Promise<{ key: SenderKey; rotated: boolean }> {
    const cur = this.#current;
    if (!cur || cur.step >= MAX_RATCHET_STEP) return { key: this.fresh(), rotated: true };
    const baseKey = await ratchetBaseKey(cipherSuite(this.suite), cur.baseKey);
    const step = cur.step + 1;
    return { key: this.#set({ generation: cur.generation, step, kid: makeKid(BigInt(cur.generation), BigInt(step)), baseKey }), rotated: false };
  }

  #set(key: SenderKey): SenderKey {
    this.#current?.baseKey.fill(0);
    this.#current = key;
    return key;
  }
}
