/**
 * What runs inside the E2EE worker: one SenderContext for our frames, one ReceiverKeyring per
 * remote participant, one FrameCryptor per track (as LiveKit: a cryptor per track, a keyring per
 * participant). It handles the page's requests (worker-protocol.ts), the `rtctransform` events of
 * RTCRtpScriptTransform, and posts stats.
 *
 * All state lives in an E2eeWorkerHost instance, created when the worker entry installs the
 * handlers; nothing is module-level. Keys are never logged nor posted back.
 */
import { FrameCryptor, type EncodedFrameLike } from './frame-transformer.ts';
import { ReceiverKeyring, SenderContext } from './sframe/context.ts';
import {
  initOptionsFromMessage,
  keyFromMessage,
  kidFromMessage,
  kidToMessage,
  ProtocolError,
  requestEnvelope,
  transformOptionsFromMessage,
  type E2eeTransformOptions,
  type E2eeWorkerEvent,
  type InitOptions,
  type StatsEvent,
  type TrackStats,
} from './worker-protocol.ts';

/** RTCRtpScriptTransformer, as far as the worker uses it. */
export interface RtcTransformerLike {
  readonly readable: ReadableStream<EncodedFrameLike>;
  readonly writable: WritableStream<EncodedFrameLike>;
  readonly options?: unknown;
  /** Sender side: asks the encoder for a keyframe (RTCRtpScriptTransformer.generateKeyFrame). */
  generateKeyFrame?(): Promise<unknown>;
}

/** The worker global scope, as far as the host uses it (DedicatedWorkerGlobalScope in browsers). */
export interface WorkerScopeLike {
  postMessage(message: E2eeWorkerEvent): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onrtctransform?: ((event: { transformer: RtcTransformerLike }) => void) | null;
}

export interface TimersLike {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const DEFAULT_STATS_INTERVAL_MS = 1000;

interface Track {
  readonly options: E2eeTransformOptions;
  readonly cryptor: FrameCryptor;
  readonly abort: AbortController;
  readonly transformer?: RtcTransformerLike;
}

export class E2eeWorkerHost {
  readonly #post: (event: E2eeWorkerEvent) => void;
  readonly #timers: TimersLike;
  #options: InitOptions = {};
  #sender: SenderContext | null = null;
  readonly #keyrings = new Map<string, ReceiverKeyring>();
  readonly #tracks = new Map<string, Track>();
  #statsTimer: unknown = null;

  constructor(post: (event: E2eeWorkerEvent) => void, timers: TimersLike) {
    this.#post = post;
    this.#timers = timers;
  }

  /** Handles one message from the page. Never throws: failures are posted as `error`. */
  async handleMessage(message: unknown): Promise<void> {
    let id: number | undefined;
    let kind: string | undefined;
    try {
      const envelope = requestEnvelope(message);
      id = envelope.id;
      kind = envelope.kind;
      await this.#dispatch(envelope.kind, envelope.data, message as { data?: Record<string, unknown> });
      if (id !== undefined) this.#post({ kind: 'ack', data: { id } });
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      this.#post({ kind: 'error', data: { ...(id !== undefined && { id }), ...(kind !== undefined && { request: kind }), message: text } });
    }
  }

  async #dispatch(kind: string, data: Record<string, unknown>, raw: { data?: Record<string, unknown> }): Promise<void> {
    switch (kind) {
      case 'init':
        return this.#init(initOptionsFromMessage(data));
      case 'setSenderKey': {
        const kid = kidFromMessage(data.kid);
        const key = keyFromMessage(data.key);
        try {
          await this.#senderContext().setKey(kid, key);
        } finally {
          key.fill(0);
        }
        this.#requestKeyFrames();
        return;
      }
      case 'setReceiverKey': {
        const participantId = typeof data.participantId === 'string' && data.participantId.length > 0 ? data.participantId : null;
        if (!participantId) throw new ProtocolError('participantId must be a non-empty string');
        const kid = kidFromMessage(data.kid);
        const key = keyFromMessage(data.key);
        try {
          await this.#keyring(participantId).setKey(kid, key);
        } finally {
          key.fill(0);
        }
        return;
      }
      case 'removeParticipant': {
        if (typeof data.participantId !== 'string') throw new ProtocolError('participantId must be a string');
        this.#keyrings.delete(data.participantId);
        return;
      }
      case 'ratchetSenderKey': {
        const kid = await this.#senderContext().ratchet();
        this.#post({ kind: 'ratcheted', data: { kid: kidToMessage(kid) } });
        this.#requestKeyFrames();
        return;
      }
      case 'encode':
      case 'decode': {
        const { readable, writable } = raw.data ?? {};
        if (!(readable instanceof ReadableStream) || !(writable instanceof WritableStream)) {
          throw new ProtocolError(`${kind} needs a ReadableStream and a WritableStream`);
        }
        const options = transformOptionsFromMessage({ ...data, operation: kind, readable: undefined, writable: undefined });
        this.#startTrack(options, readable as ReadableStream<EncodedFrameLike>, writable as WritableStream<EncodedFrameLike>);
        return;
      }
      case 'removeTrack': {
        if (typeof data.trackId !== 'string') throw new ProtocolError('trackId must be a string');
        this.#tracks.get(data.trackId)?.abort.abort();
        this.#tracks.delete(data.trackId);
        return;
      }
      case 'getStats':
        this.#post(this.stats());
        return;
      default:
        throw new ProtocolError(`unknown request kind ${kind}`);
    }
  }

