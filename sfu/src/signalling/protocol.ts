/**
 * The room signalling protocol: what mediasoup-client in the browser and the SFU say to each other
 * over one WebSocket (path ROOMS_PATH on the HTTPS port, subprotocol ROOMS_SUBPROTOCOL).
 *
 * Three kinds of JSON text messages:
 *   client → server  request       { id, method, data }
 *   server → client  response      { id, ok: true, data } | { id, ok: false, error: { code, message } }
 *   server → client  notification  { notification, data }
 *
 * Requests and responses are mapped by method name (RequestData / ResponseData), notifications by
 * name (NotificationData), so both ends are type-checked against this one file: the browser
 * bundle imports it too (it needs only zod). The server validates every request with the zod
 * schema of its method before looking at it (REQUEST_SCHEMAS); mediasoup validates the RTP and
 * DTLS parameters inside further and its complaints come back as BAD_REQUEST.
 *
 * The first request on a socket must be `join`, which carries the session token (from
 * POST /api/session): the token travels in a message, not in the URL, so it is never written to
 * an access log. Everything E2EE is opaque here: `relay` carries sealed key messages between two
 * participants and `chat` carries encrypted chat to everyone; the server checks only their size.
 */
import { z } from 'zod';
import type { DtlsParameters, IceCandidate, IceParameters, MediaKind, RtpCapabilities, RtpParameters } from 'mediasoup-client/types';
import type { SfuErrorCode } from '../errors.ts';

export const ROOMS_PATH = '/rooms';
export const ROOMS_SUBPROTOCOL = 'sotto-rooms.v1';

/** Largest message either side sends (RTP capabilities of a browser are about 10 kB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** A sealed key message: a 32-byte key plus framing, sealed and base64url-encoded, fits easily. */
export const MAX_RELAY_BLOB = 4096;
/** An encrypted chat message (base64url). */
export const MAX_CHAT_BLOB = 16 * 1024;

export type MediaSource = 'mic' | 'camera' | 'screen' | 'screen-audio';
export type TransportDirection = 'send' | 'recv';
export type LeaveReason = 'left' | 'removed' | 'disconnected' | 'room-closed';

/* ---------------------------------------------------------------------------------------------- */
/* Shapes                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

export interface RoomInfo {
  readonly id: string;
  /** https://HOST/group.html?room=ID */
  readonly link: string;
  /** sip:ID@DOMAIN: reserved for joining by phone. */
  readonly sipUri: string;
  readonly e2eeRequired: boolean;
  readonly hasPassword: boolean;
  readonly maxParticipants: number;
}

export interface ParticipantInfo {
  readonly id: string;
  /** The signed-in user's name, shown in the participant list. */
  readonly name: string;
  readonly owner: boolean;
  /** The participant's X25519 identity key (base64url), or null: it cannot encrypt. */
  readonly e2ee: { readonly identityKey: string } | null;
}

export interface ProducerInfo {
  readonly producerId: string;
  readonly participantId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
  readonly paused: boolean;
}

export interface TransportInfo {
  readonly id: string;
  readonly iceParameters: IceParameters;
  readonly iceCandidates: IceCandidate[];
  readonly dtlsParameters: DtlsParameters;
}

export interface ConsumerInfo {
  readonly consumerId: string;
  readonly producerId: string;
  readonly participantId: string;
  readonly kind: MediaKind;
  readonly source: MediaSource;
  readonly rtpParameters: RtpParameters;
}

