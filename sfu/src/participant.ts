/**
 * One participant of a room, on mediasoup's model: it owns its WebRtcTransports, the producers it
 * sends (microphone, camera, screen) and the consumers it receives. close() cascades: closing the
 * transports closes their producers and consumers inside mediasoup, and the participant forgets
 * them. Consumers are created paused and resumed only when the client says it has set up the
 * receiving side, so the first packets (and the keyframe) are not lost (mediasoup's advice for
 * Router.consume: "create the server side consumer with paused: true ... then resume it").
 *
 * The participant also keeps what the layer selection needs: the rendered size of each video the
 * client shows, and the bandwidth mediasoup estimates towards it (transport trace "bwe").
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';
import { layersFromEncodings, selectLayers, type SpatialLayer } from './layer-selection.ts';

import type { MediaSource, TransportDirection } from './signalling/protocol.ts';

export type { MediaSource, TransportDirection };

export interface ParticipantIdentity {
  /** Random per join; what other clients see and address (never the username). */
  readonly id: string;
  /** The signed-in user. Shown to the others as displayName; logged only as a pseudonym. */
  readonly userId: string;
  readonly displayName: string;
  /** The client's X25519 identity key for the pairwise key exchange, or null: cannot encrypt. */
  readonly identityKey: string | null;
}

export interface ProducerAppData {
  [key: string]: unknown;
  readonly participantId: string;
  readonly source: MediaSource;
  /** Simulcast layers, lowest first (video only). */
  readonly layers?: SpatialLayer[];
  readonly temporalLayers?: number;
}

export interface ParticipantLimits {
  readonly maxTransports: number;
  readonly maxProducers: number;
  readonly maxConsumers: number;
}

/**
 * The router a participant is placed on (room-router.ts), looked up on each use: the router
 * object changes when a dead worker's router is rebuilt.
 */
export interface ParticipantHost {
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  /** Where plain RTP transports listen (the worker's media address). */
  readonly listenIp: types.TransportListenIp;
}

export type ParticipantEvents = {
  /** A new producer of this participant (the room announces it to the others). */
  producer: [producer: types.Producer<ProducerAppData>];
  producerclose: [producerId: string];
  producerpause: [producerId: string, paused: boolean];
  /** One of this participant's consumers closed (its producer went away). */
  consumerclose: [consumerId: string];
  consumerlayers: [consumerId: string, layers: types.ConsumerLayers | null];
  /** This participant's send transport finished its DTLS handshake: its media can now flow. */
  sendconnected: [];
  close: [];
};


interface ConsumerState {
  readonly consumer: types.Consumer;
  readonly producer: types.Producer<ProducerAppData>;
  /** Rendered size the client reported; undefined = not told yet (use the highest layer). */
  view?: { width: number; height: number };
  /** The client asked for it to run (resumeConsumer). */
  resumed: boolean;
}

type TransportState = (
  | { readonly kind: 'webrtc'; readonly transport: types.WebRtcTransport }
  | { readonly kind: 'plain'; readonly transport: types.PlainTransport }
) & {
  readonly direction: TransportDirection;
  /** Bandwidth estimated towards the client (recv transports), bits/s. */
  availableBitrate?: number;
};

/** A bitrate estimate must move this much before layers are chosen again (avoids churn). */
const BWE_CHANGE = 0.15;

export class Participant extends EventEmitter<ParticipantEvents> {
  readonly id: string;
  readonly userId: string;
  readonly displayName: string;
  readonly identityKey: string | null;
  readonly joinedAt = Date.now();
  /** What the client's device can receive (Device.rtpCapabilities); required to consume. */
  rtpCapabilities: types.RtpCapabilities | undefined;

  readonly #host: ParticipantHost;
  readonly #limits: ParticipantLimits;
  readonly #transports = new Map<string, TransportState>();
  readonly #producers = new Map<string, types.Producer<ProducerAppData>>();
  readonly #consumers = new Map<string, ConsumerState>();
  #closed = false;

  constructor(identity: ParticipantIdentity, host: ParticipantHost, limits: ParticipantLimits) {
    super();
    this.id = identity.id;
    this.userId = identity.userId;
    this.displayName = identity.displayName;
    this.identityKey = identity.identityKey;
    this.#host = host;
    this.#limits = limits;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get producers(): ReadonlyMap<string, types.Producer<ProducerAppData>> {
    return this.#producers;
  }

