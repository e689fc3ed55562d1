/**
 * One bridged call on mediasoup: a Router made for the call's codecs (negotiation.ts), a
 * WebRtcTransport toward the browser and one PlainTransport per stream toward the phone, and a
 * Producer and a Consumer each way per stream.
 *
 * - Toward the browser mediasoup is ICE-lite (RFC 8445 §2.5) and ends DTLS-SRTP (RFC 5764):
 *   the browser's DTLS role follows a=setup (RFC 5763 §5: the offerer says actpass, the answerer
 *   picks; we answer passive, i.e. the browser is the DTLS client).
 * - Toward the phone: plain RTP (RFC 3550/3551) or SDES-SRTP (RFC 4568) with the phone's key for
 *   what it sends and ours, written in our SDP, for what we send. RTCP on its own port unless the
 *   phone offered rtcp-mux (RFC 5761). With comedia the PlainTransport learns the phone's address
 *   from the first packet it receives instead of trusting the SDP: a phone behind NAT writes an
 *   address nobody can reach, but its packets come from the public one (RFC 4961 symmetric RTP).
 * - Producers are keyed by the SSRC each side declares in its SDP (RFC 5576): no RTP header
 *   extension is negotiated (leg-sdp.ts), and mediasoup's RTP listener needs an SSRC, a MID or a
 *   RID to know whose packet it got.
 * - A consumer toward a side is paused while that side does not take media (hold, RFC 3264 §8.4).
 *
 * Closing the Router closes everything under it (mediasoup cascades: transports, producers,
 * consumers); a dying worker closes it too, and `closed` says why.
 */
import { randomInt } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Logger } from '../logger.ts';
import type { BridgeWorkers } from './bridge-workers.ts';
import { capabilities, KEYFRAME_FEEDBACK, toCodecParameters, intersect, type StreamKind } from './codecs.ts';
import { writePhoneDescription, writeWebDescription, type FarLeg, type PhoneTransportInfo, type SenderInfo } from './leg-sdp.ts';
import { CallNegotiation, otherSide, type DescriptionPlan, type Side, type Stream } from './negotiation.ts';
import { parseSdp, SdpError } from './sdp.ts';
import { describe, sends, type DescriptionFacts, type MediaFacts, type SdpCodec } from './sdp-facts.ts';
import { chooseCrypto, type SrtpSuite } from './sdes.ts';
import { bindUdp, firstRtp, RtcpRelay } from './ssrc-probe.ts';

export type ComediaPolicy = 'auto' | 'always' | 'never';
/** What we offer a phone: opportunistic SRTP (RFC 8643), SRTP only (RTP/SAVP), or RTP. */
export type PhoneSrtpPolicy = 'optional' | 'required' | 'off';

export interface BridgeSessionOptions {
  workers: BridgeWorkers;
  listenIp: string;
  announcedIp: string | undefined;
  /** Offer ICE candidates over TCP too (RFC 6544 passive), for browsers behind UDP-blocking firewalls. */
  webrtcTcp: boolean;
  comedia: ComediaPolicy;
  phoneSrtp: PhoneSrtpPolicy;
  logger: Logger;
}

/** Where SIP saw the phone, to tell whether it sits behind NAT. */
export interface PhonePeer {
  /** Source address of its SIP messages (or of its registration). */
  sipAddress: string | undefined;
  /** Known to be behind NAT (its registration came from another address than its Contact). */
  behindNat: boolean;
}

interface PhoneLeg {
  transport: types.PlainTransport;
  srtp: { tag: number; suite: SrtpSuite } | undefined;
  /** Required SRTP (RTP/SAVP): a plain answer is refused, not accepted. */
  srtpRequired: boolean;
  proto: string;
  rtcpMux: boolean;
  comedia: boolean;
  connected: boolean;
  /** Address, ports and key it was connected with. */
  remote: string | undefined;
  /** The SSRC learned from the phone's first packet (ssrc-probe.ts), when its SDP names none. */
  learnedSsrc?: number | undefined;
  /** A probe for that SSRC is running. */
  probing?: AbortController | undefined;
  /** Keeps the RTCP port the phone was given after the transport was replaced (ssrc-probe.ts). */
  relay?: RtcpRelay | undefined;
}

