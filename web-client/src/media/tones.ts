/** Call-progress tones played with WebAudio on the audio clock; cadences in ./tone-cadence.ts. */
import { CADENCES, toneSchedule, type ToneName } from './tone-cadence.ts';

export class TonePlayer {
  #ctx: AudioContext | undefined;
  #nodes: { osc: OscillatorNode[]; gain: GainNode } | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #playing: ToneName | undefined;

  get playing(): ToneName | undefined {
    return this.#playing;
  }

  play(name: ToneName): void {
    if (this.#playing === name) return;
    this.stop();
    const cadence = CADENCES[name];
    this.#ctx ??= new AudioContext();
    const ctx = this.#ctx;
    void ctx.resume().catch(() => undefined);
    const gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    const osc = cadence.frequencies.map((f) => {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start();
      return o;
    });
    this.#nodes = { osc, gain };
    this.#playing = name;
    // Schedule the cadence a minute at a time on the audio clock (exact timing, no drift).
    const scheduleFrom = (start: number) => {
      for (const [on, off] of toneSchedule(cadence, 60)) {
        gain.gain.setValueAtTime(cadence.gain / cadence.frequencies.length, start + on);
        gain.gain.setValueAtTime(0, start + off);
      }
    };
    let next = ctx.currentTime + 0.05;
    scheduleFrom(next);
    this.#timer = setInterval(() => {
      next += 60;
      scheduleFrom(next);
    }, 60_000);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#nodes) {
      for (const o of this.#nodes.osc) o.stop();
      this.#nodes.gain.disconnect();
      this.#nodes = undefined;
    }
    this.#playing = undefined;
  }
}
