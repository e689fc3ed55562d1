/**
 * A sliding anti-replay window over SFrame counters, one per receiving KID.
 *
 * RFC 9605 §7.4 leaves replay handling to the application ("The handling of replay is out of the
 * scope of this document"); without it the SFU (or anyone on the media path) could re-send an old
 * authenticated frame and the receiver would play it again. The window works like SRTP's
 * (RFC 3711 §3.3.2): it remembers the highest CTR accepted and which of the `size` counters below
 * it were seen. A CTR above the highest is new; one inside the window is new only once; one older
 * than the window is refused, since it can no longer be told apart from a replay.
 *
 * Size: DEFAULT_REPLAY_WINDOW = 1024 counters. A sender's tracks share one CTR sequence (one key
 * per sender, §4.4.1), so the counters of audio (50 frames/s) and up to three simulcast video
 * layers (~90 frames/s) interleave, and the receiver's audio and video pipelines may deliver them
 * out of order by as much as the video jitter buffer holds (a second or two when packets are lost
 * and retransmitted). 1024 counters cover about 7 s of that, for 128 bytes of bitmap per KID.
 *
 * Only frames that authenticated may be committed: the caller checks first (cheap, no crypto),
 * decrypts, then commits. Committing unauthenticated counters would let a forger push the window
 * forward and make the real frames look old.
 */

export const DEFAULT_REPLAY_WINDOW = 1024;

export class ReplayWindow {
  readonly size: number;
  /** size and size - 1 as bigints, made once rather than per frame. */
  readonly #sizeN: bigint;
  readonly #mask: bigint;
  #highest: bigint | null = null;
  /** Bit (ctr mod size) is set when that counter, within the window, was accepted. */
  readonly #seen: Uint32Array;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 32 || size > 1 << 16 || (size & (size - 1)) !== 0) {
      throw new RangeError(`replay window size must be a power of two in 32..65536, got ${size}`);
    }
    this.size = size;
    this.#sizeN = BigInt(size);
    this.#mask = BigInt(size - 1);
    this.#seen = new Uint32Array(size / 32);
  }

  /** The highest counter committed so far, or null before the first. */
  get highest(): bigint | null {
    return this.#highest;
  }

  /** Whether `ctr` would be accepted now (not seen, not older than the window). */
  check(ctr: bigint): boolean {
    const highest = this.#highest;
    if (highest === null || ctr > highest) return true;
    if (highest - ctr >= this.#sizeN) return false;
    return !this.#has(ctr);
  }

  /**
   * Records an authenticated counter. Returns false (and records nothing) if it was already seen
   * or is too old, so two concurrent decryptions of the same frame cannot both pass.
   */
  commit(ctr: bigint): boolean {
    if (!this.check(ctr)) return false;
    const highest = this.#highest;
    if (highest === null || ctr > highest) {
      const advance = highest === null ? this.#sizeN : ctr - highest;
      if (advance >= this.#sizeN) {
        this.#seen.fill(0);
      } else {
        // Forget the counters that now fall out of the window's bottom: they share bit slots
        // with the counters (highest, ctr] that are entering at the top.
        for (let c = highest! + 1n; c <= ctr; c++) this.#clear(c);
      }
      this.#highest = ctr;
    }
    this.#set(ctr);
    return true;
  }

  #slot(ctr: bigint): number {
    return Number(ctr & this.#mask);
  }

  #has(ctr: bigint): boolean {
    const s = this.#slot(ctr);
    return (this.#seen[s >>> 5]! & (1 << (s & 31))) !== 0;
  }

  #set(ctr: bigint): void {
    const s = this.#slot(ctr);
    this.#seen[s >>> 5]! |= 1 << (s & 31);
  }

  #clear(ctr: bigint): void {
    const s = this.#slot(ctr);
    this.#seen[s >>> 5]! &= ~(1 << (s & 31));
  }
}
