/**
 * One of a room's routers: a mediasoup Router on one worker of the pool, the participants placed
 * on it, and the other routers' producers piped into it. A room starts with one (its home, which
 * also holds the room's ActiveSpeakerObserver) and gets one more on another worker each time its
 * routers' workers are full (placement.ts).
 *
 * Piping follows mediasoup's "Scalability" guide: `router.pipeToRouter({ producerId, router })`
 * creates (once per pair of routers) a PipeTransport on each side, connected over loopback, a pipe
 * consumer of the producer on the source router and a pipe producer with the same id on this one,
 * which this router's transports consume like a local producer. mediasoup ties the two together:
 * closing the producer closes the pipe consumer and with it the pipe producer (and so the
 * consumers of it here); pausing the producer pauses the pipe producer; closing either router
 * closes the pipe transport pair. Keyframe requests (PLI/FIR) travel back through the pipe.
 *
 * Pipes bind to 127.0.0.1 whatever `sfu.listen` is: both workers are on this host, and the pipe
 * ports (from the worker's rtcMinPort..rtcMaxPort) carry plain RTP that has no business on a
 * network interface. RTX/NACK across the pipe stays off (mediasoup's default): loopback does not
 * lose packets, and each pipe consumer would keep a retransmission buffer for nothing.
 *
 * State (room-state.ts, per router): starting → open; a dead worker makes it media-down until
 * reattach() builds a new router on the replacement worker; close() ends it.
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from './media-codecs.ts';
import type { ParticipantHost, ProducerAppData } from './participant.ts';
import { nextRoomState, type RoomState, type RoomStateEvent } from './room-state.ts';
import type { WorkerSlot } from './worker-pool.ts';

/** How often the active speaker is re-evaluated (ms); mediasoup's default is 300. */
const SPEAKER_INTERVAL_MS = 300;

/** Where pipe transports listen (see above). */
export const PIPE_LISTEN_IP = '127.0.0.1';

export type RoomRouterEvents = {
  /** The worker died: the router and everything in it are gone until reattach(). */
  workerclose: [];
  /** (Home router) the loudest participant changed, by ActiveSpeakerObserver. */
  dominantspeaker: [participantId: string];
};

export class RoomRouter extends EventEmitter<RoomRouterEvents> implements ParticipantHost {
  readonly roomId: string;
  /** The room's first router: it holds the ActiveSpeakerObserver, and closes only with the room. */
  readonly home: boolean;
  readonly #participants = new Set<string>();
  #state: RoomState = 'starting';
  #slot: WorkerSlot;
  #router!: types.Router;
  #speaker: types.ActiveSpeakerObserver | undefined;
  /** Producers of other routers piped into this one (by producer id, the pipe producer's too). */
  readonly #piped = new Map<string, Promise<void>>();

  private constructor(roomId: string, slot: WorkerSlot, home: boolean) {
    super();
    this.roomId = roomId;
    this.#slot = slot;
    this.home = home;
  }

  static async create(roomId: string, slot: WorkerSlot, home: boolean): Promise<RoomRouter> {
    const rr = new RoomRouter(roomId, slot, home);
    await rr.#attach(slot);
    return rr;
  }

  get state(): RoomState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** The current mediasoup router (a new object after reattach()). */
  get router(): types.Router {
    return this.#router;
  }

  get webRtcServer(): types.WebRtcServer {
    return this.#slot.webRtcServer;
  }

  get listenIp(): types.TransportListenIp {
    return this.#slot.listenIp;
  }

  get slotIndex(): number {
    return this.#slot.index;
  }

  /** Ids of the participants placed here. */
  get participants(): ReadonlySet<string> {
    return this.#participants;
  }

  /** A participant is placed here (room.ts decides, placement.ts advises). */
  admit(participantId: string): void {
    this.#participants.add(participantId);
  }

  /** A participant placed here left. */
  release(participantId: string): void {
    this.#participants.delete(participantId);
  }

  /**
   * Makes `producerId` of the router `from` consumable here. Idempotent while the pipe stands:
   * concurrent callers (the eager pipe on produce, a consume racing it) share one pipe.
   */
  pipeIn(producerId: string, from: RoomRouter): Promise<void> {
    const existing = this.#piped.get(producerId);
    if (existing) return existing;
    // The pipe closes with the producer, with either router or with the pipe transports; the
    // next pipeIn then lays a new one.
    const forget = () => {
      if (this.#piped.get(producerId) === pipe) this.#piped.delete(producerId);
    };
    const pipe: Promise<void> = from.router.pipeToRouter({ producerId, router: this.#router, listenIp: PIPE_LISTEN_IP }).then(({ pipeProducer }) => {
      if (!pipeProducer || pipeProducer.closed) forget();
      else pipeProducer.observer.once('close', forget);
    });
    pipe.catch(forget);
    this.#piped.set(producerId, pipe);
    return pipe;
  }

  /** (Home router) counts this microphone, local or piped in, for the active speaker. */
  async addSpeaker(producerId: string): Promise<void> {
    await this.#speaker?.addProducer({ producerId });
  }

  /** The worker died and the pool has a replacement: a new router (and observer) on it. */
  async reattach(slot: WorkerSlot): Promise<void> {
    if (this.#state === 'open') this.#onWorkerClose();
    await this.#attach(slot);
  }

  /** Closes the router: every transport in it, its pipes, and (by mediasoup) their other ends. */
  close(): void {
    if (this.closed) return;
    this.#transition('close');
    this.#piped.clear();
    if (!this.#router.closed) this.#router.close();
    this.removeAllListeners();
  }

  async #attach(slot: WorkerSlot): Promise<void> {
    const router = await slot.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { roomId: this.roomId } });
    let speaker: types.ActiveSpeakerObserver | undefined;
    if (this.home) {
      try {
        speaker = await router.createActiveSpeakerObserver({ interval: SPEAKER_INTERVAL_MS });
      } catch (err) {
        router.close();
        throw err;
      }
    }
    if (this.closed) {
      router.close();
      return;
    }
    this.#slot = slot;
    this.#router = router;
    this.#speaker = speaker;
    this.#piped.clear();
    speaker?.on('dominantspeaker', ({ producer }) => {
      const pid = (producer.appData as Partial<ProducerAppData>).participantId;
      if (router === this.#router && typeof pid === 'string') this.emit('dominantspeaker', pid);
    });
    router.once('workerclose', () => {
      if (router === this.#router) this.#onWorkerClose();
    });
    this.#transition('router-ready');
  }

  #onWorkerClose(): void {
    if (this.#state !== 'open' && this.#state !== 'starting') return;
    this.#transition('worker-died');
    this.#piped.clear();
    this.emit('workerclose');
  }

  #transition(event: RoomStateEvent): void {
    this.#state = nextRoomState(this.#state, event);
  }
}
