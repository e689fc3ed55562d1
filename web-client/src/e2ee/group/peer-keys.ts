/**
 * The base keys the page holds for one other participant's sender key, by KID, for decrypting
 * their chat (the E2EE worker holds its own copies for their media). Bounded like the worker's
 * ReceiverKeyring (oldest evicted beyond `maxKeys`), and able to follow the sender's §5.1 ratchet
 * forward a few steps within a generation, never backward.
 */
import type { Bytes } from '../bytes.ts';
import { cipherSuite, DEFAULT_CIPHER_SUITE, type CipherSuiteId } from '../sframe/cipher-suite.ts';
import { ratchetBaseKey } from '../sframe/key-schedule.ts';
import { ratchetDistance } from '../sframe/kid.ts';

export class PeerKeyStore {
  readonly #keys = new Map<bigint, Bytes>();
  readonly #maxKeys: number;
  readonly #maxSteps: number;
  readonly #suite: CipherSuiteId;

  constructor(options: { maxKeys?: number; maxRatchetSteps?: number; suite?: CipherSuiteId } = {}) {
    this.#maxKeys = options.maxKeys ?? 8;
    this.#maxSteps = options.maxRatchetSteps ?? 8;
    this.#suite = options.suite ?? DEFAULT_CIPHER_SUITE;
  }

  get kids(): bigint[] {
    return [...this.#keys.keys()];
  }

  set(kid: bigint, baseKey: Uint8Array): void {
    this.#keys.get(kid)?.fill(0);
    this.#keys.delete(kid);
    this.#keys.set(kid, new Uint8Array(baseKey));
    while (this.#keys.size > this.#maxKeys) {
      const oldest = this.#keys.keys().next().value!;
      this.#keys.get(oldest)!.fill(0);
      this.#keys.delete(oldest);
    }
  }

  /** The base key for `kid`: stored, or ratcheted forward from the closest earlier step. */
  async get(kid: bigint): Promise<Bytes | null> {
    const known = this.#keys.get(kid);
    if (known) return known;
    let best: { from: Bytes; steps: number } | null = null;
    for (const [k, key] of this.#keys) {
      const steps = ratchetDistance(k, kid);
      if (steps !== null && steps <= this.#maxSteps && (!best || steps < best.steps)) best = { from: key, steps };
    }
    if (!best) return null;
    let key: Bytes = best.from;
    for (let i = 0; i < best.steps; i++) key = await ratchetBaseKey(cipherSuite(this.#suite), key);
    return key;
  }

  clear(): void {
    for (const k of this.#keys.values()) k.fill(0);
    this.#keys.clear();
  }
}