  /** Handles an `rtctransform` event: a track whose encoded frames pass through this worker. */
  handleRtcTransform(transformer: RtcTransformerLike): void {
    try {
      const options = transformOptionsFromMessage(transformer.options);
      this.#startTrack(options, transformer.readable, transformer.writable, transformer);
    } catch (err) {
      // Without valid options we cannot tell which key to use: frames must not flow. Cancelling
      // the readable and aborting the writable stops the track instead of passing clear media.
      void transformer.readable.cancel().catch(() => {});
      void transformer.writable.abort().catch(() => {});
      this.#post({ kind: 'error', data: { request: 'rtctransform', message: err instanceof Error ? err.message : String(err) } });
    }
  }

  /** Counters of every live track. */
  stats(): StatsEvent {
    const tracks: TrackStats[] = [];
    for (const [trackId, track] of this.#tracks) {
      tracks.push({
        trackId,
        ...(track.options.participantId !== undefined && { participantId: track.options.participantId }),
        ...track.cryptor.stats,
      });
    }
    const kid = this.#sender?.kid ?? null;
    return { kind: 'stats', data: { tracks, senderKid: kid === null ? null : kidToMessage(kid) } };
  }

  /** Stops the stats timer and every track. */
  close(): void {
    if (this.#statsTimer !== null) this.#timers.clearInterval(this.#statsTimer);
    this.#statsTimer = null;
    for (const track of this.#tracks.values()) track.abort.abort();
    this.#tracks.clear();
  }

  #init(options: InitOptions): void {
    // The contexts take their settings when created; changing them under existing keys would
    // make sender and receivers disagree (suite, ratchet bits), so init comes first.
    if (this.#sender || this.#keyrings.size > 0) throw new ProtocolError('init must come before any key');
    this.#options = options;
    if (this.#statsTimer !== null) this.#timers.clearInterval(this.#statsTimer);
    this.#statsTimer = null;
    const period = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    if (period > 0) this.#statsTimer = this.#timers.setInterval(() => this.#post(this.stats()), period);
  }

  #senderContext(): SenderContext {
    this.#sender ??= new SenderContext({ suite: this.#options.suite, ratchetBits: this.#options.ratchetBits });
    return this.#sender;
  }

  #keyring(participantId: string): ReceiverKeyring {
    let keyring = this.#keyrings.get(participantId);
    if (!keyring) {
      keyring = new ReceiverKeyring({
        suite: this.#options.suite,
        maxKeys: this.#options.maxKeys,
        replayWindow: this.#options.replayWindow,
        ratchetBits: this.#options.ratchetBits,
        maxRatchetSteps: this.#options.maxRatchetSteps,
      });
      this.#keyrings.set(participantId, keyring);
    }
    return keyring;
  }

  #startTrack(
    options: E2eeTransformOptions,
    readable: ReadableStream<EncodedFrameLike>,
    writable: WritableStream<EncodedFrameLike>,
    transformer?: RtcTransformerLike,
  ): void {
    if (this.#tracks.has(options.trackId)) throw new ProtocolError(`track ${options.trackId} already has a cryptor`);
    const common = { kind: options.kind, ...(options.mimeType !== undefined && { mimeType: options.mimeType }) };
    const cryptor = options.operation === 'encode'
      ? new FrameCryptor({ direction: 'encrypt', sender: this.#senderContext(), ...common })
      : new FrameCryptor({ direction: 'decrypt', keyring: this.#keyring(options.participantId!), ...common });
    const abort = new AbortController();
    const track: Track = { options, cryptor, abort, ...(transformer && { transformer }) };
    this.#tracks.set(options.trackId, track);
    cryptor.pipe(readable, writable, abort.signal).then(
      () => this.#endTrack(track, undefined),
      (err: unknown) => this.#endTrack(track, abort.signal.aborted ? undefined : err instanceof Error ? err.message : String(err)),
    );
  }

  #endTrack(track: Track, error: string | undefined): void {
    if (this.#tracks.get(track.options.trackId) === track) this.#tracks.delete(track.options.trackId);
    this.#post({ kind: 'trackEnded', data: { trackId: track.options.trackId, ...(error !== undefined && { error }) } });
  }

  /**
   * After a new sender key, ask the video encoders for a keyframe: receivers that just got the key
   * can then start decoding at once instead of waiting for the next periodic keyframe
   * (RFC 9605 §6.2).
   */
  #requestKeyFrames(): void {
    for (const track of this.#tracks.values()) {
      if (track.options.operation === 'encode' && track.options.kind === 'video' && track.transformer?.generateKeyFrame) {
        track.transformer.generateKeyFrame().catch(() => {
          // Not every browser implements it, and it fails while the encoder is idle; the next
          // periodic keyframe will do.
        });
      }
    }
  }
}

/**
 * Registers the worker's handlers on its global scope and returns the host. Runs nothing else:
 * no timer starts before `init`.
 */
export function installE2eeWorker(scope: WorkerScopeLike, timers: TimersLike): E2eeWorkerHost {
  const host = new E2eeWorkerHost((event) => scope.postMessage(event), timers);
  scope.onmessage = (event) => void host.handleMessage(event.data);
  scope.onrtctransform = (event) => host.handleRtcTransform(event.transformer);
  return host;
}