  get transportCount(): number {
    return this.#transports.size;
  }

  get consumerCount(): number {
    return this.#consumers.size;
  }

  async createTransport(direction: TransportDirection): Promise<types.WebRtcTransport> {
    this.#assertTransportAllowed();
    const transport = await this.#host.router.createWebRtcTransport({
      webRtcServer: this.#host.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { participantId: this.id, direction },
    });
    const state: TransportState = { kind: 'webrtc', transport, direction };
    this.#adopt(state);
    if (direction === 'send') {
      transport.on('dtlsstatechange', (dtls) => {
        if (dtls === 'connected' && !this.#closed) this.emit('sendconnected');
      });
    }
    if (direction === 'recv') {
      // mediasoup's send-side bandwidth estimate towards this client (transport-cc, REMB).
      transport.on('trace', (trace) => {
        const bwe = trace.type === 'bwe' ? (trace.info as { availableBitrate?: number }).availableBitrate : undefined;
        if (typeof bwe !== 'number' || !(bwe > 0)) return;
        const before = state.availableBitrate;
        state.availableBitrate = bwe;
        if (before === undefined || Math.abs(bwe - before) / before > BWE_CHANGE) void this.#applyAllLayers();
      });
      await transport.enableTraceEvent(['bwe']).catch(() => undefined);
    }
    return transport;
  }

  /**
   * A plain RTP transport (RTP and RTCP on one port, no ICE or DTLS) for media that does not come
   * from a browser: server-side RTP senders and receivers such as the integration tests' Node
   * sockets. Not reachable from the room signalling. A send transport learns its peer from the
   * first packet (comedia); the owner of a recv transport connects it to where the RTP should go
   * (PlainTransport.connect).
   */
  async createPlainTransport(direction: TransportDirection): Promise<types.PlainTransport> {
    this.#assertTransportAllowed();
    const transport = await this.#host.router.createPlainTransport({
      listenIp: this.#host.listenIp,
      rtcpMux: true,
      comedia: direction === 'send',
      appData: { participantId: this.id, direction },
    });
    this.#adopt({ kind: 'plain', transport, direction });
    return transport;
  }

  async connectTransport(transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    await this.#webRtcTransport(transportId).connect({ dtlsParameters });
  }

  async restartIce(transportId: string): Promise<types.IceParameters> {
    return this.#webRtcTransport(transportId).restartIce();
  }

  async produce(
    transportId: string,
    o: { kind: types.MediaKind; rtpParameters: types.RtpParameters; source: MediaSource; video?: { width: number; height: number } },
  ): Promise<types.Producer<ProducerAppData>> {
    this.#assertOpen();
    const t = this.#transport(transportId);
    if (t.direction !== 'send') throw new SfuError('BAD_REQUEST', 'produce needs a send transport');
    if (this.#producers.size >= this.#limits.maxProducers) throw new SfuError('LIMIT_REACHED', `at most ${this.#limits.maxProducers} producers`);
    const expectKind = o.source === 'mic' || o.source === 'screen-audio' ? 'audio' : 'video';
    if (o.kind !== expectKind) throw new SfuError('BAD_REQUEST', `a ${o.source} producer carries ${expectKind}`);
    for (const p of this.#producers.values()) {
      if (p.appData.source === o.source) throw new SfuError('BAD_REQUEST', `already producing ${o.source}; close that producer first`);
    }
    const appData: ProducerAppData = { participantId: this.id, source: o.source };
    if (o.kind === 'video' && o.video) {
      const encodings = o.rtpParameters.encodings ?? [];
      Object.assign(appData, {
        layers: layersFromEncodings(o.video, encodings.length > 0 ? encodings : [{}]),
        temporalLayers: temporalLayerCount(encodings[0]?.scalabilityMode),
      });
    }
    const producer = await t.transport.produce<ProducerAppData>({ kind: o.kind, rtpParameters: o.rtpParameters, appData });
    if (this.#closed) {
      producer.close();
      throw new SfuError('NOT_JOINED', 'the participant left');
    }
    this.#producers.set(producer.id, producer);
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      // A router closed by its dying worker closes everything under it: the room announces
      // one media reset instead of every producer.
      if (!this.#closed && !this.#host.router.closed) this.emit('producerclose', producer.id);
    });
    this.emit('producer', producer);
    return producer;
  }

  closeProducer(producerId: string): void {
    const p = this.#producers.get(producerId);
    if (!p) throw new SfuError('UNKNOWN_PRODUCER', 'no such producer of yours');
    p.close();
  }

  async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
    const p = this.#producers.get(producerId);
    if (!p) throw new SfuError('UNKNOWN_PRODUCER', 'no such producer of yours');
    if (paused) await p.pause();
    else await p.resume();
    this.emit('producerpause', producerId, paused);
  }

  /** A paused consumer of another participant's producer, on this participant's receive transport. */
  async consume(producer: types.Producer<ProducerAppData>): Promise<types.Consumer> {
    this.#assertOpen();
    const caps = this.rtpCapabilities;
    if (!caps) throw new SfuError('BAD_REQUEST', 'send setRtpCapabilities before consuming');
    if (producer.appData.participantId === this.id) throw new SfuError('BAD_REQUEST', 'cannot consume your own producer');
    for (const c of this.#consumers.values()) {
      if (c.producer.id === producer.id) throw new SfuError('BAD_REQUEST', 'already consuming that producer');
    }
    if (this.#consumers.size >= this.#limits.maxConsumers) throw new SfuError('LIMIT_REACHED', `at most ${this.#limits.maxConsumers} consumers`);
    if (!this.#host.router.canConsume({ producerId: producer.id, rtpCapabilities: caps })) {
      throw new SfuError('BAD_REQUEST', 'your device cannot receive this producer (no common codec)');
    }
    const recv = [...this.#transports.values()].reverse().find((t) => t.direction === 'recv');
    if (!recv) throw new SfuError('BAD_REQUEST', 'create a recv transport before consuming');
    const consumer = await recv.transport.consume({
      producerId: producer.id,
      rtpCapabilities: caps,
      paused: true,
      appData: { participantId: this.id, producerParticipantId: producer.appData.participantId, source: producer.appData.source },
    });
    if (this.#closed) {
      consumer.close();
      throw new SfuError('NOT_JOINED', 'the participant left');
    }
    const state: ConsumerState = { consumer, producer, resumed: false };
    this.#consumers.set(consumer.id, state);
    consumer.observer.once('close', () => {
      this.#consumers.delete(consumer.id);
      if (!this.#closed && !this.#host.router.closed) this.emit('consumerclose', consumer.id);
    });
    consumer.on('layerschange', (layers) => this.emit('consumerlayers', consumer.id, layers ?? null));
    return consumer;
  }

  /** The client is ready to receive: start forwarding (and ask the sender for a keyframe). */
  async resumeConsumer(consumerId: string): Promise<void> {
    const c = this.#consumer(consumerId);
    c.resumed = true;
    await this.#applyLayers(c);
  }

  /**
   * The client renders this consumer's video at width x height device pixels (0x0: hidden).
   * Chooses the simulcast layers (layer-selection.ts) and pauses hidden videos.
   */
  async setConsumerView(consumerId: string, width: number, height: number): Promise<void> {
    const c = this.#consumer(consumerId);
    c.view = { width, height };
    await this.#applyLayers(c);
  }

  async requestKeyFrame(consumerId: string): Promise<void> {
    await this.#consumer(consumerId).consumer.requestKeyFrame();
  }

  /**
   * Asks for a keyframe on every running video consumer of another participant's producers.
   * Used when that participant's media starts flowing: a consumer resumed before its producer's
   * transport connected asked for a keyframe that could not reach the sender, and would otherwise
   * wait for the receiving browser to ask again (about a second).
   */
  requestKeyFramesFrom(participantId: string): void {
    for (const c of this.#consumers.values()) {
      if (c.producer.appData.participantId === participantId && c.consumer.kind === 'video' && c.resumed && !c.consumer.closed) {
        void c.consumer.requestKeyFrame().catch(() => undefined);
      }
    }
  }

  /**
   * The worker under this participant died: its transports, producers and consumers are gone
   * (mediasoup closed them with the router). Forget them without announcing each one; the room
   * tells the client to set up its media again.
   */
  forgetMedia(): void {
    this.#transports.clear();
    this.#producers.clear();
    this.#consumers.clear();
  }

  /** Closes every transport (and so every producer and consumer). Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#transports.values()) t.transport.close();
    this.#transports.clear();
    this.#producers.clear();
    this.#consumers.clear();
    this.emit('close');
  }

  async #applyAllLayers(): Promise<void> {
    await Promise.all([...this.#consumers.values()].filter((c) => c.resumed).map((c) => this.#applyLayers(c).catch(() => undefined)));
  }

  async #applyLayers(c: ConsumerState): Promise<void> {
    if (c.consumer.closed) return;
    if (!c.resumed) return;
    const layers = c.producer.appData.layers;
    if (c.consumer.kind !== 'video' || c.consumer.type !== 'simulcast' || !layers || !c.view) {
      if (c.view && c.view.width <= 0 && c.consumer.kind === 'video') await c.consumer.pause();
      else if (c.consumer.paused) await c.consumer.resume();
      return;
    }
    const choice = selectLayers({
      layers,
      temporalLayers: c.producer.appData.temporalLayers ?? 1,
      rendered: c.view,
      ...(this.#bitratePerVideo() !== undefined && { availableBitrate: this.#bitratePerVideo()! }),
    });
    if (choice.pause) {
      if (!c.consumer.paused) await c.consumer.pause();
      return;
    }
    const pref = c.consumer.preferredLayers;
    if (pref?.spatialLayer !== choice.spatialLayer || pref.temporalLayer !== choice.temporalLayer) {
      await c.consumer.setPreferredLayers({ spatialLayer: choice.spatialLayer, temporalLayer: choice.temporalLayer });
    }
    if (c.consumer.paused) await c.consumer.resume();
  }

  /** The downlink estimate shared equally among the visible videos (undefined until measured). */
  #bitratePerVideo(): number | undefined {
    let total: number | undefined;
    for (const t of this.#transports.values()) if (t.direction === 'recv' && t.availableBitrate !== undefined) total = (total ?? 0) + t.availableBitrate;
    if (total === undefined) return undefined;
    let videos = 0;
    for (const c of this.#consumers.values()) if (c.consumer.kind === 'video' && c.resumed && !(c.view && c.view.width <= 0)) videos++;
    return total / Math.max(1, videos);
  }

  #transport(id: string): TransportState {
    const t = this.#transports.get(id);
    if (!t) throw new SfuError('UNKNOWN_TRANSPORT', 'no such transport of yours');
    return t;
  }

  #webRtcTransport(id: string): types.WebRtcTransport {
    const t = this.#transport(id);
    if (t.kind !== 'webrtc') throw new SfuError('BAD_REQUEST', 'not a WebRTC transport');
    return t.transport;
  }

  #assertTransportAllowed(): void {
    this.#assertOpen();
    if (this.#transports.size >= this.#limits.maxTransports) throw new SfuError('LIMIT_REACHED', `at most ${this.#limits.maxTransports} transports`);
  }

  /** Keeps a new transport, unless the participant left while it was being created. */
  #adopt(state: TransportState): void {
    const { transport } = state;
    if (this.#closed) {
      transport.close();
      throw new SfuError('NOT_JOINED', 'the participant left');
    }
    this.#transports.set(transport.id, state);
    const forget = () => this.#transports.delete(transport.id);
    if (state.kind === 'webrtc') state.transport.observer.once('close', forget);
    else state.transport.observer.once('close', forget);
  }

  #consumer(id: string): ConsumerState {
    const c = this.#consumers.get(id);
    if (!c) throw new SfuError('UNKNOWN_CONSUMER', 'no such consumer of yours');
    return c;
  }

  #assertOpen(): void {
    if (this.#closed) throw new SfuError('NOT_JOINED', 'the participant left');
  }
}

/** "L1T3" → 3 (the W3C scalability modes of webrtc-svc); absent → 1. */
export function temporalLayerCount(mode: string | undefined): number {
  const m = mode ? /^[LS]\d+T(\d+)/.exec(mode) : null;
  const t = m ? Number(m[1]) : 1;
  return t >= 1 && t <= 4 ? t : 1;
}
