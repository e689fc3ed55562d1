/**
 * Messages between the page and the E2EE worker, a union keyed by `kind` (as in LiveKit's E2EE
 * worker protocol). The page owns the keys' lifecycle (key agreement, rotation); the worker owns
 * the SFrame contexts and the frame cryptors and never sends key material back.
 *
 * Page → worker (postMessage):
 *   init              options for the contexts (suite, replay window, ...) and the stats period
 *   setSenderKey      base_key + KID for our own frames (a KID is used once, see context.ts)
 *   setReceiverKey    base_key + KID for one remote participant's frames
 *   removeParticipant forget a participant's keys
 *   ratchetSenderKey  RFC 9605 §5.1 ratchet of our key; the worker answers `ratcheted` with the KID
 *   encode / decode   the createEncodedStreams() fallback: a track's readable and writable,
 *                     transferred to the worker (postMessage(msg, [readable, writable]))
 *   removeTrack       stop a track's cryptor (fallback path)
 *   getStats          ask for a stats message now
 * With RTCRtpScriptTransform the page does not post streams: it creates
 * `new RTCRtpScriptTransform(worker, options)` with E2eeTransformOptions, and the worker gets an
 * `rtctransform` event whose `transformer.options` are those options.
 *
 * Worker → page:
 *   ack       a request with an `id` succeeded
 *   error     a request failed (with its `id` if it had one)
 *   ratcheted the new sender KID after ratchetSenderKey
 *   stats     counters of every track, periodically (init's statsIntervalMs) and on getStats
 *   trackEnded a track's stream finished (or failed)
 *
 * KIDs are bigints in the worker; in messages they may be numbers (safe integers) or bigints
 * (structured clone carries both). Keys are ArrayBuffers or Uint8Arrays; the worker copies them.
 */
import { isCipherSuiteId, type CipherSuiteId } from './sframe/cipher-suite.ts';
import type { FrameCryptorStats, MediaKind } from './frame-transformer.ts';
import { MAX_FIELD_VALUE } from './sframe/header.ts';

export type KidValue = number | bigint;
export type KeyBytes = ArrayBuffer | Uint8Array;

export interface InitOptions {
  readonly suite?: CipherSuiteId;
  readonly replayWindow?: number;
  readonly maxKeys?: number;
  readonly ratchetBits?: number;
  readonly maxRatchetSteps?: number;
  /** Period of stats messages in ms; 0 turns them off (getStats still works). Default 1000. */
  readonly statsIntervalMs?: number;
}

/** What an encode/decode track needs to know: set as RTCRtpScriptTransform options, or posted. */
export interface E2eeTransformOptions {
  readonly operation: 'encode' | 'decode';
  readonly trackId: string;
  readonly kind: MediaKind;
  /** Whose frames a decode track carries (selects the keyring). Required for decode. */
  readonly participantId?: string;
  /** The codec's MIME type, if the frames' metadata may lack it. */
  readonly mimeType?: string;
}

interface Request<K extends string, D> {
  readonly kind: K;
  /** Echoed in `ack`/`error`, so the page can await a request. */
  readonly id?: number;
  readonly data: D;
}

export type InitRequest = Request<'init', InitOptions>;
export type SetSenderKeyRequest = Request<'setSenderKey', { readonly kid: KidValue; readonly key: KeyBytes }>;
export type SetReceiverKeyRequest = Request<'setReceiverKey', { readonly participantId: string; readonly kid: KidValue; readonly key: KeyBytes }>;
export type RemoveParticipantRequest = Request<'removeParticipant', { readonly participantId: string }>;
export type RatchetSenderKeyRequest = Request<'ratchetSenderKey', Record<string, never>>;
export type StreamsRequest = Request<
  'encode' | 'decode',
  Omit<E2eeTransformOptions, 'operation'> & { readonly readable: ReadableStream; readonly writable: WritableStream }
>;
export type RemoveTrackRequest = Request<'removeTrack', { readonly trackId: string }>;
export type GetStatsRequest = Request<'getStats', Record<string, never>>;

export type E2eeWorkerRequest =
  | InitRequest
  | SetSenderKeyRequest
  | SetReceiverKeyRequest
  | RemoveParticipantRequest
  | RatchetSenderKeyRequest
  | StreamsRequest
  | RemoveTrackRequest
  | GetStatsRequest;

