/**
 * Typed views of the header values the core acts on. Parsing is on demand: a proxy touches
 * only Via, CSeq, Max-Forwards, Route, From/To tags and Contact, and forwards the rest as is.
 *
 * Every function takes one value as stored in a HeaderField (already unfolded by the parser,
 * §7.3.1) and scans it by index; grammar references are to RFC 3261 §25.1.
 */
import { isValidHost, scanPort } from './uri.ts';

/** A parsed Via value (RFC 3261 §20.42, grammar in §25.1). */
export interface Via {
  /** Protocol name and version, normally "SIP/2.0". */
  protocol: string;
  /** Transport token upper-case as on the wire: UDP, TCP, TLS, WS, WSS, SCTP. */
  transport: string;
  host: string;
  port?: number;
  /** Parameters in order; a flag parameter (e.g. rport with no value) maps to null. Names lower-cased. */
  params: Map<string, string | null>;
}

export class HeaderValueError extends Error {
  override name = 'HeaderValueError';
}

// ---- lexical helpers ----

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~') TOKEN[c.charCodeAt(0)] = 1;

/**
 * Characters of an unquoted generic-param value: gen-value = token / host / quoted-string, and a
 * host adds ":" "[" "]" for IPv6 (received=2001:db8::1, maddr=[2001:db8::1]).
 */
const GEN_VALUE = new Uint8Array(TOKEN);
for (const c of ':[]') GEN_VALUE[c.charCodeAt(0)] = 1;

export function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

/** True if s is a non-empty token (§25.1). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

function isWs(c: number): boolean {
  // After unfolding only SP and HTAB remain; CR/LF are tolerated for values built by hand.
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s.charCodeAt(i))) i++;
  return i;
}

function scanToken(s: string, i: number): number {
  while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Read a quoted-string starting at s[i] === '"'. Returns the unescaped content and the index after
 * the closing quote. quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F) (§25.1).
 */
function readQuoted(s: string, i: number): { text: string; end: number } {
  const n = s.length;
  let j = i + 1;
  let text = '';
  let runStart = j;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c === 0x22 /* " */) return { text: text + s.slice(runStart, j), end: j + 1 };
    if (c === 0x5c /* \ */) {
      if (j + 1 >= n) break;
      const e = s.charCodeAt(j + 1);
      if (e === 0x0d || e === 0x0a) throw new HeaderValueError('invalid quoted-pair');
      text += s.slice(runStart, j) + s[j + 1];
      j += 2;
      runStart = j;
      continue;
    }
    if (c === 0x0d || c === 0x0a) throw new HeaderValueError('line break in quoted string');
    j++;
  }
  throw new HeaderValueError('unterminated quoted string');
}

/** Quote a string for a display name or parameter value, escaping '"' and '\'. */
export function quoteString(text: string): string {
  // CR and LF cannot be carried by a quoted-pair: replace them rather than break the header.
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\r' || ch === '\n') out += ' ';
    else out += ch;
  }
  return `${out}"`;
}

// ---- generic parameters ----

/**
 * Parse `*( SEMI generic-param )` starting at s[i] through the end of s (§25.1:
 * generic-param = token [ EQUAL gen-value ]). Quoted values keep their quotes. Names are
 * lower-cased (parameter names are case-insensitive, §7.3.1); a repeated name keeps its first value.
 */
function parseParamsAt(s: string, i: number): Map<string, string | null> {
  const params = new Map<string, string | null>();
  const n = s.length;
  i = skipWs(s, i);
  while (i < n) {
    if (s.charCodeAt(i) !== 0x3b /* ; */) throw new HeaderValueError(`unexpected "${s[i]}" in parameters`);
    i = skipWs(s, i + 1);
    const nameStart = i;
    let upper = false;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (!isTokenChar(c)) break;
      if (c >= 0x41 && c <= 0x5a) upper = true;
      i++;
    }
    if (i === nameStart) throw new HeaderValueError('empty parameter name');
    const raw = s.slice(nameStart, i);
    const name = upper ? raw.toLowerCase() : raw;
    i = skipWs(s, i);
    let value: string | null = null;
    if (s.charCodeAt(i) === 0x3d /* = */) {
      i = skipWs(s, i + 1);
      if (s.charCodeAt(i) === 0x22) {
        const q = readQuoted(s, i);
        value = s.slice(i, q.end);
        i = q.end;
      } else {
        const start = i;
        while (i < n) {
          const c = s.charCodeAt(i);
          if (c >= 128 || GEN_VALUE[c] !== 1) break;
          i++;
        }
        if (i === start) throw new HeaderValueError(`empty value for parameter "${name}"`);
        value = s.slice(start, i);
      }
      i = skipWs(s, i);
    }
    if (!params.has(name)) params.set(name, value);
  }
  return params;
}

