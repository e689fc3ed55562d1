/**
 * SIP message parser (RFC 3261 §7, grammar §25.1).
 *
 * One call parses one complete message: a UDP datagram, a WebSocket frame (RFC 7118 §5) or a
 * message cut out of a TCP/TLS stream by StreamFramer. The header section is decoded once and
 * scanned by index; header values stay raw strings except for the few the core needs to trust
 * before it can even answer (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length).
 *
 * Errors are always SipParseError. When a broken request still carries what a response needs
 * (a readable top Via plus From, To, Call-ID and CSeq, §8.2.6.2), the error holds the partial
 * request so the server can answer 400 (or 505) instead of dropping it silently.
 */
import { isAscii } from 'node:buffer';
import type { HeaderField, SipMessage, SipRequest } from './message.ts';
import { MessageViews, ParsedRequest, ParsedResponse, splitHeaderValues } from './message.ts';
import { isTokenChar, parseCSeq, parseNameAddr, parseVia, type NameAddr } from './header-values.ts';
import { knownScheme, parseUri } from './uri.ts';

export interface ParseLimits {
  /** Largest message accepted, in bytes (default 65535, the largest UDP payload). */
  maxMessageBytes: number;
  /** Most header fields (after unfolding) in one message (default 100). */
  maxHeaders: number;
  /** Longest start line or unfolded header field, in characters (default 8192). */
  maxLineLength: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxMessageBytes: 65535,
  maxHeaders: 100,
  maxLineLength: 8192,
});

export interface SipParseErrorOptions {
  status?: number;
  partial?: SipRequest | undefined;
  cause?: unknown;
}

export class SipParseError extends Error {
  override name = 'SipParseError';
  /** Short, fixed text (never echoes input) suitable as a reason phrase. */
  readonly reason: string;
  /** Status to answer with: 400, 505 (SIP version other than 2.0), 513 (message too large). */
  readonly status: number;
  /**
   * The request as far as it was read, present only when a response can be built from it
   * (top Via readable, From/To/Call-ID/CSeq present). Never set for responses.
   */
  readonly partial: SipRequest | undefined;

  constructor(reason: string, opts: SipParseErrorOptions = {}) {
    super(reason, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.reason = reason;
    this.status = opts.status ?? 400;
    this.partial = opts.partial;
  }

  /** True when `partial` is set: the sender can be answered with `status`. */
  get canRespond(): boolean {
    return this.partial !== undefined;
  }

  /** The start line names a SIP version other than 2.0: answer 505 Version Not Supported (§21.5.6). */
  get versionNotSupported(): boolean {
    return this.status === 505;
  }
}

// ---- header names ----

/** Compact forms: RFC 3261 §7.3.3 and the extensions that registered one (IANA SIP parameters). */
const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'Accept-Contact', // RFC 3841
  b: 'Referred-By', // RFC 3892
  c: 'Content-Type',
  d: 'Request-Disposition', // RFC 3841
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact', // RFC 3841
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  n: 'Identity-Info', // RFC 4474
  o: 'Event', // RFC 6665
  r: 'Refer-To', // RFC 3515
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events', // RFC 6665
  v: 'Via',
  x: 'Session-Expires', // RFC 4028
  y: 'Identity', // RFC 4474 / 8224
};

