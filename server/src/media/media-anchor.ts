/**
 * Media anchoring for calls between a WebRTC endpoint (a browser) and a SIP phone, as the proxy
 * sees it: it decides which calls need the bridge, rewrites the session descriptions the proxy
 * forwards (INVITE, re-INVITE, UPDATE, their responses, ACK), and releases the bridge when the
 * call ends (BYE, CANCEL, a failure response, a transaction timeout) or its media stops.
 *
 * Which calls: the caller's kind comes from its offer (sdp-facts.ts: WebRTC, or RTP/SRTP), or,
 * for an INVITE without one, from its transport (a WebSocket client is a browser, RFC 7118); the
 * callee's from its registration: a Contact with the +sip.ice feature tag (RFC 5768 §4.2: the UA
 * does ICE) over a WebSocket is a browser, anything else a phone. Calls between two browsers or
 * two phones are left alone (SDP untouched).
 *
 * Where the offer is (RFC 3261 §13.2.1, RFC 3264): in the request (the answer comes in the first
 * response with a body, 18x or 2xx, and is repeated unchanged in later ones), or in the 2xx to a
 * request without one (the answer then comes in the ACK). UPDATE (RFC 3311) works like re-INVITE.
 *
 * State is per Call-ID, so it lives in the SIP worker that owns the call (server/src/cluster).
 * A refused offer gets 488 Not Acceptable Here with a Warning (RFC 3261 §20.43) saying why.
 */
import { removeHeader, getHeader, topVia, type Peer, type SipMessage, type SipRequest, type SipResponse } from '../sip/message.ts';
import { parseNameAddr, parseParams, quoteString } from '../sip/header-values.ts';
import { parseUri } from '../sip/uri.ts';
import type { Logger } from '../logger.ts';
import type { Binding } from '../registrar/location-store.ts';
import { BridgeSession, type BridgeSessionOptions, type ComediaPolicy, type PhonePeer, type PhoneSrtpPolicy } from './bridge-session.ts';
import { BridgeWorkers } from './bridge-workers.ts';
import { writeRefusal } from './leg-sdp.ts';
import { otherSide, sideOf, type Side } from './negotiation.ts';
import { parseSdp, SdpError } from './sdp.ts';
import { describe } from './sdp-facts.ts';

export interface BridgeConfig {
  enabled: boolean;
  workers: number;
  listen: string;
  announcedIp?: string | undefined;
  rtcMinPort: number;
  rtcMaxPort: number;
  webrtcTcp: boolean;
  comedia: ComediaPolicy;
  phoneSrtp: PhoneSrtpPolicy;
  /** Release a call whose media stopped this long (s); while every stream is on hold, holdTimeout. */
  mediaTimeout: number;
  holdTimeout: number;
  maxCalls: number;
  logLevel: 'debug' | 'warn' | 'error' | 'none';
}

/** Why the proxy must answer a branch itself instead of forwarding it. */
export interface MediaRefusal {
  status: number;
  reason: string;
  /** Warning header value (RFC 3261 §20.43), when there is something to say. */
  warning?: string;
}

/** A request the proxy is about to forward on a branch. */
export interface ForwardedRequest {
  /** The copy being forwarded (its body may be rewritten). */
  fwd: SipRequest;
  source: Peer;
  /** The registration the branch goes to, for an initial request to a local user. */
  binding: Binding | undefined;
  inDialog: boolean;
  /** Identifies the branch in later calls (the proxy's own branch object). */
  branch: object;
}

/** What the proxy asks of media anchoring (proxy-core.ts calls these; all optional work is async). */
export interface MediaHook {
  /** Undefined when nothing is to be done (the common case, no promise); a refusal ends the branch. */
  request(r: ForwardedRequest): Promise<MediaRefusal | undefined> | undefined;
  /** A response on a branch, before it is forwarded (its body may be rewritten). */
  response(branch: object, res: SipResponse): Promise<void> | undefined;
  /** The branch ended without a response (timeout, transport error, cancelled before sending). */
  branchFailed(branch: object): void;
  /** An ACK for a 2xx about to be forwarded (it may carry the answer). */
  ack(fwd: SipRequest): Promise<void> | undefined;
}

