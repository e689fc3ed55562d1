/** Tone cadences (ITU-T E.180) and level metering, without WebAudio. */
import { describe, expect, it } from 'vitest';
import { levelFromSamples } from '../../../web-client/src/media/audio-level.ts';
import { RINGBACK, toneSchedule } from '../../../web-client/src/media/tone-cadence.ts';

describe('toneSchedule', () => {
  it('plays ring-back 1 s on, 4 s off', () => {
    expect(toneSchedule(RINGBACK, 12)).toEqual([
      [0, 1],
      [5, 6],
      [10, 11],
    ]);
  });
  it('cuts the last tone at the end of the window', () => {
    expect(toneSchedule({ frequencies: [1], onMs: 2000, offMs: 1000, gain: 1 }, 4)).toEqual([
      [0, 2],
      [3, 4],
    ]);
  });
});

describe('levelFromSamples', () => {
  it('maps silence to 0 and full scale to 1', () => {
    expect(levelFromSamples(new Float32Array(128))).toBe(0);
    expect(levelFromSamples(new Float32Array(128).fill(1))).toBe(1);
    expect(levelFromSamples([])).toBe(0);
  });
  it('maps -30 dBFS to the middle', () => {
    const a = 10 ** (-30 / 20);
    expect(levelFromSamples(new Float32Array(64).fill(a))).toBeCloseTo(0.5, 5);
  });
  it('clips below -60 dBFS to 0', () => {
    expect(levelFromSamples(new Float32Array(64).fill(1e-5))).toBe(0);
  });
});
