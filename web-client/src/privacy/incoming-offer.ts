/**
 * What an incoming call will be, privacy-wise, judged from the INVITE alone: before answering,
 * there is no media and no E2EE frame counter to go by, only what the caller announced.
 *
 * - A Sotto page that can encrypt end to end announces it with the `Sotto-E2EE` header and sends
 *   no SDP offer (RFC 3261 §13.2.1: the offer then comes from us, the callee, in our 2xx; see
 *   sip/call.ts). If this page can encrypt too, the call will be end-to-end encrypted: the
 *   transforms are attached before any media exists, and nothing goes out in clear meanwhile.
 * - Anything else is judged by the transport its SDP offer asks for (./sdp-security.ts):
 *   RTP/AVP is "Not encrypted", SDES keys in the SDP are "Encrypted up to the server", DTLS-SRTP
 *   is "Encrypted in transit". No offer and no announcement: not known before answering.
 *
 * The setting "decline calls that are not end-to-end encrypted" uses `e2ee` below: only a call
 * that will be end-to-end encrypted passes it.
 */
import type { PrivacyLevel } from './indicator.ts';
import { privacyOf } from './indicator.ts';
import { transportSecurity } from './sdp-security.ts';

export interface OfferPrivacy {
  /** 'e2ee' here means "will be end-to-end encrypted once answered", not yet proven by frames. */
  level: PrivacyLevel;
  label: string;
  detail: string;
  /** The call will be end-to-end encrypted if answered. */
  e2ee: boolean;
}

export interface IncomingOffer {
  /** The INVITE carried the E2EE announcement header. */
  announcedE2ee: boolean;
  /** This page can encrypt end to end (E2EE worker and RTCRtpScriptTransform available, not turned off). */
  canE2ee: boolean;
  /** The SDP offer in the INVITE, if any. */
  offerSdp: string | undefined;
}

export function offerPrivacy(o: IncomingOffer): OfferPrivacy {
  if (o.announcedE2ee && o.canE2ee) {
    return {
      level: 'e2ee',
      label: 'End-to-end encrypted',
      detail: 'Both browsers can encrypt this call end to end; the call screen confirms it once media flows.',
      e2ee: true,
    };
  }
  const sdp = o.offerSdp?.trim() ? o.offerSdp : undefined;
  const p = privacyOf(sdp ? transportSecurity(sdp) : undefined);
  if (p.level === 'unknown') return { level: 'unknown', label: 'Encryption not known yet', detail: 'The caller made no offer: how media is protected is known only after answering.', e2ee: false };
  return { ...p, e2ee: false };
}

/**
 * How this page refuses a call when end-to-end encryption is required and the offer cannot give
 * it. 488 Not Acceptable Here (RFC 3261 §21.4.26), not 606 Not Acceptable (§21.6.4): both say
 * "the session description is not acceptable", but a 6xx is global, it makes the proxy cancel
 * every other branch of a forked call (§16.7 step 5) and tells the caller no device of this user
 * would take it. The setting is this browser's own; the user's other devices (a desk phone) may
 * well accept the call. §21.4.26 asks a 488 to carry a Warning saying why; code 399
 * "Miscellaneous warning" (§20.43; none of the 3xx SDP codes means "encryption required"), with
 * a pseudonym as warn-agent since a browser has no host name of its own.
 */
export const E2EE_REQUIRED_STATUS = 488;
export const E2EE_REQUIRED_WARNING = '399 sotto-web "End-to-end encryption required"';