interface Call {
  readonly session: BridgeSession;
  readonly callId: string;
  readonly callerTag: string;
  calleeTag: string | undefined;
  readonly callerSide: Side;
  /** The offer in a 2xx waits for its answer in the ACK from this side. */
  ackAnswerFrom: Side | undefined;
  /** The rewritten answer of the last ACK, for its retransmissions (RFC 3261 §17.1.1.3 does not retransmit ACK for 2xx over UDP but the UAC resends it per 2xx). */
  lastAck: { in: string; out: string } | undefined;
  answeredAt: number | undefined;
  lastBytes: number;
  lastActivity: number;
}

interface BranchState {
  readonly call: Call;
  readonly initial: boolean;
  /** The side that sent the request. */
  readonly from: Side;
  /** Did the request carry an offer (rewritten), or must the offer come in the response? */
  readonly offered: boolean;
  /** The offer as received (to refuse it properly if the answer is unusable). */
  readonly offerIn: string | undefined;
  /** The first answer (or offer, when the request had none) we wrote, repeated in later responses. */
  written: { in: string; out: string } | undefined;
  queue: Promise<void>;
  busy: number;
}

const E2EE_HEADER = 'Sotto-E2EE';

function sdpBody(msg: SipMessage): string | undefined {
  if (msg.body.length === 0) return undefined;
  const type = (getHeader(msg, 'Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/sdp' ? msg.body.toString('utf8') : undefined;
}

function hasBody(msg: SipMessage): boolean {
  return msg.body.length > 0;
}

function setSdp(msg: SipMessage, sdp: string): void {
  msg.body = Buffer.from(sdp, 'utf8');
}

function tagOf(msg: SipMessage, header: 'From' | 'To'): string | undefined {
  const v = getHeader(msg, header);
  if (v === undefined) return undefined;
  try {
    return parseNameAddr(v).params.get('tag') ?? undefined;
  } catch {
    return undefined;
  }
}

/** RFC 5768 §4.2: the +sip.ice feature tag in a registered Contact, over a WebSocket (RFC 7118). */
export function isWebRtcBinding(b: Binding | undefined): boolean {
  if (!b?.flow || (b.flow.transport !== 'ws' && b.flow.transport !== 'wss')) return false;
  for (const k of parseParams(b.contactParams).keys()) if (k.toLowerCase() === '+sip.ice') return true;
  return false;
}

function hostOf(uri: string): string | undefined {
  try {
    return parseUri(uri).host.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

export class MediaAnchor implements MediaHook {
  readonly #cfg: BridgeConfig;
  readonly #log: Logger;
  readonly #warnAgent: string;
  readonly #workers: BridgeWorkers;
  readonly #sessionOptions: BridgeSessionOptions;
  /** Confirmed and early dialogs: Call-ID, then both tags, in either order. */
  readonly #dialogs = new Map<string, Call>();
  readonly #calls = new Set<Call>();
  readonly #branches = new WeakMap<object, BranchState>();
  readonly #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(cfg: BridgeConfig, logger: Logger, warnAgent: string) {
    this.#cfg = cfg;
    this.#log = logger.child({ part: 'bridge' });
    this.#warnAgent = warnAgent;
    this.#workers = new BridgeWorkers({ workers: cfg.workers, rtcMinPort: cfg.rtcMinPort, rtcMaxPort: cfg.rtcMaxPort, logLevel: cfg.logLevel, logger: this.#log });
    this.#sessionOptions = {
      workers: this.#workers,
      listenIp: cfg.listen,
      announcedIp: cfg.announcedIp,
      webrtcTcp: cfg.webrtcTcp,
      comedia: cfg.comedia,
      phoneSrtp: cfg.phoneSrtp,
      logger: this.#log,
    };
    const every = Math.max(1, Math.min(10, cfg.mediaTimeout / 3)) * 1000;
    this.#timer = setInterval(() => void this.#sweep(), every);
    this.#timer.unref();
  }

  /** Bridged calls in progress. */
  get activeCalls(): number {
    return this.#calls.size;
  }

  /** The mediasoup workers (tests look at their routers). */
  get workers(): BridgeWorkers {
    return this.#workers;
  }

  /** The sessions of the calls in progress (tests). */
  get sessions(): BridgeSession[] {
    return [...this.#calls].map((c) => c.session);
  }

  close(): void {
    clearInterval(this.#timer);
    for (const c of [...this.#calls]) c.session.close('server closing');
    this.#workers.close();
  }

  // --- requests ------------------------------------------------------------------------------

  request(r: ForwardedRequest): Promise<MediaRefusal | undefined> | undefined {
    const { fwd } = r;
    if (fwd.method === 'INVITE' && !r.inDialog) return this.#initialInvite(r);
    if (!r.inDialog) return undefined;
    const call = this.#findDialog(fwd);
    if (!call) return undefined;
    if (fwd.method === 'BYE') {
      call.session.close('BYE');
      return undefined;
    }
    if (fwd.method !== 'INVITE' && fwd.method !== 'UPDATE') return undefined;
    removeHeader(fwd, E2EE_HEADER);
    const from: Side = tagOf(fwd, 'From') === call.callerTag ? call.callerSide : otherSide(call.callerSide);
    return this.#offerIn(call, r.branch, fwd, from, false);
  }

  #initialInvite(r: ForwardedRequest): Promise<MediaRefusal | undefined> | undefined {
    const { fwd, source, binding } = r;
    const sdp = sdpBody(fwd);
    const overWebSocket = source.transport === 'ws' || source.transport === 'wss';
    const calleeSide: Side = isWebRtcBinding(binding) ? 'web' : 'phone';
    let callerSide: Side | undefined;
    if (sdp !== undefined) {
      try {
        callerSide = sideOf(describe(parseSdp(sdp)).profile);
      } catch (err) {
        if (!(err instanceof SdpError)) throw err;
        // An offer we cannot read is the callee's business, unless we would have had to bridge it.
        if ((overWebSocket ? 'web' : 'phone') !== calleeSide) return Promise.resolve(this.#refusal(err));
        return undefined;
      }
    } else if (hasBody(fwd)) {
      return undefined; // multipart and other bodies pass untouched
    } else {
      callerSide = overWebSocket ? 'web' : 'phone';
    }
    if (!callerSide) return undefined;
    if (callerSide === calleeSide) return undefined;
    if (this.#calls.size >= this.#cfg.maxCalls) {
      this.#log.warn({ calls: this.#calls.size }, 'media bridge full');
      return Promise.resolve({ status: 503, reason: 'Service Unavailable (media bridge full)' });
    }
    const callId = getHeader(fwd, 'Call-ID') ?? '';
    const callerTag = tagOf(fwd, 'From') ?? '';
    let phone: PhonePeer;
    if (callerSide === 'phone') {
      let viaHost: string | undefined;
      try {
        viaHost = topVia(fwd).host.replace(/^\[|\]$/g, '');
      } catch {
        viaHost = undefined;
      }
      // The phone wrote another address in its Via than it sends from: it is behind NAT (RFC 3581).
      phone = { sipAddress: source.address, behindNat: viaHost !== undefined && viaHost !== source.address && /^[\d.:a-f]+$/i.test(viaHost) };
    } else {
      const contactHost = binding ? hostOf(binding.contact) : undefined;
      phone = { sipAddress: binding?.flow?.address ?? contactHost, behindNat: !!binding?.flow && !!contactHost && contactHost !== binding.flow.address };
    }
    const session = new BridgeSession(this.#sessionOptions, phone);
    const call: Call = { session, callId, callerTag, calleeTag: undefined, callerSide, ackAnswerFrom: undefined, lastAck: undefined, answeredAt: undefined, lastBytes: 0, lastActivity: Date.now() };
    this.#calls.add(call);
    session.onClose((reason) => this.#forget(call, reason));
    removeHeader(fwd, E2EE_HEADER);
    this.#log.debug({ callerSide }, 'bridging a call');
    const p = this.#offerIn(call, r.branch, fwd, callerSide, true);
    return p ?? Promise.resolve(undefined);
  }

  /** A request from `from` that may carry an offer; records the branch for its responses. */
  #offerIn(call: Call, branch: object, fwd: SipRequest, from: Side, initial: boolean): Promise<MediaRefusal | undefined> | undefined {
    const sdp = sdpBody(fwd);
    const state: BranchState = { call, initial, from, offered: sdp !== undefined, offerIn: sdp, written: undefined, queue: Promise.resolve(), busy: 0 };
    this.#branches.set(branch, state);
    if (sdp === undefined) return undefined;
    return call.session.offer(from, sdp).then(
      (out) => {
        setSdp(fwd, out);
        return undefined;
      },
      (err: unknown) => {
        if (initial) call.session.close('offer refused');
        else call.session.cancelOffer();
        return this.#refusal(err);
      },
    );
  }

  #refusal(err: unknown): MediaRefusal {
    if (err instanceof SdpError) {
      this.#log.info({ reason: err.message }, 'media bridge: offer refused');
      return { status: 488, reason: 'Not Acceptable Here', warning: this.#warning(err.warnCode, err.message) };
    }
    this.#log.error({ err }, 'media bridge: could not set up media');
    return { status: 500, reason: 'Server Internal Error (media bridge)', warning: this.#warning(399, 'the media bridge failed') };
  }

  #warning(code: number, text: string): string {
    // RFC 3261 §20.43: warn-code SP warn-agent SP warn-text (a quoted string).
    return `${code} ${this.#warnAgent} ${quoteString(text)}`;
  }

  // --- responses -----------------------------------------------------------------------------

  response(branch: object, res: SipResponse): Promise<void> | undefined {
    const state = this.#branches.get(branch);
    if (!state) return undefined;
    // Responses of a branch leave in the order they came, even while one is rewritten.
    const needsWork = sdpBody(res) !== undefined || res.status >= 200;
    if (!needsWork && state.busy === 0) return undefined;
    state.busy++;
    const run = state.queue.then(() => this.#onResponse(state, res)).catch((err: unknown) => this.#log.error({ err }, 'media bridge: response handling failed'));
    state.queue = run.finally(() => state.busy--);
    return state.queue;
  }

  async #onResponse(state: BranchState, res: SipResponse): Promise<void> {
    const { call } = state;
    const session = call.session;
    if (res.status >= 300) {
      if (state.initial) session.close(`final response ${res.status}`);
      else if (state.offered || call.session.negotiation.pendingFrom !== undefined) session.cancelOffer();
      return;
    }
    removeHeader(res, E2EE_HEADER);
    if (res.status >= 200 && state.initial && call.calleeTag === undefined) {
      call.calleeTag = tagOf(res, 'To');
      this.#dialogs.set(this.#key(call.callId, call.callerTag, call.calleeTag ?? ''), call);
      call.answeredAt = Date.now();
      call.lastActivity = Date.now();
    }
    if (session.closed) return;
    const sdp = sdpBody(res);
    if (sdp === undefined) {
      if (res.status >= 200 && state.offered && !state.written) {
        this.#log.info('media bridge: a 2xx without the answer to our offer');
        session.cancelOffer();
      }
      return;
    }
    // RFC 3261 §13.2.1: the first description in a response is the answer (or offer); later
    // ones are ignored by the UAC, so the one we wrote is repeated.
    if (state.written) {
      setSdp(res, state.written.out);
      return;
    }
    const responder = otherSide(state.from);
    if (state.offered) {
      try {
        const out = await session.answer(responder, sdp);
        state.written = { in: sdp, out };
        setSdp(res, out);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message, status: res.status }, 'media bridge: unusable answer; refusing every stream');
        const out = writeRefusal(describe(parseSdp(state.offerIn!)), this.#cfg.announcedIp ?? this.#cfg.listen);
        state.written = { in: sdp, out };
        setSdp(res, out);
        if (state.initial) session.close('unusable answer');
        else session.cancelOffer();
      }
      return;
    }
    if (res.status < 200) return; // an offer in an unreliable 1xx is not one (RFC 3262 needs PRACK)
    try {
      const out = await session.offer(responder, sdp);
      state.written = { in: sdp, out };
      call.ackAnswerFrom = state.from;
      setSdp(res, out);
    } catch (err) {
      // An offer in a 2xx cannot be refused with a 488: the call goes on without our media.
      this.#log.warn({ err: (err as Error).message }, 'media bridge: unusable offer in a 2xx');
      if (state.initial) session.close('unusable offer');
    }
  }

  branchFailed(branch: object): void {
    const state = this.#branches.get(branch);
    if (!state) return;
    if (state.initial) state.call.session.close('branch failed');
    else state.call.session.cancelOffer();
  }

  // --- ACK -----------------------------------------------------------------------------------

  ack(fwd: SipRequest): Promise<void> | undefined {
    const sdp = sdpBody(fwd);
    if (sdp === undefined) return undefined;
    const call = this.#findDialog(fwd);
    if (!call || call.session.closed) return undefined;
    if (call.lastAck?.in === sdp) {
      setSdp(fwd, call.lastAck.out);
      return undefined;
    }
    const from = call.ackAnswerFrom;
    if (!from) return undefined;
    call.ackAnswerFrom = undefined;
    return call.session.answer(from, sdp).then(
      (out) => {
        call.lastAck = { in: sdp, out };
        setSdp(fwd, out);
      },
      (err: unknown) => {
        this.#log.warn({ err: (err as Error).message }, 'media bridge: unusable answer in an ACK');
        call.session.close('unusable answer in ACK');
      },
    );
  }

  // --- bookkeeping ---------------------------------------------------------------------------

  #key(callId: string, a: string, b: string): string {
    return `${callId}\n${a}\n${b}`;
  }

  #findDialog(req: SipRequest): Call | undefined {
    const callId = getHeader(req, 'Call-ID');
    const from = tagOf(req, 'From');
    const to = tagOf(req, 'To');
    if (callId === undefined || from === undefined || to === undefined) return undefined;
    return this.#dialogs.get(this.#key(callId, from, to)) ?? this.#dialogs.get(this.#key(callId, to, from));
  }

  #forget(call: Call, reason: string): void {
    this.#calls.delete(call);
    if (call.calleeTag !== undefined) this.#dialogs.delete(this.#key(call.callId, call.callerTag, call.calleeTag));
    this.#log.debug({ reason, calls: this.#calls.size }, 'bridged call released');
  }

  /** RTP timeout (as rtpengine's): a call whose transports received nothing for a while is released. */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const now = Date.now();
      for (const call of [...this.#calls]) {
        if (call.answeredAt === undefined || call.session.closed) continue;
        let bytes: number;
        try {
          bytes = await call.session.bytesReceived();
        } catch {
          continue;
        }
        if (bytes !== call.lastBytes) {
          call.lastBytes = bytes;
          call.lastActivity = now;
          continue;
        }
        const limit = (call.session.flowing ? this.#cfg.mediaTimeout : this.#cfg.holdTimeout) * 1000;
        if (now - call.lastActivity >= limit) {
          this.#log.info({ silentSeconds: Math.round((now - call.lastActivity) / 1000) }, 'media bridge: no media, call released');
          call.session.close('media timeout');
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }
}