export interface TrackStats extends FrameCryptorStats {
  readonly trackId: string;
  readonly participantId?: string;
}

export interface StatsEvent {
  readonly kind: 'stats';
  readonly data: {
    readonly tracks: readonly TrackStats[];
    /** The KID our frames currently carry, or null before a sender key. */
    readonly senderKid: KidValue | null;
  };
}

export type E2eeWorkerEvent =
  | { readonly kind: 'ack'; readonly data: { readonly id: number } }
  | { readonly kind: 'error'; readonly data: { readonly id?: number; readonly request?: string; readonly message: string } }
  | { readonly kind: 'ratcheted'; readonly data: { readonly kid: KidValue } }
  | StatsEvent
  | { readonly kind: 'trackEnded'; readonly data: { readonly trackId: string; readonly error?: string } };

/** A request the worker cannot accept; the message says why. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** A KID from a message as a bigint, or ProtocolError. */
export function kidFromMessage(value: unknown): bigint {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= MAX_FIELD_VALUE) return value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return BigInt(value);
  }
  throw new ProtocolError('kid must be a non-negative safe integer or a bigint below 2^64');
}

/** Back to a message value: a number when it is safe, else the bigint. */
export function kidToMessage(kid: bigint): KidValue {
  return kid <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(kid) : kid;
}

/** A copy of key bytes from a message, or ProtocolError. */
export function keyFromMessage(value: unknown): Uint8Array<ArrayBuffer> {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (value instanceof Uint8Array) return new Uint8Array(value);
  throw new ProtocolError('key must be an ArrayBuffer or a Uint8Array');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) throw new ProtocolError(`${name} must be a non-empty string`);
  return value;
}

function optionalInteger(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ProtocolError(`${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

/** Checks the options of init; the contexts check the finer limits themselves. */
export function initOptionsFromMessage(value: unknown): InitOptions {
  if (!isObject(value)) throw new ProtocolError('init data must be an object');
  if (value.suite !== undefined && !isCipherSuiteId(value.suite)) throw new ProtocolError(`unsupported cipher suite ${String(value.suite)}`);
  const options: InitOptions = {
    suite: value.suite as CipherSuiteId | undefined,
    replayWindow: optionalInteger(value.replayWindow, 'replayWindow', 32, 65536),
    maxKeys: optionalInteger(value.maxKeys, 'maxKeys', 1, 1024),
    ratchetBits: optionalInteger(value.ratchetBits, 'ratchetBits', 1, 16),
    maxRatchetSteps: optionalInteger(value.maxRatchetSteps, 'maxRatchetSteps', 0, 256),
    statsIntervalMs: optionalInteger(value.statsIntervalMs, 'statsIntervalMs', 0, 3_600_000),
  };
  return options;
}

/** Checks the options of a track (from RTCRtpScriptTransform options or an encode/decode message). */
export function transformOptionsFromMessage(value: unknown): E2eeTransformOptions {
  if (!isObject(value)) throw new ProtocolError('transform options must be an object');
  const operation = value.operation;
  if (operation !== 'encode' && operation !== 'decode') throw new ProtocolError('operation must be encode or decode');
  const kind = value.kind;
  if (kind !== 'audio' && kind !== 'video') throw new ProtocolError('kind must be audio or video');
  const trackId = nonEmptyString(value.trackId, 'trackId');
  const participantId = value.participantId === undefined ? undefined : nonEmptyString(value.participantId, 'participantId');
  if (operation === 'decode' && participantId === undefined) throw new ProtocolError('a decode track needs a participantId');
  const mimeType = value.mimeType === undefined ? undefined : nonEmptyString(value.mimeType, 'mimeType');
  return { operation, kind, trackId, ...(participantId !== undefined && { participantId }), ...(mimeType !== undefined && { mimeType }) };
}

/** The shape check of any request: `{ kind: string, id?: number, data?: object }`. */
export function requestEnvelope(value: unknown): { kind: string; id: number | undefined; data: Record<string, unknown> } {
  if (!isObject(value) || typeof value.kind !== 'string') throw new ProtocolError('message must be an object with a kind');
  const id = optionalInteger(value.id, 'id', 0, Number.MAX_SAFE_INTEGER);
  const data = value.data === undefined ? {} : value.data;
  if (!isObject(data)) throw new ProtocolError('data must be an object');
  return { kind: value.kind, id, data };
}
