/**
 * SIP Digest authentication, server side: RFC 3261 §22 with the algorithm agility of
 * RFC 8760 and the HTTP Digest rules of RFC 7616.
 *
 * What is implemented, and what is refused on purpose:
 *   - algorithms SHA-256, SHA-512-256 and MD5 (RFC 8760 §2.1); the "-sess" variants are not
 *     offered and credentials using them are refused;
 *   - qop=auth only (RFC 7616 §3.3). Credentials without qop (RFC 2069 style, still allowed by
 *     RFC 3261 §22.4 for backward compatibility) are refused: they carry no cnonce and no
 *     nonce-count, so replay protection is impossible. qop=auth-int is refused cleanly;
 *   - userhash (RFC 7616 §3.4.4) and the username* form are not offered and are refused.
 *
 * Nonces are stateless: base64url(issue time ‖ counter ‖ HMAC-SHA-256(key, issue time ‖
 * counter)), the key being derived from a server secret and the realm. Creating or checking
 * one is a single HMAC over 10 bytes, with no database round trip. A nonce is valid for
 * `nonceTtlMs` (default 300 s) after issue; after that, credentials that are otherwise right
 * get a `stale` result so the registrar can re-challenge with stale=true (RFC 7616 §3.3) and
 * the UA retries without asking its user again.
 *
 * Replay protection (RFC 7616 §3.4 / §5.5): a nonce may be reused with a growing nonce-count.
 * The highest nc accepted per nonce is kept in a bounded, expiring map (NonceCountTracker);
 * each (nonce, nc) pair is accepted at most once and nc must increase. When the map is full,
 * the least recently started entry is dropped and every nonce issued before it becomes
 * unusable (stale), so losing state can cost a UA an extra challenge but can never let a
 * replay through.
 *
 * Privacy: nothing here logs, and no result carries a password, HA1, nonce, cnonce or
 * response value.
 *
 * This module is free of I/O: the HA1 of a user comes from a synchronous lookup function (the
 * user store's in-memory cache in front of SQLite).
 */
