/**
 * Minimal RIFF/WAVE reader for tests: finds the "fmt " and "data" chunks (skipping any others,
 * e.g. LIST or fact) and measures 16-bit PCM audio. No dependency.
 */
import { readFileSync } from 'node:fs';

export interface WavInfo {
  /** 1 = PCM. */
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** The data chunk's bytes. */
  data: Buffer;
}

export function parseWav(buf: Buffer): WavInfo {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let fmt: Omit<WavInfo, 'data'> | undefined;
  let data: Buffer | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    // A writer that was killed before closing the file leaves a size of 0 or 0xffffffff:
    // the data then runs to the end of the file.
    if (id === 'data' && (size === 0 || body + size > buf.length)) size = buf.length - body;
    if (id === 'fmt ') {
      if (size < 16) throw new Error('short fmt chunk');
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bitsPerSample: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      data = buf.subarray(body, body + size);
    }
    if (fmt && data) return { ...fmt, data };
    off = body + size + (size & 1); // chunks are padded to an even length
  }
  throw new Error(fmt ? 'no data chunk' : 'no fmt chunk');
}

export interface WavLevel {
  sampleRate: number;
  channels: number;
  /** Seconds of audio. */
  seconds: number;
  /** Root mean square of all samples, 0..1 of full scale. */
  rms: number;
  /** RMS of the loudest 100 ms window, 0..1 (a call's audio may start late or stop early). */
  peakWindowRms: number;
  /** Dominant frequency estimate from zero crossings of the first channel (Hz), over the loudest second. */
  zeroCrossingHz: number;
}

/** Measure a 16-bit PCM WAV file. */
export function measureWav(path: string): WavLevel {
  const w = parseWav(readFileSync(path));
  if (w.format !== 1 || w.bitsPerSample !== 16) {
    throw new Error(`${path}: only 16-bit PCM is supported (format ${w.format}, ${w.bitsPerSample} bits)`);
  }
  const frames = Math.floor(w.data.length / (2 * w.channels));
  const sample = (frame: number, ch: number): number => w.data.readInt16LE((frame * w.channels + ch) * 2) / 32768;
  let sum = 0;
  for (let f = 0; f < frames; f++) for (let c = 0; c < w.channels; c++) sum += sample(f, c) ** 2;
  const rms = frames ? Math.sqrt(sum / (frames * w.channels)) : 0;

  const win = Math.max(1, Math.round(w.sampleRate / 10));
  let peakWindowRms = 0;
  let loudest = 0;
  for (let start = 0; start + win <= frames; start += win) {
    let s = 0;
    for (let f = start; f < start + win; f++) for (let c = 0; c < w.channels; c++) s += sample(f, c) ** 2;
    const r = Math.sqrt(s / (win * w.channels));
    if (r > peakWindowRms) [peakWindowRms, loudest] = [r, start];
  }

  // Zero crossings over one second around the loudest window.
  const from = Math.max(0, Math.min(loudest, frames - w.sampleRate));
  const to = Math.min(frames, from + w.sampleRate);
  let crossings = 0;
  for (let f = from + 1; f < to; f++) if (sample(f - 1, 0) < 0 !== sample(f, 0) < 0) crossings++;
  const zeroCrossingHz = to > from ? crossings / 2 / ((to - from) / w.sampleRate) : 0;

  return { sampleRate: w.sampleRate, channels: w.channels, seconds: frames / w.sampleRate, rms, peakWindowRms, zeroCrossingHz };
}
