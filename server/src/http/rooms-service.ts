/**
 * Group calls as one service for the composition root: the SFU's rooms (sfu/src/room-manager.ts),
 * the room signalling sockets, and the web client's session tokens, built from the configuration
 * and the user store. main.ts registers its HTTP routes (rooms.ts) and gives it the WebSocket
 * upgrades for /rooms.
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../config.ts';
import { identity, type Logger } from '../logger.ts';
import { BanList } from '../security/ban-list.ts';
import { RateLimiter } from '../security/rate-limiter.ts';
import { RoomManager } from '../../../sfu/src/room-manager.ts';
import type { RoomConnection } from '../../../sfu/src/signalling/room-connection.ts';
import { RoomSocketServer } from '../../../sfu/src/signalling/room-socket-server.ts';
import { SessionTokens, type Ha1Source } from './rooms-session.ts';

export interface RoomsService {
  readonly rooms: RoomManager;
  readonly sockets: RoomSocketServer;
  readonly sessions: SessionTokens;
  readonly users: Ha1Source & { hasUser(username: string): boolean };
  /** Failed sign-ins per address (the SIP ban settings). */
  readonly signInBans: BanList;
  /** Sign-in and join attempts per address. */
  readonly attempts: RateLimiter;
  readonly realm: string;
  readonly domain: string;
  /** Totals for /metrics (no room names, no identities). */
  metrics(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * `sessionKey`: the key of the session tokens; random per process when absent. A cluster derives
 * it from the cluster secret, so a rooms host that is replaced still accepts the tokens its
 * predecessor issued and people rejoin without signing in again.
 */
export function createRoomsService(cfg: Config, users: RoomsService['users'], logger: Logger, sessionKey?: Buffer): RoomsService {
  const s = cfg.sfu;
  const log = logger.child({ part: 'sfu' });
  const rooms = new RoomManager({
    pool: {
      workers: s.workers === 'auto' ? availableParallelism() : s.workers,
      listenIp: s.listen,
      ...(s.announcedIp !== undefined && { announcedIp: s.announcedIp }),
      port: s.port,
      rtcMinPort: s.rtcMinPort,
      rtcMaxPort: s.rtcMaxPort,
      logLevel: s.logLevel,
    },
    logger: log,
    maxRooms: s.maxRooms,
    maxConsumersPerWorker: s.maxConsumersPerWorker,
    defaultMaxParticipants: s.maxParticipants,
    maxParticipantsLimit: s.maxParticipantsLimit,
    // Two transports each way allow for a reconnect in flight; four producers: mic, camera,
    // screen and screen audio; consumers: four per other participant.
    limits: { maxTransports: 4, maxProducers: 4, maxConsumers: 4 * s.maxParticipantsLimit },
    idleTimeoutMs: s.roomIdleTimeout * 1000,
    // sip:NAME@DOMAIN of a user is that user's: a room may not take it.
    reserved: (name) => users.hasUser(name),
    pseudonym: identity as (v: string) => string | undefined,
  });
  const sessions = sessionKey ? new SessionTokens(s.sessionTtl * 1000, sessionKey) : new SessionTokens(s.sessionTtl * 1000);
  const ban = cfg.security.ban;
  const signInBans = new BanList({
    maxFailures: ban.failures,
    windowMs: ban.windowSeconds * 1000,
    banMs: ban.banSeconds * 1000,
    exemptLoopback: ban.exemptLoopback,
  });
  // Sign-ins and joins (each may check a password): a person needs a few a minute.
  const attempts = new RateLimiter({ ratePerSecond: 5, burst: 30 });
  const byParticipant = new Map<string, RoomConnection>();
  const sockets = new RoomSocketServer(
    {
      rooms,
      verifySession: (token) => sessions.verify(token),
      allowJoinAttempt: (address) => !signInBans.isBanned(address, Date.now()) && attempts.allow(address, Date.now()),
      domain: cfg.domain,
      logger: log,
      pseudonym: identity,
      rate: { perSecond: 50, burst: 200 },
      byParticipant,
    },
    { maxConnections: Math.min(cfg.limits.maxConnections, s.maxRooms * s.maxParticipantsLimit), maxPerAddress: 64, joinTimeoutMs: 10_000, pingIntervalMs: 20_000 },
  );
  return {
    rooms,
    sockets,
    sessions,
    users,
    signInBans,
    attempts,
    realm: cfg.domain,
    domain: cfg.domain,
    metrics() {
      let participants = 0;
      for (const room of rooms.rooms.values()) participants += room.participants.size;
      return {
        sotto_sfu_rooms: rooms.rooms.size,
        sotto_sfu_participants: participants,
        sotto_sfu_connections: sockets.connections,
        sotto_sfu_workers: rooms.liveWorkers,
      };
    },
    async close() {
      sockets.close();
      await rooms.close();
    },
  };
}
