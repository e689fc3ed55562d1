/**
 * The privacy indicator: one honest sentence about who could listen in. It claims "end-to-end
 * encrypted" only from evidence, frames really encrypted on the way out AND decrypted on the way
 * in since the last look (the E2EE transform's counters; an RTCRtpScriptTransform attached too
 * late passes nothing and raises no error, see /work/shared/e2ee-sfu-findings.md). Without that
 * evidence it falls back to what the negotiated SDP says about the media transport.
 */
import type { TransportSecurity } from './sdp-security.ts';

export type PrivacyLevel = 'e2ee' | 'in-transit' | 'to-server' | 'none' | 'unknown';

/** Counters the E2EE transform keeps (web-client/src/e2ee), cumulative since the call started. */
export interface FrameCounters {
  encryptedFrames: number;
  decryptedFrames: number;
  /** Frames that failed to decrypt (wrong key, tampering). */
  decryptFailures: number;
}

export interface Privacy {
  level: PrivacyLevel;
  label: string;
  detail: string;
}

const TEXT: Record<PrivacyLevel, Omit<Privacy, 'level'>> = {
  e2ee: { label: 'End-to-end encrypted', detail: 'Audio and video are encrypted with keys only the people in the call hold.' },
  'in-transit': {
    label: 'Encrypted in transit',
    detail: 'Media is encrypted (DTLS-SRTP) with keys agreed with the other side; the server relays only the key fingerprints.',
  },
  'to-server': { label: 'Encrypted up to the server', detail: 'Media is encrypted (SDES-SRTP), but its keys travel through the server, which could decrypt it.' },
  none: { label: 'Not encrypted', detail: 'Media travels as plain RTP: anyone on the path can listen.' },
  unknown: { label: 'Connecting…', detail: 'Media protection is not known yet.' },
};

const FROM_TRANSPORT: Record<TransportSecurity, PrivacyLevel> = {
  'dtls-srtp': 'in-transit',
  'sdes-srtp': 'to-server',
  plain: 'none',
  none: 'unknown',
};

/** Which way media is negotiated to flow now (the transceivers' current directions). */
export interface MediaFlow {
  sending: boolean;
  receiving: boolean;
}

/**
 * `now` and `before` are two samples of the E2EE counters (undefined without E2EE). End-to-end
 * needs frames to have moved through the transforms in every direction media flows in, and no new
 * decryption failures. On hold one direction (or both) carries nothing: that direction is not
 * asked for, and with nothing flowing at all the level stays what it was proven to be.
 */
export function privacyOf(
  transport: TransportSecurity | undefined,
  now?: FrameCounters,
  before?: FrameCounters,
  flow: MediaFlow = { sending: true, receiving: true },
  previous?: PrivacyLevel,
): Privacy {
  let level: PrivacyLevel = transport ? FROM_TRANSPORT[transport] : 'unknown';
  if (now && before && level !== 'none') {
    const encrypting = now.encryptedFrames > before.encryptedFrames;
    const decrypting = now.decryptedFrames > before.decryptedFrames;
    const failing = now.decryptFailures > before.decryptFailures;
    const sendOk = flow.sending ? encrypting : true;
    const receiveOk = flow.receiving ? decrypting : true;
    const somethingMoved = (flow.sending && encrypting) || (flow.receiving && decrypting);
    if (sendOk && receiveOk && !failing && (somethingMoved || previous === 'e2ee')) level = 'e2ee';
  }
  return { level, ...TEXT[level] };
}
