/**
 * DTMF (keypad tones during a call). Preferred: RFC 4733 telephone-events in the RTP stream,
 * through RTCRtpSender.dtmf (W3C WebRTC §7), when the answer negotiated telephone-event. The
 * fallback is a SIP INFO request (RFC 6086) with an application/dtmf-relay body, the de facto
 * format of Cisco and most PBXs: "Signal=5\r\nDuration=160\r\n".
 */
export type DtmfMethod = 'rfc4733' | 'info';
export type DtmfPreference = 'auto' | 'info';

/** The tones RFC 4733 §3.2 events 0-15 carry. */
export function isDtmfTone(s: string): boolean {
  return /^[0-9A-Da-d*#]$/.test(s);
}

/** Default tone length and gap: W3C insertDTMF defaults (100 ms / 70 ms). */
export const TONE_MS = 100;
export const GAP_MS = 70;

export function chooseDtmfMethod(preference: DtmfPreference, rtpNegotiated: boolean): DtmfMethod {
  return preference === 'auto' && rtpNegotiated ? 'rfc4733' : 'info';
}

export function dtmfRelayBody(tone: string, durationMs: number = TONE_MS * 2): string {
  if (!isDtmfTone(tone)) throw new RangeError(`not a DTMF tone: ${tone}`);
  return `Signal=${tone.toUpperCase()}\r\nDuration=${Math.round(durationMs)}\r\n`;
}

/**
 * The tone in an INFO body: application/dtmf-relay ("Signal=5"), or application/dtmf (the bare
 * tone). Undefined for anything else.
 */
export function parseDtmfInfo(contentType: string, body: string): string | undefined {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  let tone: string | undefined;
  if (type === 'application/dtmf-relay') tone = /^\s*signal\s*=\s*(\S)\s*$/im.exec(body)?.[1];
  else if (type === 'application/dtmf') tone = body.trim();
  return tone && isDtmfTone(tone) ? tone.toUpperCase() : undefined;
}
