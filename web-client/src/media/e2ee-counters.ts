/**
 * The privacy indicator's evidence from the E2EE worker's stats: frames encrypted on our
 * sending tracks, frames authenticated and decrypted on the receiving ones, and receiving drops.
 * Pure, so it is tested without a worker.
 */
import type { FrameCounters } from '../privacy/indicator.ts';

export interface TrackCounters {
  direction: 'encrypt' | 'decrypt';
  ok: number;
  dropped: Readonly<Record<string, number>>;
}

export function countersFromTracks(tracks: readonly TrackCounters[]): FrameCounters {
  let encryptedFrames = 0;
  let decryptedFrames = 0;
  let decryptFailures = 0;
  for (const t of tracks) {
    if (t.direction === 'encrypt') encryptedFrames += t.ok;
    else {
      decryptedFrames += t.ok;
      for (const n of Object.values(t.dropped)) decryptFailures += n;
    }
  }
  return { encryptedFrames, decryptedFrames, decryptFailures };
}
