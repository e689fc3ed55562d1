/**
 * Which worker owns a message. Every message of a Call-ID is handled by one worker, so the
 * transactions of a call (INVITE, its retransmissions, CANCEL, ACK, the responses to the
 * proxy's own client transactions) meet the same state (RFC 3261 §17.1.3, §17.2.3 match within
 * one transaction layer); REGISTER is the exception (see isRegister in worker-link.ts). This is the same choice
 * Kamailio makes with its shared-memory transaction table, made by routing instead of sharing.
 *
 * Pure functions, no I/O: the scan reads only the header section of a raw datagram or frame.
 */

/**
 * The Call-ID value of a raw SIP message (long form "Call-ID" or compact "i", any case, RFC 3261
 * §7.3.3), without parsing the rest. Undefined when absent: the message is then handled where
 * it arrived, and the parser rejects it there.
 */
export function extractCallId(buf: Buffer): string | undefined {
  const n = Math.min(buf.length, 65535);
  let i = 0;
  // Skip the start line.
  while (i < n && buf[i] !== 0x0a) i++;
  i++;
  while (i < n) {
    const lineStart = i;
    if (buf[i] === 0x0d || buf[i] === 0x0a) return undefined; // end of headers
    let j = i;
    while (j < n && buf[j] !== 0x3a /* : */ && buf[j] !== 0x0a) j++;
    if (j < n && buf[j] === 0x3a) {
      let nameEnd = j;
      while (nameEnd > lineStart && (buf[nameEnd - 1] === 0x20 || buf[nameEnd - 1] === 0x09)) nameEnd--;
      const len = nameEnd - lineStart;
      if ((len === 7 && buf.toString('latin1', lineStart, nameEnd).toLowerCase() === 'call-id') || (len === 1 && (buf[lineStart]! | 0x20) === 0x69)) {
        let end = j + 1;
        while (end < n && buf[end] !== 0x0a) end++;
        const value = buf.toString('latin1', j + 1, end).trim();
        return value || undefined;
      }
    }
    while (j < n && buf[j] !== 0x0a) j++;
    i = j + 1;
  }
  return undefined;
}

/** FNV-1a over the Call-ID: cheap, stable across workers and restarts. */
export function shardOf(callId: string, workers: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < callId.length; i++) h = Math.imul(h ^ callId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % workers;
}
