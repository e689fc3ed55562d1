/**
 * mediasoup workers, one per core (each is a single-threaded C++ process), each with a
 * WebRtcServer so that all of that worker's WebRTC media uses one UDP and one TCP port
 * (mediasoup's WebRtcServer: "ICE candidates ... of all WebRtcTransports ... share the same
 * ports"). Worker i listens on `port + i`, so an operator opens `workers` consecutive ports.
 *
 * A worker that dies (crash, OOM kill, someone's kill -9) takes its routers and everything under
 * them with it; mediasoup emits `died` and closes them (`workerclose`). The pool then starts a new
 * worker in the same slot, on the same port, and announces it (`workerreplaced`), so the room
 * manager can re-create that slot's rooms and tell their clients to reconnect their media.
 * Replacement retries with a growing delay, because a port the old process held may take a moment
 * to be released.
 */
import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import type { SfuLogger } from './logger.ts';

export interface WorkerPoolOptions {
  /** Number of workers (one per core is the useful maximum). */
  readonly workers: number;
  /** Address the WebRtcServers bind to. */
  readonly listenIp: string;
  /** Address put in ICE candidates when it differs from listenIp (behind NAT). */
  readonly announcedIp?: string;
  /** WebRtcServer port of worker 0; worker i uses port + i for both UDP and TCP. */
  readonly port: number;
  /** Port range for other transports (PlainTransport, PipeTransport). */
  readonly rtcMinPort: number;
  readonly rtcMaxPort: number;
  readonly logLevel: types.WorkerLogLevel;
  readonly logger: SfuLogger;
}

/** One worker's place in the pool; the objects change when the worker is replaced. */
export interface WorkerSlot {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  /** Routers currently open on this worker (for placing new rooms). */
  readonly routers: number;
  /** Consumers currently open on this worker, pipe consumers and taps included (placement.ts). */
  readonly consumers: number;
  /** Address the worker's media transports bind to, and the one announced if different. */
  readonly listenIp: types.TransportListenIp;
}

export type WorkerPoolEvents = {
  /** Slot `index` lost its worker; its routers are closed. A replacement is on the way. */
  workerdied: [index: number, error: Error];
  /** Slot `index` has a working worker again. */
  workerreplaced: [slot: WorkerSlot];
  /** A replacement failed and will be retried after `delayMs`. */
  replacefailed: [index: number, error: Error, delayMs: number];
  close: [];
};

interface MutableSlot {
  index: number;
  worker: types.Worker;
  webRtcServer: types.WebRtcServer;
  routers: number;
  consumers: number;
  listenIp: types.TransportListenIp;
}

const REPLACE_DELAYS_MS = [0, 100, 250, 500, 1000, 2000, 5000];

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #slots: (MutableSlot | null)[];
  readonly #replacing = new Set<number>();
  #closed = false;

  private constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
    this.#slots = new Array<MutableSlot | null>(options.workers).fill(null);
  }

  /** Starts every worker; fails (and stops those started) if any cannot start. */
  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError('workers must be a positive integer');
    const pool = new WorkerPool(options);
    try {
      for (let i = 0; i < options.workers; i++) pool.#slots[i] = await pool.#start(i);
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The live slots (a slot whose worker died is missing until it is replaced). */
  get slots(): readonly WorkerSlot[] {
    return this.#slots.filter((s): s is MutableSlot => s !== null);
  }

  slot(index: number): WorkerSlot | undefined {
    return this.#slots[index] ?? undefined;
  }

  /** Stops every worker for good; rooms on them see `workerclose`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#slots) s?.worker.close();
    this.#slots.fill(null);
    this.emit('close');
  }

  async #start(index: number): Promise<MutableSlot> {
    const o = this.#options;
    const worker = await mediasoup.createWorker({
      logLevel: o.logLevel,
      rtcMinPort: o.rtcMinPort,
      rtcMaxPort: o.rtcMaxPort,
      appData: { slot: index },
    });
    let webRtcServer: types.WebRtcServer;
    try {
      const port = o.port + index;
      const base = { ip: o.listenIp, port, ...(o.announcedIp ? { announcedIp: o.announcedIp } : {}) };
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { ...base, protocol: 'udp' },
          { ...base, protocol: 'tcp' },
        ],
      });
    } catch (err) {
      worker.close();
      throw err;
    }
    const listenIp = { ip: o.listenIp, ...(o.announcedIp ? { announcedIp: o.announcedIp } : {}) };
    const slot: MutableSlot = { index, worker, webRtcServer, routers: 0, consumers: 0, listenIp };
    worker.observer.on('newrouter', (router: types.Router) => {
      slot.routers++;
      router.observer.once('close', () => slot.routers--);
      router.observer.on('newtransport', (transport: types.Transport) => {
        transport.observer.on('newconsumer', (consumer: types.Consumer) => {
          slot.consumers++;
          consumer.observer.once('close', () => slot.consumers--);
        });
      });
    });
    worker.once('died', (error: Error) => this.#onDied(slot, error));
    o.logger.info({ slot: index, pid: worker.pid, port: o.port + index }, 'mediasoup worker started');
    return slot;
  }

  #onDied(slot: MutableSlot, error: Error): void {
    if (this.#closed || this.#slots[slot.index] !== slot) return;
    this.#slots[slot.index] = null;
    this.#options.logger.error({ slot: slot.index, pid: slot.worker.pid, err: error.message }, 'mediasoup worker died; replacing it');
    this.emit('workerdied', slot.index, error);
    void this.#replace(slot.index, 0);
  }

  async #replace(index: number, firstAttempt: number): Promise<void> {
    if (this.#closed || this.#replacing.has(index)) return;
    this.#replacing.add(index);
    try {
      for (let attempt = firstAttempt; !this.#closed; attempt++) {
        const delay = REPLACE_DELAYS_MS[Math.min(attempt, REPLACE_DELAYS_MS.length - 1)]!;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (this.#closed) return;
        try {
          const slot = await this.#start(index);
          if (this.#closed) {
            slot.worker.close();
            return;
          }
          this.#slots[index] = slot;
          this.emit('workerreplaced', slot);
          return;
        } catch (err) {
          const next = REPLACE_DELAYS_MS[Math.min(attempt + 1, REPLACE_DELAYS_MS.length - 1)]!;
          this.#options.logger.warn({ slot: index, err: (err as Error).message, retryMs: next }, 'could not replace the mediasoup worker');
          this.emit('replacefailed', index, err as Error, next);
        }
      }
    } finally {
      this.#replacing.delete(index);
    }
  }
}
