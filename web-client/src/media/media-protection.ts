/**
 * The seam where end-to-end media encryption (web-client/src/e2ee, SFrame RFC 9605) plugs into a
 * call. The call code knows nothing of keys or ciphers; it promises three things:
 *
 * 1. The factory is asked only for a call that both sides agreed to encrypt (sip/call.ts settles
 *    that in the INVITE and its 2xx, before any media exists), once, when the first sender or
 *    receiver is about to be handed over.
 * 2. `attachSender` / `attachReceiver` are called synchronously, in the very task that created
 *    the sender or receiver: inside `addTrack`, and inside the `track` event that a remote offer's
 *    new transceiver fires. In Chromium an RTCRtpScriptTransform assigned in a later task passes no
 *    frames, silently, and media would go out unencrypted (/work/shared/e2ee-sfu-findings.md);
 *    setting it back to null later does not bring media back either (measured here). Each sender
 *    and receiver is attached once.
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
  /** The SIP Call-ID: names the call in key agreement messages. */
  readonly callId: string;
  /** Our own address of record, sip:user@domain. */
  readonly localUri: string;
  /** The far end's address (empty for anonymous callers). */
  readonly remoteUri: string;
  readonly direction: 'incoming' | 'outgoing';
  readonly signal: E2eeSignal;
  /** Called once the dialog is confirmed (the signal works from then on). */
  onEstablished(listener: () => void): void;
  /** Tell the call screen that status() changed. */
  changed(): void;
}

export interface ProtectionStatus {
  state: 'agreeing' | 'ready' | 'failed';
  /** Short authentication string to compare with the other side, once keys are agreed. */
  sas?: string[];
  error?: string;
}

export interface MediaProtection {
  attachSender(sender: RTCRtpSender, kind: 'audio' | 'video'): void;
  attachReceiver(receiver: RTCRtpReceiver, kind: 'audio' | 'video'): void;
  /** Undefined until the transforms have reported. */
  counters(): FrameCounters | undefined;
  status(): ProtectionStatus;
  close(): void;
}

/** Called at most once per call, for calls both sides agreed to encrypt. */
export type MediaProtectionFactory = (call: CallContext) => MediaProtection;

/** The SIP header by which each side of a call says it can encrypt end to end (INVITE and 2xx). */
export const E2EE_HEADER = 'Sotto-E2EE';
export const E2EE_HEADER_VALUE = 'sframe-x25519; v=1';