/** Well-known names in their registered spelling (case matters when printing, not when matching). */
const WELL_KNOWN = [
  'Accept', 'Accept-Contact', 'Accept-Encoding', 'Accept-Language', 'Accept-Resource-Priority', 'Alert-Info',
  'Allow', 'Allow-Events', 'Authentication-Info', 'Authorization', 'Call-ID', 'Call-Info', 'Contact',
  'Content-Disposition', 'Content-Encoding', 'Content-ID', 'Content-Language', 'Content-Length', 'Content-Type',
  'CSeq', 'Date', 'Diversion', 'Error-Info', 'Event', 'Expires', 'Flow-Timer', 'From', 'Geolocation',
  'History-Info', 'Identity', 'Identity-Info', 'In-Reply-To', 'Join', 'Max-Breadth', 'Max-Forwards',
  'MIME-Version', 'Min-Expires', 'Min-SE', 'Organization', 'P-Asserted-Identity', 'P-Preferred-Identity',
  'Path', 'Priority', 'Privacy', 'Proxy-Authenticate', 'Proxy-Authorization', 'Proxy-Require', 'RAck',
  'Reason', 'Record-Route', 'Refer-Sub', 'Refer-To', 'Referred-By', 'Reject-Contact', 'Replaces', 'Reply-To',
  'Request-Disposition', 'Require', 'Resource-Priority', 'Retry-After', 'Route', 'RSeq', 'Security-Client',
  'Security-Server', 'Security-Verify', 'Server', 'Service-Route', 'Session-Expires', 'Session-ID',
  'SIP-ETag', 'SIP-If-Match', 'Subject', 'Subscription-State', 'Supported', 'Target-Dialog', 'Timestamp',
  'To', 'Unsupported', 'User-Agent', 'Via', 'Warning', 'WWW-Authenticate',
];

const CANONICAL = new Map<string, string>();
for (const name of WELL_KNOWN) CANONICAL.set(name.toLowerCase(), name);
for (const [k, v] of Object.entries(COMPACT_FORMS)) CANONICAL.set(k, v);

/**
 * Canonical names by first character and length, for matching the usual spelling in place
 * without slicing (most messages spell every header canonically, or use a compact form).
 */
const MAX_EXACT = 32;
const BY_FIRST_LEN: (string[] | undefined)[] = new Array(128 * MAX_EXACT).fill(undefined);
for (const name of WELL_KNOWN) (BY_FIRST_LEN[name.charCodeAt(0) * MAX_EXACT + name.length] ??= []).push(name);

/** The canonical name if t[a, b) already is one, spelled exactly; else undefined. */
function exactCanonical(t: string, a: number, b: number): string | undefined {
  const len = b - a;
  const c = t.charCodeAt(a);
  if (len === 1) return COMPACT_FORMS[String.fromCharCode(c | 0x20)];
  if (c >= 128 || len >= MAX_EXACT) return undefined;
  const list = BY_FIRST_LEN[c * MAX_EXACT + len];
  if (list === undefined) return undefined;
  for (let k = 0; k < list.length; k++) {
    const name = list[k]!;
    let i = 1;
    while (i < len && t.charCodeAt(a + i) === name.charCodeAt(i)) i++;
    if (i === len) return name;
  }
  return undefined;
}

/** Raw spelling → canonical name. Bounded so random names from a flood cannot grow it forever. */
const nameCache = new Map<string, string>();

/** Canonical header name: compact forms expanded, well-known names respelled, others unchanged. */
export function canonicalHeaderName(name: string): string {
  let c = nameCache.get(name);
  if (c !== undefined) return c;
  c = CANONICAL.get(name.toLowerCase()) ?? name;
  if (nameCache.size < 2048) nameCache.set(name, c);
  return c;
}

// ---- character checks ----

/** word = 1*(token chars / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}") */
const WORD = new Uint8Array(128);
for (const ch of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~()<>:\\"/[]?{}') WORD[ch.charCodeAt(0)] = 1;

/** callid = word [ "@" word ] (§25.1). */
function isValidCallId(v: string): boolean {
  const n = v.length;
  if (n === 0) return false;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x40) {
      if (at >= 0 || i === 0 || i === n - 1) return false;
      at = i;
    } else if (c >= 128 || WORD[c] !== 1) return false;
  }
  return true;
}

/** 1*DIGIT as a number, or -1. Leading zeros are fine (RFC 4475 wsinv "0068"); `maxSig` caps significant digits. */
function parseDigits(v: string, maxSig: number): number {
  const n = v.length;
  if (n === 0) return -1;
  let i = 0;
  while (i < n - 1 && v.charCodeAt(i) === 0x30) i++;
  if (n - i > maxSig) return -1;
  let x = 0;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    x = x * 10 + (c - 0x30);
  }
  return x;
}