/**
 * Parse a `;name=value;flag` parameter list (generic-param, RFC 3261 §25.1). Quoted values keep
 * their quotes. Names are lower-cased (parameter names are case-insensitive, §7.3.1).
 */
export function parseParams(s: string): Map<string, string | null> {
  return parseParamsAt(s, 0);
}

function formatParams(params: Map<string, string | null>): string {
  let s = '';
  for (const [k, v] of params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** A parameter value without its quotes and escapes, as an application wants it. */
export function unquoteParam(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.charCodeAt(0) !== 0x22) return value;
  try {
    return readQuoted(value, 0).text;
  } catch {
    return value;
  }
}

// ---- Via ----

/** Parse one Via value (one entry of a possibly comma-separated Via field). */
export function parseVia(value: string): Via {
  // via-parm = sent-protocol LWS sent-by *( SEMI via-params ), sent-protocol = name SLASH version
  // SLASH transport where SLASH allows LWS on both sides (wsinv: "SIP  /   2.0 /UDP").
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  const nameStart = i;
  i = scanToken(s, i);
  const protoName = s.slice(nameStart, i);
  i = skipWs(s, i);
  if (!protoName || s.charCodeAt(i) !== 0x2f /* / */) throw new HeaderValueError('malformed Via sent-protocol');
  i = skipWs(s, i + 1);
  const verStart = i;
  i = scanToken(s, i);
  const version = s.slice(verStart, i);
  i = skipWs(s, i);
  if (!version || s.charCodeAt(i) !== 0x2f) throw new HeaderValueError('malformed Via sent-protocol');
  i = skipWs(s, i + 1);
  const trStart = i;
  i = scanToken(s, i);
  const transport = s.slice(trStart, i);
  if (!transport || i >= n || !isWs(s.charCodeAt(i))) throw new HeaderValueError('malformed Via sent-protocol');
  i = skipWs(s, i);
  // sent-by = host [ COLON port ]
  let host: string;
  if (s.charCodeAt(i) === 0x5b /* [ */) {
    const end = s.indexOf(']', i);
    if (end < 0) throw new HeaderValueError('malformed Via IPv6 reference');
    host = s.slice(i, end + 1);
    i = end + 1;
  } else {
    const start = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x3a || c === 0x3b || isWs(c)) break;
      i++;
    }
    host = s.slice(start, i);
  }
  if (!host) throw new HeaderValueError('Via without sent-by host');
  if (!isValidHost(host)) throw new HeaderValueError('malformed Via sent-by host');
  let port: number | undefined;
  i = skipWs(s, i);
  if (s.charCodeAt(i) === 0x3a /* : */) {
    const p = scanPort(s, skipWs(s, i + 1));
    if (!p) throw new HeaderValueError('malformed Via port');
    ({ port, end: i } = p);
  }
  const params = parseParamsAt(s, i);
  const via: Via = { protocol: `${protoName}/${version}`, transport: transport.toUpperCase(), host, params };
  if (port !== undefined) via.port = port;
  return via;
}

/** Serialize a Via back to its wire form. */
export function formatVia(via: Via): string {
  return `${via.protocol}/${via.transport} ${via.host}${via.port !== undefined ? `:${via.port}` : ''}${formatParams(via.params)}`;
}

// ---- CSeq ----

/** A parsed CSeq (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

/** CSeq = 1*DIGIT LWS Method (§20.16). Leading zeros are allowed (RFC 4475 wsinv: "0009"). */
export function parseCSeq(value: string): CSeq {
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  const start = i;
  while (i < n && s.charCodeAt(i) === 0x30) i++;
  const sigStart = i;
  let seq = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    seq = seq * 10 + (c - 0x30);
    i++;
  }
  if (i === start) throw new HeaderValueError('malformed CSeq');
  // §8.1.1.5: the sequence number MUST be expressible as a 32-bit unsigned integer.
  if (i - sigStart > 10 || seq > 0xffffffff) throw new HeaderValueError('CSeq number out of range');
  if (i >= n || !isWs(s.charCodeAt(i))) throw new HeaderValueError('malformed CSeq');
  i = skipWs(s, i);
  const mStart = i;
  i = scanToken(s, i);
  if (i === mStart) throw new HeaderValueError('malformed CSeq');
  const method = s.slice(mStart, i);
  if (skipWs(s, i) !== n) throw new HeaderValueError('malformed CSeq');
  return { seq, method };
}

