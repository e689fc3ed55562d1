/**
 * The SIP side of Sotto, composed: transport layer → transaction layer → core (registrar for
 * REGISTER to us, OPTIONS answered locally, everything else through the proxy).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WorkerLink } from './cluster/worker-link.ts';
import type { Server as HttpServer } from 'node:http';
import type { Config } from './config.ts';
import { identity, type Logger } from './logger.ts';
import { DigestAuthenticator } from './auth/digest.ts';
import { SipAuth } from './auth/sip-auth.ts';
import { FlowTokens } from './proxy/flow-token.ts';
import { Locator } from './proxy/locator.ts';
import { RoomDirectory } from './proxy/room-uri.ts';
import { ProxyCore, refuse, type IncomingRequest, type TransactionPort } from './proxy/proxy-core.ts';
import { LocationStore } from './registrar/location-store.ts';
import { MediaAnchor } from './media/media-anchor.ts';
import { Registrar } from './registrar/registrar.ts';
import { BanList } from './security/ban-list.ts';
import { RateLimiter } from './security/rate-limiter.ts';
import { LocalNames } from './sip/local-names.ts';
import { getHeaderValues, requestUri, type Peer, type SipRequest, type TransportName } from './sip/message.ts';
import { createResponse } from './sip/response.ts';
import { TransactionManager } from './sip/transaction/transaction-manager.ts';
import type { ServerTransaction } from './sip/transaction/server-transaction.ts';
import { TransportLayer } from './sip/transport/transport-layer.ts';
import { parseUri, uriEquals } from './sip/uri.ts';
import type { UserStore } from './store/user-store.ts';

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, REFER, NOTIFY, SUBSCRIBE, MESSAGE';
/** Option tags the registrar understands in Require (RFC 3327 path, RFC 5626 outbound). */
const SUPPORTED = new Set(['path', 'outbound']);

export interface SipServerOptions {
  config: Config;
  logger: Logger;
  users: UserStore;
  /** Set in a worker of a cluster (sip.workers > 1): how to reach the other workers. */
  cluster?: { link: WorkerLink; secret: Buffer };
}

export class SipServer {
  readonly transport: TransportLayer;
  readonly transactions: TransactionManager;
  readonly location = new LocationStore();
  readonly names: LocalNames;
  /**
   * Live group-call rooms, whose sip:ROOM@DOMAIN the proxy answers with a 302 to the room's page.
   * Filled by main.ts (from the RoomManager, or over the cluster link); empty without group calls.
   */
  readonly rooms: RoomDirectory;
  readonly #cfg: Config;
  readonly #log: Logger;
  readonly #users: UserStore;
  readonly #registrar: Registrar;
  readonly #proxy: ProxyCore;
  readonly #auth: SipAuth;
  readonly #bans: BanList;
  readonly #limiter: RateLimiter;
  readonly #advertise = new Map<TransportName, { host: string; port: number }>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #cluster: WorkerLink | undefined;
  /** The media bridge for calls between browsers and phones (bridge.enabled); per process, as calls are. */
  readonly media: MediaAnchor | undefined;

