/**
 * Group calls in a cluster (sip.workers > 1). A room's participants must meet in one process (one
 * RoomManager, one set of mediasoup routers, one session key), but the cluster hands each HTTPS
 * connection to any worker. So worker ROOMS_HOST (0) hosts the RoomsService, and every other
 * worker passes it what belongs to group calls, over a private Unix socket:
 *
 *  - the /rooms WebSocket upgrade, as raw bytes: the request head as it came (plus the client's
 *    address, below) and what the client already sent after it (`head`), then both directions
 *    piped until either side closes. The WebSocket itself (RFC 6455) runs end to end between the
 *    browser and worker 0; this worker only copies bytes, so nothing here parses frames.
 *  - the room HTTP API (/api/session, /api/rooms...), request by request with node:http over the
 *    socket, streamed both ways; worker 0's fastify answers it as if the client had asked it.
 *
 * The client's address matters to worker 0 (sign-in bans, join rate limits, sockets per address),
 * and over a Unix socket it has none: the forwarding worker writes it in the CLIENT_ADDRESS_HEADER
 * field, and worker 0 believes that field only on connections accepted on the private socket
 * (`clientAddress()`); a client that sends the field itself over HTTPS has it removed on the way
 * and ignored at worker 0. The socket lives in a directory of mode 0700 made by the cluster
 * primary: only the server's own user can connect to it.
 *
 * If worker 0 dies, the primary starts a new one: its rooms are gone (their media with them) and
 * browsers join again; until it listens, forwarded requests get 503 and upgrades are refused.
 */
import { chmodSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ROOMS_PATH } from '../../../sfu/src/signalling/protocol.ts';
import type { UpgradeTarget } from './rooms-upgrade.ts';

/** The client's address, as the forwarding worker saw it (trusted on the private socket only). */
export const CLIENT_ADDRESS_HEADER = 'sotto-client-address';

/** Connections accepted on the private socket: the only ones whose CLIENT_ADDRESS_HEADER counts. */
const forwarded = new WeakSet<object>();

/**
 * The address of the client behind a request: for one forwarded by another worker, the address
 * that worker saw; otherwise the peer of the connection.
 */
export function clientAddress(req: IncomingMessage): string {
  if (forwarded.has(req.socket)) {
    const v = req.headers[CLIENT_ADDRESS_HEADER];
    if (typeof v === 'string' && v.length <= 64) return v;
    return '';
  }
  return req.socket.remoteAddress ?? '';
}

/** Whether an upgrade is for the room signalling: ROOMS_PATH, whatever the query. */
export function isRoomsPath(url: string | undefined): boolean {
  const u = url ?? '';
  const q = u.indexOf('?');
  return (q < 0 ? u : u.slice(0, q)) === ROOMS_PATH;
}

// --- worker 0: the private socket ----------------------------------------------------------

export interface RoomsHostOptions {
  socketPath: string;
  /** worker 0's app: forwarded API requests go through its router (rooms.ts) as local ones do. */
  app: FastifyInstance;
  /** The room signalling's upgrade handler (RoomsService.sockets). */
  sockets: UpgradeTarget;
}

/** Listen on the private socket (worker 0). A socket file left by a worker 0 that died is replaced. */
export async function listenRoomsHost(o: RoomsHostOptions): Promise<Server> {
  const server = createServer((req, res) => o.app.routing(req, res));
  server.on('connection', (socket: Socket) => forwarded.add(socket));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!o.sockets.wants(req)) {
      socket.destroy();
      return;
    }
    // The room signalling reads the client's address from req.socket.remoteAddress, which a Unix
    // socket lacks; an upgraded connection carries exactly one client, so its address is set on it.
    Object.defineProperty(req.socket, 'remoteAddress', { value: clientAddress(req), configurable: true });
    o.sockets.handleUpgrade(req, socket, head);
  });
  rmSync(o.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(o.socketPath, 0o600);
  return server;
}

// --- the other workers: forwarding -----------------------------------------------------------

/** Header fields that belong to one hop (RFC 9110 §7.6.1) and are not passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

export interface ForwardStats {
  upgrades: number;
  requests: number;
  failures: number;
}

export class RoomsForwarder implements UpgradeTarget {
  readonly stats: ForwardStats = { upgrades: 0, requests: 0, failures: 0 };
  readonly #socketPath: string;
  /**
   * One Unix connection per API request: requests are few (sign-in, creating and looking up a
   * room), and a kept-alive connection that worker 0 closes while idle would fail the next one.
   */
  readonly #agent = new Agent({ keepAlive: false, maxSockets: 64 });

  constructor(socketPath: string) {
    this.#socketPath = socketPath;
  }

  wants(req: IncomingMessage): boolean {
    return isRoomsPath(req.url);
  }

  /** Pipe a /rooms upgrade to worker 0 as raw bytes (see the top of this file). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.stats.upgrades++;
    // Node's HTTP parser has already refused CR, LF and NUL in the method, URL and header fields,
    // so writing them back as they came cannot split the request.
    const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() === CLIENT_ADDRESS_HEADER) continue;
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    lines.push(`${CLIENT_ADDRESS_HEADER}: ${req.socket.remoteAddress ?? ''}`);
    const upstream = connect(this.#socketPath);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => {
      if (!connected) {
        this.stats.failures++;
        if (socket.writable) socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        else socket.destroy();
      } else socket.destroy();
    });
    upstream.on('close', () => {
      if (connected) socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
  }

  /** Send one API request to worker 0 and its response back, both streamed. */
  forwardRequest(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++;
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && k !== CLIENT_ADDRESS_HEADER) headers[k] = v;
    headers[CLIENT_ADDRESS_HEADER] = req.socket.remoteAddress ?? '';
    const up = request({ socketPath: this.#socketPath, agent: this.#agent, method: req.method, path: req.url, headers }, (ures) => {
      const out: IncomingHttpHeaders = {};
      for (const [k, v] of Object.entries(ures.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
      res.writeHead(ures.statusCode ?? 502, out as Record<string, string | string[]>);
      ures.pipe(res);
      ures.on('error', () => res.destroy());
    });
    up.on('error', () => {
      this.stats.failures++;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res
        .writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
        .end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'group calls are restarting on this server; try again in a moment' } }));
    });
    req.on('error', () => up.destroy());
    req.pipe(up);
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * The room API on a worker that does not host the rooms: every method on its paths goes to worker
 * 0 untouched. Forwarded from onRequest, before fastify reads the body, so the body streams
 * through and worker 0's limits and validation apply as for its own clients.
 */
export const roomsForwardPlugin: FastifyPluginAsync<{ forwarder: RoomsForwarder }> = async (app, { forwarder }) => {
  // The hook answers (the reply is hijacked) and does not call done(), so the handler never runs.
  const onRequest = (req: FastifyRequest, reply: FastifyReply, _done: HookHandlerDoneFunction): void => {
    reply.hijack();
    forwarder.forwardRequest(req.raw, reply.raw);
  };
  for (const url of ['/api/session', '/api/rooms', '/api/rooms/*']) app.all(url, { onRequest }, async () => undefined);
};
