/**
 * The SIP message model shared by the parser, the serializer, the transaction layer,
 * the registrar and the proxy.
 *
 * A proxy must forward headers it does not understand unchanged (RFC 3261 §16.6), so a
 * message keeps every header field as received, in order, as a raw value string. Typed
 * views (Via, CSeq, name-addr, ...) are parsed on demand by `header-values.ts` only for the
 * few headers the core acts on.
 *
 * Messages that come from the parser carry a private cache of those views (top Via, CSeq,
 * From, To, Request-URI), filled by the parser as it validates them, so the transaction layer,
 * the registrar and the proxy do not parse them again: see `topVia`, `cseqOf`, `fromOf`, `toOf`
 * and `requestUri`. Each view is kept with the raw string it was parsed from and recomputed
 * when the message has been changed since; the views are shared, callers must not modify them.
 */
import { parseCSeq, parseNameAddr, parseVia, type CSeq, type NameAddr, type Via } from './header-values.ts';
import { parseUri, type SipUri } from './uri.ts';

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

// ---- parsed messages and their views ----

/** The views of one message, each with the raw value it was parsed from (the parser fills one in). */
export class MessageViews {
  viaValue: string | undefined = undefined;
  via: Via | undefined = undefined;
  cseqValue: string | undefined = undefined;
  cseq: CSeq | undefined = undefined;
  fromValue: string | undefined = undefined;
  from: NameAddr | undefined = undefined;
  toValue: string | undefined = undefined;
  to: NameAddr | undefined = undefined;
  /** Parsed URIs (Request-URI, From/To/Contact/Route URIs) by their text, as pairs: text, SipUri. */
  uris: (string | SipUri)[] | undefined = undefined;

  /** Remember the parse of `text` (a bounded number of URIs per message). */
  addUri(text: string, uri: SipUri): void {
    const list = (this.uris ??= []);
    if (list.length < 2 * MAX_CACHED_URIS) list.push(text, uri);
  }
}

/** URIs cached per message: Request-URI, From, To, a few Contacts or Routes. */
const MAX_CACHED_URIS = 8;

/**
 * What the parser returns: a plain message (same fields as the interfaces, nothing else
 * enumerable) with the views cache in a private field. Copies made with spread or
 * cloneMessage are plain objects without it.
 */
abstract class ParsedMessage {
  headers: HeaderField[];
  body: Buffer;
  #views: MessageViews | undefined;

  constructor(headers: HeaderField[], body: Buffer, views: MessageViews | undefined) {
    this.headers = headers;
    this.body = body;
    this.#views = views;
  }

