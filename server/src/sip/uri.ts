/**
 * SIP and SIPS URIs (RFC 3261 §19.1, grammar in §25.1) with IPv6 references as corrected by
 * RFC 5954, plus a minimal tel URI (RFC 3966) because phones put them in To and R-URIs.
 *
 * The parser scans by index over the string; it never uses a regex over the whole URI.
 * Components come back unescaped (`%6C%72` → `lr`, RFC 3261 §19.1.2 allows escaping anywhere in
 * those components), so callers compare plain strings; `formatUri` escapes again as needed.
 */

export class SipUriError extends Error {
  override name = 'SipUriError';
}

export interface SipUri {
  /** Lower-cased scheme. */
  scheme: 'sip' | 'sips' | 'tel';
  /**
   * Unescaped user part (may contain any character, even NUL: RFC 4475 §3.1.1.4). For tel URIs,
   * the telephone-subscriber number as written (visual separators kept), e.g. "+1-201-555-0123".
   */
  user?: string;
  /** Unescaped password (deprecated by §22.1, still legal syntax). */
  password?: string;
  /** Host as written (case kept); an IPv6 reference keeps its brackets. Empty for tel URIs. */
  host: string;
  port?: number;
  /** uri-parameters in order, names lower-cased, values unescaped; a flag (";lr") maps to null. */
  params: Map<string, string | null>;
  /**
   * URI headers ("?name=value&..."), unescaped, names as written. Read-only: URIs without
   * headers (nearly all) share one empty map.
   */
  headers: ReadonlyMap<string, string>;
}

/** The headers of every parsed URI that has none: never modified. */
const NO_HEADERS: ReadonlyMap<string, string> = new Map();

// ---- character classes (RFC 3261 §25.1) ----

const C_ALNUM = 1;
const C_UNRESERVED = 2; // alphanum / mark
const C_USER = 4; // unreserved / user-unreserved
const C_PASSWORD = 8; // unreserved / "&" / "=" / "+" / "$" / ","
const C_PARAM = 16; // unreserved / param-unreserved
const C_HEADER = 32; // unreserved / hnv-unreserved
const C_HOST = 64; // what may appear in a hostname or IPv4 address
const C_TEL = 128; // telephone-subscriber characters (RFC 3966 §3), loosely

const CLS = new Uint8Array(128);
function mark(chars: string, bit: number): void {
  for (let i = 0; i < chars.length; i++) CLS[chars.charCodeAt(i)]! |= bit;
}
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const MARK = "-_.!~*'()";
mark(ALNUM, C_ALNUM | C_UNRESERVED | C_USER | C_PASSWORD | C_PARAM | C_HEADER | C_HOST | C_TEL);
mark(MARK, C_UNRESERVED | C_USER | C_PASSWORD | C_PARAM | C_HEADER);
mark('&=+$,;?/', C_USER); // user-unreserved
mark('&=+$,', C_PASSWORD);
mark('[]/:&+$', C_PARAM); // param-unreserved
mark('[]/?:+$', C_HEADER); // hnv-unreserved
// '_' is not in the RFC 1034 hostname grammar but appears in real SRV-style names; accepting it costs nothing.
mark('-._', C_HOST);
mark('+-.()*#', C_TEL);