/* ---------------------------------------------------------------------------------------------- */
/* Requests                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

export interface RequestData {
  join: {
    room: string;
    token: string;
    password?: string;
    /** null: this client cannot encrypt (no encoded transforms); refused in E2EE-required rooms. */
    e2ee: { identityKey: string } | null;
  };
  setRtpCapabilities: { rtpCapabilities: RtpCapabilities };
  createTransport: { direction: TransportDirection };
  connectTransport: { transportId: string; dtlsParameters: DtlsParameters };
  restartIce: { transportId: string };
  produce: {
    transportId: string;
    kind: MediaKind;
    rtpParameters: RtpParameters;
    source: MediaSource;
    /** The source's frame size (video), for choosing simulcast layers. */
    video?: { width: number; height: number };
  };
  closeProducer: { producerId: string };
  pauseProducer: { producerId: string; paused: boolean };
  consume: { producerId: string };
  resumeConsumer: { consumerId: string };
  /** The size the video is rendered at, in device pixels; 0x0 = hidden. */
  setConsumerView: { consumerId: string; width: number; height: number };
  requestKeyFrame: { consumerId: string };
  /** An opaque sealed message (E2EE keys) for one other participant. */
  relay: { to: string; blob: string };
  /** An opaque encrypted chat message for everyone in the room. */
  chat: { blob: string };
  /** Owner only: remove a participant (and keep that user out). */
  removeParticipant: { participantId: string };
  leave: Record<string, never>;
}

export interface ResponseData {
  join: {
    participantId: string;
    room: RoomInfo;
    /** The others already in the room. */
    participants: ParticipantInfo[];
    /** Their producers, to consume once the receive transport is up. */
    producers: ProducerInfo[];
    /** Whether this participant owns the room (may remove others). */
    owner: boolean;
    routerRtpCapabilities: RtpCapabilities;
  };
  setRtpCapabilities: Record<string, never>;
  createTransport: TransportInfo;
  connectTransport: Record<string, never>;
  restartIce: { iceParameters: IceParameters };
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  consume: ConsumerInfo;
  resumeConsumer: Record<string, never>;
  setConsumerView: Record<string, never>;
  requestKeyFrame: Record<string, never>;
  relay: Record<string, never>;
  chat: Record<string, never>;
  removeParticipant: Record<string, never>;
  leave: Record<string, never>;
}

export type Method = keyof RequestData & keyof ResponseData;

export interface NotificationData {
  participantJoined: ParticipantInfo;
  participantLeft: { participantId: string; reason: LeaveReason };
  producerAdded: ProducerInfo;
  producerClosed: { producerId: string; participantId: string };
  producerPaused: { producerId: string; participantId: string; paused: boolean };
  consumerClosed: { consumerId: string };
  consumerLayers: { consumerId: string; spatialLayer: number; temporalLayer: number } | { consumerId: string; spatialLayer: null; temporalLayer: null };
  activeSpeaker: { participantId: string };
  relay: { from: string; blob: string };
  chat: { from: string; blob: string };
  /** The room's media worker died: media requests fail until mediaReset. */
  mediaDown: Record<string, never>;
  /** A new router is up: close every transport, load nothing new, create transports again and re-produce / re-consume. */
  mediaReset: { routerRtpCapabilities: RtpCapabilities; producers: ProducerInfo[] };
  /** The owner removed you; the socket closes after this. */
  removed: { reason: string };
  roomClosed: Record<string, never>;
}

export type NotificationName = keyof NotificationData;

export type ClientRequest<M extends Method = Method> = { [K in M]: { id: number; method: K; data: RequestData[K] } }[M];

export interface ErrorBody {
  readonly code: SfuErrorCode;
  readonly message: string;
}

export type ServerResponse<M extends Method = Method> =
  | { [K in M]: { id: number; ok: true; data: ResponseData[K] } }[M]
  | { id: number; ok: false; error: ErrorBody };

export type ServerNotification<N extends NotificationName = NotificationName> = { [K in N]: { notification: K; data: NotificationData[K] } }[N];

export type ServerMessage = ServerResponse | ServerNotification;

/* ---------------------------------------------------------------------------------------------- */
/* Validation (server side)                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/** mediasoup ids are UUIDs; participant ids are random base64url. */
const objectId = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'must be an id');
const base64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
/** Nested parameters mediasoup validates itself; here only "an object". */
const parameters = z.record(z.string(), z.unknown());
const dimension = z.number().int().min(0).max(16384);

export const ROOM_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,46}[a-z0-9])$/;

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
