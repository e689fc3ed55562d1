/**
 * The SIP message model shared by the parser, the serializer, the transaction layer,
 * the registrar and the proxy.
 *
 * A proxy must forward headers it does not understand unchanged (RFC 3261 §16.6), so a
 * message keeps every header field as received, in order, as a raw value string. Typed
 * views (Via, CSeq, name-addr, ...) are parsed on demand by `header-values.ts` only for the
 * few headers the core acts on.
 */

/** One header field line (after unfolding). Several lines with the same name are kept apart. */
export interface HeaderField {
  /**
   * Canonical name: compact forms expanded (RFC 3261 §7.3.3, "v" → "Via") and well-known
   * names in their RFC spelling ("call-id" → "Call-ID"); unknown names are kept as received.
   */
  name: string;
  /** Raw value with leading/trailing whitespace removed; may hold several comma-separated values. */
  value: string;
}

interface SipMessageBase {
  headers: HeaderField[];
  /** Message body; empty Buffer when there is none. Content-Length is recomputed on serialization. */
  body: Buffer;
}

export interface SipRequest extends SipMessageBase {
  kind: 'request';
  /** Method token, case-sensitive (RFC 3261 §7.1). */
  method: string;
  /** Request-URI exactly as received. */
  uri: string;
}

export interface SipResponse extends SipMessageBase {
  kind: 'response';
  status: number;
  reason: string;
}

export type SipMessage = SipRequest | SipResponse;

/** Where a message came from, or where it must go; filled in by the transport layer. */
export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface Peer {
  transport: TransportName;
  address: string;
  port: number;
  /**
   * For connection-oriented transports: the id of the connection the message arrived on,
   * so a response or a request to a client registered over it can go back down the same
   * connection (RFC 3261 §18.2.2, RFC 5626 §5.3, RFC 7118 §5).
   */
  connectionId?: string;
}

/** Transports that retransmit for us; SIP timers A, E, G are not used on them (RFC 3261 §17.1.1.2). */
export function isReliable(transport: TransportName): boolean {
  return transport !== 'udp';
}

const lowerNameCache = new Map<string, string>();
function lower(name: string): string {
  let l = lowerNameCache.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (lowerNameCache.size < 1024) lowerNameCache.set(name, l);
  }
  return l;
}

/** First value of a header (the whole field line), or undefined. Names compare case-insensitively. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const n = lower(name);
  for (const h of msg.headers) if (lower(h.name) === n) return h.value;
  return undefined;
}

/** Every field line of a header, in order (not split at commas: see splitHeaderValues). */
export function getHeaderLines(msg: SipMessage, name: string): string[] {
  const n = lower(name);
  const out: string[] = [];
  for (const h of msg.headers) if (lower(h.name) === n) out.push(h.value);
  return out;
}

/** True if the message has at least one field of that name. */
export function hasHeader(msg: SipMessage, name: string): boolean {
  return getHeader(msg, name) !== undefined;
}

/** Replace every field of that name with one field holding `value` (kept at the first one's place). */
export function setHeader(msg: SipMessage, name: string, value: string): void {
  const n = lower(name);
  const i = msg.headers.findIndex((h) => lower(h.name) === n);
  if (i < 0) {
    msg.headers.push({ name, value });
    return;
  }
  msg.headers[i] = { name, value };
  for (let j = msg.headers.length - 1; j > i; j--) if (lower(msg.headers[j]!.name) === n) msg.headers.splice(j, 1);
}

/** Remove every field of that name. */
export function removeHeader(msg: SipMessage, name: string): void {
  const n = lower(name);
  msg.headers = msg.headers.filter((h) => lower(h.name) !== n);
}

/** Insert a field before the first field of the same name (or at the top if none), as Via and Record-Route need. */
export function prependHeader(msg: SipMessage, name: string, value: string): void {
  const n = lower(name);
  const i = msg.headers.findIndex((h) => lower(h.name) === n);
  msg.headers.splice(i < 0 ? 0 : i, 0, { name, value });
}

/** Append a field after the existing ones. */
export function appendHeader(msg: SipMessage, name: string, value: string): void {
  msg.headers.push({ name, value });
}

/**
 * Split a header value at top-level commas (RFC 3261 §7.3.1): commas inside quoted strings,
 * <...> URIs, or parentheses do not separate values.
 */
export function splitHeaderValues(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c /* < */) inAngle = true;
    else if (c === 0x3e /* > */) inAngle = false;
    else if (c === 0x2c /* , */ && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

/** All values of a header across field lines, split at top-level commas. */
export function getHeaderValues(msg: SipMessage, name: string): string[] {
  const out: string[] = [];
  for (const line of getHeaderLines(msg, name)) for (const v of splitHeaderValues(line)) out.push(v);
  return out;
}

/** A shallow-enough copy for forwarding: header array and field objects are new, the body Buffer is shared. */
export function cloneMessage<T extends SipMessage>(msg: T): T {
  return { ...msg, headers: msg.headers.map((h) => ({ name: h.name, value: h.value })) };
}
