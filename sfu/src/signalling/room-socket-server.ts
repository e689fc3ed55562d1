/**
 * The WebSocket side of the room signalling: takes the HTTP upgrades for ROOMS_PATH (RFC 6455
 * §4.2) on the HTTPS server, with the "sotto-rooms.v1" subprotocol, and runs one RoomConnection
 * per socket.
 *
 * Limits: at most `maxConnections` sockets and `maxPerAddress` per client address; messages of at
 * most MAX_MESSAGE_BYTES (ws closes the socket with 1009 beyond that); a socket that has not
 * joined within `joinTimeoutMs` is closed; a peer that stops answering pings is dropped; a
 * client that does not read what it is sent (more than MAX_BUFFERED bytes queued) is dropped
 * rather than letting the server buffer without end.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CLOSE_CODES, RoomConnection, type SignallingContext } from './room-connection.ts';
import { originFromHost } from './room-info.ts';
import { MAX_MESSAGE_BYTES, ROOMS_PATH, ROOMS_SUBPROTOCOL } from './protocol.ts';

export interface RoomSocketOptions {
  readonly maxConnections: number;
  readonly maxPerAddress: number;
  readonly joinTimeoutMs: number;
  readonly pingIntervalMs: number;
}

/** Bytes queued for one client before it is considered gone. */
const MAX_BUFFERED = 4 * 1024 * 1024;

export class RoomSocketServer {
  readonly #ctx: SignallingContext;
  readonly #o: RoomSocketOptions;
  readonly #wss: WebSocketServer;
  readonly #perAddress = new Map<string, number>();
  readonly #alive = new WeakSet<WebSocket>();
  readonly #ping: NodeJS.Timeout;
  #closed = false;

  constructor(ctx: SignallingContext, options: RoomSocketOptions) {
    this.#ctx = ctx;
    this.#o = options;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(ROOMS_SUBPROTOCOL) ? ROOMS_SUBPROTOCOL : false),
    });
    this.#ping = setInterval(() => this.#heartbeat(), options.pingIntervalMs);
    this.#ping.unref();
  }

  /** Sockets open now. */
  get connections(): number {
    return this.#wss.clients.size;
  }

  /** Whether an upgrade request is for the room signalling (path, ignoring the query). */
  wants(req: IncomingMessage): boolean {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    return (q < 0 ? url : url.slice(0, q)) === ROOMS_PATH;
  }

  /** Handles an HTTP upgrade for ROOMS_PATH: accepts it or answers with an HTTP error. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = req.socket.remoteAddress ?? '';
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (this.#closed) return refuse('503 Service Unavailable');
    if (!protocols.includes(ROOMS_SUBPROTOCOL)) return refuse('400 Bad Request');
    if (this.#wss.clients.size >= this.#o.maxConnections || (this.#perAddress.get(address) ?? 0) >= this.#o.maxPerAddress) {
      return refuse('503 Service Unavailable');
    }
    // The link given to clients uses the Host they connected to; anything odd gets no link host.
    const origin = originFromHost(req.headers.host);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws, address, origin));
  }

  /** Closes every socket (their participants leave) and stops accepting. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ping);
    for (const ws of this.#wss.clients) ws.close(1001, 'server shutting down');
    this.#wss.close();
  }

  #onSocket(ws: WebSocket, address: string, origin: string): void {
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    this.#alive.add(ws);
    const conn = new RoomConnection(this.#ctx, {
      remoteAddress: address,
      origin,
      send: (message) => {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > MAX_BUFFERED) {
          ws.terminate();
          return;
        }
        ws.send(JSON.stringify(message));
      },
      close: (code, reason) => {
        // Let queued notifications (e.g. `removed`) go out first.
        if (ws.readyState === ws.OPEN) ws.close(code, reason);
      },
    });
    const joinTimer = setTimeout(() => {
      if (!conn.joined) ws.close(CLOSE_CODES.joinTimeout, 'no join');
    }, this.#o.joinTimeoutMs);
    joinTimer.unref();
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(1003, 'text messages only');
        return;
      }
      conn.onMessage(data.toString());
    });
    ws.on('pong', () => this.#alive.add(ws));
    ws.on('error', () => ws.terminate());
    ws.once('close', () => {
      clearTimeout(joinTimer);
      const n = (this.#perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, n);
      conn.onClose();
    });
  }

  #heartbeat(): void {
    for (const ws of this.#wss.clients) {
      if (!this.#alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.#alive.delete(ws);
      ws.ping();
    }
  }
}
