/**
 * The transport layer (RFC 3261 §18): UDP, TCP and TLS listeners, SIP over WebSocket
 * (RFC 7118) on the HTTP servers, and the table of open connections.
 *
 * Inbound, every message goes through one path: rate limit and ban check, parse (a malformed
 * request is answered 400 with the parser's reason when it can be, otherwise dropped), the
 * received/rport Via parameters (§18.2.1, RFC 3581 §4), then the `message` event. Outbound,
 * `send()` picks the connection: the flow a message must return on when the caller names one,
 * else an open connection to the same address, else a new TCP/TLS connection.
 */
import { isUtf8 } from 'node:buffer';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, connect as tcpConnect, isIPv6, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../logger.ts';
import { formatVia, parseVia } from '../header-values.ts';
import type { Peer, SipMessage, SipRequest, TransportName } from '../message.ts';
import { parseMessage, SipParseError, type ParseLimits } from '../parser.ts';
import { createResponse } from '../response.ts';
import { serializeMessage } from '../serializer.ts';
import { StreamFramer } from '../stream-framer.ts';
import { nextConnectionId, type Connection } from './connection.ts';
import { isStun, stunBindingResponse } from './stun.ts';

export interface TransportLayerEvents {
  message: [msg: SipMessage, source: Peer];
  /** A connection closed: flows bound to it (registrations over it) are gone (RFC 5626 §5.2). */
  connectionClosed: [id: string];
}

/**
 * Spreads work over worker processes (cluster/worker-link.ts): a message goes to the worker that
 * owns its Call-ID, and a write on a connection goes to the worker that holds it.
 */
export interface Distributor {
  /** Take a raw inbound message for another worker; false: process it here. */
  route(buf: Buffer, source: Peer): boolean;
  ownsConnection(id: string): boolean;
  /** Write on a connection another worker holds. */
  sendRemote(data: Buffer, dest: Peer): boolean;
  /** Prefix of this worker's connection ids. */
  readonly connectionPrefix: string;
}

/** Admission control applied before parsing, so floods cost as little as possible. */
export interface Admission {
  /** False drops the datagram or the connection's data without an answer. */
  admit(address: string): boolean;
}

export interface TransportLayerOptions {
  logger: Logger;
  limits: ParseLimits & { maxConnections: number };
  admission?: Admission;
  /** Close connections that received nothing for this long (ms)... */
  idleTimeoutMs?: number;
  /** ...unless this says the connection is in use (a registration's flow). */
  keepConnection?: (id: string) => boolean;
  distributor?: Distributor;
}

export interface ListenAddress {
  transport: TransportName;
  host: string;
  port: number;
}

const CRLF = Buffer.from('\r\n');

export class TransportLayer extends EventEmitter<TransportLayerEvents> {
  readonly #log: Logger;
  readonly #opts: TransportLayerOptions;
  readonly #udp: UdpSocket[] = [];
  readonly #udp6 = new WeakSet<UdpSocket>();
  /**
   * UDP datagrams to send at the end of this turn of the event loop. A send that wakes a peer
   * blocked in recv costs about three times one that finds it awake (an inter-processor wakeup,
   * dearer still in a VM); libuv reads up to 32 datagrams per turn, so sending the answers
   * together wakes each peer once per batch instead of once per datagram. Order is kept.
   */
  #udpOut: { sock: UdpSocket; data: Buffer; port: number; address: string }[] = [];
  readonly #servers: (TcpServer | WebSocketServer)[] = [];
  readonly #connections = new Map<string, Connection>();
  /** "transport|address|port" → connection id, for reuse (§18.1.1). */
  readonly #byRemote = new Map<string, string>();
  readonly #listening: ListenAddress[] = [];
  readonly #stats = { received: 0, sent: 0, parseErrors: 0, dropped: 0 };
  #sweep: NodeJS.Timeout | undefined;
  #closed = false;
  #tlsContext: { cert: Buffer; key: Buffer } | undefined;
  readonly #prefix: string;

  constructor(opts: TransportLayerOptions) {
    super({ captureRejections: false });
    this.#opts = opts;
    this.#prefix = opts.distributor?.connectionPrefix ?? '';
    this.#log = opts.logger.child({ part: 'transport' });
    const idle = opts.idleTimeoutMs;
    if (idle) {
      this.#sweep = setInterval(() => this.#sweepIdle(idle), Math.min(idle, 30_000));
      this.#sweep.unref();
    }
  }

  get listening(): readonly ListenAddress[] {
    return this.#listening;
  }

