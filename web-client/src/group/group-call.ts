/**
 * A group call in the browser: mediasoup-client against Sotto's SFU over the room signalling,
 * with every frame end-to-end encrypted by the E2EE worker (SFrame, keys from GroupKeyManager).
 * No DOM here beyond media objects: the page (main.ts) renders what this emits.
 *
 * Order of a join, tuned for time to first remote frame: the camera and microphone, the identity
 * key, the E2EE worker and the WebSocket start together; after `join`, transport creation and
 * RTP capabilities are sent without waiting for one another (the server handles a socket's
 * requests in order); existing producers are consumed as soon as the receive transport exists.
 *
 * Media:
 *  - camera: VP8 with three simulcast encodings (RFC 8853; 1/4, 1/2 and full size, L1T3), so the
 *    SFU can give each receiver the layer that fits the size it renders at (setView →
 *    setConsumerView → layer-selection.ts);
 *  - microphone: Opus; screen share: one VP8 encoding, its own producer;
 *  - consumers are created paused by the server and resumed once the local receiver exists.
 * E2EE: the peer connections are created with encodedInsertableStreams and the transforms are
 * attached in onRtpSender/onRtpReceiver, synchronously with the sender/receiver (see
 * e2ee-worker.ts). If the media worker restarts (mediaReset) the transports are rebuilt and the
 * same local tracks produced again; keys are unaffected.
 */
import { Device, type types as msc } from 'mediasoup-client';
import type { NotificationData, ParticipantInfo, ProducerInfo, ResponseData, RoomInfo, ServerNotification } from '../../../sfu/src/signalling/protocol.ts';
import type { MediaSource } from '../../../sfu/src/signalling/protocol.ts';
import { GroupKeyManager } from '../e2ee/group/group-keys.ts';
import { createGroupIdentity, type GroupIdentity } from '../e2ee/group/identity.ts';
import type { SasSymbol } from '../e2ee/sas.ts';
import type { TrackStats } from '../e2ee/worker-protocol.ts';
import { Emitter } from '../util/emitter.ts';
import { canEncrypt, E2eeWorkerClient } from './e2ee-worker.ts';
import { RoomError, RoomSignalling } from './signalling.ts';

export type CallState = 'joining' | 'connected' | 'media-restarting' | 'left' | 'removed' | 'room-closed' | 'disconnected';

export interface RemoteMedia {
  readonly consumerId: string;
  readonly producerId: string;
  readonly participantId: string;
  readonly kind: 'audio' | 'video';
  readonly source: MediaSource;
  readonly track: MediaStreamTrack;
  /** Simulcast layers the SFU forwards now (consumerLayers), if known. */
  layers: { spatialLayer: number | null; temporalLayer: number | null } | null;
}

export type E2eeStatus =
  /** The participant announced no identity key: its media is not end-to-end encrypted. */
  | 'unencrypted'
  /** Keys are being exchanged, or no frame has been decrypted yet. */
  | 'waiting'
  /** Frames from this participant are being decrypted right now. */
  | 'encrypted';

export interface ParticipantView {
  readonly info: ParticipantInfo;
  verified: boolean;
}

export type GroupCallEvents = {
  state: [state: CallState, reason?: string];
  participants: [];
  mediaadded: [media: RemoteMedia];
  mediaremoved: [consumerId: string];
  layers: [consumerId: string];
  speaker: [participantId: string];
  chat: [message: { from: string; name: string; text: string; at: number }];
  e2ee: [];
};

export interface JoinOptions {
  readonly room: string;
  readonly token: string;
  readonly password?: string;
  /** Encrypt (default: whenever the browser can). false only for comparison runs. */
  readonly e2ee?: boolean;
  readonly audio?: boolean;
  readonly video?: boolean;
  /** For tests and benchmarks: the moment the user asked to join (performance.now()). */
  readonly startedAt?: number;
  /** Camera size to ask for (default 1280x720). */
  readonly camera?: { readonly width: number; readonly height: number };
}

