/**
 * The page's handle on the E2EE worker (web-client/src/e2ee/e2ee.worker.ts) for a group call: key
 * requests acknowledged by id, transforms created for senders and receivers, and the worker's
 * per-track counters.
 *
 * Transforms must be attached in the same task that creates the sender or receiver
 * (/work/shared/e2ee-sfu-findings.md: assigned later, Chromium 156 sends clear media without an
 * error). mediasoup-client calls onRtpSender/onRtpReceiver synchronously there, and the group
 * call passes senderTransform/receiverTransform to those hooks. Whether frames really pass
 * through the cryptor is then checked from the counters (`ok` growing), never assumed.
 */
import type { E2eeWorkerEvent, E2eeWorkerRequest, KidValue, StatsEvent, TrackStats } from '../e2ee/worker-protocol.ts';
import { Emitter } from '../util/emitter.ts';

/** Whether this browser can run encoded transforms in a worker (RTCRtpScriptTransform). */
export function canEncrypt(): boolean {
  return typeof (globalThis as { RTCRtpScriptTransform?: unknown }).RTCRtpScriptTransform === 'function';
}

export type E2eeWorkerEvents = {
  stats: [tracks: readonly TrackStats[], senderKid: KidValue | null];
  error: [message: string];
};

export class E2eeWorkerClient extends Emitter<E2eeWorkerEvents> {
  readonly #worker: Worker;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(): void; reject(e: Error): void }>();
  #tracks: readonly TrackStats[] = [];

  private constructor(worker: Worker) {
    super();
    this.#worker = worker;
    worker.onmessage = (ev: MessageEvent<E2eeWorkerEvent>) => this.#onEvent(ev.data);
  }

  static async start(url = '/e2ee.worker.js', statsIntervalMs = 500): Promise<E2eeWorkerClient> {
    const client = new E2eeWorkerClient(new Worker(url, { type: 'module' }));
    await client.#request({ kind: 'init', data: { statsIntervalMs } });
    return client;
  }

  get tracks(): readonly TrackStats[] {
    return this.#tracks;
  }

  setSenderKey(kid: bigint, key: Uint8Array): Promise<void> {
    const copy = new Uint8Array(key);
    return this.#request({ kind: 'setSenderKey', data: { kid, key: copy.buffer } }, [copy.buffer]);
  }

  setReceiverKey(participantId: string, kid: bigint, key: Uint8Array): Promise<void> {
    const copy = new Uint8Array(key);
    return this.#request({ kind: 'setReceiverKey', data: { participantId, kid, key: copy.buffer } }, [copy.buffer]);
  }

  removeParticipant(participantId: string): void {
    void this.#request({ kind: 'removeParticipant', data: { participantId } }).catch(() => undefined);
  }

  senderTransform(trackId: string, kind: 'audio' | 'video'): RTCRtpScriptTransform {
    return new RTCRtpScriptTransform(this.#worker, { operation: 'encode', trackId, kind });
  }

  receiverTransform(trackId: string, kind: 'audio' | 'video', participantId: string): RTCRtpScriptTransform {
    return new RTCRtpScriptTransform(this.#worker, { operation: 'decode', trackId, kind, participantId });
  }

  terminate(): void {
    this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(new Error('E2EE worker stopped'));
    this.#pending.clear();
  }

  #request(message: E2eeWorkerRequest, transfer: Transferable[] = []): Promise<void> {
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...message, id }, transfer);
    });
  }

  #onEvent(event: E2eeWorkerEvent): void {
    switch (event.kind) {
      case 'ack':
        this.#pending.get(event.data.id)?.resolve();
        this.#pending.delete(event.data.id);
        return;
      case 'error': {
        const id = event.data.id;
        if (id !== undefined && this.#pending.has(id)) {
          this.#pending.get(id)!.reject(new Error(event.data.message));
          this.#pending.delete(id);
        } else this.emit('error', event.data.message);
        return;
      }
      case 'stats':
        this.#tracks = (event as StatsEvent).data.tracks;
        this.emit('stats', this.#tracks, event.data.senderKid);
        return;
      default:
        return;
    }
  }
}