const DTLS_ALGORITHMS = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);
const DEFAULT_PHONE_SUITE: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80';

function isPrivate(ip: string): boolean {
  return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.|169\.254\.)/.test(ip) || /^f[cd]/i.test(ip);
}

export class BridgeSession {
  readonly negotiation: CallNegotiation;
  readonly #o: BridgeSessionOptions;
  readonly #log: Logger;
  readonly #phonePeer: PhonePeer;
  #router: types.Router | undefined;
  #web: types.WebRtcTransport | undefined;
  #webConnected = false;
  #webUfrag: string | undefined;
  #webFingerprint: string | undefined;
  /** Our DTLS role as written in answers to the browser. */
  #webAnswerSetup: 'active' | 'passive' = 'passive';
  readonly #phone = new Map<Stream, PhoneLeg>();
  /** Producers by `${side}:${kind}` (what that side sends). */
  readonly #producers = new Map<string, types.Producer>();
  /** Consumers by `${side}:${kind}` (what we send toward that side). */
  readonly #consumers = new Map<string, types.Consumer>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed: string | undefined;
  readonly #onClose: ((reason: string) => void)[] = [];

  constructor(o: BridgeSessionOptions, phonePeer: PhonePeer) {
    this.#o = o;
    this.#log = o.logger;
    this.#phonePeer = phonePeer;
    this.negotiation = new CallNegotiation({ web: String(randomInt(1, 2 ** 47)), phone: String(randomInt(1, 2 ** 47)) });
  }

  /** Why the session ended (undefined while it runs). */
  get closed(): string | undefined {
    return this.#closed;
  }

  get router(): types.Router | undefined {
    return this.#router;
  }

  /** How the phone's leg is protected, as the browser is told (leg-sdp.ts). */
  get farLeg(): FarLeg {
    return [...this.#phone.values()].some((l) => l.srtp) ? 'sdes-srtp' : 'rtp';
  }

  onClose(listener: (reason: string) => void): void {
    this.#onClose.push(listener);
  }

  /** An offer from `from`; resolves with the offer for the other side. Rejects with SdpError for a 488. */
  offer(from: Side, sdp: string): Promise<string> {
    return this.#serial(async () => {
      const facts = describe(parseSdp(sdp));
      const plan = this.negotiation.offer(from, facts);
      if (!this.#router) await this.#setUp(from);
      await this.#connect(from, facts, 'offer');
      await this.#syncProducers(from);
      await this.#syncConsumers(plan);
      if (from === 'phone') this.#probeSsrcs();
      return this.#write(plan, 'offer');
    });
  }