function cls(c: number): number {
  return c < 128 ? CLS[c]! : 0;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

/**
 * Validate s[start, end) against a character class (plus %XX escapes) and return it unescaped.
 * Escaped octets that form valid UTF-8 decode as UTF-8; anything else decodes byte-per-char
 * so nothing is lost (escnull's %00 becomes "\u0000").
 */
function unescapeRange(s: string, start: number, end: number, bit: number, what: string): string {
  let pct = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 /* % */) {
      if (i + 2 >= end) throw new SipUriError(`truncated escape in ${what}`);
      if (hexVal(s.charCodeAt(i + 1)) < 0 || hexVal(s.charCodeAt(i + 2)) < 0) throw new SipUriError(`bad escape in ${what}`);
      pct = true;
      i += 2;
    } else if (!(cls(c) & bit)) {
      throw new SipUriError(`invalid character in ${what}`);
    }
  }
  if (!pct) return s.slice(start, end);
  const bytes: number[] = [];
  let high = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const b = (hexVal(s.charCodeAt(i + 1)) << 4) | hexVal(s.charCodeAt(i + 2));
      if (b >= 0x80) high = true;
      bytes.push(b);
      i += 2;
    } else bytes.push(c);
  }
  if (high) {
    try {
      return utf8Fatal.decode(Uint8Array.from(bytes));
    } catch {
      /* not UTF-8: keep the octets one char each */
    }
  }
  let out = '';
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

const HEX = '0123456789ABCDEF';

/** Escape every character outside the class; non-ASCII characters are escaped as UTF-8 octets. */
function escapeComponent(s: string, bit: number): string {
  let ok = true;
  for (let i = 0; i < s.length; i++) {
    if (!(cls(s.charCodeAt(i)) & bit)) {
      ok = false;
      break;
    }
  }
  if (ok) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (cls(c) & bit) {
      out += s[i];
    } else if (c < 0x80) {
      out += `%${HEX[c >> 4]}${HEX[c & 15]}`;
    } else {
      // Characters above U+00FF came from UTF-8; U+0080–U+00FF may be either, UTF-8 is the SIP charset.
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    }
  }
  return out;
}

// ---- hosts ----

/** Parse the inside of an IPv6 reference into 8 groups, or null (RFC 5954 §4.1 / RFC 3986 grammar). */
export function parseIPv6(s: string): number[] | null {
  if (s.length < 2 || s.length > 45) return null;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null;
  const parsePart = (part: string, allowV4: boolean): number[] | null => {
    if (part === '') return [];
    const pieces = part.split(':');
    const out: number[] = [];
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k]!;
      if (allowV4 && k === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (p.length < 1 || p.length > 4) return null;
      let v = 0;
      for (let j = 0; j < p.length; j++) {
        const h = hexVal(p.charCodeAt(j));
        if (h < 0) return null;
        v = (v << 4) | h;
      }
      out.push(v);
    }
    return out;
  };
  if (dbl < 0) {
    const g = parsePart(s, true);
    return g && g.length === 8 ? g : null;
  }
  const head = parsePart(s.slice(0, dbl), false);
  const tail = parsePart(s.slice(dbl + 2), true);
  if (!head || !tail) return null;
  // "::" stands for at least one group of zeros.
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** True for a dotted-quad IPv4 address; parseIPv4 without building the array. */
function isIPv4(s: string): boolean {
  let parts = 0;
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || v > 255 || parts === 4) return false;
      parts++;
      v = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      v = v * 10 + (c - 0x30);
      digits++;
    } else return false;
  }
  return parts === 4;
}

function parseIPv4(s: string): number[] | null {
  // Scanned by hand: this runs for every Via sent-by and every numeric host.
  const out: number[] = [];
  let v = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || v > 255 || out.length === 4) return null;
      out.push(v);
      v = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      v = v * 10 + (c - 0x30);
      digits++;
    } else return null;
  }
  return out.length === 4 ? out : null;
}

/**
 * True for a hostname, an IPv4 address or a bracketed IPv6 reference (RFC 3261 §25.1 `host`).
 * Exported for Via sent-by and similar host-bearing values.
 */
/**
 * Read `port = 1*DIGIT` (RFC 3261 §25.1, at most 65535) starting at `i`: the port and the index
 * after it, or undefined when there is no valid port. Shared by the URI and Via sent-by parsers.
 */
export function scanPort(s: string, i: number): { port: number; end: number } | undefined {
  const n = s.length;
  const start = i;
  let v = 0;
  while (i < n && i - start < 6) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
    i++;
  }
  return i === start || v > 65535 ? undefined : { port: v, end: i };
}