// ---- name-addr (From, To, Contact, Route, Record-Route, Reply-To, ...) ----

export interface NameAddr {
  /** Display name without quotes, escapes resolved; absent when there is none. */
  displayName?: string;
  /** The addr-spec exactly as written (not unescaped: see parseUri). */
  uri: string;
  /** Header parameters (outside the <>), as parseParams returns them. */
  params: Map<string, string | null>;
}

/** scheme ":" ... with only characters a URI can hold (§25.1 absoluteURI / SIP-URI). */
function checkAddrSpec(uri: string, bare: boolean): void {
  const n = uri.length;
  let i = 0;
  const c0 = n > 0 ? uri.charCodeAt(0) | 0x20 : 0;
  if (!(c0 >= 0x61 && c0 <= 0x7a)) throw new HeaderValueError('malformed URI');
  for (i = 1; i < n; i++) {
    const c = uri.charCodeAt(i);
    if (c === 0x3a) break;
    const l = c | 0x20;
    if (!((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) {
      throw new HeaderValueError('malformed URI scheme');
    }
  }
  if (i >= n - 1) throw new HeaderValueError('malformed URI');
  for (i++; i < n; i++) {
    const c = uri.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x3c || c === 0x3e || c === 0x22) throw new HeaderValueError('invalid character in URI');
    // §20.10: an addr-spec holding a comma, question mark or semicolon must be in <>; the
    // semicolon case cannot arise here because a bare addr-spec ends at the first ';'.
    if (bare && (c === 0x2c || c === 0x3f)) throw new HeaderValueError('URI with "," or "?" must be enclosed in <>');
  }
}

/**
 * Parse `( name-addr / addr-spec ) *( SEMI generic-param )` (§20.10, §20.20, §20.39, §25.1).
 * In the bare addr-spec form, parameters after the URI belong to the header, not the URI
 * (§20.10). `*` (Contact wildcard) is not an address and is refused here: see parseContact.
 */
export function parseNameAddr(value: string): NameAddr {
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  if (i >= n) throw new HeaderValueError('empty address');
  let displayName: string | undefined;
  let uri: string;
  const c = s.charCodeAt(i);
  if (c === 0x22 /* " */) {
    const q = readQuoted(s, i);
    displayName = q.text;
    i = skipWs(s, q.end);
    if (s.charCodeAt(i) !== 0x3c) throw new HeaderValueError('expected <URI> after display name');
    [uri, i] = readAngle(s, i);
  } else if (c === 0x3c /* < */) {
    [uri, i] = readAngle(s, i);
  } else {
    // display-name = *(token LWS): scan tokens and whitespace; a following '<' makes it a name-addr.
    let j = i;
    while (j < n) {
      const d = s.charCodeAt(j);
      if (!isTokenChar(d) && !isWs(d)) break;
      j++;
    }
    if (j < n && s.charCodeAt(j) === 0x3c) {
      let e = j;
      while (e > i && isWs(s.charCodeAt(e - 1))) e--;
      displayName = s.slice(i, e);
      [uri, i] = readAngle(s, j);
    } else {
      const start = i;
      while (i < n) {
        const d = s.charCodeAt(i);
        if (d === 0x3b || isWs(d)) break;
        i++;
      }
      uri = s.slice(start, i);
      checkAddrSpec(uri, true);
    }
  }
  const params = parseParamsAt(s, i);
  return displayName !== undefined ? { displayName, uri, params } : { uri, params };
}

function readAngle(s: string, i: number): [string, number] {
  const end = s.indexOf('>', i + 1);
  if (end < 0) throw new HeaderValueError('unterminated <URI>');
  const uri = s.slice(i + 1, end);
  // LAQUOT/RAQUOT allow whitespace outside the brackets only (RFC 4475 §3.1.2.14 badaspec).
  checkAddrSpec(uri, false);
  return [uri, end + 1];
}

/** Serialize a name-addr, always with <> (safe for any URI, §20.10) and a quoted display name. */
export function formatNameAddr(na: NameAddr): string {
  const dn = na.displayName ? `${quoteString(na.displayName)} ` : '';
  return `${dn}<${na.uri}>${formatParams(na.params)}`;
}

/** The tag parameter of a From or To value (§19.3), or undefined if it has none. */
export function getTag(value: string): string | undefined {
  const t = parseNameAddr(value).params.get('tag');
  return t === null || t === undefined ? undefined : t;
}

// ---- Contact ----

export interface ContactAddress extends NameAddr {
  star: false;
  /** The expires parameter in seconds, clamped to 2^32-1 (RFC 4475 §3.1.2.4 scalar02). */
  expires?: number;
  /** The q parameter, 0..1 (§20.10 qvalue). */
  q?: number;
}

export type ContactValue = { star: true } | ContactAddress;

/**
 * Parse one Contact value (split the field at top-level commas first with splitHeaderValues).
 * `*` is the wildcard used to remove all bindings (§10.2.2).
 */
export function parseContact(value: string): ContactValue {
  const i = skipWs(value, 0);
  if (value.charCodeAt(i) === 0x2a /* * */ && skipWs(value, i + 1) === value.length) return { star: true };
  const na = parseNameAddr(value);
  const out: ContactAddress = { star: false, ...na };
  const e = na.params.get('expires');
  if (e !== undefined) out.expires = parseDeltaSeconds(e);
  const q = na.params.get('q');
  if (q !== undefined) out.q = parseQValue(q);
  return out;
}

/** delta-seconds = 1*DIGIT; overlarge values are clamped rather than refused. */
function parseDeltaSeconds(v: string | null): number {
  if (v === null || v.length === 0) throw new HeaderValueError('malformed expires');
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) throw new HeaderValueError('malformed expires');
    n = n * 10 + (c - 0x30);
  }
  return Math.min(n, 0xffffffff);
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
function parseQValue(v: string | null): number {
  if (v === null || !/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(v)) throw new HeaderValueError('malformed q value');
  return Number(v);
}

