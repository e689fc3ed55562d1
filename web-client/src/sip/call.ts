/**
 * One call: a sip.js Session (Inviter for ours, Invitation for theirs) with what the page needs
 * on top: the state machine of ./call-state.ts, hold and resume (RFC 3264 §8.4 re-INVITE with
 * sendonly/inactive), mute and camera, DTMF (RFC 4733, or INFO), transfer (REFER, RFC 3515; with
 * Replaces for attended transfer, RFC 3891), an ICE restart after the signalling connection came
 * back (RFC 8839 §4.4.1.1.1), the E2EE seam, and statistics.
 *
 * Media tracks live in sip.js's SessionDescriptionHandler (./session-media.ts); this class finds
 * them through its RTCPeerConnection.
 */
import {
  Invitation,
  Inviter,
  SessionState,
  UserAgent,
  type Info,
  type Notification,
  type Referral,
  type Session,
  type Web,
} from 'sip.js';
import { summarizeStats, type CallStats, type StatsEntry } from '../media/call-stats.ts';
import {
  E2EE_HEADER,
  E2EE_HEADER_VALUE,
  E2EE_SIGNAL_CONTENT_TYPE,
  type CallContext,
  type MediaProtection,
  type MediaProtectionFactory,
  type ProtectionStatus,
} from '../media/media-protection.ts';
import { offerPrivacy, type OfferPrivacy } from '../privacy/incoming-offer.ts';
import { privacyOf, type FrameCounters, type Privacy } from '../privacy/indicator.ts';
import { hasTelephoneEvent, hasVideo, isRemoteHold, transportSecurity } from '../privacy/sdp-security.ts';
import { Emitter } from '../util/emitter.ts';
import { endReasonForStatus, isLive, transition, type CallEvent, type CallState, type EndReason } from './call-state.ts';
import { chooseDtmfMethod, dtmfRelayBody, GAP_MS, isDtmfTone, parseDtmfInfo, TONE_MS, type DtmfMethod, type DtmfPreference } from './dtmf.ts';
import type { Identity } from './identity.ts';
import { sipfragStatus } from './sipfrag.ts';

export type CallDirection = 'incoming' | 'outgoing';

export interface TransferStatus {
  /** Who the other side is being transferred to. */
  target: string;
  kind: 'blind' | 'attended';
  state: 'requested' | 'trying' | 'ringing' | 'done' | 'failed';
}

export type CallEvents = {
  /** Anything shown on the call screen changed. */
  change: [];
  /** A DTMF tone arrived by INFO. */
  dtmf: [tone: string];
  /** The far end asked us to call someone else (REFER); the phone places that call. */
  referred: [referral: Referral];
  /** Our INVITE was redirected (302) to a group call page of this origin: the path to open. */
  groupCall: [path: string];
  ended: [reason: EndReason];
};

export interface CallOptions {
  localUri: string;
  peer: Identity;
  /** Whether we send video (the call was placed or answered as a video call). */
  video: boolean;
  /** End-to-end encryption, when this page can do it; used only if the other side can too. */
  protection?: MediaProtectionFactory | undefined;
  /** Did the 2xx to our INVITE with this Call-ID announce E2EE? (see ./e2ee-announcement.ts) */
  answeredWithE2ee?: (callId: string) => boolean;
  dtmfPreference: () => DtmfPreference;
  /**
   * The same-origin group call page a 3xx to our INVITE with this Call-ID leads to, if any
   * (./group-redirect.ts); `contacts` are the Contact values sip.js kept.
   */
  groupCallPath?: (callId: string, contacts: string[]) => string | undefined;
}

/**
 * What an outgoing INVITE looks like: with E2EE on our side it announces it (E2EE_HEADER) and
 * carries no SDP offer (RFC 3261 §13.2.1 lets the offer come in the 2xx), so that our media, and
 * with it the decision to encrypt it, is only set up once the 2xx says whether the callee can.
 * Transforms cannot be added to a sender later, nor removed without losing its media.
 */
export function inviterOptions(video: boolean, e2ee: boolean): { sessionDescriptionHandlerOptions: Web.SessionDescriptionHandlerOptions; inviteWithoutSdp?: boolean; extraHeaders?: string[] } {
  const sessionDescriptionHandlerOptions = { constraints: { audio: true, video } };
  return e2ee ? { sessionDescriptionHandlerOptions, inviteWithoutSdp: true, extraHeaders: [`${E2EE_HEADER}: ${E2EE_HEADER_VALUE}`] } : { sessionDescriptionHandlerOptions };
}