export function isValidHost(host: string): boolean {
  const n = host.length;
  if (n === 0 || n > 255) return false;
  if (host.charCodeAt(0) === 0x5b /* [ */) return host.charCodeAt(n - 1) === 0x5d && parseIPv6(host.slice(1, -1)) !== null;
  // hostname = *( domainlabel "." ) toplabel [ "." ]; a toplabel starts with a letter, so a name
  // whose last label starts with a digit must be a dotted-quad IPv4 address.
  const end = host.charCodeAt(n - 1) === 0x2e ? n - 1 : n;
  if (end === 0) return false;
  let labelStart = 0;
  let lastLabelStart = 0;
  for (let i = 0; i <= end; i++) {
    const c = i < end ? host.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (i === labelStart) return false; // empty label
      if (host.charCodeAt(labelStart) === 0x2d || host.charCodeAt(i - 1) === 0x2d) return false; // leading/trailing '-'
      lastLabelStart = labelStart;
      labelStart = i + 1;
    } else if (!(cls(c) & C_HOST)) return false;
  }
  const top = host.charCodeAt(lastLabelStart);
  if (top >= 0x30 && top <= 0x39) return end === n && isIPv4(host);
  return true;
}

/** Host normalized for comparison: lower case, IPv6 in full uncompressed form. */
function hostKey(host: string): string {
  if (host.charCodeAt(0) === 0x5b) {
    const g = parseIPv6(host.slice(1, -1));
    if (g) return `[${g.map((x) => x.toString(16)).join(':')}]`;
  }
  return host.toLowerCase();
}

// ---- parsing ----

/** Parse a sip:, sips: or tel: URI. Throws SipUriError. */
export function parseUri(s: string): SipUri {
  const colon = s.indexOf(':');
  if (colon <= 0) throw new SipUriError('missing URI scheme');
  // §19.1.4: the scheme compares case-insensitively ("SIP:" is "sip:").
  const scheme = knownScheme(s, colon);
  if (scheme === 'sip' || scheme === 'sips') return parseSip(s, colon + 1, scheme);
  if (scheme === 'tel') return parseTel(s, colon + 1);
  throw new SipUriError('unsupported URI scheme');
}

/** s[0, end) as "sip", "sips" or "tel" when it is one of them in any case, else undefined. */
export function knownScheme(s: string, end: number): 'sip' | 'sips' | 'tel' | undefined {
  if (end !== 3 && end !== 4) return undefined;
  // c | 0x20 is a lower-case ASCII letter only for that letter and its upper case, so this
  // compares as toLowerCase() would.
  const a = s.charCodeAt(0) | 0x20;
  const b = s.charCodeAt(1) | 0x20;
  const c = s.charCodeAt(2) | 0x20;
  const sip = a === 0x73 && b === 0x69 && c === 0x70;
  if (end === 4) return sip && (s.charCodeAt(3) | 0x20) === 0x73 ? 'sips' : undefined;
  if (sip) return 'sip';
  return a === 0x74 && b === 0x65 && c === 0x6c ? 'tel' : undefined;
}

