/**
 * The mediasoup workers of the media bridge, in the SIP process that owns the calls.
 *
 * Not sfu/src/worker-pool.ts: that pool gives every worker a WebRtcServer on a fixed port
 * (port + index) and starts all workers at once, which suits rooms in one process. The bridge runs
 * in every SIP worker process of a cluster (each owns its calls by Call-ID), where fixed ports
 * would collide, and most servers never bridge a call. So here workers start on first use, each
 * WebRtcTransport and PlainTransport takes its own port from [rtcMinPort, rtcMaxPort] (mediasoup
 * tries another port when one is taken, so processes may share the range), and a worker that dies
 * is forgotten: its routers close (every call on it loses its media and is released), and the next
 * call starts a new one.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.ts';

export interface BridgeWorkersOptions {
  /** Most workers to run (each is one single-threaded process). */
  workers: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel: types.WorkerLogLevel;
  logger: Logger;
}

interface Slot {
  worker: types.Worker;
  routers: number;
}

export class BridgeWorkers {
  readonly #o: BridgeWorkersOptions;
  readonly #slots: Slot[] = [];
  #starting: Promise<Slot> | undefined;
  #closed = false;

  constructor(o: BridgeWorkersOptions) {
    this.#o = o;
  }

  /** Live workers (for tests and metrics). */
  get workers(): readonly types.Worker[] {
    return this.#slots.map((s) => s.worker);
  }

  /** A new Router on the least busy worker, starting one while fewer than `workers` run. */
  async createRouter(mediaCodecs: types.RtpCodecCapability[], appData: types.AppData = {}): Promise<types.Router> {
    const slot = await this.#pick();
    const router = await slot.worker.createRouter({ mediaCodecs, appData });
    slot.routers++;
    router.observer.once('close', () => slot.routers--);
    return router;
  }

  async #pick(): Promise<Slot> {
    if (this.#closed) throw new Error('the media bridge is closed');
    const idle = this.#slots.reduce<Slot | undefined>((best, s) => (!best || s.routers < best.routers ? s : best), undefined);
    if (idle && (idle.routers === 0 || this.#slots.length >= this.#o.workers)) return idle;
    // One start at a time: a burst of first calls shares the worker being started.
    this.#starting ??= this.#start().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #start(): Promise<Slot> {
    const o = this.#o;
    const worker = await mediasoup.createWorker({ logLevel: o.logLevel, rtcMinPort: o.rtcMinPort, rtcMaxPort: o.rtcMaxPort, appData: { bridge: true } });
    const slot: Slot = { worker, routers: 0 };
    if (this.#closed) {
      worker.close();
      throw new Error('the media bridge is closed');
    }
    this.#slots.push(slot);
    worker.once('died', (err: Error) => {
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots.splice(i, 1);
      o.logger.error({ pid: worker.pid, err: err.message }, 'media bridge: mediasoup worker died; its calls lost their media');
    });
    o.logger.info({ pid: worker.pid }, 'media bridge: mediasoup worker started');
    return slot;
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#slots.splice(0)) s.worker.close();
  }
}
