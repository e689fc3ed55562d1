/**
 * The HTTP side: fastify with encapsulated plugins. `buildApp()` returns the instance without
 * listening, so tests use `app.inject()`; main.ts decides where it listens.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from '../logger.ts';
import { healthPlugin, type HealthSource } from './health.ts';
import { roomsForwardPlugin, type RoomsForwarder } from './rooms-forward.ts';
import { roomsPlugin } from './rooms.ts';
import type { RoomsService } from './rooms-service.ts';
import { webClientPlugin, type WebClientOptions } from './web-client.ts';

export interface AppOptions {
  logger: Logger;
  health: HealthSource;
  https?: { cert: Buffer; key: Buffer };
  /** Largest accepted request body; the admin API takes small JSON only. */
  bodyLimit?: number;
  /** Serve the browser softphone (HTTPS only: pages need a secure context for media). */
  webClient?: WebClientOptions;
  /** Group calls: sign-in for the web client and the room API (the room sockets are routed in main.ts). */
  rooms?: RoomsService;
  /** In a cluster worker that does not host the rooms: the room API goes to the one that does. */
  roomsForwarder?: RoomsForwarder;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const base: FastifyServerOptions = {
    loggerInstance: opts.logger.child({ part: 'http' }),
    bodyLimit: opts.bodyLimit ?? 64 * 1024,
    // Clients' addresses are personal data: keep them out of request ids and logs.
    genReqId: (() => {
      let n = 0;
      return () => `r${(++n).toString(36)}`;
    })(),
  };
  const app = (
    opts.https ? Fastify({ ...base, https: { cert: opts.https.cert, key: opts.https.key } } as FastifyServerOptions) : Fastify(base)
  ) as FastifyInstance;
  await app.register(healthPlugin, { source: opts.health });
  if (opts.webClient) await app.register(webClientPlugin, opts.webClient);
  if (opts.rooms) await app.register(roomsPlugin, { service: opts.rooms });
  else if (opts.roomsForwarder) await app.register(roomsForwardPlugin, { forwarder: opts.roomsForwarder });
  return app;
}