/** Three simulcast encodings, lowest first (mediasoup numbers spatial layers in this order). */
export const CAMERA_ENCODINGS: RTCRtpEncodingParameters[] = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' } as RTCRtpEncodingParameters,
  { scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' } as RTCRtpEncodingParameters,
  { scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' } as RTCRtpEncodingParameters,
];

const CAMERA_CONSTRAINTS: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

/** The server's send and receive transports for this client. */
type TransportInfos = Promise<[ResponseData['createTransport'], ResponseData['createTransport']]>;

interface LocalSource {
  readonly source: MediaSource;
  readonly track: MediaStreamTrack;
  producer: msc.Producer | null;
}

interface Consumed {
  readonly media: RemoteMedia;
  readonly consumer: msc.Consumer;
}

export class GroupCall extends Emitter<GroupCallEvents> {
  readonly room: RoomInfo;
  readonly selfId: string;
  readonly owner: boolean;
  readonly e2ee: boolean;
  readonly #sig: RoomSignalling;
  readonly #device: Device;
  readonly #worker: E2eeWorkerClient | null;
  readonly #keys: GroupKeyManager | null;
  readonly #participants = new Map<string, ParticipantView>();
  readonly #local = new Map<MediaSource, LocalSource>();
  readonly #consumed = new Map<string, Consumed>();
  /** producerId → consumerId, or null while the consume is in flight. */
  readonly #byProducer = new Map<string, string | null>();
  /** Every producer of the others we know of: consumed once the receive transport exists. */
  readonly #announced = new Map<string, ProducerInfo>();
  #send: msc.Transport | null = null;
  #recv: msc.Transport | null = null;
  #state: CallState = 'joining';
  #notifications: Promise<void> = Promise.resolve();
  #trackSeq = 0;
  #speaker: string | null = null;
  #mark: (name: string) => void = () => undefined;
  readonly #views = new Map<string, { w: number; h: number; timer: number | null; sent: string }>();
  /** Times for tests and the benchmark (performance.now()). */
  timings: Record<string, number> = {};

  private constructor(o: {
    sig: RoomSignalling;
    joined: ResponseData['join'];
    device: Device;
    worker: E2eeWorkerClient | null;
    keys: GroupKeyManager | null;
  }) {
    super();
    this.#sig = o.sig;
    this.room = o.joined.room;
    this.selfId = o.joined.participantId;
    this.owner = o.joined.owner;
    this.#device = o.device;
    this.#worker = o.worker;
    this.#keys = o.keys;
    this.e2ee = o.keys !== null;
    for (const p of o.joined.participants) this.#participants.set(p.id, { info: p, verified: false });
    // A new key for someone: their video frames before it were dropped (no key), so ask for a
    // keyframe now rather than wait for the next periodic one (RFC 9605 §6.2 leaves this to us).
    o.keys?.on('receiverkey', (participantId) => {
      if (this.timings.firstKey === undefined) this.#mark('firstKey');
      for (const c of this.#consumed.values()) {
        if (c.media.participantId === participantId && c.media.kind === 'video') {
          void this.#sig.request('requestKeyFrame', { consumerId: c.media.consumerId }).catch(() => undefined);
        }
      }
    });
  }

  /** Joins a room; resolves once joined (media keeps coming up afterwards). Throws RoomError. */
  static async join(o: JoinOptions): Promise<GroupCall> {
    const startedAt = o.startedAt ?? performance.now();
    const e2ee = (o.e2ee ?? true) && canEncrypt();
    const camera = o.camera ? { ...CAMERA_CONSTRAINTS, width: { ideal: o.camera.width }, height: { ideal: o.camera.height } } : CAMERA_CONSTRAINTS;
    const media = navigator.mediaDevices.getUserMedia({ audio: o.audio ?? true, video: (o.video ?? true) ? camera : false });
    const identity: Promise<GroupIdentity | null> = e2ee ? createGroupIdentity() : Promise.resolve(null);
    const worker = e2ee ? GroupCall.#takePreparedWorker() : Promise.resolve(null);
    // Rejections are handled below; keep them from being reported as unhandled meanwhile.
    for (const p of [media, identity, worker]) p.catch(() => undefined);
    let sig: RoomSignalling | undefined;
    const t: Record<string, number> = { startedAt };
    const mark = (name: string) => (t[name] = performance.now() - startedAt);
    void media.then(() => mark('media'));
    void identity.then(() => mark('identity'));
    void worker.then(() => mark('worker'));
    try {
      sig = await RoomSignalling.connect();
      mark('socket');
      const id = await identity;
      const joined = await sig.request('join', {
        room: o.room,
        token: o.token,
        ...(o.password !== undefined && { password: o.password }),
        e2ee: id ? { identityKey: id.publicKeyText } : null,
      });
      mark('joined');
      // Transports do not depend on the device: ask for them while it loads.
      const transports = GroupCall.#requestTransports(sig);
      const device = new Device();
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
      mark('device');
      const w = await worker;
      const keys = id && w
        ? new GroupKeyManager({
            room: joined.room.id,
            selfId: joined.participantId,
            identity: id,
            io: {
              relay: (to, blob) => void sig!.request('relay', { to, blob }).catch(() => undefined),
              setSenderKey: (kid, key) => w.setSenderKey(kid, key),
              setReceiverKey: (pid, kid, key) => w.setReceiverKey(pid, kid, key),
              forgetParticipant: (pid) => w.removeParticipant(pid),
            },
          })
        : null;
      const call = new GroupCall({ sig, joined, device, worker: w, keys });
      call.timings = t;
      call.#mark = mark;
      await call.#start(joined, await media, transports);
      mark('connected');
      return call;
    } catch (err) {
      sig?.close();
      void worker.then((w) => w?.terminate()).catch(() => undefined);
      void media.then((s) => s.getTracks().forEach((t) => t.stop())).catch(() => undefined);
      throw err;
    }
  }

  static #preparedWorker: Promise<E2eeWorkerClient> | null = null;

  /**
   * Warms up what a join needs before the user clicks (call it when the lobby shows): starts the
   * E2EE worker and loads libsodium. The identity key itself is still drawn at join time.
   */
  static prepare(): void {
    if (!canEncrypt() || GroupCall.#preparedWorker) return;
    const w = E2eeWorkerClient.start();
    w.catch(() => {
      if (GroupCall.#preparedWorker === w) GroupCall.#preparedWorker = null;
    });
    GroupCall.#preparedWorker = w;
    void createGroupIdentity().catch(() => undefined);
  }

  static #takePreparedWorker(): Promise<E2eeWorkerClient> {
    const w = GroupCall.#preparedWorker ?? E2eeWorkerClient.start();
    GroupCall.#preparedWorker = null;
    return w;
  }

  get state(): CallState {
    return this.#state;
  }

  get participants(): ReadonlyMap<string, ParticipantView> {
    return this.#participants;
  }

  get remoteMedia(): RemoteMedia[] {
    return [...this.#consumed.values()].map((c) => c.media);
  }

  get localTracks(): ReadonlyMap<MediaSource, MediaStreamTrack> {
    return new Map([...this.#local].map(([s, l]) => [s, l.track]));
  }

  get activeSpeaker(): string | null {
    return this.#speaker;
  }

  /** The E2EE worker's per-track counters (empty without E2EE). */
  get e2eeTracks(): readonly TrackStats[] {
    return this.#worker?.tracks ?? [];
  }

  get senderKid(): bigint | null {
    return this.#keys?.senderKid ?? null;
  }

  /** Whether a participant's media reaches us end-to-end encrypted right now. */
  e2eeStatus(participantId: string): E2eeStatus {
    const p = this.#participants.get(participantId);
    if (!this.#keys || !p?.info.e2ee) return 'unencrypted';
    const decrypting = this.e2eeTracks.some((t) => t.participantId === participantId && t.direction === 'decrypt' && t.ok > 0);
    return decrypting ? 'encrypted' : 'waiting';
  }

  /** Our own frames are being encrypted (the sending cryptors count frames). */
  get sendingEncrypted(): boolean {
    return this.e2eeTracks.some((t) => t.direction === 'encrypt' && t.ok > 0);
  }

  safetyNumber(participantId: string): Promise<SasSymbol[] | null> {
    return this.#keys?.safetyNumber(participantId) ?? Promise.resolve(null);
  }

  setVerified(participantId: string, verified: boolean): void {
    const p = this.#participants.get(participantId);
    if (!p) return;
    p.verified = verified;
    this.emit('participants');
  }

  /**
   * The size a remote video is shown at (CSS pixels × devicePixelRatio; 0x0 when hidden). Sent to
   * the SFU at most every 250 ms per video, which picks the simulcast layer for it.
   */
  setView(consumerId: string, width: number, height: number): void {
    const w = Math.max(0, Math.round(width));
    const h = Math.max(0, Math.round(height));
    let v = this.#views.get(consumerId);
    if (!v) this.#views.set(consumerId, (v = { w, h, timer: null, sent: '' }));
    v.w = w;
    v.h = h;
    if (v.timer !== null) return;
    v.timer = window.setTimeout(() => {
      v.timer = null;
      const key = `${v.w}x${v.h}`;
      if (key === v.sent || !this.#consumed.has(consumerId)) return;
      v.sent = key;
      void this.#sig.request('setConsumerView', { consumerId, width: v.w, height: v.h }).catch(() => undefined);
    }, 250);
  }

  async setMuted(source: MediaSource, muted: boolean): Promise<void> {
    const l = this.#local.get(source);
    if (!l?.producer) return;
    if (muted) l.producer.pause();
    else l.producer.resume();
    await this.#sig.request('pauseProducer', { producerId: l.producer.id, paused: muted });
  }

  async shareScreen(): Promise<void> {
    if (this.#local.has('screen')) return;
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const track = stream.getVideoTracks()[0]!;
    track.addEventListener('ended', () => void this.stopScreen());
    const l: LocalSource = { source: 'screen', track, producer: null };
    this.#local.set('screen', l);
    await this.#produce(l);
  }

  async stopScreen(): Promise<void> {
    const l = this.#local.get('screen');
    if (!l) return;
    this.#local.delete('screen');
    if (l.producer) {
      const id = l.producer.id;
      l.producer.close();
      await this.#sig.request('closeProducer', { producerId: id }).catch(() => undefined);
    }
    l.track.stop();
  }

  async sendChat(text: string): Promise<void> {
    if (!this.#keys) throw new Error('chat needs end-to-end encryption, which this browser cannot do');
    const blob = await this.#keys.encryptChat(text);
    await this.#sig.request('chat', { blob });
  }

  async removeParticipant(participantId: string): Promise<void> {
    await this.#sig.request('removeParticipant', { participantId });
  }

  async leave(): Promise<void> {
    if (this.#state === 'left') return;
    await this.#sig.request('leave', {}).catch(() => undefined);
    this.#end('left');
  }

  /* ---------------------------------------------------------------------------------------- */

  static #requestTransports(sig: RoomSignalling): TransportInfos {
    const t = Promise.all([sig.request('createTransport', { direction: 'send' }), sig.request('createTransport', { direction: 'recv' })]);
    t.catch(() => undefined);
    return t;
  }

  async #start(joined: ResponseData['join'], stream: MediaStream, transports: TransportInfos): Promise<void> {
    this.#sig.onNotification((n) => {
      this.#notifications = this.#notifications.then(() => this.#onNotification(n)).catch((err: unknown) => console.warn('group call:', err));
    });
    this.#sig.on('close', (code, reason) => {
      if (this.#state === 'joining' || this.#state === 'connected' || this.#state === 'media-restarting') {
        this.#end(code === 4003 ? 'removed' : code === 4004 ? 'room-closed' : 'disconnected', reason);
      }
    });
    for (const track of stream.getTracks()) {
      const source: MediaSource = track.kind === 'audio' ? 'mic' : 'camera';
      this.#local.set(source, { source, track, producer: null });
    }
    const keysReady = this.#keys?.start([...this.#participants.values()].map((p) => ({ id: p.info.id, identityKey: p.info.e2ee?.identityKey ?? null })));
    await this.#setUpMedia(joined.producers, keysReady, transports);
    this.#setState('connected');
  }

  /** Transports, our producers, and consumers of `producers`; also after a media reset. */
  async #setUpMedia(
    producers: readonly ProducerInfo[],
    keysReady?: Promise<void>,
    transports: TransportInfos = GroupCall.#requestTransports(this.#sig),
  ): Promise<void> {
    const caps = this.#device.rtpCapabilities;
    const [, [sendInfo, recvInfo]] = await Promise.all([this.#sig.request('setRtpCapabilities', { rtpCapabilities: caps }), transports]);
    // Encoded transforms must be possible on every sender and receiver from the start.
    const additionalSettings = this.e2ee ? ({ encodedInsertableStreams: true } as Partial<RTCConfiguration>) : undefined;
    const send = this.#device.createSendTransport({ ...sendInfo, ...(additionalSettings && { additionalSettings }) });
    const recv = this.#device.createRecvTransport({ ...recvInfo, ...(additionalSettings && { additionalSettings }) });
    this.#send = send;
    this.#recv = recv;
    for (const t of [send, recv]) {
      t.on('connect', ({ dtlsParameters }, ok, fail) => {
        this.#sig.request('connectTransport', { transportId: t.id, dtlsParameters }).then(() => ok(), fail);
      });
    }
    send.on('produce', ({ kind, rtpParameters, appData }, ok, fail) => {
      const a = appData as { source: MediaSource; video?: { width: number; height: number } };
      this.#sig
        .request('produce', { transportId: send.id, kind, rtpParameters, source: a.source, ...(a.video && { video: a.video }) })
        .then(({ producerId }) => ok({ id: producerId }), fail);
    });
    for (const p of producers) this.#announced.set(p.producerId, p);
    // Including those announced while the transports were being created.
    const consuming = Promise.all([...this.#announced.values()].map((p) => this.#consume(p)));
    // Our frames are dropped until our key is set; set it before the first frame goes out.
    await keysReady;
    await Promise.all([...this.#local.values()].map((l) => this.#produce(l)));
    await consuming;
  }

  async #produce(l: LocalSource): Promise<void> {
    const send = this.#send;
    if (!send || l.track.readyState === 'ended') return;
    const kind = l.track.kind as 'audio' | 'video';
    const settings = l.track.getSettings();
    const video = kind === 'video' && settings.width && settings.height ? { width: settings.width, height: settings.height } : undefined;
    const trackId = `send-${l.source}-${++this.#trackSeq}`;
    const worker = this.#worker;
    l.producer = await send.produce({
      track: l.track,
      stopTracks: false,
      ...(l.source === 'camera' && { encodings: CAMERA_ENCODINGS.map((e) => ({ ...e })) }),
      ...(kind === 'video' && { codecOptions: { videoGoogleStartBitrate: 1000 } }),
      appData: { source: l.source, ...(video && { video }) },
      // Synchronously with the sender's creation (e2ee-worker.ts).
      ...(worker && {
        onRtpSender: (sender: RTCRtpSender) => {
          sender.transform = worker.senderTransform(trackId, kind);
        },
      }),
    });
  }

  async #consume(p: ProducerInfo): Promise<void> {
    this.#announced.set(p.producerId, p);
    const recv = this.#recv;
    // Without a receive transport yet, #setUpMedia consumes it once there is one.
    if (!recv || this.#byProducer.has(p.producerId)) return;
    this.#byProducer.set(p.producerId, null);
    try {
      const info = await this.#sig.request('consume', { producerId: p.producerId });
      if (this.#recv !== recv || !this.#byProducer.has(p.producerId)) return;
      const worker = this.#worker;
      const peer = this.#participants.get(info.participantId);
      const decrypt = worker && peer?.info.e2ee;
      const consumer = await recv.consume({
        id: info.consumerId,
        producerId: info.producerId,
        kind: info.kind,
        rtpParameters: info.rtpParameters,
        ...(decrypt && {
          onRtpReceiver: (receiver: RTCRtpReceiver) => {
            receiver.transform = worker.receiverTransform(`recv-${info.consumerId}`, info.kind, info.participantId);
          },
        }),
      });
      const media: RemoteMedia = {
        consumerId: consumer.id,
        producerId: info.producerId,
        participantId: info.participantId,
        kind: info.kind,
        source: info.source,
        track: consumer.track,
        layers: null,
      };
      this.#consumed.set(consumer.id, { media, consumer });
      this.#byProducer.set(p.producerId, consumer.id);
      if (this.timings.firstRemoteTrack === undefined) this.#mark('firstRemoteTrack');
      this.emit('mediaadded', media);
      await this.#sig.request('resumeConsumer', { consumerId: consumer.id });
    } catch (err) {
      this.#byProducer.delete(p.producerId);
      if (!(err instanceof RoomError && (err.code === 'UNKNOWN_PRODUCER' || err.code === 'MEDIA_RESTARTING' || err.code === 'DISCONNECTED'))) throw err;
    }
  }

  #dropConsumer(consumerId: string): void {
    const c = this.#consumed.get(consumerId);
    if (!c) return;
    this.#consumed.delete(consumerId);
    this.#views.delete(consumerId);
    this.#byProducer.delete(c.media.producerId);
    this.#announced.delete(c.media.producerId);
    c.consumer.close();
    this.emit('mediaremoved', consumerId);
  }

  async #onNotification(n: ServerNotification): Promise<void> {
    switch (n.notification) {
      case 'participantJoined': {
        const info = n.data;
        this.#participants.set(info.id, { info, verified: false });
        this.emit('participants');
        // Not awaited: a rekey in progress waits for acknowledgements that come as later notifications.
        void this.#keys?.peerJoined({ id: info.id, identityKey: info.e2ee?.identityKey ?? null }).then(() => this.emit('e2ee'));
        return;
      }
      case 'participantLeft': {
        const id = n.data.participantId;
        this.#participants.delete(id);
        for (const c of [...this.#consumed.values()]) if (c.media.participantId === id) this.#dropConsumer(c.media.consumerId);
        for (const [producerId, p] of this.#announced) if (p.participantId === id) this.#announced.delete(producerId);
        this.emit('participants');
        // Not awaited: the rekey waits for acknowledgements, which arrive as later notifications.
        void this.#keys?.peerLeft(id).then(() => this.emit('e2ee'));
        return;
      }
      case 'producerAdded':
        void this.#consume(n.data).catch((err: unknown) => console.warn('group call: consume failed', err));
        return;
      case 'producerClosed': {
        this.#announced.delete(n.data.producerId);
        const consumerId = this.#byProducer.get(n.data.producerId);
        if (consumerId) this.#dropConsumer(consumerId);
        else this.#byProducer.delete(n.data.producerId);
        return;
      }
      case 'consumerClosed':
        this.#dropConsumer(n.data.consumerId);
        return;
      case 'consumerLayers': {
        const c = this.#consumed.get(n.data.consumerId);
        if (c) {
          c.media.layers = { spatialLayer: n.data.spatialLayer, temporalLayer: n.data.temporalLayer };
          this.emit('layers', n.data.consumerId);
        }
        return;
      }
      case 'activeSpeaker':
        this.#speaker = n.data.participantId;
        this.emit('speaker', n.data.participantId);
        return;
      case 'relay':
        // Key messages and acks: handled in order, but not blocking the notifications after them.
        void this.#keys?.receive(n.data.from, n.data.blob).then(() => this.emit('e2ee'));
        return;
      case 'chat':
        await this.#onChat(n.data);
        return;
      case 'mediaDown':
        this.#mark('mediaDown');
        this.#setState('media-restarting');
        return;
      case 'mediaReset':
        await this.#resetMedia(n.data);
        return;
      case 'removed':
        this.#end('removed', n.data.reason);
        return;
      case 'roomClosed':
        this.#end('room-closed');
        return;
      case 'producerPaused':
        return;
    }
  }

  async #onChat(data: NotificationData['chat']): Promise<void> {
    const from = this.#participants.get(data.from);
    const message = this.#keys ? await this.#keys.decryptChat(data.from, data.blob) : null;
    if (!from || !message) return;
    this.emit('chat', { from: data.from, name: from.info.name, text: message.text, at: Date.now() });
  }

  /** The SFU's worker restarted: rebuild transports, produce again, consume what is announced. */
  async #resetMedia(data: NotificationData['mediaReset']): Promise<void> {
    this.#mark('mediaReset');
    this.#setState('media-restarting');
    for (const id of [...this.#consumed.keys()]) this.#dropConsumer(id);
    this.#byProducer.clear();
    this.#announced.clear();
    for (const l of this.#local.values()) l.producer = null;
    this.#send?.close();
    this.#recv?.close();
    this.#send = null;
    this.#recv = null;
    await this.#setUpMedia(data.producers);
    this.#mark('mediaResetDone');
    this.#setState('connected');
  }

  #setState(state: CallState, reason?: string): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('state', state, reason);
  }

  #end(state: CallState, reason?: string): void {
    this.#setState(state, reason);
    for (const id of [...this.#consumed.keys()]) this.#dropConsumer(id);
    this.#send?.close();
    this.#recv?.close();
    for (const l of this.#local.values()) l.track.stop();
    this.#local.clear();
    this.#keys?.close();
    this.#worker?.terminate();
    this.#sig.close();
  }
}
