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
 * bundle imports it too (types and constants only). The server validates every request with the
 * zod schema of its method before looking at it (validation.ts); mediasoup validates the RTP and
 * DTLS parameters inside further and its complaints come back as BAD_REQUEST.
 *
 * The first request on a socket must be `join`, which carries the session token (from
 * POST /api/session): the token travels in a message, not in the URL, so it is never written to
 * an access log. Everything E2EE is opaque here: `relay` carries sealed key messages between two
 * participants and `chat` carries encrypted chat to everyone; the server checks only their size.
 */
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

export const ROOM_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,46}[a-z0-9])$/;
