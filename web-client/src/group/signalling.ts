/**
 * The page's side of the room signalling (sfu/src/signalling/protocol.ts): one WebSocket to
 * wss://<this origin>/rooms, requests answered by id, notifications emitted in arrival order.
 * Request and response types come from the protocol file the server validates against.
 */
import {
  ROOMS_PATH,
  ROOMS_SUBPROTOCOL,
  type ErrorBody,
  type Method,
  type RequestData,
  type ResponseData,
  type ServerMessage,
  type ServerNotification,
} from '../../../sfu/src/signalling/protocol.ts';
import { Emitter } from '../util/emitter.ts';

export class RoomError extends Error {
  override name = 'RoomError';
  readonly code: ErrorBody['code'] | 'TIMEOUT' | 'DISCONNECTED';
  constructor(code: RoomError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export type SignallingEvents = {
  close: [code: number, reason: string];
};

/** Notifications kept for a handler that is not attached yet (e.g. while the call sets up). */
const MAX_BUFFERED_NOTIFICATIONS = 1000;

const REQUEST_TIMEOUT_MS = 10_000;

export class RoomSignalling extends Emitter<SignallingEvents> {
  readonly #ws: WebSocket;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: number }>();
  #handler: ((n: ServerNotification) => void) | null = null;
  readonly #buffered: ServerNotification[] = [];

  private constructor(ws: WebSocket) {
    super();
    this.#ws = ws;
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    ws.onclose = (ev) => {
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(new RoomError('DISCONNECTED', 'the connection to the server closed'));
      }
      this.#pending.clear();
      this.emit('close', ev.code, ev.reason);
    };
  }

  static connect(origin = location.host): Promise<RoomSignalling> {
    const ws = new WebSocket(`wss://${origin}${ROOMS_PATH}`, ROOMS_SUBPROTOCOL);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(new RoomSignalling(ws));
      ws.onerror = () => reject(new RoomError('DISCONNECTED', 'cannot reach the room server'));
    });
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  request<M extends Method>(method: M, data: RequestData[M]): Promise<ResponseData[M]> {
    if (!this.open) return Promise.reject(new RoomError('DISCONNECTED', 'not connected'));
    const id = this.#nextId++;
    this.#ws.send(JSON.stringify({ id, method, data }));
    return new Promise((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.#pending.delete(id);
        reject(new RoomError('TIMEOUT', `no answer to ${method}`));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
  }

  /**
   * Delivers notifications to `handler` in arrival order, starting with those that came before
   * it was attached: the other participants' key messages can arrive right after `join`, while
   * the page is still loading its device and starting the E2EE worker, and must not be lost.
   */
  onNotification(handler: (n: ServerNotification) => void): void {
    this.#handler = handler;
    for (const n of this.#buffered.splice(0)) handler(n);
  }

  close(): void {
    this.#ws.close(1000, 'bye');
  }

  #onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: ServerMessage;
    try {
      msg = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if ('notification' in msg) {
      if (this.#handler) this.#handler(msg);
      else if (this.#buffered.length < MAX_BUFFERED_NOTIFICATIONS) this.#buffered.push(msg);
      return;
    }
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.data);
    else p.reject(new RoomError(msg.error.code, msg.error.message));
  }
}