import { createHmac, hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { HeaderField, SipRequest, SipResponse } from '../sip/message.ts';
import { getHeaderLines } from '../sip/message.ts';
import { createResponse } from '../sip/response.ts';
import { uriEquals } from '../sip/uri.ts';
import {
  DIGEST_ALGORITHMS,
  DIGEST_HEX_LENGTH,
  type DigestAlgorithm,
  digestHash,
  parseDigestAlgorithm,
} from './password.ts';

export { DIGEST_ALGORITHMS, type DigestAlgorithm } from './password.ts';

/** Returns the stored HA1 (lower-case hex) of `username` for `algorithm`, or undefined if unknown. */
export type Ha1Lookup = (username: string, algorithm: DigestAlgorithm) => string | undefined;

/**
 * How the digest-uri of the credentials must relate to the Request-URI.
 *
 * RFC 7616 §3.4.6 requires the server to check that both designate the same resource. RFC 3261
 * §22.4 (item 8) relaxes this for SIP: a proxy on the way may have retargeted the request, so
 * the two may differ and a server MAY accept that. Sotto authenticates at the first hop (the
 * UA's registrar / outbound proxy), where no retargeting has happened yet, so it checks.
 *
 *   - 'equivalent' (default): identical strings, or URIs equivalent by RFC 3261 §19.1.4
 *     (sip/sips) or RFC 3966 §4 (tel), as sip/uri.ts's uriEquals decides: case-insensitive
 *     scheme, host and parameters, parameters present in only one URI ignored except
 *     user/ttl/method/maddr/transport, an explicit default port differs from none. This
 *     tolerates UAs that re-serialize the URI (case, escaping, parameter order, an extra or
 *     dropped unknown parameter) without accepting credentials made for another target.
 *   - 'exact': the strings must be identical.
 *   - 'off': no check (RFC 3261 §22.4 item 8); use only behind a retargeting proxy.
 */
export type DigestUriMatch = 'equivalent' | 'exact' | 'off' | ((digestUri: string, requestUri: string) => boolean);

export interface DigestOptions {
  /**
   * The protection realm (RFC 3261 §22.1), usually the SIP domain. HA1 values depend on it, so
   * the user store must have been created for the same realm.
   */
  realm: string;
  /** HA1 source. Must be synchronous and cheap (an in-memory cache). */
  lookupHa1: Ha1Lookup;
  /**
   * Algorithms to offer and accept, one challenge each, in this order of preference
   * (RFC 8760 §2.3-2.4: a UA uses the first it supports). Default: SHA-256, then MD5.
   */
  algorithms?: readonly DigestAlgorithm[];
  /**
   * Server secret for signing nonces, at least 32 bytes. Default: 32 random bytes per process,
   * so outstanding nonces become stale on restart (UAs then retry transparently). Pass a
   * persistent secret to keep nonces valid across restarts or across a cluster.
   */
  secret?: Uint8Array;
  /** Nonce lifetime in ms (default 300 000). */
  nonceTtlMs?: number;
  /** Nonces that claim to be issued more than this many ms in the future are invalid (default 5 000). */
  maxClockSkewMs?: number;
  /** Upper bound of the nonce-count map (default 100 000 nonces, roughly 10 MB). */
  maxTrackedNonces?: number;
  /** digest-uri check, see DigestUriMatch (default 'equivalent'). */
  uriMatch?: DigestUriMatch;
  /**
   * At most this many credentials for our realm are checked per request (RFC 3261 §22.3 asks to
   * look at all of them; the cap keeps a request from buying many hash computations). Default 4.
   */
  maxCredentialsPerRequest?: number;
}

/** Why credentials were rejected. Safe to log: it never carries secret values. */
export type DigestFailureReason =
  /** The Digest credentials could not be parsed or lack a required parameter. */
  | 'malformed'
  /** algorithm is unknown, a "-sess" variant, or not offered by this server. */
  | 'unsupported-algorithm'
  /** qop other than "auth" (e.g. auth-int). */
  | 'unsupported-qop'
  /** No qop: RFC 2069 style credentials, refused (no replay protection possible). */
  | 'missing-qop'
  /** userhash=true or username* (RFC 7616 §3.4.4), not offered. */
  | 'unsupported-userhash'
  /** The digest-uri does not designate the Request-URI (RFC 7616 §3.4.6). A registrar may answer 400. */
  | 'uri-mismatch'
  /**
   * The response does not verify. Deliberately the same for a wrong password and for an
   * unknown user (both take the same code path and cost), so that neither the result nor the
   * timing tells which usernames exist.
   */
  | 'bad-credentials';

/** Why otherwise correct credentials are not accepted; the answer is a challenge with stale=true. */
export type DigestStaleReason =
  /** The nonce is older than the nonce lifetime. */
  | 'expired'
  /** This nonce-count was already used with this nonce (or its state was dropped under memory pressure). */
  | 'replayed'
  /** The nonce or opaque was not issued by this server with the current secret (e.g. after a restart). */
  | 'invalid-nonce';

export type DigestVerifyResult =
  /** Authenticated as `username` (as sent by the UA, i.e. the account name). */
  | { kind: 'ok'; username: string; algorithm: DigestAlgorithm }
  /** The UA knows the password but used an unusable nonce: re-challenge with stale=true. */
  | { kind: 'stale'; reason: DigestStaleReason }
  /** Authentication failed: re-challenge (without stale), and count a failure for the source. */
  | { kind: 'failed'; reason: DigestFailureReason }
  /** No Digest credentials for this realm: challenge. */
  | { kind: 'missing' };

/** What verify() needs from a request. */
export interface DigestRequestInfo {
  method: string;
  /** The Request-URI as received. */
  uri: string;
  /** Every Authorization (or Proxy-Authorization) field value, one credentials each (RFC 3261 §20.7). */
  credentials: readonly string[];
}

export interface ChallengeOptions {
  /** Add stale=true (RFC 7616 §3.3): the previous nonce was unusable but the credentials were right. */
  stale?: boolean;
}

/* ------------------------------------------------------------------------------------------ */
/* Credentials parser: RFC 3261 §25.1 (credentials / digest-response), RFC 7616 §3.4.        */
/* ------------------------------------------------------------------------------------------ */

export class DigestParseError extends Error {
  override name = 'DigestParseError';
  readonly code = 'DIGEST_MALFORMED';
}

/** token characters (RFC 3261 §25.1): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
const TOKEN_CHAR = new Uint8Array(128);
for (const c of "-.!%*_+`'~") TOKEN_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN_CHAR[c] = 1;

function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN_CHAR[c] === 1;
}

/** LWS characters (RFC 3261 §25.1: SP, HTAB, and CRLF of a folded line). */
function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

const MAX_AUTH_PARAMS = 32;

/**
 * Parse one Authorization / Proxy-Authorization value (RFC 3261 §25.1 `credentials`).
 *
 * Returns undefined when the scheme is not Digest (e.g. Basic: not ours to judge), the
 * auth-params otherwise, with names lower-cased (they are case-insensitive) and quoted-string
 * values unquoted and unescaped (quoted-pair, RFC 3261 §25.1). LWS is accepted anywhere
 * between elements. Throws DigestParseError on malformed Digest credentials (missing "=",
 * unterminated quoted-string, duplicate parameter, nothing after "Digest", ...).
 *
 * Leniency, for interoperability: an unquoted value may be any run of visible characters
 * other than "," and DQUOTE (some UAs send uri=sip:host unquoted), and any value may be quoted
 * (some UAs send qop="auth" or nc="00000001").
 */
export function parseDigestCredentials(value: string): Map<string, string> | undefined {
  const n = value.length;
  let i = 0;
  while (i < n && isWs(value.charCodeAt(i))) i++;
  const schemeStart = i;
  while (i < n && isTokenChar(value.charCodeAt(i))) i++;
  if (value.slice(schemeStart, i).toLowerCase() !== 'digest') return undefined;
  if (i >= n || !isWs(value.charCodeAt(i))) throw new DigestParseError('"Digest" must be followed by LWS and auth-params');

  const params = new Map<string, string>();
  for (;;) {
    while (i < n && isWs(value.charCodeAt(i))) i++;
    const nameStart = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    if (i === nameStart) throw new DigestParseError('expected an auth-param name');
    const name = value.slice(nameStart, i).toLowerCase();
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (value.charCodeAt(i) !== 0x3d /* = */) throw new DigestParseError('expected "=" after an auth-param name');
    i++;
    while (i < n && isWs(value.charCodeAt(i))) i++;
    let v: string;
    if (value.charCodeAt(i) === 0x22 /* " */) {
      i++;
      let out = '';
      let chunk = i;
      for (;;) {
        if (i >= n) throw new DigestParseError('unterminated quoted-string');
        const c = value.charCodeAt(i);
        if (c === 0x22) break;
        if (c === 0x5c /* \ */) {
          // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
          const next = value.charCodeAt(i + 1);
          if (i + 1 >= n || next === 0x0a || next === 0x0d) throw new DigestParseError('bad quoted-pair');
          out += value.slice(chunk, i) + value[i + 1];
          i += 2;
          chunk = i;
        } else i++;
      }
      v = out + value.slice(chunk, i);
      i++;
    } else {
      const start = i;
      while (i < n) {
        const c = value.charCodeAt(i);
        if (c === 0x2c || c === 0x22 || c <= 0x20 || c === 0x7f) break;
        i++;
      }
      if (i === start) throw new DigestParseError('empty auth-param value');
      v = value.slice(start, i);
    }
    // RFC 7235 §2.1 (HTTP, applies to Digest as RFC 7616 uses it): each parameter name MUST
    // occur only once; a duplicate would let a middlebox and the server read different values.
    if (params.has(name)) throw new DigestParseError('duplicate auth-param');
    if (params.size >= MAX_AUTH_PARAMS) throw new DigestParseError('too many auth-params');
    params.set(name, v);
    while (i < n && isWs(value.charCodeAt(i))) i++;
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c /* , */) throw new DigestParseError('expected "," between auth-params');
    i++;
  }
  return params;
}

