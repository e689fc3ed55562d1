/**
 * A Node client of the room signalling (sfu/src/signalling/protocol.ts) over a real WebSocket, for
 * tests that need no browser: requests typed by method, notifications collected and awaitable,
 * and raw access for sending malformed input.
 */
import { WebSocket } from 'ws';
import {
  ROOMS_PATH,
  ROOMS_SUBPROTOCOL,
  type ErrorBody,
  type Method,
  type NotificationData,
  type NotificationName,
  type RequestData,
  type ResponseData,
  type ServerMessage,
} from '../../sfu/src/signalling/protocol.ts';

export class RoomRequestError extends Error {
  readonly code: string;
  constructor(body: ErrorBody) {
    super(`${body.code}: ${body.message}`);
    this.code = body.code;
  }
}

type Notification = { [N in NotificationName]: { notification: N; data: NotificationData[N] } }[NotificationName];

export class RoomClient {
  readonly ws: WebSocket;
  readonly notifications: Notification[] = [];
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly #waiters: { match(n: Notification): boolean; resolve(n: Notification): void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString()) as ServerMessage;
      if ('notification' in msg) {
        const n = msg as Notification;
        this.notifications.push(n);
        for (let i = this.#waiters.length - 1; i >= 0; i--) {
          const w = this.#waiters[i]!;
          if (w.match(n)) {
            this.#waiters.splice(i, 1);
            w.resolve(n);
          }
        }
        return;
      }
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.data);
      else p.reject(new RoomRequestError(msg.error));
    });
  }

  static connect(port: number, o: { protocol?: string | null; host?: string } = {}): Promise<RoomClient> {
    const protocols = o.protocol === null ? [] : [o.protocol ?? ROOMS_SUBPROTOCOL];
    const ws = new WebSocket(`wss://${o.host ?? '127.0.0.1'}:${port}${ROOMS_PATH}`, protocols, { rejectUnauthorized: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RoomClient(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: HTTP ${res.statusCode}`)));
    });
  }

  request<M extends Method>(method: M, data: RequestData[M]): Promise<ResponseData[M]> {
    const id = this.#nextId++;
    this.ws.send(JSON.stringify({ id, method, data }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  /** Sends raw text; resolves with the response to `id` if one is expected. */
  raw(text: string, id?: number): Promise<unknown> | undefined {
    this.ws.send(text);
    if (id === undefined) return undefined;
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  /** The first notification (already received or coming) that matches. */
  next<N extends NotificationName>(name: N, match: (d: NotificationData[N]) => boolean = () => true, timeoutMs = 5000): Promise<NotificationData[N]> {
    const seen = this.notifications.find((n) => n.notification === name && match(n.data as NotificationData[N]));
    if (seen) return Promise.resolve(seen.data as NotificationData[N]);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${name} notification within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        match: (n) => n.notification === name && match(n.data as NotificationData[N]),
        resolve: (n) => {
          clearTimeout(t);
          resolve(n.data as NotificationData[N]);
        },
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** POST /api/session → token. */
export async function signIn(port: number, username: string, password: string): Promise<string> {
  const res = await httpsJson(port, 'POST', '/api/session', { username, password });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { token: string }).token;
}

export interface HttpResult {
  status: number;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

/** A JSON request over HTTPS to the test server (self-signed certificate). */
export async function httpsJson(port: number, method: string, path: string, body?: unknown, token?: string): Promise<HttpResult> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        rejectUnauthorized: false,
        headers: {
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...(token !== undefined && { authorization: `Bearer ${token}` }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