let nextId = 1;

export class Call {
  readonly id = `call-${nextId++}`;
  readonly direction: CallDirection;
  readonly peer: Identity;
  readonly session: Session;
  readonly events = new Emitter<CallEvents>();
  readonly createdAt = Date.now();
  /** When the call was answered (ms since epoch). */
  connectedAt: number | undefined;
  endedAt: number | undefined;
  endReason: EndReason | undefined;
  /** We put the call on hold. */
  held = false;
  /** The other side put the call on hold. */
  remoteHeld = false;
  muted = false;
  cameraOff = false;
  /** Tones sent (as they started playing, or as INFO was accepted) and received by INFO. */
  sentTones = '';
  receivedTones = '';
  lastDtmfMethod: DtmfMethod | undefined;
  transfer: TransferStatus | undefined;
  /** Set while the far end is transferring us (we got a REFER). */
  referredBy: string | undefined;
  /** A re-INVITE of ours is waiting for its answer. */
  renegotiating = false;
  video: boolean;
  /** The far end's last offer carried video. */
  remoteVideo = false;
  /** For an incoming call, what its INVITE says the call will be (shown before answering). */
  readonly offerPrivacy: OfferPrivacy | undefined;

  #state: CallState;
  readonly #o: CallOptions;
  #protection: MediaProtection | undefined;
  #protectionCreated = false;
  /** The other side said it can encrypt end to end (in its INVITE or 2xx). */
  #peerE2ee = false;
  readonly #signalListeners: ((body: string) => void)[] = [];
  readonly #establishedListeners: (() => void)[] = [];
  #countersBefore: FrameCounters | undefined;
  #privacy: Privacy = privacyOf(undefined);
  /**
   * The far end's last SDP as SIP carried it. The RTCPeerConnection's remoteDescription is
   * re-serialized by the browser, which drops attributes it does not know, among them the media
   * bridge's a=sotto-bridge (how the phone's leg of a bridged call is protected, sdp-security.ts).
   */
  #remoteSdp: string | undefined;

