/**
 * The HTTPS side of group calls, an encapsulated fastify plugin:
 *
 *   POST /api/session          { username, password } → { token, expiresAt, username }
 *                              The same accounts as SIP: the password is checked against the stored
 *                              HA1 (rooms-session.ts). Failed attempts count towards a temporary
 *                              ban of the address (the SIP ban settings).
 *   POST /api/rooms            Bearer token; { name?, password?, e2eeRequired? (default true),
 *                              maxParticipants? } → 201 { room }; the caller owns the room.
 *   GET  /api/rooms/:room      Bearer token → { room, participants } (whether a password is needed,
 *                              how full it is), so the page can ask for what is missing.
 *
 * The media signalling itself runs over the WebSocket at /rooms (sfu/src/signalling/). Errors are
 * { error: { code, message } } with the codes of sfu/src/errors.ts. Nothing here logs a password,
 * token or username (the logger redacts the first two; usernames go through identity()).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { httpStatus, SfuError, type SfuErrorCode } from '../../../sfu/src/errors.ts';
import { MAX_ROOM_PASSWORD_LENGTH } from '../../../sfu/src/room-password.ts';
import { ROOM_NAME_PATTERN } from '../../../sfu/src/signalling/protocol.ts';
import { originFromHost, roomInfo } from '../../../sfu/src/signalling/room-info.ts';
import { identity } from '../logger.ts';
import { clientAddress } from './rooms-forward.ts';
import type { RoomsService } from './rooms-service.ts';
import { verifyPassword } from './rooms-session.ts';

const signIn = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

const createRoom = z.strictObject({
  name: z.string().regex(ROOM_NAME_PATTERN, 'room names are 3-48 lower-case letters, digits and inner hyphens').optional(),
  password: z.string().min(1).max(MAX_ROOM_PASSWORD_LENGTH).optional(),
  e2eeRequired: z.boolean().default(true),
  maxParticipants: z.number().int().min(2).optional(),
});

function sendError(reply: FastifyReply, code: SfuErrorCode, message: string): FastifyReply {
  return reply.code(httpStatus(code)).header('cache-control', 'no-store').send({ error: { code, message } });
}

function originOf(req: FastifyRequest): string {
  return originFromHost(req.headers.host);
}

export const roomsPlugin: FastifyPluginAsync<{ service: RoomsService }> = async (app, { service }) => {
  /** The signed-in user of a Bearer token (RFC 6750 §2.1), or an error reply. */
  function user(req: FastifyRequest, reply: FastifyReply): string | null {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer ([A-Za-z0-9_.-]{1,1024})$/.exec(auth);
    const username = m ? service.sessions.verify(m[1]!) : null;
    if (!username) {
      reply.header('www-authenticate', 'Bearer realm="sotto"');
      sendError(reply, 'NOT_AUTHENTICATED', 'sign in first: the session is missing, invalid or expired');
    }
    return username;
  }

  app.post('/api/session', async (req, reply) => {
    // In a cluster the request may come from another worker (rooms-forward.ts): its client's address.
    const address = clientAddress(req.raw);
    const now = Date.now();
    if (service.signInBans.isBanned(address, now) || !service.attempts.allow(address, now)) {
      return sendError(reply, 'RATE_LIMITED', 'too many sign-in attempts; wait a few minutes');
    }
    const body = signIn.safeParse(req.body);
    if (!body.success) return sendError(reply, 'BAD_REQUEST', 'send { "username": ..., "password": ... } as JSON');
    const { username, password } = body.data;
    if (!verifyPassword(service.users, service.realm, username, password)) {
      service.signInBans.recordFailure(address, now);
      req.log.info({ user: identity(username) }, 'group-call sign-in refused');
      return sendError(reply, 'NOT_AUTHENTICATED', 'wrong username or password');
    }
    const { token, expiresAt } = service.sessions.issue(username);
    req.log.info({ user: identity(username) }, 'group-call sign-in');
    return reply.header('cache-control', 'no-store').send({ token, expiresAt, username });
  });

  app.post('/api/rooms', async (req, reply) => {
    const username = user(req, reply);
    if (!username) return reply;
    const body = createRoom.safeParse(req.body ?? {});
    if (!body.success) {
      const i = body.error.issues[0];
      return sendError(reply, 'BAD_REQUEST', `${i?.path.join('.') || 'body'}: ${i?.message ?? 'invalid'}`);
    }
    try {
      const room = await service.rooms.createRoom({
        ownerUserId: username,
        e2eeRequired: body.data.e2eeRequired,
        ...(body.data.name !== undefined && { name: body.data.name }),
        ...(body.data.password !== undefined && { password: body.data.password }),
        ...(body.data.maxParticipants !== undefined && { maxParticipants: body.data.maxParticipants }),
      });
      return reply.code(201).header('cache-control', 'no-store').send({ room: roomInfo(room, originOf(req), service.domain) });
    } catch (err) {
      if (err instanceof SfuError) return sendError(reply, err.code, err.message);
      throw err;
    }
  });

  app.get<{ Params: { room: string } }>('/api/rooms/:room', async (req, reply) => {
    if (!user(req, reply)) return reply;
    const room = ROOM_NAME_PATTERN.test(req.params.room) ? service.rooms.get(req.params.room) : undefined;
    if (!room || room.closed) return sendError(reply, 'ROOM_NOT_FOUND', 'no such room on this server');
    return reply
      .header('cache-control', 'no-store')
      .send({ room: roomInfo(room, originOf(req), service.domain), participants: room.participants.size });
  });
};