  get stats(): Readonly<Record<'received' | 'sent' | 'parseErrors' | 'dropped' | 'connections', number>> {
    return { ...this.#stats, connections: this.#connections.size };
  }

  /** The first listener of a transport: what goes into Via and Record-Route for it. */
  local(transport: TransportName): ListenAddress | undefined {
    return this.#listening.find((l) => l.transport === transport);
  }

  async listenUdp(host: string, port: number): Promise<ListenAddress> {
    const sock = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    sock.on('message', (buf, rinfo) => this.#onDatagram(sock, buf, rinfo.address, rinfo.port));
    sock.on('error', (err) => this.#log.error({ err }, 'UDP socket error'));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    // Large buffers absorb bursts (a REGISTER storm) instead of dropping in the kernel.
    try {
      sock.setRecvBufferSize(8 * 1024 * 1024);
      sock.setSendBufferSize(8 * 1024 * 1024);
    } catch {
      /* capped by net.core.rmem_max: keep the default */
    }
    this.#udp.push(sock);
    if (isIPv6(host)) this.#udp6.add(sock);
    const addr = { transport: 'udp' as const, host, port: sock.address().port };
    this.#listening.push(addr);
    return addr;
  }

  async listenTcp(host: string, port: number): Promise<ListenAddress> {
    const server = createTcpServer({ noDelay: true }, (sock) => this.#onStream(sock, 'tcp'));
    return this.#listenStream(server, 'tcp', host, port);
  }

  async listenTls(host: string, port: number, cert: Buffer, key: Buffer): Promise<ListenAddress> {
    this.#tlsContext = { cert, key };
    const server = createTlsServer({ cert, key, minVersion: 'TLSv1.2' }, (sock) => this.#onStream(sock, 'tls'));
    server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'TLS handshake failed'));
    return this.#listenStream(server, 'tls', host, port);
  }

  async #listenStream(server: TcpServer, transport: TransportName, host: string, port: number): Promise<ListenAddress> {
    server.maxConnections = this.#opts.limits.maxConnections;
    server.on('error', (err) => this.#log.error({ err }, `${transport} listener error`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#servers.push(server);
    const a = server.address();
    const addr = { transport, host, port: typeof a === 'object' && a ? a.port : port };
    this.#listening.push(addr);
    return addr;
  }

  /**
   * Accept SIP over WebSocket upgrades on an HTTP(S) server (RFC 7118 §4: subprotocol "sip").
   * `host`/`port` are what the server advertises for this transport in Record-Route.
   */
  attachWebSocket(server: HttpServer, transport: 'ws' | 'wss', host: string, port: number): void {
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#opts.limits.maxMessageBytes,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
      perMessageDeflate: false,
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
      const address = req.socket.remoteAddress ?? '';
      if (!protocols.includes('sip') || this.#connections.size >= this.#opts.limits.maxConnections || !this.#admit(address)) {
        // RFC 7118 §4: a server that does not accept the "sip" subprotocol refuses the handshake.
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.#onWebSocket(ws, transport, address, req.socket.remotePort ?? 0));
    });
    this.#servers.push(wss);
    this.#listening.push({ transport, host, port });
  }

  /**
   * Send a message. `dest.connectionId` names a flow to use (a response or a request to a
   * client registered over it); when that flow is gone, TCP/TLS fall back to a new connection
   * to the address, WS/WSS cannot (browsers accept no connections) and the send fails.
   */
  send(msg: SipMessage, dest: Peer): boolean {
    const data = serializeMessage(msg);
    return this.sendRaw(data, dest);
  }

  sendRaw(data: Buffer, dest: Peer): boolean {
    if (this.#closed) return false;
    const d = this.#opts.distributor;
    if (d && dest.connectionId !== undefined && dest.transport !== 'udp' && !d.ownsConnection(dest.connectionId)) {
      if (!d.sendRemote(data, dest)) return false;
      this.#stats.sent++;
      return true;
    }
    if (dest.transport === 'udp') {
      const sock = this.#udpFor(dest.address);
      if (!sock) return false;
      if (this.#udpOut.push({ sock, data, port: dest.port, address: dest.address }) === 1) setImmediate(this.#flushUdp);
      this.#stats.sent++;
      return true;
    }
    let conn = dest.connectionId ? this.#connections.get(dest.connectionId) : undefined;
    if (!conn) {
      const id = this.#byRemote.get(remoteKey(dest.transport, dest.address, dest.port));
      conn = id ? this.#connections.get(id) : undefined;
    }
    if (!conn && (dest.transport === 'tcp' || dest.transport === 'tls')) conn = this.#connect(dest);
    if (!conn) return false;
    conn.send(data);
    this.#stats.sent++;
    return true;
  }

  readonly #flushUdp = (): void => {
    const out = this.#udpOut;
    this.#udpOut = [];
    for (const o of out) o.sock.send(o.data, o.port, o.address);
  };

  hasConnection(id: string): boolean {
    return this.#connections.has(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#flushUdp();
    clearInterval(this.#sweep);
    for (const c of [...this.#connections.values()]) c.close();
    await Promise.all([
      ...this.#udp.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...this.#servers.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
  }

  // --- inbound ---------------------------------------------------------------

  #admit(address: string): boolean {
    if (!this.#opts.admission || this.#opts.admission.admit(address)) return true;
    this.#stats.dropped++;
    return false;
  }

  #onDatagram(sock: UdpSocket, buf: Buffer, address: string, port: number): void {
    if (!this.#admit(address)) return;
    if (isStun(buf)) {
      const res = stunBindingResponse(buf, address, port);
      if (res) sock.send(res, port, address);
      return;
    }
    // RFC 5626 §3.5.1: a CRLF keep-alive on UDP needs no answer.
    if (buf.length <= 4 && buf.every((b) => b === 0x0d || b === 0x0a)) return;
    this.#receive(buf, { transport: 'udp', address, port }, (data) => sock.send(data, port, address));
  }

  #onStream(sock: Socket | TLSSocket, transport: 'tcp' | 'tls'): void {
    const address = sock.remoteAddress ?? '';
    if (!this.#admit(address)) {
      sock.destroy();
      return;
    }
    this.#addStream(sock, transport, address, sock.remotePort ?? 0);
  }

  /** A new connection in the table, and the Peer its messages come from. */
  #open(transport: TransportName, address: string, port: number, send: (data: Buffer) => void, close: () => void): { conn: Connection; peer: Peer } {
    const id = this.#prefix + nextConnectionId(transport);
    const conn: Connection = { id, transport, remoteAddress: address, remotePort: port, lastActivity: performance.now(), send, close };
    this.#register(conn);
    return { conn, peer: { transport, address, port, connectionId: id } };
  }

  #addStream(sock: Socket | TLSSocket, transport: 'tcp' | 'tls', address: string, port: number): Connection {
    const { conn, peer } = this.#open(
      transport,
      address,
      port,
      (data) => {
        if (sock.destroyed) return;
        // Like the UDP queue: everything written in this turn leaves in one write, waking the peer once.
        if (sock.writableCorked === 0) {
          sock.cork();
          setImmediate(() => sock.uncork());
        }
        sock.write(data);
      },
      () => sock.destroy(),
    );
    const framer = new StreamFramer({ maxMessageBytes: this.#opts.limits.maxMessageBytes });
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      conn.lastActivity = performance.now();
      if (!this.#admit(address)) return;
      let frames;
      try {
        frames = framer.push(chunk);
      } catch (err) {
        // A stream that lost its framing cannot be resynchronized (§18.3): close it.
        this.#log.debug({ err: (err as Error).message, transport }, 'closing stream with a framing error');
        this.#stats.parseErrors++;
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (f.kind === 'ping') conn.send(CRLF); // RFC 5626 §4.4.1 pong
        else if (f.kind === 'message') this.#receive(f.data, peer, conn.send);
      }
    });
    sock.on('error', (err) => this.#log.debug({ err: err.message, transport }, 'stream error'));
    sock.on('close', () => this.#unregister(conn));
    return conn;
  }

  #onWebSocket(ws: WebSocket, transport: 'ws' | 'wss', address: string, port: number): void {
    const { conn, peer } = this.#open(
      transport,
      address,
      port,
      // RFC 7118 §5.1: one SIP message per frame; text frames carry UTF-8 messages.
      (data) => {
        if (ws.readyState === ws.OPEN) ws.send(data, { binary: !isUtf8(data) });
      },
      () => ws.terminate(),
    );
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      conn.lastActivity = performance.now();
      if (!this.#admit(address)) return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // A frame of only CRLFs is a keep-alive ping (RFC 5626 §3.5.1 as used over WS): answer with one CRLF.
      if (buf.length > 0 && buf.every((b) => b === 0x0d || b === 0x0a)) {
        if (buf.length >= 4) conn.send(CRLF);
        return;
      }
      this.#receive(buf, peer, conn.send);
    });
    ws.on('error', (err) => this.#log.debug({ err: err.message, transport }, 'websocket error'));
    ws.on('close', () => this.#unregister(conn));
  }

  /**
   * A message another worker received and routed here (its Call-ID is ours): process it as if
   * it had arrived here; answers go out through sendRaw, which knows whose connection it is.
   */
  receiveForwarded(buf: Buffer, source: Peer): void {
    this.#process(buf, source, (data) => void this.sendRaw(data, source));
  }

  /** Route a message to its worker, or process it here. */
  #receive(buf: Buffer, source: Peer, reply: (data: Buffer) => void): void {
    if (this.#opts.distributor?.route(buf, source)) return;
    this.#process(buf, source, reply);
  }

  /** Parse and deliver one message; answer a malformed request with 400 (or 505) when possible. */
  #process(buf: Buffer, source: Peer, reply: (data: Buffer) => void): void {
    this.#stats.received++;
    let msg: SipMessage;
    try {
      msg = parseMessage(buf, this.#opts.limits);
    } catch (err) {
      this.#stats.parseErrors++;
      if (!(err instanceof SipParseError)) {
        this.#log.error({ err }, 'parser threw an unexpected error');
        return;
      }
      const partial = err.partial;
      if (partial && partial.kind === 'request' && partial.method !== 'ACK') {
        const res = createResponse(partial, err.status ?? 400, { reason: err.reason });
        try {
          reply(serializeMessage(res));
        } catch {
          /* the partial message could not even be echoed back: drop */
        }
      }
      this.#log.debug({ transport: source.transport, reason: err.reason }, 'malformed message');
      return;
    }
    if (msg.kind === 'request' && !this.#stampVia(msg, source)) {
      reply(serializeMessage(createResponse(msg, 400, { reason: 'Bad Via' })));
      return;
    }
    try {
      this.emit('message', msg, source);
    } catch (err) {
      // A bug in one request's handling must not take the listener down for everyone else.
      this.#log.error({ err }, 'error while handling a SIP message');
    }
  }

  /**
   * §18.2.1: add received= when the sent-by host differs from the source address; RFC 3581 §4:
   * fill in rport= when the client asked for it. The proxy then answers to where the request
   * really came from, which keeps phones behind NAT reachable.
   */
  #stampVia(msg: SipRequest, source: Peer): boolean {
    const i = msg.headers.findIndex((h) => h.name === 'Via');
    if (i < 0) return false;
    const field = msg.headers[i]!;
    const comma = topLevelComma(field.value);
    const first = comma < 0 ? field.value : field.value.slice(0, comma);
    let via;
    try {
      via = parseVia(first);
    } catch {
      return false;
    }
    let changed = false;
    const host = via.host.startsWith('[') ? via.host.slice(1, -1) : via.host;
    if (host !== source.address) {
      via.params.set('received', source.address);
      changed = true;
    }
    if (via.params.has('rport') && via.params.get('rport') === null) {
      via.params.set('rport', String(source.port));
      via.params.set('received', source.address);
      changed = true;
    }
    if (changed) field.value = formatVia(via) + (comma < 0 ? '' : field.value.slice(comma));
    return true;
  }

  // --- connections -------------------------------------------------------------

  #register(conn: Connection): void {
    this.#connections.set(conn.id, conn);
    this.#byRemote.set(remoteKey(conn.transport, conn.remoteAddress, conn.remotePort), conn.id);
  }

  #unregister(conn: Connection): void {
    if (!this.#connections.delete(conn.id)) return;
    const key = remoteKey(conn.transport, conn.remoteAddress, conn.remotePort);
    if (this.#byRemote.get(key) === conn.id) this.#byRemote.delete(key);
    this.emit('connectionClosed', conn.id);
  }

  #connect(dest: Peer): Connection | undefined {
    if (this.#connections.size >= this.#opts.limits.maxConnections) return undefined;
    const sock =
      dest.transport === 'tls'
        ? tlsConnect({ host: dest.address, port: dest.port, rejectUnauthorized: false, ...(this.#tlsContext ?? {}) })
        : tcpConnect({ host: dest.address, port: dest.port, noDelay: true });
    // Writes before the connection completes are buffered by the socket.
    return this.#addStream(sock, dest.transport as 'tcp' | 'tls', dest.address, dest.port);
  }

  #udpFor(address: string): UdpSocket | undefined {
    if (this.#udp.length < 2) return this.#udp[0];
    const v6 = address.includes(':');
    return this.#udp.find((s) => this.#udp6.has(s) === v6) ?? this.#udp[0];
  }

  #sweepIdle(idleMs: number): void {
    const now = performance.now();
    const keep = this.#opts.keepConnection;
    for (const c of this.#connections.values()) if (now - c.lastActivity > idleMs && !keep?.(c.id)) c.close();
  }
}

function remoteKey(transport: TransportName, address: string, port: number): string {
  return `${transport}|${address}|${port}`;
}

function topLevelComma(value: string): number {
  let q = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === '"') q = false;
    } else if (c === '"') q = true;
    else if (c === ',') return i;
  }
  return -1;
}