  private constructor(direction: CallDirection, session: Session, state: CallState, o: CallOptions) {
    this.direction = direction;
    this.session = session;
    if (session instanceof Invitation) {
      this.#peerE2ee = session.request.hasHeader(E2EE_HEADER);
      this.offerPrivacy = offerPrivacy({ announcedE2ee: this.#peerE2ee, canE2ee: !!o.protection, offerSdp: session.body });
      this.#noteSdp(session.body);
    }
    this.#state = state;
    this.#o = o;
    this.peer = o.peer;
    this.video = o.video;
    session.data = this;
    session.stateChange.addListener((s) => this.#onSessionState(s));
    session.delegate = {
      onBye: (bye) => {
        void bye.accept();
        this.#end('remote-hung-up');
      },
      onInfo: (info) => this.#onInfo(info),
      onInvite: (request) => this.#onReinvite(request.body),
      onRefer: (referral) => this.#onRefer(referral),
      onSessionDescriptionHandler: (sdh) => this.#watchPeerConnection(sdh as Web.SessionDescriptionHandler),
    };
  }

  /** Place a call (not sent until `start()`). */
  static outgoing(ua: UserAgent, targetUri: string, o: CallOptions): Call {
    const uri = UserAgent.makeURI(targetUri);
    if (!uri) throw new Error(`not a SIP URI: ${targetUri}`);
    return new Call('outgoing', new Inviter(ua, uri, inviterOptions(o.video, !!o.protection)), 'calling', o);
  }

  /** A call the far end placed; shown as incoming until answered or declined. */
  static incoming(invitation: Invitation, o: CallOptions): Call {
    return new Call('incoming', invitation, 'incoming', o);
  }

  /** A call placed by following someone's REFER (we are the transferee). */
  static referred(inviter: Inviter, o: CallOptions): Call {
    return new Call('outgoing', inviter, 'calling', o);
  }

  get state(): CallState {
    return this.#state;
  }

  get live(): boolean {
    return isLive(this.#state);
  }

  get privacy(): Privacy {
    return this.#privacy;
  }

  get peerConnection(): RTCPeerConnection | undefined {
    return (this.session.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined)?.peerConnection;
  }

  get localStream(): MediaStream | undefined {
    return (this.session.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined)?.localMediaStream;
  }

  get remoteStream(): MediaStream | undefined {
    return (this.session.sessionDescriptionHandler as Web.SessionDescriptionHandler | undefined)?.remoteMediaStream;
  }

  /**
   * The E2EE protection of this call: created once, when its first sender or receiver appears,
   * if both sides can encrypt (by then both have said so: the callee read it in the INVITE, the
   * caller in the 2xx that brings the offer, spotted by the phone before sip.js handles it).
   */
  protection(): MediaProtection | undefined {
    if (!this.#protectionCreated) {
      this.#protectionCreated = true;
      if (this.session instanceof Inviter) this.#peerE2ee = !!this.#o.answeredWithE2ee?.(this.session.request.callId);
      if (this.#o.protection && this.#peerE2ee) this.#protection = this.#o.protection(this.#context());
    }
    return this.#protection;
  }

  /** End-to-end encryption of this call: undefined when it does not use it. */
  get encryption(): ProtectionStatus | undefined {
    return this.#protection?.status();
  }

  // --- setting up and tearing down ---------------------------------------------------------

  /** Send the INVITE of an outgoing call. */
  async start(): Promise<void> {
    if (!(this.session instanceof Inviter)) throw new Error('only outgoing calls are started');
    try {
      await this.session.invite({
        requestDelegate: {
          onProgress: (res) => {
            this.#noteSdp(res.message.body);
            if (res.message.statusCode === 180 || res.message.statusCode === 183) this.#apply('progress');
          },
          onAccept: (res) => {
            this.#noteSdp(res.message.body);
            this.#apply('accepted');
          },
          onReject: (res) => this.#end(endReasonForStatus(res.message.statusCode ?? 500)),
          // RFC 3261 §8.1.3.4: of a 3xx's contacts we use only a group call page of our own
          // server (a room's sip:ROOM@DOMAIN, server/src/proxy/room-uri.ts); others end the call.
          onRedirect: (res) => {
            const path = this.#o.groupCallPath?.(res.message.callId, res.message.getHeaders('contact'));
            this.#end(path ? 'group-call' : endReasonForStatus(res.message.statusCode ?? 500));
            if (path) this.events.emit('groupCall', path);
          },
        },
      });
    } catch (err) {
      this.#end('failed');
      throw err;
    }
  }

  /** Answer an incoming call, sending video or not (we still receive the caller's video). */
  async answer(withVideo: boolean): Promise<void> {
    if (!(this.session instanceof Invitation) || this.#state !== 'incoming') return;
    this.video = withVideo;
    this.#apply('answer');
    try {
      const e2ee = !!this.#o.protection && this.#peerE2ee;
      await this.session.accept({
        sessionDescriptionHandlerOptions: { constraints: { audio: true, video: withVideo } },
        ...(e2ee ? { extraHeaders: [`${E2EE_HEADER}: ${E2EE_HEADER_VALUE}`] } : {}),
      });
    } catch (err) {
      this.#end('failed');
      throw err;
    }
  }

  /** Decline an incoming call: 603 Decline (RFC 3261 §21.6.2), "not now, not here". */
  async decline(): Promise<void> {
    if (!(this.session instanceof Invitation) || this.#state !== 'incoming') return;
    this.#end('declined');
    await this.session.reject({ statusCode: 603 });
  }

  /** Hang up whatever the state: CANCEL before an answer, BYE after, 603 while ringing here. */
  async hangUp(): Promise<void> {
    const s = this.session;
    switch (s.state) {
      case SessionState.Initial:
      case SessionState.Establishing:
        if (s instanceof Inviter) {
          this.#end('cancelled');
          await s.cancel();
        } else if (s instanceof Invitation) {
          await this.decline();
        }
        return;
      case SessionState.Established:
        this.#end('hung-up');
        await s.bye();
        return;
      default:
        this.#end('hung-up');
    }
  }

  // --- in-call controls ---------------------------------------------------------------------

  /** Hold (true) or resume (false): a re-INVITE offering sendonly/inactive, then sendrecv again. */
  async setHeld(held: boolean): Promise<void> {
    if (this.#state !== 'connected' || this.held === held) return;
    this.held = held;
    // Whatever flows while held, the held party must not hear or see us (privacy first).
    this.#enableSenders(!held);
    this.session.sessionDescriptionHandlerOptionsReInvite = { hold: held } as Web.SessionDescriptionHandlerOptions;
    this.#changed();
    const ok = await this.#reinvite({ hold: held });
    if (!ok) {
      this.held = !held;
      this.#enableSenders(held);
      this.session.sessionDescriptionHandlerOptionsReInvite = { hold: !held } as Web.SessionDescriptionHandlerOptions;
      this.#changed();
    }
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    this.#enableSenders(!this.held);
    this.#changed();
  }

  /** Camera off stops sending pictures; camera on in an audio call adds video (re-INVITE). */
  async setCamera(on: boolean): Promise<void> {
    this.cameraOff = !on;
    if (on && !this.#sender('video')) {
      this.video = true;
      this.#changed();
      await this.#reinvite({ constraints: { audio: true, video: true } });
      return;
    }
    this.#enableSenders(!this.held);
    this.#changed();
  }

  /** Send one DTMF tone: RFC 4733 when negotiated, otherwise (or if so configured) SIP INFO. */
  async sendDtmf(tone: string): Promise<void> {
    if (!isDtmfTone(tone) || this.#state !== 'connected') return;
    const sender = this.#sender('audio');
    const remote = this.peerConnection?.remoteDescription?.sdp ?? '';
    const rtpReady = !!sender?.dtmf?.canInsertDTMF && hasTelephoneEvent(remote);
    const method = chooseDtmfMethod(this.#o.dtmfPreference(), rtpReady);
    this.lastDtmfMethod = method;
    if (method === 'rfc4733' && sender?.dtmf) {
      // insertDTMF queues tones; keep what is queued (W3C WebRTC §7.2).
      sender.dtmf.insertDTMF(sender.dtmf.toneBuffer + tone, TONE_MS, GAP_MS);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.session
        .info({
          requestOptions: { body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content: dtmfRelayBody(tone) } },
          requestDelegate: {
            onAccept: () => {
              this.sentTones += tone.toUpperCase();
              this.#changed();
              resolve();
            },
            onReject: (res) => reject(new Error(`INFO refused: ${res.message.statusCode}`)),
          },
        })
        .catch(reject);
    });
  }

  /** Blind transfer (RFC 3515, RFC 5589 §6): ask the other side to call `targetUri` instead. */
  async blindTransfer(targetUri: string, label: string): Promise<void> {
    const uri = UserAgent.makeURI(targetUri);
    if (!uri) throw new Error(`not a SIP URI: ${targetUri}`);
    await this.#refer(uri, { target: label, kind: 'blind', state: 'requested' });
  }

  /**
   * Attended transfer (RFC 5589 §7): we talked to `consultation` first; the other side is asked
   * to call it with Replaces (RFC 3891), which takes our place in that call. Both our calls end.
   */
  async attendedTransfer(consultation: Call): Promise<void> {
    const dialog = (consultation.session as unknown as { dialog?: { callId: string; localTag: string; remoteTag: string } }).dialog;
    if (!dialog || !consultation.peer.uri) throw new Error('the consultation call is not established');
    // sip.js would put the target's Contact in Refer-To. A browser's Contact is a *.invalid
    // WebSocket address that only its own flow reaches, so an INVITE sent there from elsewhere
    // finds no route. RFC 5589 §7.1 asks for a GRUU, else the address of record: the AOR reaches
    // the target through the proxy, and Replaces (RFC 3891 §6.1: tags as the target sees its
    // dialog) picks out the call there.
    const replaces = encodeURIComponent(`${dialog.callId};to-tag=${dialog.remoteTag};from-tag=${dialog.localTag}`);
    const session = this.session as unknown as { referToString?: (t: unknown) => string };
    session.referToString = () => `<${consultation.peer.uri}?Replaces=${replaces}>`;
    try {
      await this.#refer(consultation.session, { target: consultation.peer.label, kind: 'attended', state: 'requested' }, consultation);
    } finally {
      delete session.referToString;
    }
  }

  /**
   * After the WebSocket came back: new ICE candidates may be needed (another network), so offer
   * an ICE restart (RFC 8839 §4.4.1.1.1) in a re-INVITE, which also tells the far end our new
   * flow. The media keeps flowing meanwhile if the old path still works.
   */
  async restartIce(): Promise<boolean> {
    if (this.#state !== 'connected') return false;
    return this.#reinvite({ hold: this.held, offerOptions: { iceRestart: true } });
  }

  async stats(): Promise<CallStats | undefined> {
    const pc = this.peerConnection;
    if (!pc) return undefined;
    const report = await pc.getStats();
    return summarizeStats(report.values() as Iterable<StatsEntry>);
  }

  /** Sample the privacy indicator (about once a second). */
  refreshPrivacy(): Privacy {
    const pc = this.peerConnection;
    const sdp = pc?.remoteDescription?.sdp;
    const now = this.#protection?.counters();
    // Which way media flows now (hold makes one or both directions idle).
    const directions = (pc?.getTransceivers() ?? []).map((t) => t.currentDirection ?? '');
    const flow = { sending: directions.some((d) => d.includes('send')), receiving: directions.some((d) => d.includes('recv')) };
    const next = privacyOf(sdp ? transportSecurity(this.#remoteSdp ?? sdp) : undefined, now, this.#countersBefore, flow, this.#privacy.level);
    this.#countersBefore = now;
    if (next.level !== this.#privacy.level) {
      this.#privacy = next;
      this.#changed();
    }
    return this.#privacy;
  }

  /** The call was replaced by another dialog (RFC 3891): end it without a BYE of our own. */
  markReplaced(): void {
    this.#end('replaced');
  }

  // --- internals ------------------------------------------------------------------------------

  #context(): CallContext {
    const listeners = this.#signalListeners;
    const request = (this.session as Inviter | Invitation).request;
    return {
      callId: request.callId,
      onEstablished: (listener) => {
        if (this.session.state === SessionState.Established) queueMicrotask(listener);
        else this.#establishedListeners.push(listener);
      },
      changed: () => this.#changed(),
      localUri: this.#o.localUri,
      remoteUri: this.peer.uri,
      direction: this.direction,
      signal: {
        send: (body) =>
          new Promise<void>((resolve, reject) => {
            if (this.session.state !== SessionState.Established) return reject(new Error('call not established'));
            this.session
              .info({
                requestOptions: { body: { contentDisposition: 'session', contentType: E2EE_SIGNAL_CONTENT_TYPE, content: body } },
                requestDelegate: { onAccept: () => resolve(), onReject: (res) => reject(new Error(`INFO refused: ${res.message.statusCode}`)) },
              })
              .catch(reject);
          }),
        onMessage: (listener) => {
          listeners.push(listener);
        },
      },
    };
  }

  #apply(event: CallEvent): void {
    const next = transition(this.#state, event);
    if (!next || next === this.#state) return;
    this.#state = next;
    if (next === 'connected') this.connectedAt = Date.now();
    this.#changed();
  }

  #end(reason: EndReason): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.endReason = reason;
    this.endedAt = Date.now();
    this.#changed();
    this.events.emit('ended', reason);
  }

  #changed(): void {
    this.events.emit('change');
  }

  #onSessionState(s: SessionState): void {
    if (s === SessionState.Established) {
      this.#apply('accepted');
      for (const l of this.#establishedListeners.splice(0)) l();
    }
    if (s === SessionState.Terminated) {
      // The reason is set already when we caused it, or is about to be: sip.js reports a final
      // response to the requestDelegate just after this transition, in the same task. Otherwise
      // the far end ended it (BYE, CANCEL).
      const reason: EndReason =
        this.#state === 'incoming' ? 'cancelled' : this.#state === 'calling' || this.#state === 'ringing' ? 'failed' : 'remote-hung-up';
      queueMicrotask(() => this.#end(reason));
    }
  }

  #watchPeerConnection(sdh: Web.SessionDescriptionHandler): void {
    const pc = sdh.peerConnection;
    if (!pc) return;
    // Tones actually played into the RTP stream (RFC 4733), as the sender reports them.
    pc.addEventListener('track', () => this.#changed());
    const watched = new WeakSet<RTCDTMFSender>();
    const watchDtmf = () => {
      const dtmf = this.#sender('audio')?.dtmf;
      if (dtmf && !watched.has(dtmf)) {
        watched.add(dtmf);
        dtmf.addEventListener('tonechange', (e) => {
          if (e.tone) {
            this.sentTones += e.tone;
            this.#changed();
          }
        });
      }
    };
    pc.addEventListener('signalingstatechange', () => {
      watchDtmf();
      if (pc.signalingState === 'stable') this.#changed();
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      // A path that died (e.g. the network changed under us) needs new candidates.
      if (pc.iceConnectionState === 'failed') void this.restartIce();
      this.#changed();
    });
  }

  #noteSdp(body: string | undefined): void {
    if (body && /^v=0/m.test(body)) this.#remoteSdp = body;
  }

  #onReinvite(offer: string): void {
    this.#noteSdp(offer);
    this.remoteHeld = isRemoteHold(offer);
    // The far end may have added video: we receive it, and send none until our camera is on.
    this.remoteVideo = hasVideo(offer);
    this.#changed();
  }

  #onInfo(info: Info): void {
    const req = info.request;
    const type = req.getHeader('content-type') ?? '';
    const body = req.body ?? '';
    if (type.split(';')[0]!.trim().toLowerCase() === E2EE_SIGNAL_CONTENT_TYPE) {
      void info.accept();
      for (const l of this.#signalListeners) l(body);
      return;
    }
    const tone = parseDtmfInfo(type, body);
    if (tone === undefined) {
      void info.reject({ statusCode: 415 });
      return;
    }
    void info.accept();
    this.receivedTones += tone;
    this.#changed();
    this.events.emit('dtmf', tone);
  }

  #onRefer(referral: Referral): void {
    // RFC 3515 §2.4.2: 202 Accepted, then NOTIFYs on the progress of the new INVITE, which
    // sip.js sends for the Inviter that referral.makeInviter() returns.
    const by = referral.referredBy;
    this.referredBy = by ? by.replace(/^.*<|>.*$/g, '') : this.peer.label;
    this.#changed();
    void referral.accept().then(
      () => this.events.emit('referred', referral),
      () => undefined,
    );
  }

  async #refer(target: Parameters<Session['refer']>[0], status: TransferStatus, consultation?: Call): Promise<void> {
    if (this.#state !== 'connected') throw new Error('transfer needs a connected call');
    this.transfer = status;
    this.#changed();
    const update = (state: TransferStatus['state']) => {
      if (!this.transfer || this.transfer.state === 'done' || this.transfer.state === 'failed') return;
      this.transfer = { ...this.transfer, state };
      this.#changed();
    };
    await this.session.refer(target, {
      requestDelegate: {
        onAccept: () => update('trying'),
        onReject: () => update('failed'),
      },
      onNotify: (notification: Notification) => {
        void notification.accept();
        const code = sipfragStatus(notification.request.body ?? '');
        if (code === undefined) return;
        if (code < 200) update(code >= 180 ? 'ringing' : 'trying');
        else if (code < 300) {
          update('done');
          // RFC 5589 §6/§7: the transferor ends its call(s) once the transfer succeeded.
          this.#end('transferred');
          void this.session.bye().catch(() => undefined);
          if (consultation?.live) {
            // The transfer target's call with us is replaced (it BYEs us); end it here too.
            consultation.#end('transferred');
            void consultation.session.bye().catch(() => undefined);
          }
        } else update('failed');
      },
    });
  }

  async #reinvite(sdh: Web.SessionDescriptionHandlerOptions): Promise<boolean> {
    if (this.session.state !== SessionState.Established || this.renegotiating) return false;
    this.renegotiating = true;
    this.#changed();
    try {
      return await new Promise<boolean>((resolve) => {
        this.session
          .invite({
            sessionDescriptionHandlerOptions: { ...sdh, constraints: sdh.constraints ?? { audio: true, video: this.video } },
            requestDelegate: {
              onAccept: (res) => {
                this.#noteSdp(res.message.body);
                resolve(true);
              },
              onReject: () => resolve(false),
            },
          })
          .catch(() => resolve(false));
      });
    } finally {
      this.renegotiating = false;
      this.#changed();
    }
  }

  #sender(kind: 'audio' | 'video'): RTCRtpSender | undefined {
    return this.peerConnection?.getSenders().find((s) => s.track?.kind === kind);
  }

  #enableSenders(enable: boolean): void {
    for (const s of this.peerConnection?.getSenders() ?? []) {
      if (!s.track) continue;
      s.track.enabled = enable && (s.track.kind === 'audio' ? !this.muted : !this.cameraOff);
    }
  }
}