/** True if the SIP-Version text is "SIP/2.0" (§7.1: case-insensitive). */
function isSip20(t: string, a: number, b: number): boolean {
  return (
    b - a === 7 &&
    (t.charCodeAt(a) | 0x20) === 0x73 &&
    (t.charCodeAt(a + 1) | 0x20) === 0x69 &&
    (t.charCodeAt(a + 2) | 0x20) === 0x70 &&
    t.charCodeAt(a + 3) === 0x2f &&
    t.charCodeAt(a + 4) === 0x32 &&
    t.charCodeAt(a + 5) === 0x2e &&
    t.charCodeAt(a + 6) === 0x30
  );
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT: a version we can name but do not speak (→ 505). */
const OTHER_VERSION = /^SIP\/\d{1,5}\.\d{1,5}$/i;

/**
 * Request-URI sanity (§8.2.1, §25.1 Request-URI = SIP-URI / SIPS-URI / absoluteURI). SIP and tel
 * URIs are parsed fully; other schemes only need the absoluteURI shape (the core answers 416).
 */
function checkRequestUri(uri: string, views: MessageViews): string | undefined {
  const n = uri.length;
  const c0 = n > 0 ? uri.charCodeAt(0) | 0x20 : 0;
  if (!(c0 >= 0x61 && c0 <= 0x7a)) return 'Malformed Request-URI';
  let i = 1;
  for (; i < n; i++) {
    const c = uri.charCodeAt(i);
    if (c === 0x3a) break;
    const l = c | 0x20;
    if (!((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) return 'Malformed Request-URI';
  }
  if (i >= n - 1) return 'Malformed Request-URI';
  for (let j = i + 1; j < n; j++) {
    const c = uri.charCodeAt(j);
    // uric has no CTLs, space, '<', '>', '"' (RFC 4475 §3.1.2.7 ltgtruri) or non-ASCII.
    if (c <= 0x20 || c >= 0x7f || c === 0x3c || c === 0x3e || c === 0x22) return 'Malformed Request-URI';
  }
  if (knownScheme(uri, i) !== undefined) {
    let parsed;
    try {
      parsed = parseUri(uri);
    } catch {
      return 'Malformed Request-URI';
    }
    // §19.1.1 table 1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11 escruri).
    if (parsed.headers.size > 0) return 'Headers Not Allowed in Request-URI';
    views.addUri(uri, parsed);
  }
  return undefined;
}

// ---- the parser ----

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * Parse one SIP message. Throws only SipParseError (see the class for what it carries).
 * The body is a copy, so the input buffer may be reused afterwards.
 */
export function parseMessage(buf: Buffer, limits?: Partial<ParseLimits>): SipMessage {
  const lim = limits ? { ...DEFAULT_PARSE_LIMITS, ...limits } : DEFAULT_PARSE_LIMITS;
  try {
    return parse(buf, lim);
  } catch (err) {
    if (err instanceof SipParseError) throw err;
    // A bug here must not become an exception the transport does not expect.
    throw new SipParseError('Malformed Message', { cause: err });
  }
}


function parse(buf: Buffer, lim: Readonly<ParseLimits>): SipMessage {
  const len = buf.length;
  if (len > lim.maxMessageBytes) throw new SipParseError('Message Too Large', { status: 513 });

  // §7.5: CRLFs before the start-line are ignored (stream keep-alives and the like).
  let start = 0;
  while (start + 1 < len && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  if (start >= len) throw new SipParseError('Empty Message');

  // The header section ends at the first empty line; the body follows it.
  let sectionEnd = buf.indexOf(CRLFCRLF, start);
  let bodyStart: number;
  let firstError: string | undefined;
  let firstStatus = 400;
  const fail = (reason: string, status = 400) => {
    if (firstError === undefined) {
      firstError = reason;
      firstStatus = status;
    }
  };
  if (sectionEnd < 0) {
    // No empty line (§7: it is mandatory even without a body). Keep reading so a request can still
    // be answered, but treat it as an error.
    fail('Missing Empty Line After Headers');
    sectionEnd = len;
    if (len - start >= 2 && buf[len - 2] === 0x0d && buf[len - 1] === 0x0a) sectionEnd = len - 2;
    bodyStart = len;
  } else {
    bodyStart = sectionEnd + 4;
  }

  // Header text is ASCII in practice; UTF-8 (display names, reason phrases) decodes as UTF-8 so
  // values are proper strings. Invalid UTF-8 turns into U+FFFD, it cannot throw.
  const t = isAscii(buf.subarray(start, sectionEnd)) ? buf.toString('latin1', start, sectionEnd) : buf.toString('utf8', start, sectionEnd);
  const tlen = t.length;

  // ---- lines: every line ends in CRLF; a bare CR or LF is an error (it would split differently
  // at the next hop: header smuggling). `lineEnd(ls)` sets `le` (where the line's content ends)
  // and `next` (where the next line starts).
  let badEol = false;
  // The next CR and LF at or after the current line, found once each: line starts only move
  // forward, so the whole scan stays linear even for input full of bare CRs or LFs.
  let nextNl = -2;
  let nextCr = -2;
  let le = 0;
  let next = 0;
  const lineEnd = (ls: number): void => {
    if (nextNl !== -1 && nextNl < ls) nextNl = t.indexOf('\n', ls);
    if (nextCr !== -1 && nextCr < ls) nextCr = t.indexOf('\r', ls);
    const nl = nextNl;
    const cr = nextCr;
    if (nl < 0) {
      if (cr >= 0) badEol = true;
      le = next = tlen;
    } else if (cr !== nl - 1) {
      badEol = true;
      // Resynchronize at whichever came first so scanning still terminates.
      le = cr >= 0 && cr < nl ? cr : nl;
      next = le + 1;
    } else {
      le = cr;
      next = nl + 1;
    }
  };

  // Views of the headers checked below, handed to the message so nobody parses them again.
  const views = new MessageViews();

  // ---- start line (§7.1, §7.2)
  lineEnd(0);
  const slEnd = le;
  const afterSl = next;
  if (slEnd > lim.maxLineLength) throw new SipParseError('Start Line Too Long');
  let kind: 'request' | 'response';
  let method = '';
  let uri = '';
  let status = 0;
  let reason = '';
  if (slEnd >= 4 && (t.charCodeAt(0) | 0x20) === 0x73 && (t.charCodeAt(1) | 0x20) === 0x69 && (t.charCodeAt(2) | 0x20) === 0x70 && t.charCodeAt(3) === 0x2f) {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    kind = 'response';
    const sp = t.indexOf(' ', 0);
    if (sp < 0 || sp > slEnd) throw new SipParseError('Bad Status-Line');
    if (!isSip20(t, 0, sp)) {
      // A response is never answered; the status only tells the caller why it was dropped.
      if (OTHER_VERSION.test(t.slice(0, sp))) throw new SipParseError('Version Not Supported', { status: 505 });
      throw new SipParseError('Bad Status-Line');
    }
    const c1 = t.charCodeAt(sp + 1);
    const c2 = t.charCodeAt(sp + 2);
    const c3 = t.charCodeAt(sp + 3);
    const after = sp + 4;
    // Status-Code = 3DIGIT (§25.1); 1xx-6xx only (§7.2, RFC 4475 §3.1.2.19 bigcode).
    if (
      !(c1 >= 0x31 && c1 <= 0x36 && c2 >= 0x30 && c2 <= 0x39 && c3 >= 0x30 && c3 <= 0x39) ||
      after > slEnd ||
      (after < slEnd && t.charCodeAt(after) !== 0x20)
    ) {
      throw new SipParseError('Bad Status-Line');
    }
    status = (c1 - 0x30) * 100 + (c2 - 0x30) * 10 + (c3 - 0x30);
    // The Reason-Phrase may be empty (RFC 4475 §3.1.2.13 noreason: "SIP/2.0 100 ").
    reason = after < slEnd ? t.slice(after + 1, slEnd) : '';
  } else {
    // Request-Line = Method SP Request-URI SP SIP-Version, single SPs only (§7.1; RFC 4475
    // lwsstart, trws, lwsruri are all 400s).
    kind = 'request';
    const sp1 = t.indexOf(' ', 0);
    if (sp1 <= 0 || sp1 > slEnd) throw new SipParseError('Bad Request-Line');
    for (let i = 0; i < sp1; i++) if (!isTokenChar(t.charCodeAt(i))) throw new SipParseError('Bad Request-Line');
    method = t.slice(0, sp1);
    // From here on it is a request: keep going to see whether it can be answered.
    let sp2 = t.indexOf(' ', sp1 + 1);
    if (sp2 < 0 || sp2 > slEnd) sp2 = -1;
    uri = t.slice(sp1 + 1, sp2 < 0 ? slEnd : sp2);
    if (sp2 < 0 || uri.length === 0) {
      fail('Bad Request-Line');
    } else if (isSip20(t, sp2 + 1, slEnd)) {
      const bad = checkRequestUri(uri, views);
      if (bad) fail(bad);
    } else if (OTHER_VERSION.test(t.slice(sp2 + 1, slEnd))) {
      fail('Version Not Supported', 505);
    } else {
      fail('Bad Request-Line');
    }
  }

  // ---- header fields (§7.3), folded lines joined with a single SP (§7.3.1)
  const headers: HeaderField[] = [];
  // Header counts and first values the parser checks itself (Via: every line).
  let viaCount = 0;
  let firstVia = '';
  let moreVias: string[] | undefined;
  let fromCount = 0;
  let firstFrom = '';
  let toCount = 0;
  let firstTo = '';
  let callIdCount = 0;
  let firstCallId = '';
  let cseqCount = 0;
  let firstCSeq = '';
  let mfCount = 0;
  let firstMf = '';
  let clCount = 0;
  let firstCl = '';
  let pos = afterSl;
  let fields = 0;
  if (pos < tlen && (t.charCodeAt(pos) === 0x20 || t.charCodeAt(pos) === 0x09)) fail('Bad Header Folding');
  while (pos < tlen) {
    const ls = pos;
    lineEnd(ls);
    // Continuation lines start with SP or HTAB.
    let folded = false;
    while (next < tlen) {
      const c = t.charCodeAt(next);
      if (c !== 0x20 && c !== 0x09) break;
      folded = true;
      lineEnd(next);
      if (le - ls > lim.maxLineLength) throw new SipParseError('Header Too Long');
    }
    pos = next;
    if (le - ls > lim.maxLineLength) throw new SipParseError('Header Too Long');
    if (++fields > lim.maxHeaders) throw new SipParseError('Too Many Headers');

    const colon = t.indexOf(':', ls);
    if (colon < 0 || colon >= le) {
      fail('Malformed Header');
      continue;
    }
    // field-name HCOLON: HCOLON = *( SP / HTAB ) ":" SWS
    let ne = colon;
    while (ne > ls && (t.charCodeAt(ne - 1) === 0x20 || t.charCodeAt(ne - 1) === 0x09)) ne--;
    // A well-known name spelled canonically is a token; anything else is checked.
    let name = ne > ls ? exactCanonical(t, ls, ne) : undefined;
    if (name === undefined) {
      let nameOk = ne > ls;
      for (let i = ls; i < ne && nameOk; i++) if (!isTokenChar(t.charCodeAt(i))) nameOk = false;
      if (!nameOk) {
        fail('Malformed Header');
        continue;
      }
      name = canonicalHeaderName(t.slice(ls, ne));
    }
    const value = folded ? unfold(t, colon + 1, le) : trimmed(t, colon + 1, le);
    headers.push({ name, value });
    switch (name) {
      case 'Via':
        if (viaCount++ === 0) firstVia = value;
        else (moreVias ??= []).push(value);
        break;
      case 'From':
        if (fromCount++ === 0) firstFrom = value;
        break;
      case 'To':
        if (toCount++ === 0) firstTo = value;
        break;
      case 'Call-ID':
        if (callIdCount++ === 0) firstCallId = value;
        break;
      case 'CSeq':
        if (cseqCount++ === 0) firstCSeq = value;
        break;
      case 'Max-Forwards':
        if (mfCount++ === 0) firstMf = value;
        break;
      case 'Content-Length':
        if (clCount++ === 0) firstCl = value;
        break;
    }
  }
  if (badEol) fail('Bad Line Ending');

  // ---- mandatory headers (§8.1.1; §8.2.2 ff. for what a UAS/proxy checks)
  let topViaOk = false;
  if (viaCount === 0) fail('Missing Via Header');
  else {
    let first = true;
    const checkViaLine = (line: string) => {
      if (line.indexOf(',') < 0) {
        if (line) checkVia(line);
        else fail('Malformed Via Header');
        return;
      }
      const parts = splitHeaderValues(line);
      if (parts.length === 0) fail('Malformed Via Header');
      for (const part of parts) checkVia(part);
    };
    const checkVia = (part: string) => {
      try {
        const via = parseVia(part);
        if (first) {
          topViaOk = true;
          views.viaValue = part;
          views.via = via;
        }
      } catch {
        fail('Malformed Via Header');
        // Broken parameters still leave a sent-by to answer to (RFC 4475 §3.1.2.1 badinv01
        // expects a 400): the response only echoes the Via back.
        if (first) topViaOk = sentByReadable(part);
      }
      first = false;
    };
    checkViaLine(firstVia);
    if (moreVias !== undefined) for (const line of moreVias) checkViaLine(line);
  }
  const from = checkAddress(fromCount, firstFrom, 'From');
  if (from !== undefined) {
    views.fromValue = firstFrom;
    views.from = from;
  }
  const to = checkAddress(toCount, firstTo, 'To');
  if (to !== undefined) {
    views.toValue = firstTo;
    views.to = to;
  }
  if (callIdCount === 0) fail('Missing Call-ID Header');
  else if (callIdCount > 1) fail('Multiple Call-ID Headers');
  else if (!isValidCallId(firstCallId)) fail('Malformed Call-ID Header');
  if (cseqCount === 0) fail('Missing CSeq Header');
  else if (cseqCount > 1) fail('Multiple CSeq Headers');
  else {
    try {
      const cseq = parseCSeq(firstCSeq);
      views.cseqValue = firstCSeq;
      views.cseq = cseq;
      // The CSeq method must be the request's method (§8.1.1.5, §20.16); ACK and CANCEL are no
      // exception, they carry ACK and CANCEL (§17.1.1.3, §9.1). RFC 4475 §3.1.2.17-18 mismatch01/02.
      if (kind === 'request' && cseq.method !== method) fail('CSeq Method Mismatch');
    } catch {
      fail('Malformed CSeq Header');
    }
  }
  if (kind === 'request' && mfCount > 0) {
    // Max-Forwards = 1*DIGIT, 0-255 (§20.22; RFC 4475 §3.1.2.4 scalar02 sends 300).
    if (mfCount > 1) fail('Multiple Max-Forwards Headers');
    else {
      const mf = parseDigits(firstMf, 3);
      if (mf < 0 || mf > 255) fail('Malformed Max-Forwards Header');
    }
  }

  // ---- body (§7.4, §18.3, §20.14)
  let contentLength = -1;
  if (clCount > 1) fail('Multiple Content-Length Headers'); // RFC 4475 §3.3.9 mcl01
  else if (clCount === 1) {
    contentLength = parseDigits(firstCl, 10);
    if (contentLength < 0) fail('Malformed Content-Length Header'); // RFC 4475 §3.1.2.3 ncl
  }
  let body = EMPTY;
  const available = len - bodyStart;
  if (contentLength < 0) {
    // No usable Content-Length: on a datagram the body runs to its end (§18.3); streams always
    // have one because StreamFramer insists on it.
    if (available > 0) body = copyBody(buf, bodyStart, len);
  } else if (contentLength > available) {
    fail('Content-Length Exceeds Message'); // RFC 4475 §3.1.2.2 clerr
  } else if (contentLength > 0) {
    // Octets past Content-Length on a datagram are discarded (§18.3, RFC 4475 §3.1.1.8 dblreq).
    body = copyBody(buf, bodyStart, bodyStart + contentLength);
  }

  if (firstError !== undefined) {
    // A bare CR or LF means the next hop could read the headers differently: never echo them.
    const answerable = kind === 'request' && !badEol && topViaOk && fromCount > 0 && toCount > 0 && callIdCount > 0 && cseqCount > 0;
    const partial: SipRequest | undefined = answerable ? { kind: 'request', method, uri, headers, body } : undefined;
    throw new SipParseError(firstError, { status: firstStatus, partial });
  }

  if (kind === 'request') return new ParsedRequest(method, uri, headers, body, views);
  return new ParsedResponse(status, reason, headers, body, views);

  function checkAddress(count: number, value: string, name: string): NameAddr | undefined {
    if (count === 0) fail(`Missing ${name} Header`);
    else if (count > 1) fail(`Multiple ${name} Headers`); // RFC 4475 §3.3.8 multi01
    else {
      try {
        return parseNameAddr(value); // quotbal, baddn, badaspec
      } catch {
        fail(`Malformed ${name} Header`);
      }
    }
    return undefined;
  }
}

/**
 * Bodies are copied into slabs of their own rather than Node's shared Buffer pool: a body lives
 * as long as its message (an INVITE for Timer L, its forwarded copy for Timer M), and a slice of
 * the shared pool keeps the whole 8 KiB slab alive with it, mostly full of long-dead serialized
 * messages. Slabs here hold only bodies, which live about as long as one another.
 */
const BODY_SLAB_BYTES = 64 * 1024;
/** Larger bodies get a Buffer of their own. */
const BODY_SLAB_MAX = 4096;
let bodySlab: Buffer<ArrayBuffer> | undefined;
let bodySlabUsed = 0;

/** A copy of buf[start, end). */
function copyBody(buf: Buffer, start: number, end: number): Buffer<ArrayBuffer> {
  const n = end - start;
  if (n > BODY_SLAB_MAX) {
    const own = Buffer.allocUnsafeSlow(n);
    buf.copy(own, 0, start, end);
    return own;
  }
  if (bodySlab === undefined || bodySlabUsed + n > BODY_SLAB_BYTES) {
    bodySlab = Buffer.allocUnsafeSlow(BODY_SLAB_BYTES);
    bodySlabUsed = 0;
  }
  const body = bodySlab.subarray(bodySlabUsed, bodySlabUsed + n);
  buf.copy(body, 0, start, end);
  // Keep the next body 8-byte aligned, as Node's pool does.
  bodySlabUsed = (bodySlabUsed + n + 7) & ~7;
  return body;
}

/** True if the sent-protocol and sent-by of a Via value parse, whatever its parameters look like. */
function sentByReadable(via: string): boolean {
  const semi = via.indexOf(';');
  if (semi < 0) return false;
  try {
    parseVia(via.slice(0, semi));
    return true;
  } catch {
    return false;
  }
}

function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** t[a, b) without leading and trailing SP/HTAB. */
function trimmed(t: string, a: number, b: number): string {
  while (a < b && isWsp(t.charCodeAt(a))) a++;
  while (b > a && isWsp(t.charCodeAt(b - 1))) b--;
  return t.slice(a, b);
}

/** Join a folded value: each CRLF plus surrounding whitespace becomes one SP (§7.3.1). */
function unfold(t: string, a: number, b: number): string {
  let out = '';
  let ls = a;
  while (ls < b) {
    let le = t.indexOf('\r\n', ls);
    if (le < 0 || le > b) le = b;
    const part = trimmed(t, ls, le);
    if (part) out = out ? `${out} ${part}` : part;
    ls = le + 2;
  }
  return out;
}
