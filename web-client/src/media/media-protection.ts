/**
 * The seam where end-to-end media encryption (web-client/src/e2ee, SFrame RFC 9605) plugs into a
 * call. The call code knows nothing of keys or ciphers; it promises three things:
 *
 * 1. `rtcConfiguration` is merged into the RTCPeerConnection's configuration when it is created,
 *    before any sender exists (e.g. `{ encodedInsertableStreams: true }`).
 * 2. `attachSender` / `attachReceiver` are called synchronously, in the very task that created
 *    the sender or receiver: inside `addTrack`, and inside the `track` event that a remote offer's
 *    new transceiver fires. In Chromium an RTCRtpScriptTransform assigned in a later task passes no
 *    frames, silently, and media would go out unencrypted (/work/shared/e2ee-sfu-findings.md).
 *    Each sender and receiver is attached once.
 * 3. `counters()` is read about once a second by the privacy indicator, which claims
 *    "end-to-end encrypted" only when frames are both encrypted and decrypted
 *    (web-client/src/privacy/indicator.ts).
 *
 * Key agreement needs to talk to the other side: `CallContext.signal` sends opaque messages in
 * the call's own SIP dialog (INFO, RFC 6086, with the content type below) and delivers theirs.
 */
import type { FrameCounters } from '../privacy/indicator.ts';

export const E2EE_SIGNAL_CONTENT_TYPE = 'application/vnd.sotto.e2ee+json';

export interface E2eeSignal {
  /** Resolves when the far end accepted the INFO (2xx); rejects when the call is not up or it refused. */
  send(body: string): Promise<void>;
  /** Messages from the far end, in order. */
  onMessage(listener: (body: string) => void): void;
}

export interface CallContext {
  /** Our own address of record, sip:user@domain. */
  readonly localUri: string;
  /** The far end's address (empty for anonymous callers). */
  readonly remoteUri: string;
  readonly direction: 'incoming' | 'outgoing';
  readonly signal: E2eeSignal;
}

export interface MediaProtection {
  readonly rtcConfiguration?: Record<string, unknown>;
  attachSender(sender: RTCRtpSender, kind: 'audio' | 'video'): void;
  attachReceiver(receiver: RTCRtpReceiver, kind: 'audio' | 'video'): void;
  /** Undefined while E2EE is not running for this call. */
  counters(): FrameCounters | undefined;
  close(): void;
}

/** Called once per call, before its RTCPeerConnection exists; undefined means no E2EE. */
export type MediaProtectionFactory = (call: CallContext) => MediaProtection | undefined;
