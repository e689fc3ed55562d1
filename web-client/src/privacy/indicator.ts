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

/**
 * `now` and `before` are two samples of the E2EE counters (undefined without E2EE). End-to-end
 * needs both directions to have moved, and no new decryption failures.
 */
export function privacyOf(transport: TransportSecurity | undefined, now?: FrameCounters, before?: FrameCounters): Privacy {
  let level: PrivacyLevel = transport ? FROM_TRANSPORT[transport] : 'unknown';
  if (now && before) {
    const encrypting = now.encryptedFrames > before.encryptedFrames;
    const decrypting = now.decryptedFrames > before.decryptedFrames;
    const failing = now.decryptFailures > before.decryptFailures;
    if (encrypting && decrypting && !failing && level !== 'none') level = 'e2ee';
  }
  return { level, ...TEXT[level] };
}
