import { randomBytes } from 'node:crypto';
import type { HeaderField, SipRequest, SipResponse } from './message.ts';

/** Default reason phrases (RFC 3261 §21 and the extensions Sotto answers with). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  423: 'Interval Too Brief',
  430: 'Flow Failed',
  439: 'First Hop Lacks Outbound Support',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

/**
 * A random token suitable for tags and branches (RFC 3261 §19.3: globally unique, at least 32
 * bits of cryptographic randomness). Drawn from a pool refilled 4 KiB at a time: one
 * randomBytes() call per message was a measurable share of the registrar's time.
 */
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolPos = 0;
export function randomToken(bytes = 8): string {
  if (poolPos + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolPos = 0;
  }
  const s = pool.toString('hex', poolPos, poolPos + bytes);
  poolPos += bytes;
  return s;
}

export interface ResponseOptions {
  reason?: string;
  /**
   * To-tag to add when the request's To has none. Per §8.2.6.2 a UAS adds a tag to every
   * response except 100; pass `false` to leave To untouched (e.g. for 100 Trying).
   */
  toTag?: string | false;
  headers?: HeaderField[];
  body?: Buffer;
}

/**
 * Build a response to `req` as RFC 3261 §8.2.6.2 requires: From, Call-ID, CSeq and every Via
 * copied in order, To copied with a tag added when missing.
 */
export function createResponse(req: SipRequest, status: number, opts: ResponseOptions = {}): SipResponse {
  const headers: HeaderField[] = [];
  for (const h of req.headers) {
    const kind = copiedKind(h.name);
    if (kind === COPY) headers.push({ name: h.name, value: h.value });
    else if (kind === TO) {
      let value = h.value;
      const tag = opts.toTag === undefined ? (status === 100 ? false : randomToken()) : opts.toTag;
      if (tag !== false && !hasTagParam(value)) value = `${value};tag=${tag}`;
      headers.push({ name: 'To', value });
    }
  }
  // §8.2.6.1: a 100 Trying carries the request's Timestamp back.
  if (status === 100) {
    const ts = req.headers.find((h) => h.name.toLowerCase() === 'timestamp');
    if (ts) headers.push({ name: 'Timestamp', value: ts.value });
  }
  if (opts.headers) headers.push(...opts.headers);
  return {
    kind: 'response',
    status,
    reason: opts.reason ?? REASON_PHRASES[status] ?? 'Unknown',
    headers,
    body: opts.body ?? EMPTY_BODY,
  };
}

/** The body of every response created without one (zero bytes: nothing in it to change). */
const EMPTY_BODY = Buffer.alloc(0);

const SKIP = 0;
const COPY = 1;
const TO = 2;

/** Which request headers a response copies: Via, From, Call-ID, CSeq as they are, To with a tag. */
function copiedKind(name: string): number {
  switch (name) {
    // The parser's canonical spellings, without lower-casing.
    case 'Via':
    case 'From':
    case 'Call-ID':
    case 'CSeq':
      return COPY;
    case 'To':
      return TO;
  }
  const len = name.length;
  if (len !== 2 && len !== 3 && len !== 4 && len !== 7) return SKIP;
  const n = name.toLowerCase();
  if (n === 'via' || n === 'from' || n === 'call-id' || n === 'cseq') return COPY;
  return n === 'to' ? TO : SKIP;
}

/** True if a name-addr / addr-spec header value carries a tag parameter outside the URI. */
export function hasTagParam(value: string): boolean {
  const gt = value.lastIndexOf('>');
  const params = gt >= 0 ? value.slice(gt + 1) : value.slice(Math.max(0, value.indexOf(';')));
  return /;\s*tag\s*=/i.test(params);
}
