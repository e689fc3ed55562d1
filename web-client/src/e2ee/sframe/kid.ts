/**
 * KID structure of the sender-keys scheme (RFC 9605 §5.1):
 *
 *   KID = (key_generation << R) + (ratchet_step % (1 << R))
 *
 *        64-R bits         R bits
 *   +-----------------+--------------+
 *   | Key Generation  | Ratchet Step |
 *   +-----------------+--------------+
 *
 * "The key generation increments each time the sender distributes a new key to receivers. The
 * ratchet step is incremented each time the sender ratchets their key forward." Receivers of a
 * sender must know its R "so that they can recognize when they need to ratchet (vs. expecting a
 * new key)". Sotto uses one R for everyone, DEFAULT_RATCHET_BITS.
 */
import { MAX_FIELD_VALUE } from './header.ts';

/**
 * R = 8: 256 ratchet steps per key generation, and KID 0-7 (generation 0, first steps, as in a
 * 1:1 call) still fits in the SFrame config byte.
 */
export const DEFAULT_RATCHET_BITS = 8;

function checkBits(ratchetBits: number): bigint {
  if (!Number.isInteger(ratchetBits) || ratchetBits < 1 || ratchetBits > 16) {
    throw new RangeError(`ratchet bits must be an integer in 1..16, got ${ratchetBits}`);
  }
  return BigInt(ratchetBits);
}

/** The KID for a key generation and ratchet step. */
export function makeKid(generation: bigint, step: bigint, ratchetBits = DEFAULT_RATCHET_BITS): bigint {
  const r = checkBits(ratchetBits);
  if (generation < 0n || step < 0n) throw new RangeError('generation and step must be non-negative');
  const kid = (generation << r) + (step % (1n << r));
  if (kid > MAX_FIELD_VALUE) throw new RangeError(`generation ${generation} does not fit in a KID with R=${ratchetBits}`);
  return kid;
}

export function kidGeneration(kid: bigint, ratchetBits = DEFAULT_RATCHET_BITS): bigint {
  return kid >> checkBits(ratchetBits);
}

export function kidRatchetStep(kid: bigint, ratchetBits = DEFAULT_RATCHET_BITS): bigint {
  return kid & ((1n << checkBits(ratchetBits)) - 1n);
}

/** The KID after one ratchet step: same generation, step + 1 modulo 2^R. */
export function nextRatchetKid(kid: bigint, ratchetBits = DEFAULT_RATCHET_BITS): bigint {
  return makeKid(kidGeneration(kid, ratchetBits), kidRatchetStep(kid, ratchetBits) + 1n, ratchetBits);
}

/**
 * How many ratchet steps lead from `from` to `to` (1..2^R-1), or null when they belong to
 * different key generations or are the same KID. Modular, since steps wrap within a generation.
 */
export function ratchetDistance(from: bigint, to: bigint, ratchetBits = DEFAULT_RATCHET_BITS): number | null {
  if (from === to || kidGeneration(from, ratchetBits) !== kidGeneration(to, ratchetBits)) return null;
  const modulus = 1n << BigInt(ratchetBits);
  const d = (kidRatchetStep(to, ratchetBits) - kidRatchetStep(from, ratchetBits) + modulus) % modulus;
  return Number(d);
}
