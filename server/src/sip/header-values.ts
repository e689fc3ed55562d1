/**
 * Typed views of the header values the core acts on. Parsing is on demand: a proxy touches
 * only Via, CSeq, Max-Forwards, Route, From/To tags and Contact, and forwards the rest as is.
 */

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

/** Parse one Via value (one entry of a possibly comma-separated Via field). */
export function parseVia(value: string): Via {
  // sent-protocol: SIP / 2.0 / UDP, with optional LWS around the slashes
  const m = /^\s*([!-~]+?)\s*\/\s*([!-~]+?)\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+(.*)$/s.exec(value);
  if (!m) throw new HeaderValueError('malformed Via sent-protocol');
  const rest = m[4]!;
  let i = 0;
  let host: string;
  if (rest[0] === '[') {
    const end = rest.indexOf(']');
    if (end < 0) throw new HeaderValueError('malformed Via IPv6 reference');
    host = rest.slice(0, end + 1);
    i = end + 1;
  } else {
    while (i < rest.length && !/[\s:;]/.test(rest[i]!)) i++;
    host = rest.slice(0, i);
  }
  if (!host) throw new HeaderValueError('Via without sent-by host');
  let port: number | undefined;
  while (rest[i] === ' ' || rest[i] === '\t') i++;
  if (rest[i] === ':') {
    i++;
    while (rest[i] === ' ' || rest[i] === '\t') i++;
    const start = i;
    while (i < rest.length && rest.charCodeAt(i) >= 0x30 && rest.charCodeAt(i) <= 0x39) i++;
    port = Number(rest.slice(start, i));
    if (start === i || port > 65535) throw new HeaderValueError('malformed Via port');
  }
  const params = parseParams(rest.slice(i));
  return { protocol: `${m[1]}/${m[2]}`, transport: m[3]!.toUpperCase(), host, ...(port !== undefined ? { port } : {}), params };
}

/**
 * Parse a `;name=value;flag` parameter list (generic-param, RFC 3261 §25.1). Quoted values keep
 * their quotes. Names are lower-cased (parameter names are case-insensitive, §7.3.1).
 */
export function parseParams(s: string): Map<string, string | null> {
  const params = new Map<string, string | null>();
  let i = 0;
  const n = s.length;
  const skipWs = () => {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\r' || s[i] === '\n')) i++;
  };
  skipWs();
  while (i < n) {
    if (s[i] !== ';') throw new HeaderValueError(`unexpected "${s[i]}" in parameters`);
    i++;
    skipWs();
    const nameStart = i;
    while (i < n && !/[\s;=]/.test(s[i]!)) i++;
    const name = s.slice(nameStart, i).toLowerCase();
    if (!name) throw new HeaderValueError('empty parameter name');
    skipWs();
    let value: string | null = null;
    if (s[i] === '=') {
      i++;
      skipWs();
      if (s[i] === '"') {
        const start = i;
        i++;
        while (i < n && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
        if (i >= n) throw new HeaderValueError('unterminated quoted parameter value');
        i++;
        value = s.slice(start, i);
      } else {
        const start = i;
        while (i < n && !/[\s;]/.test(s[i]!)) i++;
        value = s.slice(start, i);
      }
      skipWs();
    }
    params.set(name, value);
  }
  return params;
}

/** Serialize a Via back to its wire form. */
export function formatVia(via: Via): string {
  let s = `${via.protocol}/${via.transport} ${via.host}${via.port !== undefined ? `:${via.port}` : ''}`;
  for (const [k, v] of via.params) s += v === null ? `;${k}` : `;${k}=${v}`;
  return s;
}

/** A parsed CSeq (RFC 3261 §20.16). */
export interface CSeq {
  seq: number;
  method: string;
}

export function parseCSeq(value: string): CSeq {
  const m = /^\s*(\d{1,10})\s+([!%'*+\-.0-9A-Z_`a-z~]+)\s*$/.exec(value);
  if (!m) throw new HeaderValueError('malformed CSeq');
  const seq = Number(m[1]);
  // §8.1.1.5: the sequence number MUST be expressible as a 32-bit unsigned integer.
  if (seq > 0xffffffff) throw new HeaderValueError('CSeq number out of range');
  return { seq, method: m[2]! };
}
