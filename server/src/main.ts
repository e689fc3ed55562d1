/**
 * Composition root: config → logger → user store → SIP server → HTTP(S) with WS/WSS. Nothing
 * else starts listeners.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { SottoError } from './errors.ts';
import { buildApp } from './http/app.ts';
import { listenRoomsHost, RoomsForwarder } from './http/rooms-forward.ts';
import { createRoomsService, type RoomsService } from './http/rooms-service.ts';
import { splitUpgrades, type UpgradeTarget } from './http/rooms-upgrade.ts';
import { createLogger, setIdentityLogging, type Logger } from './logger.ts';
import { ROOMS_HOST } from './cluster/messages.ts';
import { runPrimary, WORKER_ENV } from './cluster/primary.ts';
import { WorkerLink } from './cluster/worker-link.ts';
import { SipServer } from './sip-server.ts';
import { openUserStore } from './store/open.ts';

/** The built browser softphone (npm run build:web), served on the HTTPS port. */
const WEB_CLIENT_ROOT = resolve(import.meta.dirname, '../../web-client/dist');

export interface RunningServer {
  sip: SipServer;
  app: FastifyInstance | undefined;
  /** Group calls (the SFU and its signalling), when enabled and served over HTTPS. */
  rooms: RoomsService | undefined;
  logger: Logger;
  close(): Promise<void>;
}

/** A worker's place in a cluster (sip.workers > 1). */
export interface ClusterMembership {
  link: WorkerLink;
  secret: Buffer;
  /** The rooms host's private Unix socket (server/src/http/rooms-forward.ts). */
  roomsSocket?: string;
}

/** Start everything the configuration enables; resolves when every listener is up. */
export async function createServer(cfg: Config, logger?: Logger, clusterLink?: ClusterMembership): Promise<RunningServer> {
  const log = logger ?? createLogger({ level: cfg.log.level, identities: cfg.log.identities });
  setIdentityLogging(cfg.log.identities);
  const store = openUserStore(cfg);
  const sip = new SipServer({ config: cfg, logger: log, users: store.users, ...(clusterLink ? { cluster: { link: clusterLink.link, secret: clusterLink.secret } } : {}) });
  let app: FastifyInstance | undefined;
  let plain: HttpServer | undefined;
  let roomsHost: HttpServer | undefined;
  // Group calls need one process that holds every room: in a cluster, worker ROOMS_HOST; the
  // others pass it the room API and the /rooms sockets (http/rooms-forward.ts).
  const groupCalls = cfg.sfu.enabled && cfg.http.https.enabled;
  const hostsRooms = !clusterLink || clusterLink.link.index === ROOMS_HOST;
  const rooms = groupCalls && hostsRooms ? createRoomsService(cfg, store.users, log, clusterLink && createHash('sha256').update('sotto room sessions\0').update(clusterLink.secret).digest()) : undefined;
  const forwarder = groupCalls && !hostsRooms && clusterLink?.roomsSocket ? new RoomsForwarder(clusterLink.roomsSocket) : undefined;
  if (rooms) {
    // The proxy answers sip:ROOM@DOMAIN of a live room with a 302 to its page (proxy/room-uri.ts);
    // in a cluster, the other workers' proxies learn the names over the cluster link.
    rooms.rooms.on('roomcreated', (room) => {
      sip.rooms.add(room.id);
      clusterLink?.link.publishRoom(room.id, true);
    });
    rooms.rooms.on('roomclosed', (id) => {
      sip.rooms.remove(id);
      clusterLink?.link.publishRoom(id, false);
    });
  }
  /** /rooms upgrades read on this worker's HTTPS port (served here or passed to the rooms host). */
  let roomUpgrades = 0;
  try {
    await sip.listen();
    const health = {
      listeners: () => Object.fromEntries(sip.transport.listening.map((l) => [`${l.transport}:${l.port}`, true])),
      metrics: () => ({
        ...sip.metrics(),
        ...rooms?.metrics(),
        ...(clusterLink && { sotto_cluster_worker_index: clusterLink.link.index }),
        ...(groupCalls && { sotto_rooms_upgrades_total: roomUpgrades }),
        ...(forwarder && {
          sotto_rooms_forwarded_upgrades_total: forwarder.stats.upgrades,
          sotto_rooms_forwarded_requests_total: forwarder.stats.requests,
          sotto_rooms_forward_failures_total: forwarder.stats.failures,
        }),
        sotto_process_resident_bytes: process.memoryUsage.rss(),
      }),
    };
    if (cfg.http.https.enabled) {
      const tls = { cert: readFileSync(cfg.tls.cert), key: readFileSync(cfg.tls.key) };
      app = await buildApp({ logger: log, health, https: tls, webClient: { root: WEB_CLIENT_ROOT, domain: cfg.domain }, ...(rooms && { rooms }), ...(forwarder && { roomsForwarder: forwarder }) });
      await app.listen({ host: cfg.http.listen, port: cfg.http.https.port });
      const addr = app.server.address();
      sip.rooms.setHttpsPort(typeof addr === 'object' && addr ? addr.port : cfg.http.https.port);
      const server = app.server as unknown as HttpServer;
      // /rooms upgrades go to the room signalling (here or on the rooms host), every other
      // upgrade to SIP over WSS.
      const roomsSide: UpgradeTarget | undefined = rooms?.sockets ?? forwarder;
      const counted: UpgradeTarget | undefined = roomsSide && {
        wants: (req) => roomsSide.wants(req),
        handleUpgrade: (req, socket, head) => {
          roomUpgrades++;
          roomsSide.handleUpgrade(req, socket, head);
        },
      };
      const sipSide = counted ? (splitUpgrades(server, counted) as unknown as HttpServer) : server;
      sip.attachWebSocket(sipSide, 'wss', typeof addr === 'object' && addr ? addr.port : cfg.http.https.port);
      if (rooms && clusterLink?.roomsSocket) roomsHost = await listenRoomsHost({ socketPath: clusterLink.roomsSocket, app, sockets: rooms.sockets });
    }
    if (cfg.http.http.enabled) {
      // Plain HTTP carries only SIP over WS (for a local reverse proxy or tests); pages need HTTPS.
      plain = createHttpServer((_req, res) => {
        res.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' }).end('Use HTTPS, or a WebSocket with the "sip" subprotocol.\n');
      });
      const srv = plain;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(cfg.http.http.port, cfg.http.listen, () => resolve());
      });
      const addr = plain.address();
      sip.attachWebSocket(plain, 'ws', typeof addr === 'object' && addr ? addr.port : cfg.http.http.port);
    }
  } catch (err) {
    await sip.close();
    await rooms?.close();
    roomsHost?.close();
    forwarder?.close();
    await app?.close();
    plain?.close();
    store.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL')
      throw new SottoError('SOTTO_ERR_LISTEN', `cannot listen: ${e.message} (another server on that port? change it in the config)`);
    if (e.code === 'ENOENT') throw new SottoError('SOTTO_ERR_TLS_FILES', `${e.message}: run 'npm run setup' to create a localhost certificate, or set tls.cert/tls.key`);
    throw err;
  }
  return {
    sip,
    app,
    rooms,
    logger: log,
    async close() {
      await rooms?.close();
      roomsHost?.close();
      forwarder?.close();
      await Promise.all([sip.close(), app?.close(), new Promise<void>((r) => (plain ? plain.close(() => r()) : r()))]);
      clusterLink?.link.close();
      store.close();
    },
  };
}