  /** The answer from `from` to the offer we sent it; resolves with the answer for the offerer. */
  answer(from: Side, sdp: string): Promise<string> {
    return this.#serial(async () => {
      const facts = describe(parseSdp(sdp));
      const plan = this.negotiation.answer(from, facts);
      await this.#connect(from, facts, 'answer');
      await this.#syncProducers(from);
      await this.#syncConsumers(plan);
      await this.#applyFlow();
      this.#probeSsrcs();
      return this.#write(plan, 'answer');
    });
  }

  /** The pending offer failed (non-2xx): forget it. */
  cancelOffer(): void {
    this.negotiation.cancelOffer();
  }

  /** Bytes received on every transport of the call so far (RTP and RTCP): for the media timeout. */
  async bytesReceived(): Promise<number> {
    const transports: types.Transport[] = [...(this.#web ? [this.#web] : []), ...[...this.#phone.values()].map((l) => l.transport)];
    let n = 0;
    for (const t of transports) {
      if (t.closed) continue;
      for (const s of await t.getStats()) n += s.bytesReceived;
    }
    return n;
  }

  /** Does any stream flow in some direction now (not all on hold)? */
  get flowing(): boolean {
    return this.negotiation.streams.some((s) => this.negotiation.flowsTo(s, 'web') || this.negotiation.flowsTo(s, 'phone'));
  }

  close(reason = 'closed'): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const leg of this.#phone.values()) {
      leg.probing?.abort();
      leg.relay?.close();
    }
    this.#router?.close();
    for (const l of this.#onClose.splice(0)) {
      try {
        l(reason);
      } catch (err) {
        this.#log.error({ err }, 'media bridge: close listener failed');
      }
    }
  }

  // --- internals -------------------------------------------------------------------------------

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new Error(`the media session is closed (${this.#closed})`);
      return f();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #setUp(firstFrom: Side): Promise<void> {
    const o = this.#o;
    const router = await o.workers.createRouter(this.negotiation.routerCodecs!);
    this.#router = router;
    // A worker that died, or anything else closing the Router, ends the session.
    router.observer.once('close', () => this.close('router closed'));
    if (this.#closed) {
      router.close();
      throw new Error(`the media session is closed (${this.#closed})`);
    }
    const listen = { ip: o.listenIp, ...(o.announcedIp ? { announcedIp: o.announcedIp } : {}) };
    this.#web = await router.createWebRtcTransport({ listenIps: [listen], enableUdp: true, enableTcp: o.webrtcTcp, preferUdp: true });
    for (const s of this.negotiation.streams) {
      const leg = this.#phoneLegOptions(s, firstFrom);
      this.#phone.set(s, { ...leg, transport: await this.#plainTransport(leg, undefined) });
    }
  }

  /** How the phone leg of a stream is set up: from the phone's offer, or from our policy when we offer. */
  #phoneLegOptions(s: Stream, firstFrom: Side): Omit<PhoneLeg, 'transport'> {
    const o = this.#o;
    if (firstFrom === 'phone') {
      const f = s.facts.phone!;
      let srtp: PhoneLeg['srtp'];
      if (f.crypto.length) {
        const c = chooseCrypto(f.crypto);
        // An opportunistic offer (RFC 8643) from a phone that names no SSRC is answered with RTP:
        // its SSRC must be learned from its packets, on a transport that replaces the first one,
        // whose SRTP key the phone would never learn (see #probeSsrcs). Both ways beats one way.
        if (c && f.opportunistic && f.ssrc === undefined) this.#log.info('media bridge: opportunistic SRTP declined for a phone without a=ssrc');
        else if (c) srtp = { tag: c.tag, suite: c.suite };
        // RFC 4568 §7.1.2: with no usable key the stream is refused; RFC 8643 lets an
        // opportunistic (RTP/AVP) offer fall back to RTP instead.
        else if (!f.opportunistic) throw new SdpError('none of the offered SRTP crypto suites can be used (no MKI; AES_CM_128_HMAC_SHA1_80/32, AEAD_AES_128/256_GCM)', 305);
      }
      return { srtp, srtpRequired: !!srtp && !f.opportunistic, proto: f.proto, rtcpMux: f.rtcpMux, comedia: this.#comedia(f), connected: false, remote: undefined };
    }
    const srtp = o.phoneSrtp === 'off' ? undefined : { tag: 1, suite: DEFAULT_PHONE_SUITE };
    return { srtp, srtpRequired: o.phoneSrtp === 'required', proto: o.phoneSrtp === 'required' ? 'RTP/SAVP' : 'RTP/AVP', rtcpMux: false, comedia: this.#comedia(undefined), connected: false, remote: undefined };
  }

  #comedia(f: MediaFacts | undefined): boolean {
    const policy = this.#o.comedia;
    if (policy !== 'auto') return policy === 'always';
    if (this.#phonePeer.behindNat) return true;
    if (!f) return false;
    const sdp = f.address;
    const sip = this.#phonePeer.sipAddress;
    if (!sdp || sdp === '0.0.0.0' || sdp === '::') return true;
    // A private address in the SDP of a phone that reaches us from elsewhere: behind NAT.
    return sip !== undefined && sdp !== sip && isPrivate(sdp) && !isPrivate(sip);
  }

  async #plainTransport(leg: Omit<PhoneLeg, 'transport'>, port: number | undefined): Promise<types.PlainTransport> {
    const o = this.#o;
    const listenIp = { ip: o.listenIp, ...(o.announcedIp ? { announcedIp: o.announcedIp } : {}) };
    return this.#router!.createPlainTransport({
      listenIp,
      ...(port !== undefined ? { port } : {}),
      rtcpMux: leg.rtcpMux,
      comedia: leg.comedia,
      ...(leg.srtp ? { enableSrtp: true, srtpCryptoSuite: leg.srtp.suite } : {}),
    });
  }

  async #connect(side: Side, facts: DescriptionFacts, phase: 'offer' | 'answer'): Promise<void> {
    if (side === 'web') await this.#connectWeb(facts, phase);
    else for (const s of this.negotiation.streams) await this.#connectPhone(s, phase);
  }

  async #connectWeb(facts: DescriptionFacts, phase: 'offer' | 'answer'): Promise<void> {
    const m = this.negotiation.streams.map((s) => s.facts.web).find((f) => f && f.port !== 0);
    if (!m) return;
    const fingerprints = m.fingerprints.filter((f) => DTLS_ALGORITHMS.has(f.algorithm)) as types.DtlsFingerprint[];
    if (!fingerprints.length) throw new SdpError('no usable DTLS fingerprint (RFC 8122)', 399);
    const key = fingerprints.map((f) => `${f.algorithm} ${f.value}`).join(',');
    if (!this.#webConnected) {
      // RFC 5763 §5: actpass in an offer lets us choose; we take passive (the browser connects).
      const setup = m.setup ?? (phase === 'offer' ? 'actpass' : 'active');
      const remoteRole: types.DtlsRole = setup === 'passive' ? 'server' : 'client';
      this.#webAnswerSetup = setup === 'passive' ? 'active' : 'passive';
      await this.#web!.connect({ dtlsParameters: { role: remoteRole, fingerprints } });
      this.#webConnected = true;
      this.#webFingerprint = key;
      this.#webUfrag = m.iceUfrag;
      return;
    }
    if (key !== this.#webFingerprint) throw new SdpError('the DTLS fingerprint changed in the middle of the call', 399);
    // RFC 8839 §4.4.1.1.1: new ICE credentials in an offer ask for an ICE restart; ours change too.
    if (phase === 'offer' && m.iceUfrag !== this.#webUfrag) {
      await this.#web!.restartIce();
      this.#log.debug('media bridge: ICE restart');
    }
    this.#webUfrag = m.iceUfrag;
    void facts;
  }

  async #connectPhone(s: Stream, phase: 'offer' | 'answer'): Promise<void> {
    const f = s.facts.phone;
    let leg = this.#phone.get(s);
    if (!f || !leg || f.port === 0) return;
    if (leg.srtp && phase === 'answer' && !leg.connected && !f.crypto.length) {
      // Our opportunistic offer (RFC 8643) was answered without keys: the phone sends RTP. A
      // transport cannot drop SRTP, so it is replaced by a plain one on the same port.
      if (leg.srtpRequired || !/^RTP\/AVPF?$/i.test(f.proto)) throw new SdpError('SRTP was required, the answer has no a=crypto', 305);
      leg = await this.#replaceLeg(s, leg, { ...leg, srtp: undefined, srtpRequired: false }, true);
    }
    let srtpParameters: types.SrtpParameters | undefined;
    if (leg.srtp) {
      // RFC 4568 §7.1.2: the answer's line carries the tag we offered; an offer picks anew.
      const c = phase === 'answer' ? f.crypto.find((x) => x.tag === leg!.srtp!.tag) : (f.crypto.find((x) => x.tag === leg!.srtp!.tag && x.suite === leg!.srtp!.suite) ?? chooseCrypto(f.crypto));
      if (!c) throw new SdpError(`no usable a=crypto (tag ${leg.srtp.tag}, ${leg.srtp.suite}) in the ${phase}`, 305);
      if (c.suite !== leg.srtp.suite) throw new SdpError(`the ${phase} changed the crypto suite of tag ${c.tag}`, 305);
      srtpParameters = { cryptoSuite: leg.srtp.suite, keyBase64: c.keyBase64 };
    }
    const address = f.address;
    const held = !address || address === '0.0.0.0' || address === '::';
    const remote = `${address} ${f.port} ${f.rtcpPort ?? ''} ${srtpParameters?.keyBase64 ?? ''}`;
    if (leg.connected) {
      // RFC 3264 §8.3.1/§8.3.2: a re-offer may move the phone's media or re-key it (RFC 4568 §7.1.4);
      // a transport connects once, so it is replaced.
      if (held || remote === leg.remote || (leg.comedia && srtpParameters?.keyBase64 === leg.remote?.split(' ')[3])) return;
      if (leg.comedia && !srtpParameters) return;
      leg = await this.#replaceLeg(s, leg, { ...leg });
    }
    if (leg.comedia) {
      // The address comes from the first packet; SRTP keys cannot wait for it.
      if (srtpParameters) await leg.transport.connect({ srtpParameters });
      leg.connected = true;
      leg.remote = remote;
      return;
    }
    if (held) return; // on hold from the start (c=0.0.0.0): connected when it gives an address
    await leg.transport.connect({
      ip: address,
      port: f.port,
      // RFC 3605: a=rtcp, else RTP port + 1 (RFC 3550 §11).
      ...(leg.rtcpMux ? {} : { rtcpPort: f.rtcpPort ?? f.port + 1 }),
      ...(srtpParameters ? { srtpParameters } : {}),
    });
    leg.connected = true;
    leg.remote = remote;
  }

  /**
   * A new PlainTransport for a stream, on the same RTP port (the phone may know no other). Its RTCP
   * port is new: when the phone was given the old one and gets no new SDP, a relay keeps the old one
   * (ssrc-probe.ts) and the transport learns its RTCP peer from it (comedia).
   */
  async #replaceLeg(s: Stream, old: PhoneLeg, next: Omit<PhoneLeg, 'transport'>, keepRtcpPort = false): Promise<PhoneLeg> {
    const port = old.transport.tuple.localPort;
    const rtcpPort = old.relay?.port ?? old.transport.rtcpTuple?.localPort;
    old.transport.close();
    old.relay?.close();
    const relayed = keepRtcpPort && !next.rtcpMux && rtcpPort !== undefined;
    const options = relayed ? { ...next, comedia: true } : next;
    const transport = await this.#plainTransportOn(options, port);
    const leg: PhoneLeg = { ...options, transport, connected: false, remote: undefined, relay: undefined };
    if (relayed) await this.#relayRtcp(leg, rtcpPort, undefined);
    this.#phone.set(s, leg);
    return leg;
  }

  /** A PlainTransport on `port`, which a transport just closed may hold for a moment more. */
  async #plainTransportOn(leg: Omit<PhoneLeg, 'transport'>, port: number): Promise<types.PlainTransport> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#plainTransport(leg, port);
      } catch (err) {
        if (attempt >= 25 || this.#closed) {
          this.#log.warn({ err: (err as Error).message, port }, 'media bridge: could not take the port toward the phone back');
          return this.#plainTransport(leg, undefined);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async #relayRtcp(leg: PhoneLeg, rtcpPort: number, phone: { address: string; port: number } | undefined): Promise<void> {
    const local = leg.transport.rtcpTuple?.localPort;
    if (local === undefined) return;
    const ip = this.#o.listenIp === '0.0.0.0' ? '127.0.0.1' : this.#o.listenIp === '::' ? '::1' : this.#o.listenIp;
    const socket = await bindUdp(this.#o.listenIp, rtcpPort);
    leg.relay = new RtcpRelay(socket, { address: ip, port: local }, phone);
  }

  /**
   * Phones that send RTP but named no SSRC (RFC 5576) in their SDP: learn it from their first
   * packet (ssrc-probe.ts). Not with SRTP: the replaced transport's key would be unknown to the phone.
   */
  #probeSsrcs(): void {
    for (const s of this.negotiation.streams) {
      const f = s.facts.phone;
      const leg = this.#phone.get(s);
      if (!f || !leg || f.ssrc !== undefined || leg.learnedSsrc !== undefined || leg.probing || !leg.connected) continue;
      if (!sends(f) || !s.negotiated?.length) continue;
      if (leg.srtp) {
        this.#log.warn({ kind: s.kind }, 'media bridge: an SRTP phone without a=ssrc (RFC 5576): what it sends cannot be received');
        continue;
      }
      void this.#probe(s, leg, f);
    }
  }

  async #probe(s: Stream, leg: PhoneLeg, f: MediaFacts): Promise<void> {
    const ac = new AbortController();
    leg.probing = ac;
    const ip = this.#o.listenIp;
    const port = leg.transport.tuple.localPort;
    const rtcpPort = leg.relay?.port ?? leg.transport.rtcpTuple?.localPort;
    leg.transport.close();
    leg.relay?.close();
    leg.relay = undefined;
    let rtp: import('node:dgram').Socket | undefined;
    try {
      rtp = await bindUdp(ip, port);
      const found = await firstRtp(rtp, ac.signal);
      await new Promise<void>((r) => rtp!.close(() => r()));
      rtp = undefined;
      await this.#serial(async () => {
        if (this.#phone.get(s) !== leg) return; // replaced meanwhile
        const transport = await this.#plainTransportOn({ ...leg, comedia: true }, port);
        leg.transport = transport;
        leg.comedia = true;
        leg.learnedSsrc = found.ssrc;
        leg.remote = `${f.address} ${f.port} ${f.rtcpPort ?? ''} `;
        if (!leg.rtcpMux && rtcpPort !== undefined && f.address) await this.#relayRtcp(leg, rtcpPort, { address: f.address, port: f.rtcpPort ?? f.port + 1 });
        this.#log.debug({ kind: s.kind }, 'media bridge: learned the phone\'s SSRC from its first packet');
        await this.#syncProducers('phone');
        await this.#syncConsumers(undefined);
        await this.#applyFlow();
      });
    } catch (err) {
      if (!this.#closed && !ac.signal.aborted) this.#log.warn({ err: (err as Error).message }, 'media bridge: could not learn the phone\'s SSRC');
    } finally {
      if (rtp) rtp.close();
      if (leg.probing === ac) leg.probing = undefined;
    }
  }

  #transport(side: Side, s: Stream): types.Transport | undefined {
    return side === 'web' ? this.#web : this.#phone.get(s)?.transport;
  }

  /** What `side` sends: one Producer per stream, for the SSRC it declared. */
  async #syncProducers(side: Side): Promise<void> {
    for (const s of this.negotiation.streams) {
      const f = s.facts[side];
      const key = `${side}:${s.kind}`;
      const old = this.#producers.get(key);
      const codecs = s.negotiated?.length ? s.negotiated : intersect(s.kind, s.codecs, f?.codecs ?? []);
      const ssrc = f && f.port !== 0 ? (f.ssrc ?? (side === 'phone' ? this.#phone.get(s)?.learnedSsrc : undefined)) : undefined;
      if (old && !old.closed && old.appData.ssrc === ssrc) continue;
      old?.close();
      this.#producers.delete(key);
      const transport = this.#transport(side, s);
      if (ssrc === undefined || !codecs.length || !transport || transport.closed) continue;
      const feedback = side === 'web' || /F$/i.test(f!.proto);
      const producer = await transport.produce({
        kind: s.kind,
        rtpParameters: {
          codecs: codecs.map((c) => toCodecParameters(s.kind, c, feedback ? undefined : KEYFRAME_FEEDBACK)),
          headerExtensions: [],
          encodings: [{ ssrc }],
          rtcp: { cname: f!.cname ?? `sotto-${side}`, reducedSize: side === 'web' },
        },
        appData: { ssrc },
      });
      this.#producers.set(key, producer);
    }
  }

  /**
   * What we send toward each side: one Consumer per stream of the other side's Producer. Toward the
   * side the description is for, with the codecs it is offered or answered; toward the other side
   * once it has agreed (a transport replaced on the way closed the consumers on it).
   */
  async #syncConsumers(plan: DescriptionPlan | undefined): Promise<void> {
    for (const toward of ['web', 'phone'] as const) {
      for (const s of this.negotiation.streams) {
        let codecs: readonly SdpCodec[] | undefined;
        if (plan && toward === plan.to) {
          const line = plan.lines.find((l) => 'stream' in l && l.stream === s);
          codecs = line && 'stream' in line && line.active ? line.codecs : undefined;
        } else if (s.negotiated?.length) codecs = s.negotiated;
        if (!codecs) continue;
        const key = `${toward}:${s.kind}`;
        const producer = this.#producers.get(`${otherSide(toward)}:${s.kind}`);
        const old = this.#consumers.get(key);
        if (old && !old.closed && old.producerId === producer?.id) continue;
        old?.close();
        this.#consumers.delete(key);
        const transport = this.#transport(toward, s);
        if (!producer || producer.closed || !transport || transport.closed) continue;
        const feedback = toward === 'web' || /F$/i.test(this.#phone.get(s)?.proto ?? '');
        const rtpCapabilities = capabilities(s.kind, codecs, feedback ? 'all' : 'keyframe');
        if (!this.#router!.canConsume({ producerId: producer.id, rtpCapabilities })) {
          this.#log.warn({ kind: s.kind, toward }, 'media bridge: no codec to send toward this side');
          continue;
        }
        const paused = !!s.negotiated && !this.negotiation.flowsTo(s, toward);
        this.#consumers.set(key, await transport.consume({ producerId: producer.id, rtpCapabilities, paused }));
      }
    }
  }

  /** Pause what a side does not take now (hold), resume the rest. */
  async #applyFlow(): Promise<void> {
    for (const s of this.negotiation.streams) {
      for (const side of ['web', 'phone'] as const) {
        const c = this.#consumers.get(`${side}:${s.kind}`);
        if (!c || c.closed) continue;
        const flows = this.negotiation.flowsTo(s, side);
        if (flows && c.paused) await c.resume();
        else if (!flows && !c.paused) await c.pause();
      }
    }
  }

  #senders(toward: Side): Map<Stream, SenderInfo> {
    const out = new Map<Stream, SenderInfo>();
    for (const s of this.negotiation.streams) {
      const c = this.#consumers.get(`${toward}:${s.kind}`);
      const ssrc = c && !c.closed ? c.rtpParameters.encodings?.[0]?.ssrc : undefined;
      if (c && ssrc !== undefined) out.set(s, { ssrc, cname: c.rtpParameters.rtcp?.cname ?? 'sotto' });
    }
    return out;
  }

  #write(plan: DescriptionPlan, phase: 'offer' | 'answer'): string {
    const o = this.#o;
    const address = o.announcedIp ?? o.listenIp;
    if (plan.to === 'web') {
      const web = this.#web!;
      const fp = web.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? web.dtlsParameters.fingerprints[0]!;
      return writeWebDescription(
        plan,
        { iceParameters: web.iceParameters, iceCandidates: web.iceCandidates, fingerprint: { algorithm: fp.algorithm, value: fp.value.toUpperCase() }, setup: phase === 'offer' ? 'actpass' : this.#webAnswerSetup },
        this.#senders('web'),
        this.farLeg,
      );
    }
    const infos = new Map<Stream, PhoneTransportInfo>();
    for (const [s, leg] of this.#phone) {
      const t = leg.transport;
      infos.set(s, {
        ip: t.tuple.localIp,
        port: t.tuple.localPort,
        rtcpPort: leg.relay?.port ?? t.rtcpTuple?.localPort,
        rtcpMux: leg.rtcpMux,
        proto: leg.proto,
        crypto: leg.srtp && t.srtpParameters ? { tag: leg.srtp.tag, suite: leg.srtp.suite, keyBase64: t.srtpParameters.keyBase64 } : undefined,
      });
    }
    return writePhoneDescription(plan, address, infos, this.#senders('phone'));
  }
}

export type { StreamKind };