function parseSip(s: string, i: number, scheme: 'sip' | 'sips'): SipUri {
  const n = s.length;
  let user: string | undefined;
  let password: string | undefined;
  // '@' cannot appear unescaped in parameters or headers (§25.1), so the first one ends userinfo.
  const at = s.indexOf('@', i);
  if (at >= 0) {
    let pc = -1;
    for (let j = i; j < at; j++) {
      if (s.charCodeAt(j) === 0x3a /* : */) {
        pc = j;
        break;
      }
    }
    const userEnd = pc < 0 ? at : pc;
    if (userEnd === i) throw new SipUriError('empty user part');
    user = unescapeRange(s, i, userEnd, C_USER, 'user part');
    if (pc >= 0) password = unescapeRange(s, pc + 1, at, C_PASSWORD, 'password');
    i = at + 1;
  }
  // host
  let host: string;
  if (s.charCodeAt(i) === 0x5b /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0) throw new SipUriError('unterminated IPv6 reference');
    host = s.slice(i, close + 1);
    i = close + 1;
  } else {
    const start = i;
    while (i < n && cls(s.charCodeAt(i)) & C_HOST) i++;
    host = s.slice(start, i);
  }
  if (!isValidHost(host)) throw new SipUriError('invalid host');
  let port: number | undefined;
  if (s.charCodeAt(i) === 0x3a) {
    const p = scanPort(s, i + 1);
    if (!p) throw new SipUriError('invalid port');
    ({ port, end: i } = p);
  }
  const params = new Map<string, string | null>();
  i = parseUriParams(s, i, params, C_PARAM);
  let headers = NO_HEADERS;
  if (s.charCodeAt(i) === 0x3f /* ? */) {
    const hs = new Map<string, string>();
    headers = hs;
    i++;
    for (;;) {
      const start = i;
      while (i < n && s.charCodeAt(i) !== 0x3d && s.charCodeAt(i) !== 0x26) i++;
      if (i === start || s.charCodeAt(i) !== 0x3d) throw new SipUriError('malformed URI header');
      const name = unescapeRange(s, start, i, C_HEADER, 'URI header');
      i++;
      const vstart = i;
      while (i < n && s.charCodeAt(i) !== 0x26) i++;
      const value = unescapeRange(s, vstart, i, C_HEADER, 'URI header');
      if (!hs.has(name)) hs.set(name, value);
      if (i >= n) break;
      i++; // '&'
    }
  }
  if (i !== n) throw new SipUriError('unexpected character in URI');
  const uri: SipUri = { scheme, host, params, headers };
  if (user !== undefined) uri.user = user;
  if (password !== undefined) uri.password = password;
  if (port !== undefined) uri.port = port;
  return uri;
}

/** `*( ";" pname [ "=" pvalue ] )` starting at i; returns the index after the last parameter. */
function parseUriParams(s: string, i: number, params: Map<string, string | null>, bit: number): number {
  const n = s.length;
  while (s.charCodeAt(i) === 0x3b /* ; */) {
    i++;
    const start = i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x3d || c === 0x3b || c === 0x3f) break;
      i++;
    }
    if (i === start) throw new SipUriError('empty URI parameter');
    const name = unescapeRange(s, start, i, bit, 'URI parameter').toLowerCase();
    if (name === '') throw new SipUriError('empty URI parameter');
    let value: string | null = null;
    if (s.charCodeAt(i) === 0x3d) {
      i++;
      const vstart = i;
      while (i < n && s.charCodeAt(i) !== 0x3b && s.charCodeAt(i) !== 0x3f) i++;
      // pvalue = 1*paramchar
      if (i === vstart) throw new SipUriError('empty URI parameter value');
      value = unescapeRange(s, vstart, i, bit, 'URI parameter');
    }
    // A repeated parameter keeps its first value; no SIP parameter is defined as repeatable.
    if (!params.has(name)) params.set(name, value);
  }
  return i;
}

function parseTel(s: string, i: number): SipUri {
  // RFC 3966 §3: telephone-subscriber = global-number / local-number, then ;parameters.
  const n = s.length;
  const start = i;
  let digits = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === 0x3b) break;
    if (!(cls(c) & C_TEL)) throw new SipUriError('invalid character in telephone number');
    if (c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29 && c !== 0x2b) digits++;
    i++;
  }
  const number = s.slice(start, i);
  if (digits === 0 || number.indexOf('+', 1) >= 0) throw new SipUriError('invalid telephone number');
  const params = new Map<string, string | null>();
  i = parseUriParams(s, i, params, C_PARAM);
  if (i !== n) throw new SipUriError('unexpected character in tel URI');
  return { scheme: 'tel', user: number, host: '', params, headers: NO_HEADERS };
}

