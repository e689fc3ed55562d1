/**
 * Cuts SIP messages out of a TCP or TLS byte stream (RFC 3261 §18.3): a message is its header
 * section up to the first empty line plus exactly Content-Length octets of body. On a stream the
 * Content-Length header is mandatory, so a missing or unreadable one loses the framing for good
 * and is fatal: the transport must close the connection.
 *
 * Between messages the framer consumes CRLF keep-alives (RFC 5626 §3.5.1): a double CRLF is a
 * "ping" the server answers with a single CRLF "pong" (§4.4.1); a lone CRLF is reported as a
 * "pong" for clients that sent a ping. A ping split between two reads arrives as "pong" then
 * "ping" — harmless, a server ignores pongs and a client ignores pings.
 *
 * WebSocket needs none of this: each frame is one message (RFC 7118 §5).
 */

export interface FramerLimits {
  /**
   * Largest message (header section plus body) in bytes, default 65535. It also bounds what the
   * framer buffers: an incomplete message may never grow beyond it.
   */
  maxMessageBytes: number;
  /** Largest header section in bytes, default 32768 (or maxMessageBytes if smaller). */
  maxHeaderBytes: number;
}

export type Frame = { kind: 'message'; data: Buffer } | { kind: 'ping' } | { kind: 'pong' };

export class StreamFramingError extends Error {
  override name = 'StreamFramingError';
  /** Short, fixed text for logs. */
  readonly reason: string;
  /** Frames completed in the same push before the error (deliver them, then close). */
  frames: Frame[] = [];
  /**
   * For Content-Length errors: the offending header section, so the transport may try to answer
   * it (parseMessage + 400) before closing.
   */
  readonly headerSection: Buffer | undefined;

