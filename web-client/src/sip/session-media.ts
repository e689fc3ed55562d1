/**
 * sip.js's WebRTC SessionDescriptionHandler, with three changes:
 *
 * - No third-party STUN server by default. sip.js's default configuration asks
 *   stun.l.google.com for every call, which tells Google who calls when and from which
 *   address; Sotto uses only the ICE servers it is given (none by default: host candidates).
 * - ICE gathering waits at most a bounded time (non-trickle SIP needs all candidates in the SDP,
 *   RFC 8839 §4.1; with no STUN/TURN they come at once).
 * - The E2EE seam (../media/media-protection.ts): each sender and receiver is handed to the
 *   call's protection synchronously in the task that created it: `addTrack` is wrapped, and the
 *   `track` event gives the receiver and the sender of a transceiver that a remote offer created.
 */
import { Web, type Session, type SessionDescriptionHandlerFactory } from 'sip.js';
import type { MediaProtection } from '../media/media-protection.ts';

type Kind = 'audio' | 'video';
const kindOf = (k: string): Kind => (k === 'video' ? 'video' : 'audio');

export class ProtectedSessionDescriptionHandler extends Web.SessionDescriptionHandler {
  readonly #protectionFor: () => MediaProtection | undefined;
  #protection: { p: MediaProtection | undefined } | undefined;

  constructor(
    logger: ConstructorParameters<typeof Web.SessionDescriptionHandler>[0],
    mediaStreamFactory: Web.MediaStreamFactory,
    configuration: Web.SessionDescriptionHandlerConfiguration,
    protectionFor: () => MediaProtection | undefined,
  ) {
    super(logger, mediaStreamFactory, configuration);
    this.#protectionFor = protectionFor;
    const pc = this.peerConnection;
    if (!pc) return;
    const senders = new WeakSet<RTCRtpSender>();
    const receivers = new WeakSet<RTCRtpReceiver>();
    const attachSender = (s: RTCRtpSender, kind: Kind) => {
      if (senders.has(s)) return;
      senders.add(s);
      this.#resolve()?.attachSender(s, kind);
    };
    const attachReceiver = (r: RTCRtpReceiver, kind: Kind) => {
      if (receivers.has(r)) return;
      receivers.add(r);
      this.#resolve()?.attachReceiver(r, kind);
    };
    const addTrack = pc.addTrack.bind(pc);
    pc.addTrack = (track: MediaStreamTrack, ...streams: MediaStream[]) => {
      const sender = addTrack(track, ...streams);
      const kind = kindOf(track.kind);
      attachSender(sender, kind);
      // A new transceiver comes with its receiver, created now too: its `track` event fires only
      // when a later description is applied, which is too late for a transform.
      const receiver = pc.getTransceivers().find((t) => t.sender === sender)?.receiver;
      if (receiver) attachReceiver(receiver, kind);
      return sender;
    };
    pc.addEventListener('track', (e) => {
      // Transceivers a remote offer created: the event fires in the task that created them.
      const kind = kindOf(e.track.kind);
      attachReceiver(e.receiver, kind);
      attachSender(e.transceiver.sender, kind);
    });
  }

  /** The call's protection, asked for when the first sender or receiver appears. */
  get protection(): MediaProtection | undefined {
    return this.#protection?.p;
  }

  #resolve(): MediaProtection | undefined {
    this.#protection ??= { p: this.#protectionFor() };
    return this.#protection.p;
  }

  override close(): void {
    super.close();
    this.#protection?.p?.close();
  }
}

/** getUserMedia for what the call asked; nothing at all for a receive-only answer. */
export const mediaStreamFactory: Web.MediaStreamFactory = (constraints) => {
  if (!constraints.audio && !constraints.video) return Promise.resolve(new MediaStream());
  return navigator.mediaDevices.getUserMedia(constraints);
};

export interface SessionMediaOptions {
  iceServers: RTCIceServer[];
  /** Longest wait for ICE candidates before sending the SDP (ms). */
  iceGatheringTimeoutMs: number;
  /** The call's media protection (E2EE), looked up when sip.js creates the handler. */
  protectionFor(session: Session): MediaProtection | undefined;
}

export function sessionDescriptionHandlerFactory(o: SessionMediaOptions): SessionDescriptionHandlerFactory {
  return (session) => {
    const configuration: Web.SessionDescriptionHandlerConfiguration = {
      iceGatheringTimeout: o.iceGatheringTimeoutMs,
      peerConnectionConfiguration: {
        bundlePolicy: 'max-bundle',
        rtcpMuxPolicy: 'require',
        iceServers: o.iceServers,
      },
    };
    const logger = session.userAgent.getLogger('sip.SessionDescriptionHandler');
    return new ProtectedSessionDescriptionHandler(logger, mediaStreamFactory, configuration, () => o.protectionFor(session));
  };
}
