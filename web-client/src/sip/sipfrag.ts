/**
 * The progress of a transfer: the transferee reports the fate of its INVITE to the transfer
 * target in NOTIFYs whose body is a message/sipfrag status line (RFC 3515 §2.4.5, RFC 3420),
 * e.g. "SIP/2.0 180 Ringing" then "SIP/2.0 200 OK".
 */
export function sipfragStatus(body: string): number | undefined {
  const m = /^SIP\/2\.0\s+(\d{3})\b/.exec(body.trimStart());
  return m ? Number(m[1]) : undefined;
}