  constructor(opts: SipServerOptions) {
    const cfg = (this.#cfg = opts.config);
    this.#log = opts.logger.child({ part: 'sip' });
    this.#users = opts.users;
    const sec = cfg.security;
    this.#bans = new BanList({
      maxFailures: sec.ban.failures,
      windowMs: sec.ban.windowSeconds * 1000,
      banMs: sec.ban.banSeconds * 1000,
      exemptLoopback: sec.ban.exemptLoopback,
    });
    this.#limiter = new RateLimiter({ ratePerSecond: sec.rateLimit.perSecond, burst: sec.rateLimit.burst });
    this.transport = new TransportLayer({
      logger: opts.logger,
      limits: { maxMessageBytes: cfg.limits.maxMessageBytes, maxHeaders: cfg.limits.maxHeaders, maxLineLength: 8192, maxConnections: cfg.limits.maxConnections },
      admission: {
        admit: (address) => {
          const now = Date.now();
          return !this.#bans.isBanned(address, now) && this.#limiter.allow(address, now);
        },
      },
      idleTimeoutMs: cfg.sip.idleTimeout * 1000,
      ...(opts.cluster ? { distributor: opts.cluster.link } : {}),
      // A registered client's connection is its only way in (RFC 5626 §5.3): never idle it out.
      keepConnection: (id) => this.location.hasFlow(id),
    });
    this.rooms = new RoomDirectory(cfg.domain);
    this.names = new LocalNames([cfg.domain, ...cfg.aliases], [cfg.sip.listen, cfg.http.listen, ...(cfg.sip.advertise ? [cfg.sip.advertise] : [])]);
    const digest = new DigestAuthenticator({
      realm: cfg.domain,
      lookupHa1: this.#users.lookupHa1,
      nonceTtlMs: cfg.auth.nonceTtl * 1000,
      algorithms: cfg.auth.algorithms,
      // Every worker of a cluster must accept the nonces the others issue.
      ...(opts.cluster ? { secret: createHash('sha256').update('sotto digest nonces\0').update(opts.cluster.secret).digest() } : {}),
      uriMatch: (digestUri, requestUri) => this.#sameTarget(digestUri, requestUri),
    });
    this.#auth = new SipAuth(digest, this.#bans, opts.logger, (address, until) => this.#cluster?.publishBan(address, until));
    this.#registrar = new Registrar(this.location, {
      ...cfg.registrar,
      isLocalDomain: (host) => this.names.isLocalDomain(host),
      userExists: (u) => this.#users.hasUser(u),
    });

    this.transactions = new TransactionManager({
      // Completed non-INVITE transactions kept as their final response only (REGISTER load).
      compactCompleted: true,
      send: (msg, dest) => {
        if (!this.transport.send(msg, dest)) throw new Error(`no way to reach the ${dest.transport} destination`);
      },
      tu: {
        onRequest: (req, tx) => this.#onRequest(req, tx),
        onAck: (ack) => this.#proxy.handleAck(ack),
        onStrayResponse: (res) => this.#proxy.handleStrayResponse(res),
        onInvalidMessage: (_msg, source, err) =>
          this.#log.debug({ transport: source.transport, err: (err as Error).message }, 'unmatchable message dropped'),
      },
    });
    const port: TransactionPort = {
      sendRequest: (req, dest, events) => {
        this.transactions.createClientTransaction(req, dest, {
          onResponse: (res) => events.response(res),
          onTimeout: () => events.timeout(),
          onTransportError: (_tx, _err, res) => {
            if (res) events.transportError();
          },
        });
      },
      sendStateless: (msg, dest) => this.transport.send(msg, dest),
      local: (t) => this.#advertise.get(t),
    };
    this.media = cfg.bridge.enabled ? new MediaAnchor(cfg.bridge, opts.logger, cfg.sip.advertise ?? cfg.domain) : undefined;
    this.#proxy = new ProxyCore({
      logger: opts.logger,
      port,
      location: this.location,
      flowTokens: new FlowTokens(opts.cluster ? createHash('sha256').update('sotto flow tokens\0').update(opts.cluster.secret).digest() : undefined),
      locator: new Locator(),
      isMyself: (host, p) => this.names.isMyself(host, p),
      isLocalDomain: (host) => this.names.isLocalDomain(host),
      userExists: (u) => this.#users.hasUser(u),
      authenticate: (req, source) => this.#auth.check(req, source, 407),
      ...(this.media ? { media: this.media } : {}),
      rooms: this.rooms,
      pseudonym: identity,
    });

    this.transport.on('message', (msg, source) => this.transactions.receive(msg, source));
    // A browser's WebSocket, or an RFC 5626 flow, is the only way to its UA: when it closes the
    // binding is useless (§5.2 of RFC 5626), so it goes.
    this.transport.on('connectionClosed', (id) => {
      const n = this.location.removeFlow(id, (b) => b.regId !== undefined || b.flow?.transport === 'ws' || b.flow?.transport === 'wss');
      if (n) this.#log.debug({ removed: n }, 'bindings removed with their connection');
    });
    const link = opts.cluster?.link;
    this.#cluster = link;
    link?.attach({
      inbound: (payload, source) => this.transport.receiveForwarded(payload, source),
      send: (payload, dest) => void this.transport.sendRaw(payload, dest),
      bindings: (changes) => {
        for (const c of changes) this.location.apply(c);
      },
      ban: (address, until) => this.#bans.ban(address, until),
      room: (name, live) => (live ? this.rooms.add(name) : this.rooms.remove(name)),
      rooms: (names) => this.rooms.reset(names),
    });
    if (link) this.location.onChange((c) => link.publishBinding(c));
  }

  /** Open the UDP, TCP and TLS listeners the configuration enables. */
  async listen(): Promise<void> {
    const { sip } = this.#cfg;
    const host = sip.advertise ?? sip.listen;
    if (sip.udp.enabled) this.#advertised('udp', host, (await this.transport.listenUdp(sip.listen, sip.udp.port)).port);
    if (sip.tcp.enabled) this.#advertised('tcp', host, (await this.transport.listenTcp(sip.listen, sip.tcp.port)).port);
    if (sip.tls.enabled) {
      const cert = readFileSync(this.#cfg.tls.cert);
      const key = readFileSync(this.#cfg.tls.key);
      this.#advertised('tls', host, (await this.transport.listenTls(sip.listen, sip.tls.port, cert, key)).port);
    }
    this.#sweep = setInterval(() => this.location.sweep(), 5_000);
    this.#sweep.unref();
  }

  /** Serve SIP over WS/WSS (RFC 7118) on an HTTP(S) server listening on `port`. */
  attachWebSocket(server: HttpServer, transport: 'ws' | 'wss', port: number): void {
    const host = this.#cfg.sip.advertise ?? this.#cfg.http.listen;
    this.transport.attachWebSocket(server, transport, host, port);
    this.#advertised(transport, host, port);
  }

  /**
   * The digest-uri should be the Request-URI (RFC 3261 §22.4, RFC 7616 §3.4.6). Common UAs (sipp
   * among them) write this server's address instead, with or without the user; Kamailio does not
   * compare the two at all. Accept either the Request-URI or a URI that names this server: the
   * response is bound to the digest-uri, and nonce counts already stop replays, so this refuses
   * only credentials computed for some other server.
   */
  #sameTarget(digestUri: string, requestUri: string): boolean {
    try {
      if (uriEquals(digestUri, requestUri)) return true;
      const d = parseUri(digestUri);
      return this.names.isMyself(d.host, d.port);
    } catch {
      return false;
    }
  }

  #advertised(t: TransportName, host: string, port: number): void {
    this.#advertise.set(t, { host, port });
    this.names.addPort(port);
  }

  metrics(): Record<string, number> {
    const t = this.transport.stats;
    const c = this.transactions.counts;
    const a = this.#auth.stats;
    return {
      sotto_sip_messages_received_total: t.received,
      sotto_sip_messages_sent_total: t.sent,
      sotto_sip_parse_errors_total: t.parseErrors,
      sotto_sip_dropped_total: t.dropped,
      sotto_sip_connections: t.connections,
      sotto_sip_transactions: c.total,
      sotto_sip_registrations: this.location.size,
      sotto_sip_registered_aors: this.location.aorCount,
      sotto_sip_proxy_contexts: this.#proxy.activeContexts,
      sotto_auth_ok_total: a.ok,
      sotto_auth_challenges_total: a.challenged,
      sotto_auth_failures_total: a.failed,
      sotto_auth_bans_total: a.bans,
      sotto_bridge_calls: this.media?.activeCalls ?? 0,
    };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.media?.close();
    this.transactions.close();
    await this.transport.close();
  }

  // --- the core ------------------------------------------------------------------

  #onRequest(req: SipRequest, tx: ServerTransaction): void {
    const stx: IncomingRequest = { request: req, source: tx.source, respond: (res) => void tx.respond(res), respondStateless: (res) => void (tx.kind === 'non-invite-server' ? tx.respondStateless(res) : tx.respond(res)) };
    if (req.method === 'CANCEL') {
      this.#proxy.handleCancel(stx, wrap(this.transactions.findInviteServerTransactionForCancel(req)));
      return;
    }
    let toUs = false;
    let hasUser = false;
    try {
      const ruri = requestUri(req);
      toUs = this.names.isMyself(ruri.host, ruri.port);
      hasUser = !!ruri.user;
    } catch {
      /* the proxy answers 416/400 */
    }
    if (toUs && (req.method === 'REGISTER' || (req.method === 'OPTIONS' && !hasUser))) {
      // §8.2.2.3: a UAS refuses extensions it does not know with 420 and Unsupported.
      const unsupported = getHeaderValues(req, 'Require').filter((t) => !SUPPORTED.has(t.toLowerCase()));
      if (unsupported.length) {
        stx.respond(createResponse(req, 420, { headers: [{ name: 'Unsupported', value: unsupported.join(', ') }] }));
        return;
      }
      if (req.method === 'OPTIONS') {
        stx.respond(
          createResponse(req, 200, {
            headers: [
              { name: 'Allow', value: ALLOW },
              { name: 'Accept', value: 'application/sdp' },
              { name: 'Supported', value: 'path, outbound' },
            ],
          }),
        );
        return;
      }
      this.#register(stx, tx.source);
      return;
    }
    this.#proxy.handleRequest(stx);
  }

  #register(stx: IncomingRequest, source: Peer): void {
    const auth = this.#auth.check(stx.request, source, 401);
    if (!auth.ok) {
      refuse(stx, auth);
      return;
    }
    const res = this.#registrar.handle(stx.request, source, auth.user);
    if (res.status >= 300) this.#log.info({ user: identity(auth.user), status: res.status }, 'registration refused');
    stx.respond(res);
  }
}

function wrap(tx: ServerTransaction | undefined): IncomingRequest | undefined {
  return tx ? { request: tx.request, source: tx.source, respond: (res) => void tx.respond(res) } : undefined;
}
