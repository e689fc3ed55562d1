/**
 * Validation of client requests (server side): the zod schema of each method of the room
 * signalling (protocol.ts), with size limits, checked before the server looks at a request.
 */
import { z } from 'zod';
import { MAX_CHAT_BLOB, MAX_MESSAGE_BYTES, MAX_RELAY_BLOB, ROOM_NAME_PATTERN, type ClientRequest, type Method } from './protocol.ts';

/** mediasoup ids are UUIDs; participant ids are random base64url. */
const objectId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'must be an id');
const base64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
/** Nested parameters mediasoup validates itself; here only "an object". */
const parameters = z.record(z.string(), z.unknown());
const dimension = z.number().int().min(0).max(16384);

export const REQUEST_SCHEMAS = {
  join: z.strictObject({
    room: z.string().regex(ROOM_NAME_PATTERN, 'must be a room name'),
    token: z.string().min(1).max(2048),
    password: z.string().max(256).optional(),
    // 32-byte X25519 public key in base64url without padding: 43 characters.
    e2ee: z.strictObject({ identityKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a 32-byte key in base64url') }).nullable(),
  }),
  setRtpCapabilities: z.strictObject({ rtpCapabilities: parameters }),
  createTransport: z.strictObject({ direction: z.enum(['send', 'recv']) }),
  connectTransport: z.strictObject({ transportId: objectId, dtlsParameters: parameters }),
  restartIce: z.strictObject({ transportId: objectId }),
  produce: z.strictObject({
    transportId: objectId,
    kind: z.enum(['audio', 'video']),
    rtpParameters: parameters,
    source: z.enum(['mic', 'camera', 'screen', 'screen-audio']),
    video: z.strictObject({ width: dimension.min(1), height: dimension.min(1) }).optional(),
  }),
  closeProducer: z.strictObject({ producerId: objectId }),
  pauseProducer: z.strictObject({ producerId: objectId, paused: z.boolean() }),
  consume: z.strictObject({ producerId: objectId }),
  resumeConsumer: z.strictObject({ consumerId: objectId }),
  setConsumerView: z.strictObject({ consumerId: objectId, width: dimension, height: dimension }),
  requestKeyFrame: z.strictObject({ consumerId: objectId }),
  relay: z.strictObject({ to: objectId, blob: base64url(MAX_RELAY_BLOB) }),
  chat: z.strictObject({ blob: base64url(MAX_CHAT_BLOB) }),
  removeParticipant: z.strictObject({ participantId: objectId }),
  leave: z.strictObject({}),
} satisfies { [M in Method]: z.ZodType };

const envelope = z.strictObject({
  id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.string().max(32),
  data: z.unknown().optional(),
});

export type ParseResult =
  | { ok: true; request: ClientRequest }
  | { ok: false; id: number | null; message: string };

function describe(issues: readonly z.core.$ZodIssue[]): string {
  const i = issues[0];
  if (!i) return 'invalid';
  const path = i.path.length > 0 ? i.path.join('.') : '(message)';
  return `${path}: ${i.message}`;
}

/**
 * Parses and validates one text message from a client. The result's `request` is typed by its
 * method; RTP/DTLS parameters are trusted to be objects only (mediasoup checks the rest).
 */
export function parseClientMessage(text: string): ParseResult {
  if (text.length > MAX_MESSAGE_BYTES) return { ok: false, id: null, message: `message longer than ${MAX_MESSAGE_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, id: null, message: 'message is not JSON' };
  }
  const env = envelope.safeParse(json);
  if (!env.success) {
    const id = typeof (json as { id?: unknown })?.id === 'number' ? ((json as { id: number }).id) : null;
    return { ok: false, id: id !== null && Number.isSafeInteger(id) && id >= 0 ? id : null, message: `bad request envelope: ${describe(env.error.issues)}` };
  }
  const { id, method } = env.data;
  if (!Object.hasOwn(REQUEST_SCHEMAS, method)) return { ok: false, id, message: `unknown method ${JSON.stringify(method)}` };
  const schema = REQUEST_SCHEMAS[method as Method];
  const data = schema.safeParse(env.data.data ?? {});
  if (!data.success) return { ok: false, id, message: `bad ${method} request: ${describe(data.error.issues)}` };
  // The schema checked the shape of RequestData[method]; nested mediasoup parameters are objects.
  return { ok: true, request: { id, method, data: data.data } as unknown as ClientRequest };
}
