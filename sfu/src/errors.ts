/**
 * Coded SFU errors, in the style of fastify's FST_ERR_* (server/src/errors.ts): a stable `code`
 * the room signalling sends to the client, and a message a person can act on. Nothing here
 * carries an identity or a secret: messages go to clients and to logs.
 */

/** Every code a client may receive, so the browser can switch on them (see signalling/protocol.ts). */
export const SFU_ERROR_CODES = [
  /** The request is malformed (schema, sizes); the message names the field. */
  'BAD_REQUEST',
  /** No valid session: sign in again. */
  'NOT_AUTHENTICATED',
  'ROOM_NOT_FOUND',
  'ROOM_EXISTS',
  'ROOM_FULL',
  'WRONG_PASSWORD',
  /** The room requires end-to-end encryption and this client cannot encrypt. */
  'E2EE_REQUIRED',
  /** The owner removed this user from the room; they may not join again. */
  'REMOVED',
  'NOT_OWNER',
  /** A request that needs a joined room came before `join`, or a second `join` on one socket. */
  'NOT_JOINED',
  'ALREADY_JOINED',
  'UNKNOWN_TRANSPORT',
  'UNKNOWN_PRODUCER',
  'UNKNOWN_CONSUMER',
  'UNKNOWN_PARTICIPANT',
  /** Too many requests, transports, producers or rooms. */
  'RATE_LIMITED',
  'LIMIT_REACHED',
  /** The media worker of the room restarted; the client re-creates its media (mediaReset). */
  'MEDIA_RESTARTING',
  /** Group calls are not available on this server (disabled, or the media worker cannot start). */
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type SfuErrorCode = (typeof SFU_ERROR_CODES)[number];

export class SfuError extends Error {
  override name = 'SfuError';
  readonly code: SfuErrorCode;
  constructor(code: SfuErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** The HTTP status that goes with an error code, for the HTTPS side of the room API. */
export function httpStatus(code: SfuErrorCode): number {
  switch (code) {
    case 'BAD_REQUEST':
      return 400;
    case 'NOT_AUTHENTICATED':
      return 401;
    case 'WRONG_PASSWORD':
    case 'REMOVED':
    case 'NOT_OWNER':
    case 'E2EE_REQUIRED':
      return 403;
    case 'ROOM_NOT_FOUND':
    case 'UNKNOWN_TRANSPORT':
    case 'UNKNOWN_PRODUCER':
    case 'UNKNOWN_CONSUMER':
    case 'UNKNOWN_PARTICIPANT':
      return 404;
    case 'ROOM_EXISTS':
    case 'ALREADY_JOINED':
    case 'NOT_JOINED':
      return 409;
    case 'ROOM_FULL':
    case 'LIMIT_REACHED':
      return 409;
    case 'RATE_LIMITED':
      return 429;
    case 'MEDIA_RESTARTING':
    case 'UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
  }
}
