/**
 * Audio level of a MediaStream for the call screen's meters (is my microphone working, is the
 * other side speaking), from a WebAudio analyser; the maths is in ./audio-level.ts.
 */
import { levelFromSamples } from './audio-level.ts';

export class LevelMeter {
  readonly #ctx: AudioContext;
  readonly #analyser: AnalyserNode;
  readonly #source: MediaStreamAudioSourceNode;
  readonly #buf: Float32Array<ArrayBuffer>;

  constructor(stream: MediaStream, ctx: AudioContext) {
    this.#ctx = ctx;
    this.#analyser = ctx.createAnalyser();
    this.#analyser.fftSize = 512;
    this.#buf = new Float32Array(this.#analyser.fftSize);
    this.#source = ctx.createMediaStreamSource(stream);
    // Analysed only, not played: the remote audio plays through its media element.
    this.#source.connect(this.#analyser);
  }

  level(): number {
    if (this.#ctx.state !== 'running') return 0;
    this.#analyser.getFloatTimeDomainData(this.#buf);
    return levelFromSamples(this.#buf);
  }

  close(): void {
    this.#source.disconnect();
  }
}