  constructor(reason: string, headerSection?: Buffer) {
    super(reason);
    this.reason = reason;
    this.headerSection = headerSection;
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const PING: Frame = Object.freeze({ kind: 'ping' });
const PONG: Frame = Object.freeze({ kind: 'pong' });

export class StreamFramer {
  readonly #maxMessage: number;
  readonly #maxHeader: number;
  /**
   * Bytes of an incomplete message, in store[0, len). The store grows by doubling so a peer
   * dripping one byte per segment costs O(1) per byte, not a copy of everything pending.
   */
  #store: Buffer = EMPTY;
  #len = 0;
  /** Where to resume looking for the end of the header section, relative to the pending bytes. */
  #scanFrom = 0;
  /** Total size of the message being assembled, once its header section is known; else -1. */
  #need = -1;
  /** The last push ended with a lone CRLF (reported as pong) that may be half of a ping. */
  #loneCrlf = false;
  #dead: StreamFramingError | undefined;

  constructor(limits: Partial<FramerLimits> = {}) {
    this.#maxMessage = limits.maxMessageBytes ?? 65535;
    this.#maxHeader = Math.min(limits.maxHeaderBytes ?? 32768, this.#maxMessage);
  }

  /** Bytes held for a message not yet complete. */
  get bufferedBytes(): number {
    return this.#len;
  }

  /**
   * Feed bytes read from the stream; returns the frames completed by them, in order. A message
   * that arrives within one chunk is a view of that chunk (do not reuse chunk buffers after a
   * push); one assembled from several chunks is a fresh Buffer.
   * Throws StreamFramingError when the stream cannot be framed any more; every later push
   * throws the same error.
   */
  push(chunk: Buffer): Frame[] {
    if (this.#dead) throw this.#dead;
    const frames: Frame[] = [];
    if (chunk.length === 0) return frames;
    // Nothing pending: work on the chunk itself. Otherwise append it to the store.
    const inStore = this.#len > 0;
    let data: Buffer;
    if (inStore) {
      this.#reserve(this.#len + chunk.length);
      chunk.copy(this.#store, this.#len);
      this.#len += chunk.length;
      data = this.#store.subarray(0, this.#len);
    } else {
      data = chunk;
    }
    let pos: number;
    try {
      pos = this.#drain(data, inStore, frames);
    } catch (err) {
      const e = err instanceof StreamFramingError ? err : new StreamFramingError('Framing Failure');
      e.frames = frames;
      this.#dead = e;
      this.#store = EMPTY;
      this.#len = 0;
      throw e;
    }
    // Keep what is left of an incomplete message at the start of the store.
    const left = data.length - pos;
    if (left === 0) this.#len = 0;
    else if (inStore) {
      if (pos > 0) this.#store.copyWithin(0, pos, this.#len);
      this.#len = left;
    } else {
      this.#reserve(left);
      data.copy(this.#store, 0, pos);
      this.#len = left;
    }
    // Do not sit on a large store once it is no longer needed.
    if (this.#len === 0 && this.#store.length > 65536) this.#store = EMPTY;
    return frames;
  }

  #reserve(size: number): void {
    if (size <= this.#store.length) return;
    let cap = Math.max(1024, this.#store.length);
    while (cap < size) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.#store.copy(next, 0, 0, this.#len);
    this.#store = next;
  }

  /** Frame data[0, ...); returns how many bytes were consumed. */
  #drain(data: Buffer, inStore: boolean, frames: Frame[]): number {
    let pos = 0;
    for (;;) {
      if (this.#need < 0) {
        // Between messages: keep-alive CRLFs (RFC 5626 §3.5.1; §7.5 of RFC 3261 says CRLFs
        // before a start-line are ignored).
        let p = pos;
        while (p + 1 < data.length && data[p] === 0x0d && data[p + 1] === 0x0a) p += 2;
        if (p > pos) {
          let pairs = (p - pos) >> 1;
          if (this.#loneCrlf) {
            frames.push(PING);
            pairs--;
            this.#loneCrlf = false;
          }
          for (; pairs >= 2; pairs -= 2) frames.push(PING);
          if (pairs === 1) {
            frames.push(PONG);
            // Nothing after it yet (or only the CR of the next CRLF): it may be half a ping.
            this.#loneCrlf = p === data.length || (p === data.length - 1 && data[p] === 0x0d);
          }
          pos = p;
        }
        const avail = data.length - pos;
        if (avail === 0) return pos;
        if (avail === 1 && data[pos] === 0x0d) return pos; // maybe the first half of a CRLF
        this.#loneCrlf = false;

        const idx = data.indexOf(CRLFCRLF, pos + Math.max(0, this.#scanFrom - 3));
        if (idx < 0) {
          if (avail > this.#maxHeader) throw new StreamFramingError('Header Section Too Large');
          this.#scanFrom = avail;
          return pos;
        }
        const headLen = idx + 4 - pos;
        if (headLen > this.#maxHeader) throw new StreamFramingError('Header Section Too Large');
        const cl = contentLength(data, pos, idx);
        if (typeof cl === 'string') throw new StreamFramingError(cl, Buffer.from(data.subarray(pos, pos + headLen)));
        if (headLen + cl > this.#maxMessage) throw new StreamFramingError('Message Too Large', Buffer.from(data.subarray(pos, pos + headLen)));
        this.#need = headLen + cl;
        this.#scanFrom = 0;
      }
      if (data.length - pos < this.#need) return pos;
      const msg = data.subarray(pos, pos + this.#need);
      // The store is reused: a message assembled in it must be copied out.
      frames.push({ kind: 'message', data: inStore ? Buffer.from(msg) : msg });
      pos += this.#need;
      this.#need = -1;
    }
  }
}

/**
 * The Content-Length of a header section buf[start, end) (end = index of the CRLFCRLF), or an error
 * reason. Same rules as parseMessage: compact form "l", folding, leading zeros, exactly one.
 */
function contentLength(buf: Buffer, start: number, end: number): number | string {
  const t = buf.toString('latin1', start, end);
  const n = t.length;
  let ls = t.indexOf('\r\n');
  if (ls < 0) return 'Missing Content-Length';
  ls += 2;
  let value = -1;
  let count = 0;
  while (ls < n) {
    let le = t.indexOf('\r\n', ls);
    if (le < 0) le = n;
    // Extend over continuation lines (§7.3.1).
    let fe = le;
    while (fe + 2 < n && (t.charCodeAt(fe + 2) === 0x20 || t.charCodeAt(fe + 2) === 0x09)) {
      fe = t.indexOf('\r\n', fe + 2);
      if (fe < 0) fe = n;
    }
    const c = t.charCodeAt(ls) | 0x20;
    if (c === 0x63 /* c */ || c === 0x6c /* l */) {
      const colon = t.indexOf(':', ls);
      if (colon > ls && colon < le) {
        let ne = colon;
        while (ne > ls && (t.charCodeAt(ne - 1) === 0x20 || t.charCodeAt(ne - 1) === 0x09)) ne--;
        const name = t.slice(ls, ne).toLowerCase();
        if (name === 'content-length' || name === 'l') {
          count++;
          value = digits(t, colon + 1, fe);
          if (value < 0) return 'Bad Content-Length';
        }
      }
    }
    ls = fe + 2;
  }
  if (count === 0) return 'Missing Content-Length'; // §18.3: mandatory on streams
  if (count > 1) return 'Multiple Content-Length'; // RFC 4475 §3.3.9
  return value;
}

/** 1*DIGIT surrounded by LWS in t[a, b), or -1. */
function digits(t: string, a: number, b: number): number {
  const ws = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
  while (a < b && ws(t.charCodeAt(a))) a++;
  while (b > a && ws(t.charCodeAt(b - 1))) b--;
  if (a === b) return -1;
  while (a < b - 1 && t.charCodeAt(a) === 0x30) a++;
  if (b - a > 10) return -1;
  let v = 0;
  for (let i = a; i < b; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}