/** `sotto start`: run until SIGINT/SIGTERM; with sip.workers > 1, as a cluster of worker processes. */
export async function startServer(cfg: Config): Promise<void> {
  const workers = cfg.sip.workers === 'auto' ? availableParallelism() : cfg.sip.workers;
  if (workers > 1 && cluster.isPrimary) {
    const log = createLogger({ level: cfg.log.level, identities: cfg.log.identities });
    const primary = runPrimary(workers, log, (listening) => {
      log.info({ domain: cfg.domain, listening, workers }, 'Sotto is running');
      process.stderr.write(`Sotto is serving ${cfg.domain} with ${workers} workers: ${listening}\n`);
    });
    onSignals(log, () => primary.stop());
    return;
  }
  let link: WorkerLink | undefined;
  let secret: Buffer | undefined;
  if (cluster.isWorker) {
    link = await WorkerLink.join(Number(process.env[WORKER_ENV.index]), Number(process.env[WORKER_ENV.count]));
    secret = Buffer.from(process.env[WORKER_ENV.secret] ?? '', 'hex');
  }
  const roomsSocket = process.env[WORKER_ENV.roomsSocket];
  const server = await createServer(cfg, undefined, link && secret ? { link, secret, ...(roomsSocket && { roomsSocket }) } : undefined);
  const listening = server.sip.transport.listening.map((l) => `${l.transport} ${l.host}:${l.port}`).join(', ');
  if (link) {
    link.announceReady(listening);
  } else {
    server.logger.info({ domain: cfg.domain, listening }, 'Sotto is running');
    process.stderr.write(`Sotto is serving ${cfg.domain}: ${listening}\n`);
  }
  onSignals(server.logger, () => server.close());
}

function onSignals(log: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void close().then(() => process.exit(0));
    setTimeout(() => process.exit(1), 5000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