// ---- Authorization / WWW-Authenticate / Proxy-* ----

export interface AuthParams {
  /** Scheme as written ("Digest"); compare case-insensitively. */
  scheme: string;
  /** auth-params with lower-cased names and unquoted values. */
  params: Map<string, string>;
  /** A token68 credential (e.g. "Bearer abc.def") instead of parameters. */
  token68?: string;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Parse a challenge or credentials value (§20.7, §20.27, §20.28, §20.44; RFC 7235 §2.1):
 * `Digest username="bob", realm="x", nc=00000001`. Quoted values are unescaped. A repeated
 * parameter is an error because it makes the credentials ambiguous.
 */
export function parseAuthParams(value: string): AuthParams {
  const s = value;
  const n = s.length;
  let i = skipWs(s, 0);
  const schemeStart = i;
  i = scanToken(s, i);
  if (i === schemeStart) throw new HeaderValueError('missing auth scheme');
  const scheme = s.slice(schemeStart, i);
  const params = new Map<string, string>();
  if (skipWs(s, i) === n) return { scheme, params };
  if (!isWs(s.charCodeAt(i))) throw new HeaderValueError('malformed auth scheme');
  i = skipWs(s, i);
  let end = n;
  while (end > i && isWs(s.charCodeAt(end - 1))) end--;
  const rest = s.slice(i, end);
  if (TOKEN68.test(rest) && !/=[^=]/.test(rest)) return { scheme, params, token68: rest };
  for (;;) {
    // Empty list elements (", ,") are allowed by RFC 7235's list rule.
    while (i < n && (s.charCodeAt(i) === 0x2c || isWs(s.charCodeAt(i)))) i++;
    if (i >= n) break;
    const nameStart = i;
    i = scanToken(s, i);
    if (i === nameStart) throw new HeaderValueError('malformed auth parameter');
    const name = s.slice(nameStart, i).toLowerCase();
    i = skipWs(s, i);
    if (s.charCodeAt(i) !== 0x3d) throw new HeaderValueError('auth parameter without value');
    i = skipWs(s, i + 1);
    let v: string;
    if (s.charCodeAt(i) === 0x22) {
      const q = readQuoted(s, i);
      v = q.text;
      i = q.end;
    } else {
      // token per the grammar; anything up to the next comma is accepted because deployed
      // clients send e.g. uri=sip:x unquoted, and the digest computation still works.
      const start = i;
      while (i < n) {
        const c = s.charCodeAt(i);
        if (c === 0x2c || c === 0x22 || isWs(c)) break;
        i++;
      }
      if (i === start) throw new HeaderValueError('empty auth parameter value');
      v = s.slice(start, i);
    }
    if (params.has(name)) throw new HeaderValueError(`repeated auth parameter "${name}"`);
    params.set(name, v);
    i = skipWs(s, i);
    if (i >= n) break;
    if (s.charCodeAt(i) !== 0x2c) throw new HeaderValueError('expected "," between auth parameters');
  }
  return { scheme, params };
}
