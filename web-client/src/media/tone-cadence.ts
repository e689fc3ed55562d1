/**
 * Call-progress tone cadences (pure; media/tones.ts plays them): the ring-back tone while the far
 * end rings (a 180 without early media, RFC 3960 §2) and a ring tone for incoming calls. ITU-T
 * E.180 ring-back: 425 Hz, 1 s on / 4 s off; the ring tone is a softer two-tone chirp.
 */
export interface ToneCadence {
  frequencies: number[];
  onMs: number;
  offMs: number;
  gain: number;
}

export const RINGBACK: ToneCadence = { frequencies: [425], onMs: 1000, offMs: 4000, gain: 0.08 };
export const RINGTONE: ToneCadence = { frequencies: [660, 880], onMs: 400, offMs: 1600, gain: 0.1 };

export type ToneName = 'ringback' | 'ringtone';
export const CADENCES: Record<ToneName, ToneCadence> = { ringback: RINGBACK, ringtone: RINGTONE };

/** The on-intervals [start, end) in seconds of `cadence` within the first `seconds`. */
export function toneSchedule(cadence: ToneCadence, seconds: number): [number, number][] {
  const out: [number, number][] = [];
  const period = (cadence.onMs + cadence.offMs) / 1000;
  for (let t = 0; t < seconds; t += period) out.push([t, Math.min(seconds, t + cadence.onMs / 1000)]);
  return out;
}