/* ------------------------------------------------------------------------------------------ */
/* Nonce-count tracking                                                                       */
/* ------------------------------------------------------------------------------------------ */

interface NonceEntry {
  nc: number;
  issuedAt: number;
}

/**
 * Highest nonce-count accepted per nonce (RFC 7616 §3.4: nc "MUST" grow so the server can
 * detect replays), with bounded memory and no timers.
 *
 * Entries are kept in first-use order. Each call first drops expired entries from the front;
 * when the map is full the front entry is dropped even though it has not expired, and its issue
 * time becomes a watermark: any nonce issued at or before the watermark that has no entry is
 * refused from then on, since its history may have been lost. Refusal only costs the UA a
 * stale challenge; it never lets a replay through.
 */
export class NonceCountTracker {
  readonly #entries = new Map<string, NonceEntry>();
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  #watermark = Number.NEGATIVE_INFINITY;

  constructor(maxEntries: number, ttlMs: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    if (!(ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  /** Number of nonces currently tracked. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Accept `nc` for `nonce` (issued at `issuedAt`) if it is greater than every nc accepted
   * before for that nonce; record it and return true. Return false for a replay.
   */
  accept(nonce: string, issuedAt: number, nc: number, now: number): boolean {
    this.#sweep(now);
    const entry = this.#entries.get(nonce);
    if (entry) {
      if (nc <= entry.nc) return false;
      entry.nc = nc;
      return true;
    }
    if (issuedAt <= this.#watermark) return false;
    if (this.#entries.size >= this.#maxEntries) {
      const first = this.#entries.entries().next();
      if (!first.done) {
        const [key, oldest] = first.value;
        this.#entries.delete(key);
        if (oldest.issuedAt > this.#watermark) this.#watermark = oldest.issuedAt;
      }
      if (issuedAt <= this.#watermark) return false;
    }
    this.#entries.set(nonce, { nc, issuedAt });
    return true;
  }

  #sweep(now: number): void {
    for (const [key, e] of this.#entries) {
      if (now - e.issuedAt < this.#ttlMs) break;
      this.#entries.delete(key);
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* HMAC                                                                                       */
/* ------------------------------------------------------------------------------------------ */

/**
 * HMAC-SHA-256 (RFC 2104) for short messages, built on the one-shot crypto.hash(): a
 * createHmac() object costs around 15 µs to set up, this about 1 µs, and nonces are signed or
 * checked on every challenge and every authenticated request. The padded keys are computed
 * once; the work buffers are reused (safe: the hashes are synchronous). Intermediate and final
 * digests travel as latin1 strings (one char per byte): hash()'s 'buffer' output costs about
 * three times its 'latin1' output.
 */
export class HmacSha256 {
  static readonly BLOCK = 64;
  readonly #inner: Buffer;
  readonly #outer: Buffer;
  readonly #messageLength: number;

  /** `key` of at most 64 bytes (longer keys would have to be hashed first, RFC 2104 §2); fixed message length. */
  constructor(key: Uint8Array, messageLength: number) {
    if (key.length > HmacSha256.BLOCK) throw new RangeError('HMAC key longer than the block size');
    this.#messageLength = messageLength;
    this.#inner = Buffer.alloc(HmacSha256.BLOCK + messageLength, 0x36);
    this.#outer = Buffer.alloc(HmacSha256.BLOCK + 32, 0x5c);
    for (let k = 0; k < key.length; k++) {
      this.#inner[k] = key[k]! ^ 0x36;
      this.#outer[k] = key[k]! ^ 0x5c;
    }
  }

  /** HMAC(key, message), 32 bytes (a new Buffer). */
  digest(message: Uint8Array): Buffer {
    return Buffer.from(this.digestLatin1(message), 'latin1');
  }

  /** HMAC(key, message) as a 32-character latin1 string, one character per byte. */
  digestLatin1(message: Uint8Array): string {
    if (message.length !== this.#messageLength) throw new RangeError('unexpected HMAC message length');
    this.#inner.set(message, HmacSha256.BLOCK);
    this.#outer.write(hash('sha256', this.#inner, 'binary'), HmacSha256.BLOCK, 'latin1');
    return hash('sha256', this.#outer, 'binary'); // 'binary' is latin1 (the name @types/node accepts here)
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The authenticator                                                                          */
/* ------------------------------------------------------------------------------------------ */

/** Nonce layout: 6 bytes issue time (ms, big-endian), 4 bytes counter, 16 bytes truncated HMAC-SHA-256. */
const NONCE_PAYLOAD_BYTES = 10;
const NONCE_MAC_BYTES = 16;
const NONCE_BYTES = NONCE_PAYLOAD_BYTES + NONCE_MAC_BYTES;
/** base64url without padding of 26 bytes. */
const NONCE_CHARS = Math.ceil((NONCE_BYTES * 4) / 3);
const MAX_NONCE_TIME = 2 ** 48 - 1;

const NC_RE = /^[0-9a-fA-F]{8}$/;
const MAX_HEX_LENGTH = 64;
const INVALID_NONCE = Object.freeze({ kind: 'invalid' as const });
const EXPIRED_NONCE = Object.freeze({ kind: 'expired' as const });
const HEX_RE = /^[0-9a-fA-F]+$/;

const MISSING: DigestVerifyResult = Object.freeze({ kind: 'missing' });

function failed(reason: DigestFailureReason): DigestVerifyResult {
  return { kind: 'failed', reason };
}

/** Rank for picking the most useful result among several credentials. */
function rank(r: DigestVerifyResult): number {
  switch (r.kind) {
    case 'ok':
      return 3;
    case 'stale':
      return 2;
    case 'failed':
      return 1;
    case 'missing':
      return 0;
  }
}

/** Quote a string for a quoted-string (RFC 3261 §25.1): escape DQUOTE and backslash. */
function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

export class DigestAuthenticator {
  readonly #realm: string;
  readonly #lookupHa1: Ha1Lookup;
  readonly #algorithms: readonly DigestAlgorithm[];
  readonly #offered: ReadonlySet<DigestAlgorithm>;
  readonly #nonceMac: HmacSha256;
  readonly #opaque: string;
  readonly #nonceTtlMs: number;
  readonly #maxSkewMs: number;
  readonly #uriMatch: DigestUriMatch;
  readonly #maxCredentials: number;
  readonly #tracker: NonceCountTracker;
  /** HA1 used for unknown users so they cost exactly what a wrong password costs. */
  readonly #dummyHa1: Readonly<Record<DigestAlgorithm, string>>;
  readonly #quotedRealm: string;
  #counter: number;
  /** Work buffers (reused: everything here is synchronous): a nonce, its MAC, and the two digests compared. */
  readonly #nonceBuf = Buffer.alloc(NONCE_BYTES);
  readonly #noncePayload = this.#nonceBuf.subarray(0, NONCE_PAYLOAD_BYTES);
  readonly #nonceMacPart = this.#nonceBuf.subarray(NONCE_PAYLOAD_BYTES);
  readonly #macBuf = Buffer.alloc(NONCE_MAC_BYTES);
  readonly #expectedBuf = Buffer.alloc(MAX_HEX_LENGTH);
  readonly #responseBuf = Buffer.alloc(MAX_HEX_LENGTH);

  constructor(options: DigestOptions) {
    const realm = options.realm;
    // The realm goes into quoted-strings and into HA1; control characters have no place there.
    if (typeof realm !== 'string' || realm.length === 0 || /[\x00-\x1f\x7f]/.test(realm)) {
      throw new TypeError('realm must be a non-empty string without control characters');
    }
    const algorithms = options.algorithms ?? ['SHA-256', 'MD5'];
    for (const a of algorithms) {
      if (!DIGEST_ALGORITHMS.includes(a)) throw new TypeError(`unsupported digest algorithm: ${String(a)}`);
    }
    // RFC 8760 §2.3: challenges in the order the server prefers them, the best first: the order
    // given, so that an operator whose phones read only the first challenge can put MD5 first.
    this.#algorithms = Object.freeze([...new Set(algorithms)]);
    if (this.#algorithms.length === 0) throw new TypeError('at least one digest algorithm is required');
    this.#offered = new Set(this.#algorithms);

    const secret = options.secret ?? randomBytes(32);
    if (secret.length < 32) throw new RangeError('the nonce secret must be at least 32 bytes');
    this.#nonceMac = new HmacSha256(createHmac('sha256', secret).update(`sotto digest nonce v1\0${realm}`).digest(), NONCE_PAYLOAD_BYTES);
    this.#opaque = createHmac('sha256', secret).update(`sotto digest opaque v1\0${realm}`).digest().subarray(0, 12).toString('base64url');

    this.#nonceTtlMs = options.nonceTtlMs ?? 300_000;
    if (!(this.#nonceTtlMs > 0)) throw new RangeError('nonceTtlMs must be positive');
    this.#maxSkewMs = options.maxClockSkewMs ?? 5_000;
    this.#uriMatch = options.uriMatch ?? 'equivalent';
    this.#maxCredentials = options.maxCredentialsPerRequest ?? 4;
    this.#tracker = new NonceCountTracker(options.maxTrackedNonces ?? 100_000, this.#nonceTtlMs);
    this.#realm = realm;
    this.#quotedRealm = quote(realm);
    this.#lookupHa1 = options.lookupHa1;
    this.#dummyHa1 = {
      MD5: randomBytes(DIGEST_HEX_LENGTH.MD5 / 2).toString('hex'),
      'SHA-256': randomBytes(DIGEST_HEX_LENGTH['SHA-256'] / 2).toString('hex'),
      'SHA-512-256': randomBytes(DIGEST_HEX_LENGTH['SHA-512-256'] / 2).toString('hex'),
    };
    this.#counter = randomInt(0, 2 ** 32);
  }

  get realm(): string {
    return this.#realm;
  }

  /** Offered algorithms, in challenge order. */
  get algorithms(): readonly DigestAlgorithm[] {
    return this.#algorithms;
  }

  /** Number of nonces whose nonce-count is being tracked (bounded by maxTrackedNonces). */
  get trackedNonces(): number {
    return this.#tracker.size;
  }

  /** A fresh nonce: base64url(issue time ‖ counter ‖ MAC), 35 characters. `now` in ms. */
  createNonce(now: number): string {
    const t = Math.floor(now);
    if (!(t >= 0 && t <= MAX_NONCE_TIME)) throw new RangeError('now must be a non-negative time in ms');
    const buf = this.#nonceBuf;
    buf.writeUIntBE(t, 0, 6);
    buf.writeUInt32BE(this.#counter, 6);
    this.#counter = (this.#counter + 1) >>> 0;
    buf.write(this.#nonceMac.digestLatin1(this.#noncePayload), NONCE_PAYLOAD_BYTES, NONCE_MAC_BYTES, 'latin1');
    return buf.toString('base64url');
  }

  /**
   * Digest challenges (RFC 3261 §22.1, RFC 7616 §3.3), one per offered algorithm, most
   * preferred first (RFC 8760 §2.3), all sharing one fresh nonce. Values for
   * WWW-Authenticate (401) or Proxy-Authenticate (407).
   */
  challenges(now: number, options: ChallengeOptions = {}): string[] {
    const nonce = this.createNonce(now);
    const tail = options.stale ? ', qop="auth", stale=true' : ', qop="auth"';
    return this.#algorithms.map(
      (a) => `Digest realm=${this.#quotedRealm}, nonce="${nonce}", opaque="${this.#opaque}", algorithm=${a}${tail}`,
    );
  }

  /** The challenge header fields for a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate). */
  challengeHeaders(status: 401 | 407, now: number, options: ChallengeOptions = {}): HeaderField[] {
    const name = status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    return this.challenges(now, options).map((value) => ({ name, value }));
  }

  /** A complete 401/407 response to `req` carrying the challenges (RFC 3261 §22.1, §8.2.6). */
  challengeResponse(req: SipRequest, status: 401 | 407, now: number, options: ChallengeOptions = {}): SipResponse {
    return createResponse(req, status, { headers: this.challengeHeaders(status, now, options) });
  }

  /**
   * Verify the credentials of a request for this realm. Credentials for other realms are
   * ignored (they belong to another proxy, RFC 3261 §22.3); when several are for this realm,
   * the first acceptable one wins (§22.3: look at all of them), up to maxCredentialsPerRequest.
   * `now` in ms, on the same clock as the one given to createNonce/challenges.
   */
  verify(request: DigestRequestInfo, now: number): DigestVerifyResult {
    let best: DigestVerifyResult = MISSING;
    let checked = 0;
    for (const value of request.credentials) {
      let params: Map<string, string> | undefined;
      try {
        params = parseDigestCredentials(value);
      } catch {
        if (rank(best) < 1) best = failed('malformed');
        continue;
      }
      if (params === undefined || params.get('realm') !== this.#realm) continue;
      if (++checked > this.#maxCredentials) break;
      const result = this.#verifyOne(params, request.method, request.uri, now);
      if (result.kind === 'ok') return result;
      if (rank(result) > rank(best)) best = result;
    }
    return best;
  }

  /** verify() on a SipRequest: Authorization for a registrar/UAS, Proxy-Authorization for a proxy. */
  verifyRequest(
    req: SipRequest,
    now: number,
    header: 'Authorization' | 'Proxy-Authorization' = 'Authorization',
  ): DigestVerifyResult {
    return this.verify({ method: req.method, uri: req.uri, credentials: getHeaderLines(req, header) }, now);
  }

  #verifyOne(params: Map<string, string>, method: string, requestUri: string, now: number): DigestVerifyResult {
    // Checks that depend only on public data come first; from the nonce check on, every path
    // does the same work whether or not the user exists.
    if (params.has('username*') || params.get('userhash')?.toLowerCase() === 'true') return failed('unsupported-userhash');
    const username = params.get('username');
    const nonce = params.get('nonce');
    const digestUri = params.get('uri');
    const response = params.get('response');
    if (!username || nonce === undefined || digestUri === undefined || response === undefined) return failed('malformed');

    // RFC 7616 §3.4: algorithm absent means MD5.
    const algorithm = parseDigestAlgorithm(params.get('algorithm') ?? 'MD5');
    if (algorithm === undefined || !this.#offered.has(algorithm)) return failed('unsupported-algorithm');

    const qop = params.get('qop');
    if (qop === undefined) return failed('missing-qop');
    if (qop.toLowerCase() !== 'auth') return failed('unsupported-qop');
    const cnonce = params.get('cnonce');
    const ncText = params.get('nc');
    if (!cnonce || ncText === undefined || !NC_RE.test(ncText)) return failed('malformed');
    const nc = parseInt(ncText, 16);
    if (nc === 0) return failed('malformed');
    if (response.length !== DIGEST_HEX_LENGTH[algorithm] || !HEX_RE.test(response)) return failed('malformed');

    if (!this.#uriMatches(digestUri, requestUri)) return failed('uri-mismatch');

    const nonceState = this.#checkNonce(nonce, params.get('opaque'), now);

    const stored = this.#lookupHa1(username, algorithm);
    const ha1 = stored ?? this.#dummyHa1[algorithm];
    // RFC 7616 §3.4.1: response = KD(H(A1), nonce:nc:cnonce:qop:H(A2)), A2 = Method ":" digest-uri.
    const ha2 = digestHash(algorithm, `${method}:${digestUri}`);
    const expected = digestHash(algorithm, `${ha1}:${nonce}:${ncText}:${cnonce}:${qop}:${ha2}`);
    // Both are hex of the algorithm's length (checked above): compare them in constant time.
    const len = expected.length;
    this.#expectedBuf.write(expected, 0, 'latin1');
    this.#responseBuf.write(response.toLowerCase(), 0, 'latin1');
    const match = len === response.length && timingSafeEqual(this.#expectedBuf.subarray(0, len), this.#responseBuf.subarray(0, len));
    if (!match || stored === undefined) return failed('bad-credentials');

    // The UA knows the password. RFC 7616 §3.3: stale=true only when the digest is valid for
    // the nonce but the nonce itself is not acceptable.
    if (nonceState.kind === 'invalid') return { kind: 'stale', reason: 'invalid-nonce' };
    if (nonceState.kind === 'expired') return { kind: 'stale', reason: 'expired' };
    if (!this.#tracker.accept(nonce, nonceState.issuedAt, nc, now)) return { kind: 'stale', reason: 'replayed' };
    return { kind: 'ok', username, algorithm };
  }

  #uriMatches(digestUri: string, requestUri: string): boolean {
    switch (this.#uriMatch) {
      case 'off':
        return true;
      case 'exact':
        return digestUri === requestUri;
      case 'equivalent':
        return digestUri === requestUri || uriEquals(digestUri, requestUri);
      default:
        return digestUri === requestUri || this.#uriMatch(digestUri, requestUri);
    }
  }

  #checkNonce(
    nonce: string,
    opaque: string | undefined,
    now: number,
  ): { kind: 'valid'; issuedAt: number } | { kind: 'expired' } | { kind: 'invalid' } {
    // RFC 7616 §3.4: the client returns opaque unchanged. Some SIP UAs drop it; tolerated when
    // absent, since the nonce carries its own MAC.
    if (opaque !== undefined && opaque !== this.#opaque) return INVALID_NONCE;
    if (nonce.length !== NONCE_CHARS) return INVALID_NONCE;
    const buf = this.#nonceBuf;
    // Only the canonical encoding is accepted, so one nonce has one nonce-count history.
    if (buf.write(nonce, 'base64url') !== NONCE_BYTES || buf.toString('base64url') !== nonce) return INVALID_NONCE;
    this.#macBuf.write(this.#nonceMac.digestLatin1(this.#noncePayload), 0, NONCE_MAC_BYTES, 'latin1');
    if (!timingSafeEqual(this.#macBuf, this.#nonceMacPart)) return INVALID_NONCE;
    const issuedAt = buf.readUIntBE(0, 6);
    if (issuedAt > now + this.#maxSkewMs) return INVALID_NONCE;
    if (now - issuedAt >= this.#nonceTtlMs) return EXPIRED_NONCE;
    return { kind: 'valid', issuedAt };
  }
}

/**
 * The request-digest a UA computes (RFC 7616 §3.4.1, qop=auth), from its HA1. Exported for
 * tests and for a client side; the server uses the same formula internally.
 */
export function computeDigestResponse(p: {
  algorithm: DigestAlgorithm;
  ha1: string;
  nonce: string;
  nc: string;
  cnonce: string;
  qop: string;
  method: string;
  uri: string;
}): string {
  const ha2 = digestHash(p.algorithm, `${p.method}:${p.uri}`);
  return digestHash(p.algorithm, `${p.ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
}