// ---- formatting ----

/** Serialize a URI, escaping characters that may not appear literally in each component. */
export function formatUri(u: SipUri): string {
  let s = `${u.scheme}:`;
  if (u.scheme === 'tel') {
    s += u.user ?? '';
  } else {
    if (u.user !== undefined) {
      s += escapeComponent(u.user, C_USER);
      if (u.password !== undefined) s += `:${escapeComponent(u.password, C_PASSWORD)}`;
      s += '@';
    }
    s += u.host;
    if (u.port !== undefined) s += `:${u.port}`;
  }
  for (const [k, v] of u.params) s += v === null ? `;${escapeComponent(k, C_PARAM)}` : `;${escapeComponent(k, C_PARAM)}=${escapeComponent(v, C_PARAM)}`;
  if (u.scheme !== 'tel' && u.headers.size > 0) {
    let sep = '?';
    for (const [k, v] of u.headers) {
      s += `${sep}${escapeComponent(k, C_HEADER)}=${escapeComponent(v, C_HEADER)}`;
      sep = '&';
    }
  }
  return s;
}

// ---- comparison ----

/**
 * §19.1.4: these parameters, present in only one of the URIs, make them differ. The list in
 * the text names user, ttl, method and maddr; the examples that follow it also treat transport
 * that way ("sip:bob@biloxi.com" ≠ "sip:bob@biloxi.com;transport=udp").
 */
const MUST_MATCH_PARAMS = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

/**
 * URI equivalence per RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel). Strings are parsed
 * first; a string that does not parse is equal to nothing.
 */
export function uriEquals(a: SipUri | string, b: SipUri | string): boolean {
  let ua: SipUri;
  let ub: SipUri;
  try {
    ua = typeof a === 'string' ? parseUri(a) : a;
    ub = typeof b === 'string' ? parseUri(b) : b;
  } catch (err) {
    if (err instanceof SipUriError) return false;
    throw err;
  }
  if (ua.scheme !== ub.scheme) return false; // a SIP and a SIPS URI are never equivalent
  if (ua.scheme === 'tel') return telEquals(ua, ub);
  // userinfo compares case-sensitively after unescaping (already done by the parser).
  if (ua.user !== ub.user || ua.password !== ub.password) return false;
  if (hostKey(ua.host) !== hostKey(ub.host)) return false;
  // A URI without a port never equals one with the default port written out.
  if (ua.port !== ub.port) return false;
  for (const [k, v] of ua.params) {
    if (ub.params.has(k)) {
      if (!sameParamValue(v, ub.params.get(k)!)) return false;
    } else if (MUST_MATCH_PARAMS.has(k)) return false;
  }
  for (const k of ub.params.keys()) if (!ua.params.has(k) && MUST_MATCH_PARAMS.has(k)) return false;
  // Header components are never ignored: both must carry the same set.
  if (ua.headers.size !== ub.headers.size) return false;
  if (ua.headers.size > 0) {
    const hb = new Map<string, string>();
    for (const [k, v] of ub.headers) hb.set(k.toLowerCase(), v);
    for (const [k, v] of ua.headers) {
      const w = hb.get(k.toLowerCase());
      if (w === undefined || w.toLowerCase() !== v.toLowerCase()) return false;
    }
  }
  return true;
}

function sameParamValue(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return a.toLowerCase() === b.toLowerCase();
}

function telEquals(a: SipUri, b: SipUri): boolean {
  // RFC 3966 §4: visual separators are ignored, the same parameters must be present in both.
  const num = (u: SipUri) => (u.user ?? '').replace(/[-.()]/g, '').toLowerCase();
  if (num(a) !== num(b)) return false;
  if (a.params.size !== b.params.size) return false;
  for (const [k, v] of a.params) {
    if (!b.params.has(k) || !sameParamValue(v, b.params.get(k)!)) return false;
  }
  return true;
}
