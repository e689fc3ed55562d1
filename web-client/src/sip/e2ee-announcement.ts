/**
 * Which answered calls the callee said it can encrypt end to end. The caller must know before it
 * sets up its media (see sip/call.ts), but sip.js tells its application about a 2xx only after it
 * has built the answer to the offer in it, senders included. So the phone looks at each raw
 * message as it arrives, before sip.js does: a 2xx to an INVITE carrying the E2EE header names
 * its Call-ID here. Header names are case-insensitive (RFC 3261 §7.3.1); Call-ID has the compact
 * form "i" (§7.3.3).
 */
export function e2eeAnsweredCallId(raw: string, header: string): string | undefined {
  if (!/^SIP\/2\.0 2\d\d /.test(raw)) return undefined;
  const end = raw.search(/\r?\n\r?\n/);
  const head = end === -1 ? raw : raw.slice(0, end);
  let callId: string | undefined;
  let invite = false;
  let announced = false;
  const want = header.toLowerCase();
  for (const line of head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'call-id' || name === 'i') callId = value;
    else if (name === 'cseq') invite = /^\d+\s+INVITE$/i.test(value);
    else if (name === want) announced = true;
  }
  return invite && announced ? callId : undefined;
}