  static views(msg: SipMessage): MessageViews | undefined {
    if (!(#views in msg)) return undefined;
    return (msg.#views ??= new MessageViews());
  }

  static release(msg: SipMessage): void {
    if (#views in msg) msg.#views = undefined;
  }
}

export class ParsedRequest extends ParsedMessage implements SipRequest {
  readonly kind = 'request';
  method: string;
  uri: string;
  constructor(method: string, uri: string, headers: HeaderField[], body: Buffer, views?: MessageViews) {
    super(headers, body, views);
    this.method = method;
    this.uri = uri;
  }
}

export class ParsedResponse extends ParsedMessage implements SipResponse {
  readonly kind = 'response';
  status: number;
  reason: string;
  constructor(status: number, reason: string, headers: HeaderField[], body: Buffer, views?: MessageViews) {
    super(headers, body, views);
    this.status = status;
    this.reason = reason;
  }
}

/**
 * Drop the cached views of a message (they are recomputed if needed again): a transaction
 * calls this once it has answered, so that the requests it keeps for Timer J or L hold no
 * more than their header fields.
 */
export function releaseViews(msg: SipMessage): void {
  ParsedMessage.release(msg);
}

/** The topmost Via value (first value of the first Via field line), or undefined. */
export function topViaValue(msg: SipMessage): string | undefined {
  const line = getHeader(msg, 'Via');
  if (line === undefined) return undefined;
  return line.indexOf(',') < 0 ? line : splitHeaderValues(line)[0];
}

/**
 * The parsed top Via. Throws TypeError without a Via, HeaderValueError when it is malformed.
 * The result may be shared: do not modify it.
 */
export function topVia(msg: SipMessage): Via {
  const value = topViaValue(msg);
  if (value === undefined) throw new TypeError('message without Via');
  const v = ParsedMessage.views(msg);
  if (v === undefined) return parseVia(value);
  if (v.viaValue !== value || v.via === undefined) {
    v.via = parseVia(value);
    v.viaValue = value;
  }
  return v.via;
}

/** The parsed CSeq. Throws TypeError without one, HeaderValueError when malformed. Shared: do not modify. */
export function cseqOf(msg: SipMessage): CSeq {
  const value = getHeader(msg, 'CSeq');
  if (value === undefined) throw new TypeError('message without CSeq');
  const v = ParsedMessage.views(msg);
  if (v === undefined) return parseCSeq(value);
  if (v.cseqValue !== value || v.cseq === undefined) {
    v.cseq = parseCSeq(value);
    v.cseqValue = value;
  }
  return v.cseq;
}

/** The parsed From, or undefined without one; throws HeaderValueError when malformed. Shared: do not modify. */
export function fromOf(msg: SipMessage): NameAddr | undefined {
  const value = getHeader(msg, 'From');
  if (value === undefined) return undefined;
  const v = ParsedMessage.views(msg);
  if (v === undefined) return parseNameAddr(value);
  if (v.fromValue !== value || v.from === undefined) {
    v.from = parseNameAddr(value);
    v.fromValue = value;
  }
  return v.from;
}

/** The parsed To, or undefined without one; throws HeaderValueError when malformed. Shared: do not modify. */
export function toOf(msg: SipMessage): NameAddr | undefined {
  const value = getHeader(msg, 'To');
  if (value === undefined) return undefined;
  const v = ParsedMessage.views(msg);
  if (v === undefined) return parseNameAddr(value);
  if (v.toValue !== value || v.to === undefined) {
    v.to = parseNameAddr(value);
    v.toValue = value;
  }
  return v.to;
}

/**
 * parseUri(text) for a URI taken from `msg` (its Request-URI, or the URI of one of its header
 * values), computed once per message. Throws SipUriError. Shared: do not modify.
 */
export function uriOf(msg: SipMessage, text: string): SipUri {
  const v = ParsedMessage.views(msg);
  if (v === undefined) return parseUri(text);
  const list = v.uris;
  if (list !== undefined) for (let i = 0; i < list.length; i += 2) if (list[i] === text) return list[i + 1] as SipUri;
  const uri = parseUri(text);
  v.addUri(text, uri);
  return uri;
}

/** The parsed Request-URI (parseUri); throws SipUriError. Shared: do not modify. */
export function requestUri(req: SipRequest): SipUri {
  return uriOf(req, req.uri);
}

// ---- header access ----

const lowerNameCache = new Map<string, string>();
function lower(name: string): string {
  let l = lowerNameCache.get(name);
  if (l === undefined) {
    l = name.toLowerCase();
    if (lowerNameCache.size < 1024) lowerNameCache.set(name, l);
  }
  return l;
}

/** True if a field named `fieldName` is a `name` header (names compare case-insensitively). */
export function isHeaderNamed(fieldName: string, name: string): boolean {
  return fieldName === name || (fieldName.length === name.length && lower(fieldName) === lower(name));
}

/** First value of a header (the whole field line), or undefined. Names compare case-insensitively. */
export function getHeader(msg: SipMessage, name: string): string | undefined {
  const headers = msg.headers;
  const len = name.length;
  let n: string | undefined;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    const hn = h.name;
    // Same spelling (the parser's canonical names are the ones callers use) or, for the same
    // length only, the same name in another case.
    if (hn === name) return h.value;
    if (hn.length === len && lower(hn) === (n ??= lower(name))) return h.value;
  }
  return undefined;
}

/** Every field line of a header, in order (not split at commas: see splitHeaderValues). */
export function getHeaderLines(msg: SipMessage, name: string): string[] {
  const n = lower(name);
  const len = name.length;
  const out: string[] = [];
  for (const h of msg.headers) if (h.name === name || (h.name.length === len && lower(h.name) === n)) out.push(h.value);
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
  if (getHeader(msg, name) === undefined) return;
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
  for (const h of msg.headers) {
    if (!isHeaderNamed(h.name, name)) continue;
    const line = h.value;
    if (line.indexOf(',') < 0) {
      // What splitHeaderValues makes of a line without a comma.
      const v = line.trim();
      if (v) out.push(v);
    } else for (const v of splitHeaderValues(line)) out.push(v);
  }
  return out;
}

/** getHeaderValues(msg, name)[0] without splitting every line. */
export function firstHeaderValue(msg: SipMessage, name: string): string | undefined {
  for (const h of msg.headers) {
    if (!isHeaderNamed(h.name, name)) continue;
    const line = h.value;
    if (line.indexOf(',') < 0) {
      const v = line.trim();
      if (v) return v;
    } else {
      const parts = splitHeaderValues(line);
      if (parts.length > 0) return parts[0];
    }
  }
  return undefined;
}

/** getHeaderValues(msg, name).length, counting no further than `limit`. */
export function countHeaderValues(msg: SipMessage, name: string, limit = Infinity): number {
  let n = 0;
  for (const h of msg.headers) {
    if (!isHeaderNamed(h.name, name)) continue;
    const line = h.value;
    if (line.indexOf(',') < 0) {
      if (line.trim()) n++;
    } else n += splitHeaderValues(line).length;
    if (n >= limit) return n;
  }
  return n;
}

/** A shallow-enough copy for forwarding: header array and field objects are new, the body Buffer is shared. */
export function cloneMessage<T extends SipMessage>(msg: T): T {
  return { ...msg, headers: msg.headers.map((h) => ({ name: h.name, value: h.value })) };
}
